import CLua
import Foundation
import Tensor

/// The arguments of one call from Lua into Swift, with checks that name the argument and what was
/// expected, and helpers to push results.
///
/// Only Lua API functions that cannot raise (raw access, type tests, pushes) are used here: a Lua
/// error must never unwind through Swift frames.
public struct LuaCall {
    public let L: OpaquePointer
    public let name: String
    /// Stack index of argument #1 (2 for methods, whose `self` is #0 at index 1).
    let base: Int32

    /// Tensors larger than this are refused before allocation: a typo in a size must give an error,
    /// not exhaust memory.
    public static let maxElements = 1 << 31

    init(_ L: OpaquePointer, name: String, isMethod: Bool) {
        self.L = L
        self.name = name
        self.base = isMethod ? 2 : 1
    }

    public func index(_ n: Int) -> Int32 { base + Int32(n) - 1 }
    /// Number of arguments after `self`.
    public var count: Int { Swift.max(0, Int(lua_gettop(L) - base + 1)) }
    public func type(_ n: Int) -> Int32 { lua_type(L, index(n)) }
    public func isNil(_ n: Int) -> Bool { type(n) <= LUA_TNIL }

    // MARK: errors

    /// How a value appears after "got" in a message: numbers by value (most bad numbers are out of
    /// range, not of the wrong type), everything else by type.
    public func got(_ n: Int) -> String { LuaCall.got(L, index(n)) }

    static func got(_ L: OpaquePointer, _ i: Int32) -> String {
        switch lua_type(L, i) {
        case LUA_TNONE: return "no value"
        case LUA_TNUMBER:
            if lua_isinteger(L, i) != 0 { return String(lua_tointegerx(L, i, nil)) }
            return formatNumber(lua_tonumberx(L, i, nil))
        default: return typeName(L, i)
        }
    }

    public func bad(_ n: Int, _ expected: String) -> LuaArgumentError {
        LuaArgumentError(position: n, message: "\(expected) expected, got \(got(n))")
    }

    public func bad(_ n: Int, message: String) -> LuaArgumentError {
        LuaArgumentError(position: n, message: message)
    }

    // MARK: scalars

    public func number(_ n: Int) throws -> Double {
        guard type(n) == LUA_TNUMBER else { throw bad(n, "number") }
        return lua_tonumberx(L, index(n), nil)
    }

    public func number(_ n: Int, default d: Double) throws -> Double { isNil(n) ? d : try number(n) }

    public func float(_ n: Int) throws -> Float { Float(try number(n)) }

    /// An integer within `range`; floats with an integral value count, as in Lua.
    public func integer(_ n: Int, _ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard type(n) == LUA_TNUMBER else { throw bad(n, LuaCall.integerKind(range)) }
        guard let v = LuaCall.integerValue(L, index(n)), range.contains(v) else {
            throw bad(n, LuaCall.integerKind(range))
        }
        return v
    }

    public func integer(_ n: Int, _ range: ClosedRange<Int> = Int.min...Int.max, default d: Int) throws -> Int {
        isNil(n) ? d : try integer(n, range)
    }

    static func integerValue(_ L: OpaquePointer, _ i: Int32) -> Int? {
        if lua_isinteger(L, i) != 0 { return Int(lua_tointegerx(L, i, nil)) }
        let d = lua_tonumberx(L, i, nil)
        guard d.isFinite, d.rounded() == d, abs(d) < 0x1p62 else { return nil }
        return Int(d)
    }

    static func integerKind(_ r: ClosedRange<Int>) -> String {
        switch (r.lowerBound, r.upperBound) {
        case (1, Int.max): return "positive integer"
        case (0, Int.max): return "non-negative integer"
        case (Int.min, Int.max): return "integer"
        case (let lo, Int.max): return "integer ≥ \(lo)"
        default: return "integer in \(r.lowerBound)...\(r.upperBound)"
        }
    }

