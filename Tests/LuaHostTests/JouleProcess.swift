import Foundation
import TestSupport
import XCTest

/// Running the built `joule` executable as a user would, from the test's temporary directory.
extension LuaTestCase {
    struct JouleResult {
        var status: Int32; var stdout: String; var stderr: String
        /// It ended by exiting (with `status`), not by a signal (a crash).
        var exited = true
    }

    /// Starts `joule` with `arguments` in the test folder, its output in pipes, under a watchdog
    /// (killed after `timeout` seconds). `shell` runs first in /bin/sh, which then becomes joule
    /// (`ulimit -v …` to start it with less memory).
    func startJoule(_ arguments: [String], timeout: Double = 30, shell: String? = nil) throws -> (process: Process, out: Pipe, err: Pipe) {
        let p = Process()
        if let shell {
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", shell + " && exec \"$0\" \"$@\"", try jouleExecutable().path] + arguments
        } else {
            p.executableURL = try jouleExecutable()
            p.arguments = arguments
        }
        p.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        watchdog(p, seconds: timeout)
        return (p, out, err)
    }

    /// Runs `joule` with `arguments` to its end (killed after `timeout` seconds).
    func joule(_ arguments: [String], timeout: Double = 120, shell: String? = nil) throws -> JouleResult {
        let (p, out, err) = try startJoule(arguments, timeout: timeout, shell: shell)
        // Both pipes drain at once: a child blocked on a full stderr would never close stdout.
        final class Box: @unchecked Sendable { var data = Data() }
        let e = Box()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async { e.data = err.fileHandleForReading.readDataToEndOfFile(); done.signal() }
        let o = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        p.waitUntilExit()
        return JouleResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                           stderr: String(decoding: e.data, as: UTF8.self), exited: p.terminationReason == .exit)
    }

    /// Kills a child that ignores the test's signals, so that a failure cannot hang the suite.
    func watchdog(_ p: Process, seconds: Double = 30) {
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { if p.isRunning { kill(pid, SIGKILL) } }
    }
}
