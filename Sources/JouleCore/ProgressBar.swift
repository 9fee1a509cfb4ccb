import Foundation

/// A progress report for long loops, usable from any layer: on a terminal a bar redrawn in place,
/// otherwise (logs, pipes, batch jobs) a plain line every tenth of the way, so logs stay readable.
public final class ProgressBar {
    public let total: Int
    public let label: String
    public private(set) var completed = 0
    private let interactive: Bool
    private let output: UnsafeMutablePointer<FILE>
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastReportedTenth = 0
    private var info = ""
    private var finished = false

    /// The bar currently drawn on the terminal, so that other output can be printed above it
    /// (weak: a bar a script abandons without done() must not be redrawn forever).
    nonisolated(unsafe) private static weak var active: ProgressBar?
    private static let lock = NSLock()

    public init(total: Int, label: String, interactive: Bool? = nil) {
        self.total = Swift.max(total, 0)
        self.label = label
        self.output = stderr
        self.interactive = interactive ?? (isatty(STDERR_FILENO) != 0)
        ProgressBar.lock.lock()
        if self.interactive { ProgressBar.active = self }
        ProgressBar.lock.unlock()
    }

    /// Sets the number of completed items (by default one more than before) and an optional note
    /// shown after the counts (for example the running loss).
    public func update(_ n: Int? = nil, info: String? = nil) {
        ProgressBar.lock.lock(); defer { ProgressBar.lock.unlock() }
        guard !finished else { return }
        completed = Swift.min(Swift.max(n ?? completed + 1, 0), Swift.max(total, n ?? 0))
        if let info { self.info = info }
        if interactive {
            // Redrawing more often than the eye can follow costs time in tight loops.
            if Date().timeIntervalSince(lastDraw) >= 0.1 || completed == total { draw() }
        } else if total > 0 {
            let tenth = completed * 10 / total
            if tenth > lastReportedTenth && completed < total {
                lastReportedTenth = tenth
                writeLine()
            }
        }
    }

    /// Marks the loop finished and prints the final state.
    public func done(info: String? = nil) {
        ProgressBar.lock.lock(); defer { ProgressBar.lock.unlock() }
        guard !finished else { return }
        if let info { self.info = info }
        finished = true
        if interactive {
            draw()
            fputs("\n", output)
            if ProgressBar.active === self { ProgressBar.active = nil }
        } else {
            writeLine()
        }
        fflush(output)
    }

    /// Prints `line` on standard output without tearing an active bar: the bar is erased, the
    /// line printed, and the bar drawn again below it.
    public static func print(_ line: String) {
        lock.lock(); defer { lock.unlock() }
        if let bar = active { fputs("\r\u{1B}[2K", bar.output); fflush(bar.output) }
        fputs(line + "\n", stdout)
        fflush(stdout)
        active?.draw()
    }

    /// Ends a bar's line before an error message is printed under it.
    public static func endLine() {
        lock.lock(); defer { lock.unlock() }
        if let bar = active, !bar.finished { fputs("\n", bar.output); fflush(bar.output) }
        active = nil
    }

    private var rate: Double {
        let t = Date().timeIntervalSince(start)
        return t > 0 ? Double(completed) / t : 0
    }

    private var summary: String {
        var s = "\(completed)/\(total)"
        let r = rate
        if r > 0 { s += String(format: r >= 10 ? "  %.0f it/s" : "  %.2f it/s", r) }
        if r > 0 && completed < total { s += "  eta " + ProgressBar.clock(Double(total - completed) / r) }
        else if completed >= total { s += "  " + ProgressBar.clock(Date().timeIntervalSince(start)) }
        if !info.isEmpty { s += "  " + info }
        return s
    }

    private func draw() {
        lastDraw = Date()
        let width = 30
        let filled = total > 0 ? Swift.min(width, completed * width / total) : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        fputs("\r\u{1B}[2K\(label) \(bar) \(summary)", output)
        fflush(output)
    }

    private func writeLine() {
        let pct = total > 0 ? completed * 100 / total : 100
        fputs("\(label): \(pct)% \(summary)\n", output)
        fflush(output)
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                         : String(format: "%d:%02d", s / 60, s % 60)
    }
}
