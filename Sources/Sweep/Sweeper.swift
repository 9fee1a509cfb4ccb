import Foundation
import JouleCore

public struct SweepOptions: Sendable {
    public var jobs: Int?
    public var retryFailed = false
    public var dryRun = false
    public var backend: Backend = .local
    /// The `joule` executable runs are started with (default: this very binary).
    public var joule = Launcher.currentExecutable()
    /// Whether this `joule` has `notebook run` (notebook sweeps need it).
    public var notebookAvailable = false
    public var workingDirectory = FileManager.default.currentDirectoryPath
    public init() {}
}

public struct SweepOutcome: Sendable {
    public var total = 0
    /// Runs started by this invocation.
    public var ran = 0
    public var skipped = 0
    public var interrupted = false
    public var summary: Summary?
    public var csvPath: String?
    public var plotPath: String?
    /// Why no plot was drawn, when none was.
    public var plotNote: String?
    public var failed: Int { summary?.counts["failed"] ?? 0 }
}

/// Runs a sweep: expands it, skips what finished before, runs the rest on a backend, and
/// writes the summary.
public final class Sweeper {
    public let spec: SweepSpec
    public let options: SweepOptions
    public let console = Console()
    /// Draws `metric` against a parameter into a PNG at the given path (set by the command line
    /// tool, which links the plotting library).
    public var plotter: (@Sendable (_ series: [(name: String, x: [Double], y: [Double])], _ xLabel: String,
                                    _ yLabel: String, _ title: String, _ path: String) throws -> Void)?

    public init(spec: SweepSpec, options: SweepOptions) {
        self.spec = spec
        self.options = options
    }

    /// The script or notebook as a path the runs can open: as given when it exists from the
    /// current folder, else next to the sweep file.
    func resolvedScript() throws -> String {
        let fm = FileManager.default
        let given = spec.script
        func exists(_ p: String) -> Bool {
            let abs = p.hasPrefix("/") ? p : options.workingDirectory + "/" + p
            return fm.fileExists(atPath: abs)
        }
        if spec.isNotebook && !options.notebookAvailable {
            throw JouleError("\(spec.file): \(given) is a notebook, and this joule has no `joule notebook run`; sweep a Lua script instead")
        }
        if spec.isNotebook && !spec.args.isEmpty {
            throw JouleError("\(spec.file): 'args' are for scripts; a notebook takes only parameters")
        }
        let kind = spec.isNotebook ? "notebook" : "script"
        if exists(given) { return given }
        if !given.hasPrefix("/") {
            let beside = URL(fileURLWithPath: spec.file).deletingLastPathComponent().appendingPathComponent(given).path
            if exists(beside) { return beside }
            throw JouleError("\(spec.file): \(kind) \(given) not found (looked in \(options.workingDirectory) and \(URL(fileURLWithPath: beside).deletingLastPathComponent().path))")
        }
        throw JouleError("\(spec.file): \(kind) \(given) not found")
    }

    public var jobs: Int { options.jobs ?? spec.jobs ?? ProcessInfo.processInfo.activeProcessorCount }

