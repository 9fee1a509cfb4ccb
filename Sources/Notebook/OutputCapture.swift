import Foundation

/// Captures what a cell writes to standard output and standard error — Lua's print and io.write,
/// joule.log lines, progress bars, anything Swift or C prints — by pointing file descriptors 1 and
/// 2 at pipes while the cell runs. A reader thread hands the text on as it arrives.
///
/// `sync()` returns once everything written so far has been handed on, so a stream and a picture
/// that follows it reach the notebook in the order the cell made them.
final class OutputCapture {
    typealias Sink = (_ name: String, _ text: String) -> Void

    private let sink: Sink
    private var saved: [Int32] = [-1, -1]
    private var readEnds: [Int32] = [-1, -1]
    private var pending: [[UInt8]] = [[], []]
    private let lock = NSLock()
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)
    private var stopPipe: [Int32] = [-1, -1]
    private static let names = ["stdout", "stderr"]

    init(sink: @escaping Sink) { self.sink = sink }

    /// Starts capturing; the original descriptors are kept for `end()`.
    func begin() throws {
        fflush(stdout); fflush(stderr)
        for (k, fd) in [STDOUT_FILENO, STDERR_FILENO].enumerated() {
            var p: [Int32] = [0, 0]
            guard pipe(&p) == 0 else { throw NotebookError("cannot capture output: \(String(cString: strerror(errno)))") }
            saved[k] = dup(fd)
            dup2(p[1], fd)
            close(p[1])
            readEnds[k] = p[0]
            _ = fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK)
        }
        var s: [Int32] = [0, 0]
        _ = pipe(&s)
        stopPipe = s
        let t = Thread { [self] in readLoop() }
        t.stackSize = 1 << 20
        thread = t
        t.start()
    }

    /// Hands on everything written so far.
    func sync() {
        fflush(stdout); fflush(stderr)
        while true {
            lock.lock()
            let waiting = readEnds.contains { fd in
                var n: Int32 = 0
                return fd >= 0 && ioctl(fd, UInt(FIONREAD), &n) == 0 && n > 0
            }
            lock.unlock()
            if !waiting { return }
            usleep(500)
        }
    }

    /// Stops capturing: restores the descriptors and hands on the rest.
    func end() {
        fflush(stdout); fflush(stderr)
        sync()
        for (k, fd) in [STDOUT_FILENO, STDERR_FILENO].enumerated() where saved[k] >= 0 {
            dup2(saved[k], fd)
            close(saved[k])
            saved[k] = -1
        }
        var b: UInt8 = 1
        _ = write(stopPipe[1], &b, 1)
        finished.wait()
        for k in 0..<2 {
            drain(k)
            flushPending(k, final: true)
            close(readEnds[k]); readEnds[k] = -1
        }
        close(stopPipe[0]); close(stopPipe[1])
        thread = nil
    }

    private func readLoop() {
        while true {
            var fds = [pollfd(fd: readEnds[0], events: Int16(POLLIN), revents: 0),
                       pollfd(fd: readEnds[1], events: Int16(POLLIN), revents: 0),
                       pollfd(fd: stopPipe[0], events: Int16(POLLIN), revents: 0)]
            let r = poll(&fds, 3, -1)
            if r < 0 && errno == EINTR { continue }
            if fds[2].revents != 0 { break }
            lock.lock()
            for k in 0..<2 where fds[k].revents != 0 { drain(k) }
            lock.unlock()
        }
        finished.signal()
    }

    /// Reads what the pipe holds and hands on the complete UTF-8 text (called with the lock held
    /// or after the reader stopped).
    private func drain(_ k: Int) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var got = false
        while true {
            let n = read(readEnds[k], &buffer, buffer.count)
            if n > 0 { pending[k].append(contentsOf: buffer[0..<n]); got = true; continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        if got { flushPending(k, final: false) }
    }

    private func flushPending(_ k: Int, final: Bool) {
        guard !pending[k].isEmpty else { return }
        // Keep an incomplete UTF-8 sequence at the end for the next read.
        var cut = pending[k].count
        if !final {
            var back = 0
            while back < 4 && back < cut && (pending[k][cut - 1 - back] & 0xC0) == 0x80 { back += 1 }
            if back < cut {
                let lead = pending[k][cut - 1 - back]
                let need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
                if need > back + 1 { cut -= back + 1 }
            }
        }
        guard cut > 0 else { return }
        let text = String(decoding: pending[k][0..<cut], as: UTF8.self)
        pending[k].removeFirst(cut)
        sink(OutputCapture.names[k], text)
    }
}
