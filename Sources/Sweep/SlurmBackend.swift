import Foundation
import JouleCore

/// What a Slurm array task needs to run entry `i`: written next to the job script.
struct TaskManifest {
    struct Entry {
        var params: [[String]]
        var varying: [String]
    }
    var joule: String
    var script: String
    var notebook: Bool
    var args: [String]
    var workingDirectory: String
    var environment: [String: String]
    var output: String
    var runs: [Entry]

    var launcher: Launcher {
        var l = Launcher(joule: joule, script: script, isNotebook: notebook, args: args, workingDirectory: workingDirectory)
        l.environment = environment
        return l
    }

    /// The run of entry `i`. Parameter texts give the same key, and so the same folder, as the
    /// values they came from.
    func run(_ i: Int) -> RunSpec {
        let e = runs[i]
        return RunSpec(params: e.params.map { ($0[0], ParamValue.string($0[1])) }, varying: e.varying, output: output)
    }
}

/// Runs a sweep as one Slurm job array: writes the job script and a manifest, submits with
/// `sbatch`, follows the job with `squeue` (and `sacct` where accounting is on), and collects
/// the same per-run records as the local backend (each task runs `joule sweep MANIFEST --task I`,
/// which starts the run exactly as the local backend does).
final class SlurmBackend {
    let spec: SweepSpec
    let launcher: Launcher
    let jobs: Int
    let console: Console
    let stamp: String

    init(spec: SweepSpec, launcher: Launcher, jobs: Int, console: Console) {
        self.spec = spec; self.launcher = launcher; self.jobs = jobs; self.console = console
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyyMMdd-HHmmss"
        stamp = f.string(from: Date())
    }

    /// Absolute, since tasks start in the working folder but Slurm writes its own files early.
    func absolute(_ p: String) -> String { p.hasPrefix("/") ? p : launcher.workingDirectory + "/" + p }

    func paths() -> (script: String, manifest: String, out: String) {
        let dir = absolute(spec.output) + "/slurm"
        return (dir + "/\(stamp).sh", dir + "/\(stamp).json", dir + "/\(stamp)-%a.out")
    }

