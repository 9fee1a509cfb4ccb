import Foundation
import JouleCore

/// An `events.out.tfevents.*` file that TensorBoard reads while it grows: the file-version record
/// first, then one framed `Event` per call, each appended with a single write(2) so that it reaches
/// the file (and a running TensorBoard) at once and a killed writer leaves whole records only, or
/// at worst one cut record at the end, which readers skip.
public final class EventFile {
    public let path: String
    private let fd: Int32

    /// Creates `folder/events.out.tfevents.<seconds>.<host>.<pid>` (TensorFlow's naming; the process
    /// id keeps a resumed run's new file apart from the one it continues) and writes the version record.
    public init(folder: String, now: Date = Date()) throws {
        var host = [CChar](repeating: 0, count: 256)
        let name = gethostname(&host, host.count) == 0 ? String(cString: host) : "localhost"
        let seconds = Int(now.timeIntervalSince1970)
        path = "\(folder)/events.out.tfevents.\(String(format: "%010d", seconds)).\(name).\(getpid())"
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw JouleError("cannot open \(path): \(String(cString: strerror(errno)))") }
        try write(Event(wallTime: now.timeIntervalSince1970, step: 0, .fileVersion("brain.Event:2")))
    }

    deinit { close(fd) }

    public func write(_ event: Event) throws {
        let record = TFRecord.frame(event.encoded())
        let written = record.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        guard written == record.count else {
            throw JouleError("cannot write \(path): \(written < 0 ? String(cString: strerror(errno)) : "short write")")
        }
    }

    /// One event holding `values` at `step`, stamped now.
    public func write(_ values: [SummaryValue], step: Int64) throws {
        guard !values.isEmpty else { return }
        try write(Event(wallTime: Date().timeIntervalSince1970, step: step, .summary(values)))
    }
}
