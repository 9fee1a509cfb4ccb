import Foundation
import JouleCore

/// What happened to one run, kept in its folder as `status.json`.
public struct RunStatus: Sendable, Equatable {
    public enum State: String, Sendable {
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

    public init(run: RunSpec, state: State, backend: String) {
        key = run.key
        params = Dictionary(uniqueKeysWithValues: run.params.map { ($0.name, $0.value.text) })
        self.state = state
        self.backend = backend
        host = ProcessInfo.processInfo.hostName
    }

    public static func path(_ run: RunSpec) -> String { run.directory + "/status.json" }

    public static func read(_ run: RunSpec) -> RunStatus? {
        guard let data = FileManager.default.contents(atPath: path(run)), let json = try? JSON.parse(data),
              let s = RunStatus(json: json), s.key == run.key else { return nil }
        return s
    }

    public func write(_ run: RunSpec) throws {
        try AtomicFile.write(json.fileData(.file), to: RunStatus.path(run))
    }

    /// The record as status.json holds it; absent fields are left out, times are ISO 8601 to the second.
    public var json: JSON {
        .object(omittingNil: [
            "key": .string(key), "params": .object(params.mapValues(JSON.string)), "status": .string(state.rawValue),
            "exit_status": exitStatus.map { .int(Int($0)) }, "signal": signal.map { .int(Int($0)) },
            "error": error.map(JSON.string), "started": started.map { .string(ISO8601DateFormatter().string(from: $0)) },
            "seconds": seconds.map(JSON.double), "host": host.map(JSON.string), "backend": backend.map(JSON.string),
            "slurm_job": slurmJob.map(JSON.string),
        ])
    }

    /// A record from status.json; nil when the key, parameters or state are missing or a field has
    /// the wrong type (a file from something else, or half of one).
    public init?(json: JSON) {
        guard let key = json["key"]?.string, let p = json["params"]?.object,
              let state = json["status"]?.string.flatMap(State.init(rawValue:)) else { return nil }
        self.key = key
        self.state = state
        struct WrongType: Error {}
        // An absent or null field is nil; one of another type makes the whole record unreadable.
        func field<T>(_ name: String, _ read: (JSON) -> T?) throws -> T? {
            guard let v = json[name], !v.isNull else { return nil }
            guard let x = read(v) else { throw WrongType() }
            return x
        }
        do {
            params = try p.mapValues { v in guard let s = v.string else { throw WrongType() }; return s }
            exitStatus = try field("exit_status") { $0.int.flatMap { Int32(exactly: $0) } }
            signal = try field("signal") { $0.int.flatMap { Int32(exactly: $0) } }
            error = try field("error", \.string)
            started = try field("started") { $0.string.flatMap { ISO8601DateFormatter().date(from: $0) } }
            seconds = try field("seconds", \.double)
            host = try field("host", \.string)
            backend = try field("backend", \.string)
            slurmJob = try field("slurm_job", \.string)
        } catch {
            return nil
        }
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

public enum Results {
    /// The flattened result table of a run: its `result.json` (from `joule.result{...}`), else the
    /// last line of its `log.jsonl` (so scripts that only log, such as a training script's
    /// per-epoch line, still fill the table); empty when it wrote neither.
    public static func read(_ run: RunSpec) throws -> [String: ResultValue] {
        let resultPath = run.directory + "/result.json", logPath = run.directory + "/log.jsonl"
        let json: JSON
        if let data = FileManager.default.contents(atPath: resultPath) {
            do { json = try JSON.parse(data) } catch { throw JouleError("\(resultPath): not valid JSON (\(error))") }
        } else if FileManager.default.fileExists(atPath: logPath) {
            guard let last = try JSONLines.objects(atPath: logPath).last else { return [:] }
            json = .object(last)
        } else {
            return [:]
        }
        var out: [String: ResultValue] = [:]
        func flatten(_ v: JSON, _ prefix: String) {
            switch v {
            case .null: out[prefix] = .number(.nan)
            case .bool(let b): out[prefix] = .bool(b)
            case .int(let i): out[prefix] = .number(Double(i))
            case .double(let d): out[prefix] = .number(d)
            case .string(let s): out[prefix] = .string(s)
            case .array: out[prefix] = .string(v.serialized())
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
