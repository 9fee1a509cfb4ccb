import CLua
import Foundation
import Tensor

/// Script parameters: `-p key=value` from the command line, typed by the defaults a script
/// declares with `joule.params{...}`.
public final class Parameters {
    /// Overrides in command-line order.
    public let overrides: [(key: String, value: String)]
    /// Names the host itself understands, accepted whether or not a script declares them.
    public static let hostNames = ["run"]
    private(set) var declared: Set<String> = []
    private(set) var wasDeclared = false

    /// Parses `key=value` pairs; a key given twice is an error (which one was meant?).
    public init(_ pairs: [String]) throws {
        var seen = Set<String>()
        overrides = try pairs.map { pair in
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw JouleError("parameter '\(pair)' is not of the form key=value")
            }
            let key = String(pair[..<eq]), value = String(pair[pair.index(after: eq)...])
            guard seen.insert(key).inserted else { throw JouleError("parameter '\(key)' given twice") }
            return (key, value)
        }
    }

    public func value(_ key: String) -> String? { overrides.last { $0.key == key }?.value }

    /// Overrides that no `joule.params` call declared (checked when a script ends without ever
    /// declaring parameters, so a mistyped `-p` never goes unnoticed).
    public var undeclared: [String] {
        overrides.map(\.key).filter { !declared.contains($0) && !Parameters.hostNames.contains($0) }
    }

    /// The value of one declared parameter: the override converted to the default's type.
    public enum Value {
        case integer(Int), number(Double), boolean(Bool), string(String)
    }

    func resolve(_ defaults: [(String, Value)]) throws -> [(String, Value)] {
        wasDeclared = true
        declared.formUnion(defaults.map(\.0))
        for (key, _) in overrides where !declared.contains(key) && !Parameters.hostNames.contains(key) {
            var hint = suggestion(for: key, among: Array(declared))
            if hint.isEmpty { hint = " (known: \(declared.sorted().joined(separator: ", ")))" }
            throw JouleError("unknown parameter '\(key)'\(hint)")
        }
        return try defaults.map { key, def in
            guard let text = value(key) else { return (key, def) }
            return (key, try Parameters.convert(text, like: def, key: key))
        }
    }

    public static func convert(_ text: String, like def: Value, key: String) throws -> Value {
        let t = text.trimmingCharacters(in: .whitespaces)
        switch def {
        case .integer:
            if let v = Int(t) { return .integer(v) }
            if let d = Double(t), d.rounded() == d, abs(d) < 0x1p62 { return .integer(Int(d)) }
            throw JouleError("parameter '\(key)' expects an integer, got '\(text)'")
        case .number:
            guard let d = Double(t) else { throw JouleError("parameter '\(key)' expects a number, got '\(text)'") }
            return .number(d)
        case .boolean:
            switch t.lowercased() {
            case "true", "yes", "on", "1": return .boolean(true)
            case "false", "no", "off", "0": return .boolean(false)
            default: throw JouleError("parameter '\(key)' expects true or false, got '\(text)'")
            }
        case .string:
            return .string(text)
        }
    }
}

