import Foundation
import JouleCore

/// How a run's process is started: the same `joule` binary, `run SCRIPT -p ... -p run=DIR -- args`,
/// or for a notebook `notebook run NB -o DIR/notebook.ipynb -p ... -p run=DIR` (the executed
/// notebook is kept in the run's folder; `run` is the folder joule.log and joule.result write to).
public struct Launcher: Sendable {
    /// Absolute path of the `joule` executable.
    public var joule: String
    public var script: String
    public var isNotebook: Bool
    public var args: [String]
    /// The folder runs start in (relative paths in parameters mean the same as for the sweep).
    public var workingDirectory: String
    /// Added to the inherited environment.
    public var environment: [String: String] = [:]

    public init(joule: String, script: String, isNotebook: Bool, args: [String], workingDirectory: String) {
        self.joule = joule; self.script = script; self.isNotebook = isNotebook; self.args = args
        self.workingDirectory = workingDirectory
    }

    public func arguments(_ run: RunSpec) -> [String] {
        var a = isNotebook ? ["notebook", "run", script, "-o", run.directory + "/notebook.ipynb"] : ["run", script]
        for p in run.params { a += ["-p", "\(p.name)=\(p.value.text)"] }
        a += ["-p", "run=\(run.directory)"]
        if !args.isEmpty && !isNotebook { a += ["--"] + args }
        return a
    }

    /// The command as a shell would take it (for --dry-run), each argument one quoted word.
    public func commandLine(_ run: RunSpec) throws -> String {
        try ([joule] + arguments(run)).map { try ShellText.word($0) }.joined(separator: " ")
    }

    /// The path of `/proc/self/exe` (this very binary), resolved.
    public static func currentExecutable() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        return CommandLine.arguments[0]
    }
}

/// One run as a child process, its output going to files in its folder.
final class ChildRun {
    let run: RunSpec
    let process = Process()
    private(set) var started = Date()
    /// Set when the sweep stopped it (Ctrl-C): it counts as interrupted, not failed.
    var stoppedBySweep = false
    var timedOut = false
    let backend: String

    init(run: RunSpec, backend: String) {
        self.run = run
        self.backend = backend
    }

    /// Empties the run's folder (a retried run starts clean) and starts the process.
    func start(_ launcher: Launcher, onExit: @escaping @Sendable () -> Void) throws {
        let fm = FileManager.default
        let dir = run.directory
        try? fm.removeItem(atPath: dir)
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true) } catch {
            throw JouleError("cannot create run folder \(dir): \(error.localizedDescription)")
        }
        started = Date()
        var status = RunStatus(run: run, state: .running, backend: backend)
        status.started = started
        if let job = ProcessInfo.processInfo.environment["SLURM_ARRAY_JOB_ID"] {
            status.slurmJob = job + "_" + (ProcessInfo.processInfo.environment["SLURM_ARRAY_TASK_ID"] ?? "")
        }
        try status.write(run)
        _ = fm.createFile(atPath: dir + "/stdout.txt", contents: nil)
        _ = fm.createFile(atPath: dir + "/stderr.txt", contents: nil)
        guard let out = FileHandle(forWritingAtPath: dir + "/stdout.txt"),
              let err = FileHandle(forWritingAtPath: dir + "/stderr.txt") else {
            throw JouleError("cannot write in run folder \(dir)")
        }
        process.executableURL = URL(fileURLWithPath: launcher.joule)
        process.arguments = launcher.arguments(run)
        process.currentDirectoryURL = URL(fileURLWithPath: launcher.workingDirectory)
        process.environment = ProcessInfo.processInfo.environment.merging(launcher.environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        process.terminationHandler = { _ in onExit() }
        do { try process.run() } catch {
            throw JouleError("cannot start \(launcher.joule): \(error.localizedDescription)")
        }
        try? out.close()
        try? err.close()
    }

    /// Sends `sig` to the run's process group when it leads one (so a shell command it started
    /// stops too), else to the process.
    func send(_ sig: Int32) {
        let pid = process.processIdentifier
        guard pid > 0, process.isRunning else { return }
        if getpgid(pid) == pid { kill(-pid, sig) } else { kill(pid, sig) }
    }

    /// Records how the process ended in the run's `status.json` and returns it.
    @discardableResult
    func finish() -> RunStatus {
        var s = RunStatus(run: run, state: .finished, backend: backend)
        s.started = started
        s.seconds = (Date().timeIntervalSince(started) * 100).rounded() / 100
        s.slurmJob = RunStatus.read(run)?.slurmJob
        let code = process.terminationStatus
        let bySignal = process.terminationReason == .uncaughtSignal
        if bySignal { s.signal = code } else { s.exitStatus = code }
        if !bySignal && code == 0 && !timedOut {
            s.state = .finished
        } else if stoppedBySweep || (!bySignal && code == 130) {
            s.state = .interrupted
            s.error = "interrupted"
        } else {
            s.state = .failed
            var why = bySignal ? "killed by signal \(code)\(signalName(code))" : "exit status \(code)"
            if timedOut { why = "timed out (stopped after the sweep's timeout)" }
            let t = tail(of: run.directory + "/stderr.txt")
            s.error = t.isEmpty ? why : why + "\n" + t
        }
        try? s.write(run)
        return s
    }
}

func signalName(_ s: Int32) -> String {
    switch s {
    case SIGINT: return " (SIGINT)"
    case SIGTERM: return " (SIGTERM)"
    case SIGKILL: return " (SIGKILL)"
    case SIGSEGV: return " (SIGSEGV)"
    case SIGABRT: return " (SIGABRT)"
    case SIGBUS: return " (SIGBUS)"
    case SIGILL: return " (SIGILL)"
    case SIGFPE: return " (SIGFPE)"
    default: return ""
    }
}

/// Signals counted by the handler below (a plain C-callable function that only increments).
nonisolated(unsafe) private var stopSignals: Int32 = 0

/// Ctrl-C (SIGINT), SIGTERM and SIGHUP while a sweep runs: counted, not fatal; the sweep stops its
/// runs and keeps what finished. A handler (not SIG_IGN) so that children, which inherit ignored
/// signals across exec, still die of SIGTERM. Restores the default handling when released.
final class StopRequests: @unchecked Sendable {
    private let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    init() {
        stopSignals = 0
        for sig in signals { signal(sig) { _ in stopSignals &+= 1 } }
    }

    var count: Int { Int(stopSignals) }

    func release() { for sig in signals { signal(sig, SIG_DFL) } }
}