    /// The job script. Values from the spec reach it only through ShellText: `#SBATCH` values that
    /// hold no control character, comments with theirs escaped, and quoted shell words.
    func script(_ todo: [RunSpec], manifest: String, out: String) throws -> String {
        typealias T = ShellText
        // The name only labels the job: escaped, and blanks made `_` (sbatch splits at them).
        var s = try ["#!/bin/bash",
                 T.directive("--job-name", "joule-" + T.comment(spec.name).replacingOccurrences(of: " ", with: "_"), what: "the sweep's name"),
                 "#SBATCH --array=0-\(todo.count - 1)%\(Swift.max(1, jobs))",
                 T.directive("--output", out, what: "the Slurm output path"),
                 T.directive("--chdir", launcher.workingDirectory, what: "the working folder"),
                 "#SBATCH --cpus-per-task=\(spec.slurm.cpusPerTask)"]
        if let p = spec.slurm.partition { s.append(try T.directive("--partition", p, what: "slurm.partition")) }
        if let t = spec.slurm.time { s.append(try T.directive("--time", t, what: "slurm.time")) }
        if let m = spec.slurm.mem { s.append(try T.directive("--mem", m, what: "slurm.mem")) }
        for e in spec.slurm.extra { s.append(try T.directive(nil, e, what: "slurm.extra")) }
        s.append("#")
        s.append("# Joule sweep \(T.comment(spec.name)) (\(T.comment(spec.file))): task i runs entry i of \(T.comment(manifest)),")
        s.append("# writing into the run's folder (stdout.txt, stderr.txt, log.jsonl, result.json, status.json):")
        for (i, r) in todo.enumerated() { s.append("#   \(i): \(T.comment(r.label)) -> \(T.comment(r.directory))") }
        s.append("set -u")
        for (k, v) in launcher.environment.sorted(by: { $0.key < $1.key }) {
            // `${K:-...}` needs K to be a name; the value is a quoted word.
            guard let f = k.utf8.first, !(f >= 0x30 && f <= 0x39),
                  k.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a) || $0 == 0x5f }) else {
                throw JouleError("environment variable '\(T.comment(k))' is not a shell name")
            }
            let value = try T.word(v)
            s.append("export \(k)=${\(k):-\(value)}")
        }
        let (joule, manifestWord) = try (T.word(launcher.joule), T.word(manifest))
        s.append("exec \(joule) sweep \(manifestWord) --task \"$SLURM_ARRAY_TASK_ID\"")
        return s.joined(separator: "\n") + "\n"
    }

    func execute(_ todo: [RunSpec], stop: StopRequests) throws -> Bool {
        guard let sbatch = findTool("sbatch") else {
            throw JouleError("--backend slurm: sbatch not found (install Slurm, or start the single-node one with scripts/slurm-up)")
        }
        let (scriptPath, manifestPath, outPattern) = paths()
        // The script first: a value it refuses leaves nothing behind.
        let text = try script(todo, manifest: manifestPath, out: outPattern)
        let manifest = TaskManifest(joule: launcher.joule, script: launcher.script, notebook: launcher.isNotebook,
                                    args: launcher.args, workingDirectory: launcher.workingDirectory,
                                    environment: launcher.environment, output: spec.output,
                                    runs: todo.map { r in .init(params: r.params.map { [$0.name, $0.value.text] }, varying: r.varying) })
        try AtomicFile.write(manifest.json.fileData(), to: manifestPath)
        try AtomicFile.write(Data(text.utf8), to: scriptPath)
        for run in todo {
            try? FileManager.default.removeItem(atPath: run.directory)
            try RunStatus(run: run, state: .queued, backend: "slurm").write(run)
        }

        let submit = Tool.run(sbatch, ["--parsable", scriptPath], in: launcher.workingDirectory)
        guard submit.status == 0, let job = submit.stdout.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }), !job.isEmpty else {
            for run in todo { try? FileManager.default.removeItem(atPath: RunStatus.path(run)) }
            throw JouleError("sbatch failed (exit \(submit.status)): \(submit.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        console.line("submitted Slurm job \(job): \(todo.count) task\(todo.count == 1 ? "" : "s") (\(scriptPath))")
        // From here on a run's status.json belongs to its task (which records its job id itself):
        // a task can start, run and end before sbatch has even returned, so a status written
        // here now could overwrite the task's outcome with "queued".

        let squeue = findTool("squeue") ?? "squeue"
        var reported = Set<String>()
        var done = 0
        var stopping = false
        var lastStates = ""
        func report() {
            for run in todo where !reported.contains(run.key) {
                guard let s = RunStatus.read(run), [.finished, .failed, .interrupted].contains(s.state) else { continue }
                reported.insert(run.key)
                done += 1
                console.progress(done: done, of: todo.count, run: run, status: s)
            }
        }
        while true {
            // Sleep in short steps so Ctrl-C is answered at once.
            let until = Date().addingTimeInterval(spec.slurm.poll)
            while Date() < until && (stop.count == 0 || stopping) { usleep(50_000) }
            if stop.count > 0 && !stopping {
                stopping = true
                console.line("stopping: cancelling Slurm job \(job); finished runs are kept")
                _ = Tool.run(findTool("scancel") ?? "scancel", [job], in: launcher.workingDirectory)
            }
            report()
            let q = Tool.run(squeue, ["-h", "-j", job, "-o", "%T"], in: launcher.workingDirectory)
            let states = q.stdout.split(separator: "\n").map(String.init)
            if q.status == 0 && !states.isEmpty {
                let counted = Dictionary(grouping: states, by: { $0 }).mapValues(\.count)
                    .sorted { $0.key < $1.key }.map { "\($0.value) \($0.key.lowercased())" }.joined(separator: ", ")
                if counted != lastStates { console.line("  slurm job \(job): \(counted)"); lastStates = counted }
                continue
            }
            // Gone from the queue (or squeue refuses an id it no longer knows): the job is over.
            if q.status != 0 && !q.stderr.contains("Invalid job id") {
                console.line("  squeue failed (\(q.stderr.trimmingCharacters(in: .whitespacesAndNewlines))); treating job \(job) as ended")
            }
            break
        }
        // Tasks write their status as they end; give the file system a moment to show the last ones.
        for _ in 0..<20 where reported.count < todo.count { report(); usleep(100_000) }
        report()

        let accounting = sacctStates(job)
        for (i, run) in todo.enumerated() where !reported.contains(run.key) {
            var s = RunStatus.read(run) ?? RunStatus(run: run, state: .failed, backend: "slurm")
            s.slurmJob = s.slurmJob ?? "\(job)_\(i)"
            let out = outPattern.replacingOccurrences(of: "%a", with: String(i))
            if stopping {
                s.state = .interrupted
                s.error = "interrupted (Slurm job \(job) cancelled)"
            } else {
                s.state = .failed
                let sacct = accounting["\(job)_\(i)"].map { " (sacct: \($0))" } ?? ""
                let t = tail(of: out, lines: 6)
                s.error = "Slurm task \(job)_\(i) ended without recording an outcome\(sacct); see \(out)" + (t.isEmpty ? "" : "\n" + t)
            }
            try? s.write(run)
            done += 1
            console.progress(done: done, of: todo.count, run: run, status: s)
        }
        return !stopping
    }

    /// Task states from `sacct`, when accounting is on (a bare single-node Slurm has none).
    func sacctStates(_ job: String) -> [String: String] {
        guard let sacct = findTool("sacct") else { return [:] }
        let r = Tool.run(sacct, ["-n", "-P", "-X", "-j", job, "-o", "JobID,State,ExitCode"], in: launcher.workingDirectory)
        guard r.status == 0 else { return [:] }
        var out: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let f = line.split(separator: "|").map(String.init)
            if f.count >= 3 { out[f[0]] = "\(f[1]), exit \(f[2])" }
        }
        return out
    }

    /// Runs entry `index` of a manifest inside a Slurm task; returns the exit status for Slurm.
    static func runTask(manifest path: String, index: Int) throws -> Int32 {
        guard let data = FileManager.default.contents(atPath: path) else { throw JouleError("cannot read task manifest \(path)") }
        let m = try TaskManifest(json: data, path: path)
        guard m.runs.indices.contains(index) else { throw JouleError("\(path): no task \(index) (it lists \(m.runs.count))") }
        let run = m.run(index)
        let stop = StopRequests()
        defer { stop.release() }
        let child = ChildRun(run: run, backend: "slurm")
        let exited = DispatchSemaphore(value: 0)
        try child.start(m.launcher) { exited.signal() }
        var forwarded = false
        while exited.wait(timeout: .now() + 0.1) == .timedOut {
            if stop.count > 0 && !forwarded {
                forwarded = true
                child.stoppedBySweep = true
                child.send(SIGTERM)
            }
        }
        child.process.waitUntilExit()
        if stop.count > 0 { child.stoppedBySweep = true }
        let s = child.finish()
        print("\(run.label): \(s.state.rawValue)" + (s.error.map { " — \($0)" } ?? ""))
        return s.state == .finished ? 0 : (s.exitStatus ?? 1)
    }
}

/// Runs a command-line tool to completion.
enum Tool {
    struct Result { var status: Int32; var stdout: String; var stderr: String }

    static func run(_ path: String, _ args: [String], in dir: String) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return Result(status: 127, stdout: "", stderr: "\(path): \(error.localizedDescription)") }
        // Read both pipes while it runs: a full pipe would block the tool.
        final class Box: @unchecked Sendable { var data = Data() }
        let errData = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errData.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: errData.data, as: UTF8.self))
    }
}

/// The full path of `name` on PATH, or nil.
func findTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
        let p = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

extension Sweeper {
    /// `joule sweep MANIFEST --task I`, the body of a Slurm array task.
    public static func runTask(manifest: String, index: Int) throws -> Int32 {
        try SlurmBackend.runTask(manifest: manifest, index: index)
    }
}
