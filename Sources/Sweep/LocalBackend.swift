import Foundation
import JouleCore

/// Runs a sweep's runs as child processes on this machine, `jobs` at a time.
final class LocalBackend {
    let launcher: Launcher
    let jobs: Int
    let timeout: Double?
    let console: Console

    init(launcher: Launcher, jobs: Int, timeout: Double?, console: Console) {
        self.launcher = launcher; self.jobs = jobs; self.timeout = timeout; self.console = console
    }

    /// Runs `todo`; returns true when every run got to finish (false: stopped by a signal).
    func execute(_ todo: [RunSpec], stop: StopRequests) throws -> Bool {
        var pending = todo[...]
        var running: [ObjectIdentifier: ChildRun] = [:]
        let exited = Inbox()
        let wake = DispatchSemaphore(value: 0)
        var done = 0
        var stopping = false
        var killAt: Date?

        while !(running.isEmpty && (pending.isEmpty || stopping)) {
            if !stopping {
                while running.count < jobs, let run = pending.popFirst() {
                    let child = ChildRun(run: run, backend: "local")
                    do {
                        try child.start(launcher) { [unowned child] in
                            exited.put(child)
                            wake.signal()
                        }
                    } catch {
                        // The sweep itself cannot go on (no joule binary, no disk): record and stop.
                        var s = RunStatus(run: run, state: .failed, backend: "local")
                        s.error = "\(error)"
                        try? s.write(run)
                        throw error
                    }
                    running[ObjectIdentifier(child)] = child
                    console.line("  start    \(run.label)")
                }
            }
            _ = wake.wait(timeout: .now() + 0.1)

            for child in exited.take() {
                child.process.waitUntilExit()
                running[ObjectIdentifier(child)] = nil
                let s = child.finish()
                done += 1
                console.progress(done: done, of: todo.count, run: child.run, status: s)
            }

            if let timeout {
                for child in running.values where !child.timedOut && Date().timeIntervalSince(child.started) > timeout {
                    child.timedOut = true
                    child.send(SIGTERM)
                    DispatchQueue.global().asyncAfter(deadline: .now() + 5) { [weak child] in child?.send(SIGKILL) }
                }
            }

            if stop.count > 0 && !stopping {
                stopping = true
                console.line("stopping: \(running.count) running run\(running.count == 1 ? "" : "s") will be recorded as interrupted; \(pending.count) not started (Ctrl-C again to kill at once)")
                for child in running.values { child.stoppedBySweep = true; child.send(SIGTERM) }
                killAt = Date().addingTimeInterval(5)
            }
            if stopping, let k = killAt, stop.count > 1 || Date() > k {
                for child in running.values { child.send(SIGKILL) }
                killAt = nil
            }
        }
        return !stopping
    }
}

/// Runs whose process ended, handed from Foundation's termination handlers to the scheduler.
final class Inbox: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ChildRun] = []
    func put(_ c: ChildRun) { lock.lock(); items.append(c); lock.unlock() }
    func take() -> [ChildRun] { lock.lock(); defer { lock.unlock() }; let t = items; items.removeAll(); return t }
}

/// Progress lines on stdout, flushed at once (a sweep's output is often piped into a file).
public final class Console: @unchecked Sendable {
    public var quiet = false
    private let lock = NSLock()
    public init() {}

    public func line(_ text: String) {
        guard !quiet else { return }
        lock.lock(); defer { lock.unlock() }
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    func progress(done: Int, of total: Int, run: RunSpec, status: RunStatus) {
        let width = String(total).count
        let n = String(repeating: " ", count: Swift.max(0, width - String(done).count)) + String(done)
        let time = status.seconds.map { String(format: "  %.1fs", $0) } ?? ""
        var text = "[\(n)/\(total)] \(status.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)) \(run.label)\(time)"
        if status.state == .failed, let e = status.error {
            let lines = e.split(separator: "\n")
            text += "\n      " + String(lines.first ?? "") + (lines.count > 1 ? ": " + String(lines.last!) : "")
        }
        line(text)
    }
}