    public func launcher() throws -> Launcher {
        var l = Launcher(joule: options.joule, script: try resolvedScript(), isNotebook: spec.isNotebook,
                         args: spec.args, workingDirectory: options.workingDirectory)
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_NUM_THREADS"] == nil {
            let threads = options.backend == .slurm ? spec.slurm.cpusPerTask
                : Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / Swift.max(1, Swift.min(jobs, 64)))
            l.environment["OPENBLAS_NUM_THREADS"] = String(threads)
        }
        return l
    }

    public func execute() throws -> SweepOutcome {
        let launcher = try launcher()
        let runs = spec.expand()
        guard !runs.isEmpty else { throw JouleError("\(spec.file): the sweep has no runs") }
        var outcome = SweepOutcome()
        outcome.total = runs.count

        var todo: [RunSpec] = [], finished = 0, failedKept = 0
        for run in runs {
            switch RunStatus.read(run)?.state {
            case .finished?: finished += 1
            case .failed? where !options.retryFailed: failedKept += 1
            default: todo.append(run)
            }
        }
        outcome.skipped = runs.count - todo.count

        var shape: [String] = spec.grid.map { "\($0.values.count) \($0.name)" }
        if spec.samples > 0 { shape.append("\(spec.samples) random") }
        if !spec.seeds.isEmpty { shape.append("\(spec.seeds.count) \(spec.seedParameter)s") }
        var head = "sweep \(spec.name): \(runs.count) run\(runs.count == 1 ? "" : "s")"
        if shape.count > 1 || spec.samples > 0 { head += " (" + shape.joined(separator: " × ") + ")" }
        head += " of \(launcher.script) → \(spec.output)"
        console.line(head)
        var state = "\(finished) finished, "
        if failedKept > 0 { state += "\(failedKept) failed (kept; --retry-failed reruns them), " }
        state += "\(todo.count) to run"
        if !todo.isEmpty { state += options.backend == .local ? " with \(jobs) job\(jobs == 1 ? "" : "s") at a time" : " on Slurm" }
        console.line(state)

        if options.dryRun {
            for run in runs {
                let s = RunStatus.read(run)?.state.rawValue ?? "new"
                let will = todo.contains(run) ? "run " : "skip"
                let command = try launcher.commandLine(run)
                console.line("  \(will)  [\(s)] \(ShellText.comment(run.label))\n        \(command)")
            }
            if options.backend == .slurm && !todo.isEmpty {
                let slurm = SlurmBackend(spec: spec, launcher: launcher, jobs: jobs, console: console)
                let script = try slurm.script(todo, manifest: slurm.paths().manifest, out: slurm.paths().out)
                console.line("\nSlurm job script (not submitted):\n" + script)
            }
            return outcome
        }

        try FileManager.default.createDirectory(atPath: spec.output, withIntermediateDirectories: true)
        let lock = try OutputLock(spec.output)
        defer { lock.release() }

        if todo.isEmpty {
            console.line("nothing to run: every run has a recorded result")
        } else {
            let stop = StopRequests()
            defer { stop.release() }
            outcome.ran = todo.count
            switch options.backend {
            case .local:
                outcome.interrupted = !(try LocalBackend(launcher: launcher, jobs: jobs, timeout: spec.timeout, console: console)
                    .execute(todo, stop: stop))
            case .slurm:
                outcome.interrupted = !(try SlurmBackend(spec: spec, launcher: launcher, jobs: jobs, console: console)
                    .execute(todo, stop: stop))
            }
        }

        let summary = Summary(runs: runs, spec: spec)
        outcome.summary = summary
        let csv = spec.output + "/summary.csv"
        try AtomicFile.write(Data(summary.csv().utf8), to: csv)
        outcome.csvPath = csv
        console.line("")
        console.line(summary.table())
        console.line("")
        (outcome.plotPath, outcome.plotNote) = plot(summary)
        let counts = summary.counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        console.line("\(counts). Table: \(csv)" + (outcome.plotPath.map { "; plot: \($0)" } ?? ""))
        if let note = outcome.plotNote { console.line("no plot: \(note)") }
        if outcome.interrupted { console.line("interrupted: run the same command again to finish the remaining runs") }
        return outcome
    }

    func plot(_ summary: Summary) -> (String?, String?) {
        guard let metric = spec.metric else { return (nil, "the sweep names no metric") }
        let varyingNumeric = spec.grid.filter { $0.values.allSatisfy { $0.number != nil } }.map(\.name)
            + spec.random.filter { if case .choice(let v) = $0.distribution { return v.allSatisfy { $0.number != nil } }; return true }.map(\.name)
        guard let x = spec.plotX ?? varyingNumeric.first else { return (nil, "no numeric parameter varies") }
        guard let plotter else { return (nil, "this joule was built without plotting") }
        let series = summary.plotSeries(x: x, metric: metric, series: spec.plotSeries,
                                        seedParameter: spec.seeds.isEmpty ? nil : spec.seedParameter)
        guard !series.isEmpty else { return (nil, "no finished run reported a numeric \(metric)") }
        let safe = "\(metric)_vs_\(x)".map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" }
        let path = spec.output + "/" + String(safe) + ".png"
        do {
            try plotter(series, x, metric, "\(spec.name): \(metric) against \(x)", path)
            return (path, nil)
        } catch {
            return (nil, "\(error)")
        }
    }
}

/// One sweep at a time per output folder: a second one would run the same runs twice.
final class OutputLock {
    let fd: Int32
    init(_ folder: String) throws {
        let path = folder + "/.sweep.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw JouleError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw JouleError("another sweep is running in \(folder) (it holds \(path))")
        }
    }
    func release() { flock(fd, LOCK_UN); close(fd) }
}
