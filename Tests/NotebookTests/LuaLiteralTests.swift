import CLua
import Foundation
import LuaHost
import Notebook
import Tensor
import XCTest

/// The one writer of Lua source from values (Tensor/LuaLiteral): whatever a value holds, a real Lua
/// state reads back the same bytes, the same number, or the same boolean.
final class LuaLiteralTests: XCTestCase {
    enum Read: Equatable { case bytes([UInt8]), integer(Int), float(Double), boolean(Bool), other(String) }

    /// `return LITERAL` in `lua`: what it gives, or the syntax error.
    func read(_ lua: LuaState, _ literal: String) -> Read {
        let L = lua.L
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
            return lua_isinteger(L, -1) != 0 ? .integer(Int(lua_tointegerx(L, -1, nil))) : .float(lua_tonumberx(L, -1, nil))
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, -1) != 0)
        default: return .other(String(cString: lua_typename(L, lua_type(L, -1))))
        }
    }

    /// SplitMix64: the same cases on every run.
    struct Draws {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        /// Bytes that stress a writer (escapes, digits after them, UTF-8 edges) half the time, any byte else.
        mutating func bytes(_ maxCount: Int) -> [UInt8] {
            let hard: [UInt8] = [0, 1, 7, 9, 10, 12, 13, 26, 27, 31, 34, 39, 48, 49, 55, 57, 63, 91, 92, 93, 120, 127,
                                 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff]
            return (0..<below(maxCount + 1)).map { _ in below(2) == 0 ? hard[below(hard.count)] : UInt8(truncatingIfNeeded: next()) }
        }
    }

    func testStringsOfArbitraryBytesReadBackByteForByte() {
        let lua = LuaState()
        var cases: [[UInt8]] = [[], [1, 0x32], [0x1f, 0x39, 0x39], [0], [0, 0x30], Array("\\\"'\n\r\t]]--[[".utf8),
                                Array("ünïcode ✓ 𝄞".utf8), [0xc2, 0x80, 0x31], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
                                [0xe2, 0x82], [0xff, 0xfe, 0x31, 0x32, 0x33]]
        var draws = Draws(state: 28)
        for _ in 0..<4000 { cases.append(draws.bytes(48)) }
        for bytes in cases {
            let literal = LuaLiteral.string(bytes)
            XCTAssertEqual(read(lua, literal), .bytes(bytes), "\(bytes) written as \(literal)")
            XCTAssertFalse(literal.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, literal)
        }
    }

    /// A `-p` text: a boolean, a number only where the text is a numeral Lua reads back as that very
    /// value, else the string itself, whatever it holds.
    func testParameterTextsReadBackAsTheirValues() {
        let lua = LuaState()
        let expected: [(String, Read)] = [
            ("5", .integer(5)), ("-42", .integer(-42)), (" 7 ", .integer(7)), ("007", .integer(7)),
            ("9223372036854775807", .integer(Int.max)), ("-9223372036854775808", .integer(Int.min)),
            ("1e-4", .float(1e-4)), ("3.0", .float(3)), ("-.5", .float(-0.5)), ("2.", .float(2)), ("1E+3", .float(1000)),
            ("true", .boolean(true)), ("false", .boolean(false)),
            ("+5", .bytes(Array("+5".utf8))), ("9223372036854775808", .bytes(Array("9223372036854775808".utf8))),
            ("1e400", .bytes(Array("1e400".utf8))), ("0x10", .bytes(Array("0x10".utf8))), ("inf", .bytes(Array("inf".utf8))),
            ("nan", .bytes(Array("nan".utf8))), ("-", .bytes(Array("-".utf8))), (".", .bytes(Array(".".utf8))),
            ("1e", .bytes(Array("1e".utf8))), ("", .bytes([])), ("True", .bytes(Array("True".utf8))),
            ("\u{1}2", .bytes([1, 0x32])), ("\u{1f}99", .bytes([0x1f, 0x39, 0x39])), ("a\"b\\c\nd", .bytes(Array("a\"b\\c\nd".utf8))),
            ("1; os.exit(3)", .bytes(Array("1; os.exit(3)".utf8))),
        ]
        for (text, value) in expected {
            XCTAssertEqual(read(lua, LuaLiteral.parameter(text)), value, "\(text.debugDescription) → \(LuaLiteral.parameter(text))")
        }
        // Any text: a string comes back as the text; a number as the text's value.
        var draws = Draws(state: 4)
        let alphabet = Array("0123456789+-.eE xn\u{1}\u{1f}\"\\'ü")
        for _ in 0..<3000 {
            let text = String((0..<draws.below(8)).map { _ in alphabet[draws.below(alphabet.count)] })
            let t = text.trimmingCharacters(in: .whitespaces)
            switch read(lua, LuaLiteral.parameter(text)) {
            case .bytes(let b): XCTAssertEqual(b, Array(text.utf8), text.debugDescription)
            case .integer(let i): XCTAssertEqual(Int(t), i, text.debugDescription)
            case .float(let d): XCTAssertEqual(Double(t), d, text.debugDescription)
            case let other: XCTFail("\(text.debugDescription) read back as \(other)")
            }
        }
    }

    func testNumbersReadBackAsTheSameNumber() {
        let lua = LuaState()
        for i in [0, 1, -1, 42, Int.max, Int.min, Int.min + 1] { XCTAssertEqual(read(lua, LuaLiteral.integer(i)), .integer(i)) }
        var draws = Draws(state: 9)
        var doubles: [Double] = [0, -0.0, 1, 3, 0.1, 1e-5, 1e300, -1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 0x1p63, .infinity, -.infinity]
        for _ in 0..<2000 { doubles.append(Double(bitPattern: draws.next())) }
        for d in doubles {
            guard case .float(let back) = read(lua, LuaLiteral.number(d)) else { XCTFail("\(d) → \(LuaLiteral.number(d))"); continue }
            if d.isNaN { XCTAssertTrue(back.isNaN) } else { XCTAssertEqual(back.bitPattern, d.bitPattern, "\(d) → \(LuaLiteral.number(d))") }
        }
    }

    /// `joule notebook run -p`: the injected cell gives the notebook the very bytes and numbers given.
    func testInjectedParametersArriveByteForByte() throws {
        let cells: [JSON] = [NotebookFile.codeCell("a, b, c, n, x = 0, 0, 0, 0, 0", id: "p", tags: ["parameters"])]
        let out = try NotebookRunner.inject(["a=\u{1}2", "b=\u{1f}99", "c=x\"]]\n\\", "n=+5", "x=1e-4"], into: cells, ids: ["p"])
        let s = try LuaSession()
        XCTAssertTrue(s.execute(cells[0]["source"]!.text!).ok)
        let injected = s.execute(out[1]["source"]!.text!)
        XCTAssertNil(injected.error?.evalue)
        let r = s.execute("table.concat({a:byte(1, -1)}, ','), table.concat({b:byte(1, -1)}, ','), c == 'x\"]]\\n\\\\', n, math.type(x), x == 1e-4")
        XCTAssertEqual(r.result?["text/plain"]?.string, "1,50\t31,57,57\ttrue\t+5\tfloat\ttrue")
    }
}
