import Foundation
import JouleCore

/// What happened to one run, kept in its folder as `status.json`.
public struct RunStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Submitted to Slurm, not started yet.
        case queued
        case running, finished, failed, interrupted
    }
    public var key: String
    public var params: [String: String]
    public var state: State
    public var exitStatus: Int32?
    /// Set when the process ended by a signal.
    public var signal: Int32?
    /// Why it failed: exit status or signal and the tail of stderr.
    public var error: String?
    public var started: Date?
    public var seconds: Double?
    public var host: String?
    public var backend: String?
    public var slurmJob: String?

    enum CodingKeys: String, CodingKey {
        case key, params, state = "status", exitStatus = "exit_status", signal, error, started, seconds, host, backend
        case slurmJob = "slurm_job"
    }

    public init(run: RunSpec, state: State, backend: String) {
        key = run.key
        params = Dictionary(uniqueKeysWithValues: run.params.map { ($0.name, $0.value.text) })
        self.state = state
        self.backend = backend
        host = ProcessInfo.processInfo.hostName
    }

    public static func path(_ run: RunSpec) -> String { run.directory + "/status.json" }

    public static func read(_ run: RunSpec) -> RunStatus? {
        guard let data = FileManager.default.contents(atPath: path(run)) else { return nil }
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        guard let s = try? d.decode(RunStatus.self, from: data), s.key == run.key else { return nil }
        return s
    }

    public func write(_ run: RunSpec) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.dateEncodingStrategy = .iso8601
        try AtomicFile.write(try e.encode(self) + Data("\n".utf8), to: RunStatus.path(run))
    }
}

/// A value from a run's `result.json`, flattened: nested tables become dotted names.
public enum ResultValue: Equatable, Sendable {
    case number(Double), string(String), bool(Bool)

    public var number: Double? { if case .number(let d) = self { return d } else { return nil } }

    /// Full precision, for the CSV.
    public var csv: String {
        switch self {
        case .number(let d): return d.isFinite && d.rounded() == d && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        }
    }

    /// Four significant digits, for the terminal.
    public var short: String {
        switch self {
        case .number(let d): return d.isFinite && d.rounded() == d && abs(d) < 1e7 ? String(Int(d)) : String(format: "%.4g", d)
        default: return csv
        }
    }
}

/// JSON as the result file holds it.
indirect enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return ResultValue.number(d).csv
        case .string(let s): return "\"\(s)\""
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\"\($0)\":\(o[$0]!.text)" }.joined(separator: ",") + "}"
        }
    }
}

public enum Results {
    /// The flattened result table of a run: its `result.json` (from `joule.result{...}`), else the
    /// last line of its `log.jsonl` (so scripts that only log, such as a training script's
    /// per-epoch line, still fill the table); empty when it wrote neither.
    public static func read(_ run: RunSpec) throws -> [String: ResultValue] {
        var path = run.directory + "/result.json"
        var data = FileManager.default.contents(atPath: path)
        if data == nil {
            path = run.directory + "/log.jsonl"
            guard let log = FileManager.default.contents(atPath: path),
                  let last = String(decoding: log, as: UTF8.self).split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                return [:]
            }
            data = Data(last.utf8)
        }
        guard let data else { return [:] }
        let json: JSONValue
        do { json = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw JouleError("\(path): not valid JSON")
        }
        var out: [String: ResultValue] = [:]
        func flatten(_ v: JSONValue, _ prefix: String) {
            switch v {
            case .null: out[prefix] = .number(.nan)
            case .bool(let b): out[prefix] = .bool(b)
            case .number(let d): out[prefix] = .number(d)
            case .string(let s): out[prefix] = .string(s)
            case .array: out[prefix] = .string(v.text)
            case .object(let o): for (k, x) in o { flatten(x, prefix.isEmpty ? k : prefix + "." + k) }
            }
        }
        flatten(json, "")
        return out
    }
}

/// The last lines of a file (a failed run's stderr), at most `maxBytes` of them.
func tail(of path: String, lines: Int = 12, maxBytes: Int = 4000) -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? h.close() }
    let size = (try? h.seekToEnd()) ?? 0
    let start = size > UInt64(maxBytes) ? size - UInt64(maxBytes) : 0
    try? h.seek(toOffset: start)
    let data = (try? h.readToEnd()) ?? Data()
    let text = String(decoding: data, as: UTF8.self)
    let all = text.split(separator: "\n", omittingEmptySubsequences: true)
    return all.suffix(lines).joined(separator: "\n")
}
