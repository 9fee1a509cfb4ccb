import Foundation
#if canImport(Glibc)
import Glibc
#endif
import XCTest

/// A child process on a pseudo-terminal, driven as a user at a keyboard would: text goes to the
/// terminal's master side, and what the child prints comes back from it. The child gets its own
/// session with the terminal as its controlling terminal, so a written Ctrl-C (`\u{03}`) reaches
/// it as SIGINT through the terminal driver, as from a real keyboard.
final class PseudoTerminal {
    let pid: pid_t
    private let master: Int32
    private let slaveName: String
    private(set) var output = ""
    /// Where the next `expect` starts looking: what matched before is not matched again.
    private var cursor: String.Index
    private var exitStatus: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String]) throws {
        var m: Int32 = -1, s: Int32 = -1
        var size = winsize(ws_row: 40, ws_col: 120, ws_xpixel: 0, ws_ypixel: 0)
        var name = [CChar](repeating: 0, count: 4096)
        guard c_openpty(&m, &s, &name, nil, &size) == 0 else {
            throw PseudoTerminalError("cannot open a pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        master = m
        let slave = String(cString: name)
        slaveName = slave
        _ = fcntl(master, F_SETFD, FD_CLOEXEC)
        // The child opens the terminal by name (which makes it its controlling terminal); this
        // side's descriptor is not needed.
        close(s)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // After setsid (below), opening the terminal makes it the controlling terminal.
        posix_spawn_file_actions_addopen(&actions, 0, slave, O_RDWR, 0)
        posix_spawn_file_actions_adddup2(&actions, 0, 1)
        posix_spawn_file_actions_adddup2(&actions, 0, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t(), empty = sigset_t()
        sigemptyset(&empty)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGCHLD] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(0x80 /* POSIX_SPAWN_SETSID */ | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            close(master)
            throw PseudoTerminalError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        cursor = output.startIndex
    }

    deinit {
        kill()
        close(master)
    }

    /// Kills the child (if it still runs) and reaps it.
    func kill() {
        guard exitStatus == nil else { return }
        Glibc.kill(pid, SIGKILL)
        _ = wait(timeout: 5)
    }

    func send(_ text: String) {
        var bytes = Array(text.utf8)
        while !bytes.isEmpty {
            let n = write(master, &bytes, bytes.count)
            if n < 0 { if errno == EINTR { continue }; return }
            bytes.removeFirst(n)
        }
    }

    /// Reads what the child printed for up to `seconds`, or until `until` holds.
    private func read(for seconds: Double, until: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pending: [UInt8] = []
        while !until() {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return }
            var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
            let r = poll(&p, 1, Int32(min(left, 0.1) * 1000) + 1)
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { continue }
            let n = Glibc.read(master, &buffer, buffer.count)
            if n <= 0 { return } // EIO: the child closed the terminal
            pending += buffer[0..<n]
            // A UTF-8 sequence cut by the read waits for its last bytes.
            var keep = 0
            while keep < Swift.min(3, pending.count), String(bytes: pending.dropLast(keep), encoding: .utf8) == nil { keep += 1 }
            if String(bytes: pending.dropLast(keep), encoding: .utf8) == nil { keep = 0 }
            output += String(decoding: pending.dropLast(keep), as: UTF8.self)
            pending = Array(pending.suffix(keep))
        }
    }

    /// Waits until `text` appears in the output after what earlier expectations matched; fails
    /// the test (with the output seen) when it does not within `timeout` seconds.
    @discardableResult
    func expect(_ text: String, timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        var found: Range<String.Index>?
        read(for: timeout) {
            found = output[cursor...].range(of: text)
            return found != nil
        }
        guard let found else {
            XCTFail("expected \(String(reflecting: text)) within \(timeout) s; the terminal showed after the last match:\n\(output[cursor...])", file: file, line: line)
            return false
        }
        cursor = found.upperBound
        return true
    }

    /// Waits until the console sits at a prompt (the output ends with `prompt`), so that what is
    /// sent next reaches the line editor and not the terminal's cooked mode (where Ctrl-D is not
    /// a character).
    @discardableResult
    func waitForPrompt(_ prompt: String = "> ", timeout: Double = 15, file: StaticString = #filePath, line: UInt = #line) -> Bool {
        // libedit may show its prompt before it switches the terminal to raw mode: wait for both.
        read(for: timeout) { output.hasSuffix(prompt) && !cookedMode }
        guard output.hasSuffix(prompt) && !cookedMode else {
            XCTFail("no prompt within \(timeout) s; the terminal showed:\n\(output.suffix(2000))", file: file, line: line)
            return false
        }
        cursor = output.endIndex
        return true
    }

    /// Whether the terminal is in canonical (cooked) mode, as the child's side sees it.
    var cookedMode: Bool {
        let fd = open(slaveName, O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var t = termios()
        guard tcgetattr(fd, &t) == 0 else { return false }
        return t.c_lflag & tcflag_t(ICANON) != 0
    }

    /// Everything the terminal showed since the last match, after waiting `seconds`.
    func drain(_ seconds: Double) -> String {
        read(for: seconds) { false }
        defer { cursor = output.endIndex }
        return String(output[cursor...])
    }

    /// The child's exit status after it ends by itself (nil when it is still running after
    /// `timeout` seconds); output is drained meanwhile so the child never blocks on the terminal.
    func wait(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are C macros).
                let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
                exitStatus = code
                return code
            }
            if r < 0 { return nil }
            read(for: 0.05) { false }
        }
        return nil
    }
}

/// openpty(3), in glibc's libc since 2.34; its header (pty.h) is not part of Swift's Glibc module.
@_silgen_name("openpty")
private func c_openpty(_ master: UnsafeMutablePointer<Int32>, _ slave: UnsafeMutablePointer<Int32>,
                       _ name: UnsafeMutablePointer<CChar>?, _ termios: UnsafeRawPointer?,
                       _ size: UnsafeRawPointer?) -> Int32

struct PseudoTerminalError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