    public func string(_ n: Int) throws -> String {
        // Numbers are not silently turned into strings: a path given as 3 is a mistake.
        guard type(n) == LUA_TSTRING else { throw bad(n, "string") }
        return LuaCall.stringValue(L, index(n))
    }

    public func string(_ n: Int, default d: String) throws -> String { isNil(n) ? d : try string(n) }

    static func stringValue(_ L: OpaquePointer, _ i: Int32) -> String {
        var len = 0
        let p = lua_tolstring(L, i, &len)!
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    public func boolean(_ n: Int) throws -> Bool {
        guard type(n) == LUA_TBOOLEAN else { throw bad(n, "boolean") }
        return lua_toboolean(L, index(n)) != 0
    }

    public func boolean(_ n: Int, default d: Bool) throws -> Bool { isNil(n) ? d : try boolean(n) }

    // MARK: objects and tables

    public func object<T: AnyObject>(_ n: Int, _ type: String, as: T.Type = T.self) throws -> T {
        guard let o = LuaObjects.get(L, index(n), type: type, as: T.self) else { throw bad(n, type) }
        return o
    }

    public func tensor(_ n: Int) throws -> Tensor { try object(n, TensorBinding.typeName) }

    /// `self` of a method of the userdata type `type` (a wrong receiver is reported as argument 0,
    /// as Lua's own methods do).
    public func this<T: AnyObject>(_ type: String, as: T.Type = T.self) throws -> T {
        guard let o = LuaObjects.get(L, 1, type: type, as: T.self) else {
            throw LuaArgumentError(position: 0, message: "\(type) expected, got \(LuaCall.got(L, 1))")
        }
        return o
    }

    public func optionalTensor(_ n: Int) throws -> Tensor? { isNil(n) ? nil : try tensor(n) }

    public func isTensor(_ n: Int) -> Bool { LuaObjects.get(L, index(n), type: TensorBinding.typeName, as: Tensor.self) != nil }

    public func table(_ n: Int) throws -> LuaTable {
        guard type(n) == LUA_TTABLE else { throw bad(n, "table") }
        return LuaTable(call: self, position: n, index: lua_absindex(L, index(n)))
    }

    /// An options table (`f{ steps = 60 }`), or an empty one when the argument is absent.
    public func options(_ n: Int, allowed: [String]) throws -> LuaTable? {
        if isNil(n) { return nil }
        let t = try table(n)
        try t.rejectUnknownKeys(allowed)
        return t
    }

    /// A shape given as integers (`f(2, 3)`) or one table (`f{2, 3}`), starting at argument `n`.
    /// Every dimension must be positive and the element count within `maxElements`.
    public func shape(from n: Int) throws -> [Int] {
        var dims: [Int]
        if type(n) == LUA_TTABLE {
            dims = try table(n).integers(1...Int.max)
            guard !dims.isEmpty else { throw bad(n, message: "shape table is empty") }
        } else {
            guard count >= n else { throw bad(n, "positive integer or shape table") }
            dims = try (n...count).map { try integer($0, 1...Int.max) }
        }
        try LuaCall.checkSize(dims, self, n)
        return dims
    }

    static func checkSize(_ dims: [Int], _ call: LuaCall, _ n: Int) throws {
        var total = 1
        for d in dims {
            let (p, overflow) = total.multipliedReportingOverflow(by: d)
            guard !overflow, p <= maxElements else {
                throw call.bad(n, message: "shape \(dims.map(String.init).joined(separator: "×")) is too large (more than \(maxElements) elements)")
            }
            total = p
        }
    }

    // MARK: results

    public func push(_ v: Double) { lua_pushnumber(L, v) }
    public func push(_ v: Float) { lua_pushnumber(L, Double(v)) }
    public func push(_ v: Int) { lua_pushinteger(L, lua_Integer(v)) }
    public func push(_ v: Bool) { lua_pushboolean(L, v ? 1 : 0) }
    public func push(_ v: String) { lua_pushstring(L, v) }
    public func pushNil() { lua_pushnil(L) }
    public func push(_ t: Tensor) { LuaObjects.push(L, t, type: TensorBinding.typeName) }
    public func push(object: AnyObject, type: String) { LuaObjects.push(L, object, type: type) }
    public func pushSelf() { lua_pushvalue(L, 1) }

    public func push(_ values: [Double]) {
        lua_createtable(L, Int32(values.count), 0)
        for (i, v) in values.enumerated() { lua_pushnumber(L, v); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }

    public func push(_ values: [String]) {
        lua_createtable(L, Int32(values.count), 0)
        for (i, x) in values.enumerated() { lua_pushstring(L, x); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }
    public func push(_ values: [Int]) {
        lua_createtable(L, Int32(values.count), 0)
        for (i, v) in values.enumerated() { lua_pushinteger(L, lua_Integer(v)); lua_rawseti(L, -2, lua_Integer(i + 1)) }
    }

    /// Pushes a new table and fills it through `fill`, whose pushes become fields (`set` below).
    public func pushTable(_ fill: (LuaTableBuilder) throws -> Void) rethrows {
        lua_createtable(L, 0, 4)
        try fill(LuaTableBuilder(L: L, table: lua_gettop(L)))
    }

    /// Calls the Lua function at argument `n` with arguments pushed by `pushArgs`; a failing
    /// callback's error is re-raised unchanged (it already names its own file and line).
    public func callback(_ n: Int, results: Int32, _ pushArgs: () -> Int32) throws {
        lua_pushvalue(L, index(n))
        let nargs = pushArgs()
        guard joule_pcall(L, nargs, results) == LUA_OK else {
            let text = lua_type(L, -1) == LUA_TSTRING ? LuaCall.stringValue(L, -1) : "error in callback"
            lua_settop(L, -2)
            throw LuaPassthroughError(message: text.components(separatedBy: "\nstack traceback:")[0])
        }
    }
}

/// Sets fields of a table under construction.
public struct LuaTableBuilder {
    let L: OpaquePointer
    let table: Int32
    public func set(_ key: String, _ v: Double) { lua_pushnumber(L, v); lua_setfield(L, table, key) }
    public func set(_ key: String, _ v: Int) { lua_pushinteger(L, lua_Integer(v)); lua_setfield(L, table, key) }
    public func set(_ key: String, _ v: String) { lua_pushstring(L, v); lua_setfield(L, table, key) }
    public func set(_ key: String, _ v: Bool) { lua_pushboolean(L, v ? 1 : 0); lua_setfield(L, table, key) }
    public func set(_ key: String, _ v: Tensor) { LuaObjects.push(L, v, type: TensorBinding.typeName); lua_setfield(L, table, key) }
    public func set(_ key: String, _ v: [Double]) {
        lua_createtable(L, Int32(v.count), 0)
        for (i, x) in v.enumerated() { lua_pushnumber(L, x); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        lua_setfield(L, table, key)
    }
    /// A nested table.
    public func table(_ key: String, _ fill: (LuaTableBuilder) throws -> Void) rethrows {
        lua_createtable(L, 0, 4)
        try fill(LuaTableBuilder(L: L, table: lua_gettop(L)))
        lua_setfield(L, table, key)
    }
    /// A field holding a list of tables, one per element, each filled by `fill`.
    public func list<T>(_ key: String, _ elements: [T], _ fill: (LuaTableBuilder, T) -> Void) {
        lua_createtable(L, Int32(elements.count), 0)
        let list = lua_gettop(L)
        for (i, e) in elements.enumerated() {
            lua_createtable(L, 0, 8)
            fill(LuaTableBuilder(L: L, table: lua_gettop(L)), e)
            lua_rawseti(L, list, lua_Integer(i + 1))
        }
        lua_setfield(L, table, key)
    }
}

/// A Lua table passed as an argument; fields are read raw (no metamethods run).
public struct LuaTable {
    let call: LuaCall
    public let position: Int
    let index: Int32
    var L: OpaquePointer { call.L }

    /// Length of the array part (raw).
    public var length: Int { Int(lua_rawlen(L, index)) }

    /// Runs `body` with field `key` pushed (its stack slot), for fields read in several ways.
    func withField<R>(_ key: String, _ body: (Int32) throws -> R) rethrows -> R { try with(key, body) }

    /// Pushes field `key` for the duration of `body`.
    private func with<R>(_ key: String, _ body: (Int32) throws -> R) rethrows -> R {
        lua_pushstring(L, key)
        lua_rawget(L, index)
        defer { lua_settop(L, -2) }
        return try body(lua_gettop(L))
    }

    private func with<R>(_ i: Int, _ body: (Int32) throws -> R) rethrows -> R {
        lua_rawgeti(L, index, lua_Integer(i))
        defer { lua_settop(L, -2) }
        return try body(lua_gettop(L))
    }

    func bad(_ what: String, _ expected: String, _ slot: Int32) -> LuaArgumentError {
        call.bad(position, message: "\(what): \(expected) expected, got \(LuaCall.got(L, slot))")
    }

    public func has(_ key: String) -> Bool { with(key) { lua_type(L, $0) != LUA_TNIL } }

    public func number(_ key: String) throws -> Double? {
        try with(key) { s in
            switch lua_type(L, s) {
            case LUA_TNIL: return nil
            case LUA_TNUMBER: return lua_tonumberx(L, s, nil)
            default: throw bad("field '\(key)'", "number", s)
            }
        }
    }

    public func number(_ key: String, default d: Double) throws -> Double { try number(key) ?? d }

    public func integer(_ key: String, _ range: ClosedRange<Int> = Int.min...Int.max) throws -> Int? {
        try with(key) { s in
            if lua_type(L, s) == LUA_TNIL { return nil }
            guard lua_type(L, s) == LUA_TNUMBER, let v = LuaCall.integerValue(L, s), range.contains(v) else {
                throw bad("field '\(key)'", LuaCall.integerKind(range), s)
            }
            return v
        }
    }

    public func integer(_ key: String, _ range: ClosedRange<Int> = Int.min...Int.max, default d: Int) throws -> Int {
        try integer(key, range) ?? d
    }

    public func string(_ key: String) throws -> String? {
        try with(key) { s in
            switch lua_type(L, s) {
            case LUA_TNIL: return nil
            case LUA_TSTRING: return LuaCall.stringValue(L, s)
            default: throw bad("field '\(key)'", "string", s)
            }
        }
    }

    public func boolean(_ key: String) throws -> Bool? {
        try with(key) { s in
            switch lua_type(L, s) {
            case LUA_TNIL: return nil
            case LUA_TBOOLEAN: return lua_toboolean(L, s) != 0
            default: throw bad("field '\(key)'", "boolean", s)
            }
        }
    }

    public func object<T: AnyObject>(_ key: String, _ type: String, as: T.Type = T.self) throws -> T? {
        try with(key) { s in
            if lua_type(L, s) == LUA_TNIL { return nil }
            guard let o = LuaObjects.get(L, s, type: type, as: T.self) else { throw bad("field '\(key)'", type, s) }
            return o
        }
    }

    /// A userdata field the call cannot do without: a missing one is reported as a wrong type (nil).
    public func object<T: AnyObject>(required key: String, _ type: String, as: T.Type = T.self) throws -> T {
        guard let o = try object(key, type, as: T.self) else {
            throw call.bad(position, message: "field '\(key)': \(type) expected, got nil")
        }
        return o
    }

    public func tensor(_ key: String) throws -> Tensor? { try object(key, TensorBinding.typeName) }

    /// A list of integers stored under `key` (or a tensor of integral values).
    public func integers(_ key: String, _ range: ClosedRange<Int> = Int.min...Int.max) throws -> [Int]? {
        try with(key) { s in
            if lua_type(L, s) == LUA_TNIL { return nil }
            return try LuaTable.integerList(call, position, s, "field '\(key)'", range)
        }
    }

    /// A list of numbers stored under `key` (a table of numbers, or a tensor).
    public func numbers(_ key: String) throws -> [Double]? {
        try with(key) { s in
            switch lua_type(L, s) {
            case LUA_TNIL: return nil
            case LUA_TTABLE: return try LuaTable(call: call, position: position, index: s).numbers()
            default:
                guard let t = LuaObjects.get(L, s, type: TensorBinding.typeName, as: Tensor.self) else {
                    throw bad("field '\(key)'", "list of numbers", s)
                }
                return t.array.map(Double.init)
            }
        }
    }

    /// The array part as integers.
    public func integers(_ range: ClosedRange<Int> = Int.min...Int.max) throws -> [Int] {
        try LuaTable.integerList(call, position, index, "table", range)
    }

    /// The array part as numbers.
    public func numbers() throws -> [Double] {
        try (0..<length).map { i in
            try with(i + 1) { s in
                guard lua_type(L, s) == LUA_TNUMBER else { throw bad("element \(i + 1)", "number", s) }
                return lua_tonumberx(L, s, nil)
            }
        }
    }

    static func integerList(_ call: LuaCall, _ position: Int, _ slot: Int32, _ what: String,
                            _ range: ClosedRange<Int>) throws -> [Int] {
        let L = call.L
        if let t = LuaObjects.get(L, slot, type: TensorBinding.typeName, as: Tensor.self) {
            return try t.array.enumerated().map { i, v in
                // Finite and within Int before converting: Int(inf) is no number at all (every
                // infinite prediction "equalled" every infinite label).
                guard v.isFinite, v.rounded() == v, abs(v) < 0x1p62, range.contains(Int(v)) else {
                    throw call.bad(position, message: "\(what) element \(i + 1): \(LuaCall.integerKind(range)) expected, got \(formatNumber(Double(v)))")
                }
                return Int(v)
            }
        }
        guard lua_type(L, slot) == LUA_TTABLE else {
            throw call.bad(position, message: "\(what): table of integers expected, got \(LuaCall.got(L, slot))")
        }
        let n = Int(lua_rawlen(L, slot))
        return try (0..<n).map { i in
            lua_rawgeti(L, slot, lua_Integer(i + 1))
            defer { lua_settop(L, -2) }
            guard lua_type(L, -1) == LUA_TNUMBER, let v = LuaCall.integerValue(L, -1), range.contains(v) else {
                throw call.bad(position, message: "\(what) element \(i + 1): \(LuaCall.integerKind(range)) expected, got \(LuaCall.got(L, -1))")
            }
            return v
        }
    }

    /// String keys of the table that are not in `allowed` are mistakes (a misspelt option would
    /// otherwise be silently ignored).
    public func rejectUnknownKeys(_ allowed: [String]) throws {
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            lua_settop(L, -2)
            guard lua_type(L, -1) == LUA_TSTRING else {
                let got = LuaCall.got(L, -1)
                lua_settop(L, -2)
                throw call.bad(position, message: "option names must be strings, got \(got)")
            }
            let key = LuaCall.stringValue(L, -1)
            if !allowed.contains(key) {
                lua_settop(L, -2)
                throw call.bad(position, message: "unknown option '\(key)'\(suggestion(for: key, among: allowed))")
            }
        }
    }
}

/// Numbers in messages: integers without a fraction, others in the shortest form that reads back.
func formatNumber(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d > 0 ? "inf" : "-inf" }
    if d.rounded() == d && abs(d) < 1e15 { return String(Int(d)) }
    return "\(d)"
}
