import Foundation

/// A Lua value read out of a sweep file: what the file's returned table may hold.
public indirect enum SweepValue: Equatable, Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    /// A table: its list part (1...n) and its named fields.
    case table(list: [SweepValue], fields: [String: SweepValue])

    var typeName: String {
        switch self {
        case .int, .double: return "number"
        case .string: return "string"
        case .bool: return "boolean"
        case .table: return "table"
        }
    }

    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// A scalar as a parameter value; nil for tables.
    var parameter: ParamValue? {
        switch self {
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .bool(let b): return .bool(b)
        case .table: return nil
        }
    }
}
