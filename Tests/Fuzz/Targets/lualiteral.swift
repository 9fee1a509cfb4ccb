import CLua
import Foundation
import JouleCore

/// The Lua-literal writer (Tensor/LuaLiteral), read back by a real Lua state: whatever the bytes, the
/// literal loads and gives the same value. The first byte chooses what is written from the rest:
/// 0 a string of the bytes, 1 a `-p` text (the bytes as UTF-8, repaired), 2 a float (8 bytes' bits),
/// 3 an integer (8 bytes). A difference traps, so libFuzzer keeps the input.
/// The state of the current input: a fresh one per input, closed after it, so that nothing Lua
/// allocates outlives the input (libFuzzer would take it for a leak and run a slow leak check).
nonisolated(unsafe) var L: OpaquePointer! = nil

enum Read: Equatable { case bytes([UInt8]), integer(Int), float(UInt64), boolean(Bool), other(String) }

func read(_ literal: String) -> Read {
    let top = lua_gettop(L)
    defer { lua_settop(L, top) }
    let code = "return " + literal
    guard luaL_loadbufferx(L, code, code.utf8.count, "=literal", "t") == LUA_OK, lua_pcallk(L, 0, 1, 0, 0, nil) == LUA_OK else {
        return .other("error: " + String(cString: lua_tolstring(L, -1, nil)))
    }
    switch lua_type(L, -1) {
    case LUA_TSTRING:
        var n = 0
        let p = lua_tolstring(L, -1, &n)!
        return .bytes(Array(UnsafeRawBufferPointer(start: p, count: n)))
    case LUA_TNUMBER:
        if lua_isinteger(L, -1) != 0 { return .integer(Int(lua_tointegerx(L, -1, nil))) }
        let d = lua_tonumberx(L, -1, nil)
        return .float(d.isNaN ? Double.nan.bitPattern : d.bitPattern)
    case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, -1) != 0)
    default: return .other(String(cString: lua_typename(L, lua_type(L, -1))))
    }
}

func expect(_ got: Read, _ want: Read, _ literal: String) {
    if got != want { fatalError("literal \(literal) read back as \(got), not \(want)") }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    L = luaL_newstate()!
    luaL_openlibs(L)    // math.huge, math.mininteger
    defer { lua_close(L) }
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    var word: UInt64 = 0
    for (k, b) in bytes.prefix(8).enumerated() { word |= UInt64(b) << (8 * UInt64(k)) }
    switch data[0] % 4 {
    case 0:
        let literal = LuaLiteral.string(bytes)
        expect(read(literal), .bytes(bytes), literal)
    case 1:
        let text = String(decoding: bytes, as: UTF8.self)
        let literal = LuaLiteral.parameter(text)
        let t = text.trimmingCharacters(in: .whitespaces)
        switch read(literal) {
        case .bytes(let b): expect(.bytes(b), .bytes(Array(text.utf8)), literal)
        case .integer(let i): if Int(t) != i { fatalError("\(text.debugDescription) → \(literal) → integer \(i)") }
        case .float(let d): if Double(t)?.bitPattern != d { fatalError("\(text.debugDescription) → \(literal) → float \(Double(bitPattern: d))") }
        case .boolean(let b): if t != String(b) { fatalError("\(text.debugDescription) → \(literal) → \(b)") }
        case .other(let o): fatalError("\(text.debugDescription) → \(literal) → \(o)")
        }
    case 2:
        let d = Double(bitPattern: word)
        let literal = LuaLiteral.number(d)
        expect(read(literal), .float(d.isNaN ? Double.nan.bitPattern : d.bitPattern), literal)
    default:
        let i = Int(truncatingIfNeeded: word)
        let literal = LuaLiteral.integer(i)
        expect(read(literal), .integer(i), literal)
    }
    return 0
}
