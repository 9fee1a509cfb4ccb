import Foundation
import Sweep

/// A sweep file's returned table, given as JSON (objects are named fields, arrays list parts;
/// evaluating the Lua is Lua's business): checked as a sweep spec and, when it has few runs,
/// expanded into them. Any outcome but a crash is fine.
func value(_ j: Any, depth: Int = 0) -> SweepValue? {
    guard depth < 16 else { return nil }
    switch j {
    case let s as String: return .string(s)
    case let n as NSNumber:
        if String(describing: type(of: n)).contains("Boolean") { return .bool(n.boolValue) }
        if let i = n as? Int { return .int(i) }
        return .double(n.doubleValue)
    case let a as [Any]:
        let list = a.compactMap { value($0, depth: depth + 1) }
        return list.count == a.count ? .table(list: list, fields: [:]) : nil
    case let o as [String: Any]:
        var fields: [String: SweepValue] = [:]
        for (k, v) in o { guard let x = value(v, depth: depth + 1) else { return nil }; fields[k] = x }
        return .table(list: [], fields: fields)
    default: return nil
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let j = try? JSONSerialization.jsonObject(with: Data(bytes: data, count: size)), let v = value(j),
          let spec = try? SweepSpec(v, file: "fuzz.lua") else { return 0 }
    let runs = spec.grid.reduce(max(spec.samples, 1) * max(spec.seeds.count, 1)) { $0 * $1.values.count }
    if runs <= 2_000 { _ = spec.expand() }
    return 0
}