extension Parameters {
    /// The one conversion of a parameter to its default's type, for values set after the fact
    /// (`joule.set_params`, from a notebook's injected-parameters cell: -p text, or papermill's
    /// numbers and booleans): text converts as `-p key=value` does; a number or boolean must
    /// already be of the default's kind (a whole number for an integer), and becomes its text for
    /// a string default. Pushes the converted value.
    public static func pushConverted(_ call: LuaCall, key: String, value n: Int, default d: Int) throws {
        let L = call.L, v = call.index(n), def = call.index(d)
        let like: Value
        switch lua_type(L, def) {
        case LUA_TNUMBER: like = lua_isinteger(L, def) != 0 ? .integer(0) : .number(0)
        case LUA_TBOOLEAN: like = .boolean(false)
        default: like = .string("")
        }
        let converted: Value
        switch lua_type(L, v) {
        case LUA_TSTRING:
            converted = try convert(LuaCall.stringValue(L, v), like: like, key: key)
        case LUA_TNUMBER:
            let x = lua_tonumberx(L, v, nil)
            switch like {
            case .integer:
                if lua_isinteger(L, v) != 0 { converted = .integer(Int(lua_tointegerx(L, v, nil))) }
                else if x.rounded() == x, abs(x) < 0x1p62 { converted = .integer(Int(x)) }
                else { throw JouleError("parameter '\(key)' expects an integer, got \(x)") }
            case .number: converted = .number(x)
            case .boolean: throw JouleError("parameter '\(key)' expects true or false, got \(x)")
            case .string: converted = .string(LuaCall.stringValue(L, v))
            }
        case LUA_TBOOLEAN:
            let b = lua_toboolean(L, v) != 0
            switch like {
            case .boolean: converted = .boolean(b)
            case .string: converted = .string(b ? "true" : "false")
            default: throw JouleError("parameter '\(key)' expects \(like.kind), got \(b)")
            }
        default:
            throw JouleError("parameter '\(key)' expects \(like.kind), got \(LuaCall.got(L, v))")
        }
        converted.push(L)
    }
}

extension Parameters.Value {
    var kind: String {
        switch self { case .integer: "an integer"; case .number: "a number"; case .boolean: "true or false"; case .string: "a string" }
    }

    func push(_ L: OpaquePointer) {
        switch self {
        case .integer(let i): lua_pushinteger(L, lua_Integer(i))
        case .number(let d): lua_pushnumber(L, d)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .string(let s): lua_pushlstring(L, s, s.utf8.count)
        }
    }
}

enum ParamsBinding {
    /// `joule.params{ name = default, ... }` → a table of the same names with command-line values
    /// applied.
    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.setFunction("params", qualified: "joule.params") { call in
            let table = try call.table(1)
            let L = call.L
            var defaults: [(String, Parameters.Value)] = []
            lua_pushnil(L)
            while lua_next(L, table.index) != 0 {
                // Key at -2, value at -1; the key stays for lua_next.
                defer { lua_settop(L, -2) }
                guard lua_type(L, -2) == LUA_TSTRING else {
                    throw call.bad(1, message: "parameter names must be strings, got \(LuaCall.got(L, -2))")
                }
                let key = LuaCall.stringValue(L, -2)
                switch lua_type(L, -1) {
                case LUA_TNUMBER:
                    defaults.append((key, lua_isinteger(L, -1) != 0 ? .integer(Int(lua_tointegerx(L, -1, nil)))
                                                                    : .number(lua_tonumberx(L, -1, nil))))
                case LUA_TBOOLEAN: defaults.append((key, .boolean(lua_toboolean(L, -1) != 0)))
                case LUA_TSTRING: defaults.append((key, .string(LuaCall.stringValue(L, -1))))
                default:
                    throw call.bad(1, message: "default of '\(key)' must be a number, boolean or string, got \(LuaCall.got(L, -1))")
                }
            }
            let values = try context.parameters.resolve(defaults.sorted { $0.0 < $1.0 })
            lua_createtable(L, 0, Int32(values.count))
            for (key, v) in values {
                v.push(L)
                lua_setfield(L, -2, key)
            }
            return 1
        }
    }
}

extension ParamsBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.params", "joule.params{ name = default, ... } → table",
     "Declares the script's parameters with their defaults and returns their values: `-p key=value` on the command line (or `joule notebook run -p`) overrides a default, converted to the default's type; an unknown name is an error with a suggestion. In a notebook, call it in the cell tagged `parameters`."),
    ("joule.set_params", "joule.set_params{ name = value, ... }",
     "In a notebook or the Jupyter kernel: gives new values to parameters that joule.params{...} declared earlier in the session (in the tables it returned), converted to the defaults' types; other names are left alone. The cell that `joule notebook run -p` or papermill (python/joule_papermill.py) injects ends with it, so both runners give joule.params the same values as the injected globals."),
    ]
}
