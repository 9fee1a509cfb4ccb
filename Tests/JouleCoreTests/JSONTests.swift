import Foundation
import JouleCore
import XCTest

/// The one JSON reader and writer: round trips over random values and strings, exact numbers, the
/// strict grammar and its limits, and the layouts of the files it writes.
final class JSONTests: XCTestCase {
    /// A seeded generator (xorshift64*), so that a failure repeats.
    struct Draw {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12; state ^= state << 25; state ^= state >> 27
            return state &* 0x2545_F491_4F6C_DD1D
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

        /// Scalars that need care: controls, NUL, DEL, quote, backslash, slash, line separators,
        /// two- to four-byte UTF-8, combining marks.
        static let tricky: [Unicode.Scalar] = (0..<0x20).map { Unicode.Scalar($0)! } + [
            "\u{7f}", "\"", "\\", "/", "\u{2028}", "\u{2029}", "é", "e", "\u{301}", "ſ", "€", "\u{FFFD}",
            "\u{FEFF}", "\u{10FFFF}", "😀", " ", "a", "Z", "0", "{", "]", ":", ",",
        ]

        mutating func string() -> String {
            var s = String.UnicodeScalarView()
            for _ in 0..<below(12) {
                if below(3) == 0, let u = Unicode.Scalar(UInt32(below(0xD800))) { s.append(u) } else { s.append(Draw.tricky[below(Draw.tricky.count)]) }
            }
            return String(s)
        }

        mutating func double() -> Double {
            switch below(6) {
            case 0: return Double(bitPattern: next())  // any bits: subnormals, huge, tiny
            case 1: return Double(Int64(bitPattern: next()) >> 20)  // integral
            case 2: return [0.0, -0.0, 0.1, 1e15, 1e15 - 1, -1e-7, 5e-324, .greatestFiniteMagnitude, 0x1p53 + 2][below(9)]
            default: return Double(Int64(bitPattern: next()) >> 11) / Double(1 << below(60))
            }
        }

        mutating func value(depth: Int = 0) -> JSON {
            switch below(depth > 4 ? 6 : 8) {
            case 0: return .null
            case 1: return .bool(below(2) == 0)
            case 2: return .int(Int(bitPattern: UInt(next())) >> below(64))
            case 3: var d = double(); while !d.isFinite { d = double() }; return .double(d)
            case 4, 5: return .string(string())
            case 6: return .array((0..<below(5)).map { _ in value(depth: depth + 1) })
            default:
                var o: [String: JSON] = [:]
                for _ in 0..<below(5) { o[string()] = value(depth: depth + 1) }
                return .object(o)
            }
        }
    }

    /// Text equality as well as value equality: it also tells -0.0 from 0.0 and keeps every bit of a Double.
    func assertRoundTrip(_ v: JSON, _ style: JSON.Style, file: StaticString = #filePath, line: UInt = #line) {
        let text = v.serialized(style)
        guard let back = try? JSON.parse(text) else { return XCTFail("does not parse: \(text)", file: file, line: line) }
        XCTAssertEqual(back, v, text, file: file, line: line)
        XCTAssertEqual(back.serialized(style), text, file: file, line: line)
    }

    func testRandomValuesRoundTrip() {
        var d = Draw(state: 22)
        for _ in 0..<3000 {
            let v = d.value()
            assertRoundTrip(v, .compact)
            assertRoundTrip(v, JSON.Style(indent: 1))
            assertRoundTrip(v, .file)
        }
    }

    func testArbitraryStringsRoundTripAndStayPrintable() throws {
        var d = Draw(state: 7)
        for n in 0..<5000 {
            let s = n < 0x80 ? String(Unicode.Scalar(UInt8(n))) + "x\u{0}" : d.string()
            let text = JSON.string(s).serialized()
            // The text holds no raw control character: a log line stays one line, NUL stays visible.
            XCTAssertFalse(text.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }, text.debugDescription)
            let back = try JSON.parse(text).string
            // Byte for byte: Swift's == would also accept another normalisation of the same text.
            XCTAssertEqual(back.map { Array($0.utf8) }, Array(s.utf8), text)
        }
        XCTAssertEqual(JSON.quoted("a\u{0}\u{1f}\u{7f}\"\\\n\r\t/é"), #""a\u0000\u001f\u007f\"\\\n\r\t/é""#)
    }

    /// A Swift String holds no lone surrogate: an escaped one reads as U+FFFD, a pair as its scalar,
    /// and a lone high surrogate does not swallow the escape after it.
    func testEscapedSurrogates() throws {
        let cases: [(String, String)] = [
            (#""\ud83d\ude00""#, "😀"), (#""\uD83D\uDE00""#, "😀"), (#""\ud800""#, "\u{FFFD}"), (#""\udc00""#, "\u{FFFD}"),
            (#""\ud800\u0041""#, "\u{FFFD}A"), (#""\udc00\ud800x""#, "\u{FFFD}\u{FFFD}x"), (#""\ud800\ud800\udc00""#, "\u{FFFD}𐀀"),
            (#""a\u0000b\/""#, "a\u{0}b/"), (#""\u00e9\u0301""#, "\u{e9}\u{301}"),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try JSON.parse(text).string.map { Array($0.unicodeScalars) }, Array(expected.unicodeScalars), text)
        }
        // Bytes that are not UTF-8 read as U+FFFD too.
        XCTAssertEqual(try JSON.parse([0x22, 0x61, 0xFF, 0x22]).string, "a\u{FFFD}")
    }

    func testNumbersKeepTheirKindAndEveryBit() throws {
        XCTAssertEqual(try JSON.parse("3"), .int(3))
        XCTAssertEqual(try JSON.parse("3.0"), .double(3))
        XCTAssertEqual(try JSON.parse("3e0"), .double(3))
        XCTAssertEqual(try JSON.parse("-0"), .int(0))
        XCTAssertEqual(try JSON.parse("9223372036854775807"), .int(.max))
        XCTAssertEqual(try JSON.parse("-9223372036854775808"), .int(.min))
        XCTAssertEqual(try JSON.parse("9223372036854775808"), .double(0x1p63))
        for (d, text) in [(3.0, "3.0"), (-3.0, "-3.0"), (-0.0, "-0.0"), (0.1, "0.1"), (1e15, "1000000000000000.0"), (1e16, "1e+16"), (1e15 - 1, "999999999999999.0"),
                          (1.5e-7, "1.5e-07"), (5e-324, "5e-324"), (.greatestFiniteMagnitude, "1.7976931348623157e+308")] {
            XCTAssertEqual(JSON.double(d).serialized(), text)
            XCTAssertEqual(try JSON.parse(text).double?.bitPattern, d.bitPattern, text)
        }
        // JSON has no NaN or infinity: null keeps the text readable.
        XCTAssertEqual(JSON.array([.double(.nan), .double(.infinity), .double(-.infinity)]).serialized(), "[null,null,null]")
        var d = Draw(state: 3)
        for _ in 0..<20000 {
            let x = d.double()
            guard x.isFinite else { continue }
            XCTAssertEqual(try JSON.parse(JSON.double(x).serialized()).double?.bitPattern, x.bitPattern, "\(x)")
        }
    }

    func testTheGrammarIsStrict() {
        for bad in ["01", "-01", "+1", ".5", "1.", "1.e3", "1e", "1e+", "-", "--1", "0x10", "NaN", "Infinity", "-Infinity", "1e400",
                    "[1,]", "[,1]", "{\"a\":1,}", "{a:1}", "{'a':1}", "{\"a\" 1}", "[1 2]", "\"a\tb\"", "\"\\x\"", "\"\\u12\"",
                    "\"\\u12G4\"", "tru", "nul", "[1] x", "", " ", "\"unterminated", "[", "{\"a\":"] {
            XCTAssertThrowsError(try JSON.parse(bad), bad)
        }
        for (good, value) in [("-0.5e-3", JSON.double(-0.0005)), ("1E+2", .double(100)), (" [ ] ", .array([])), ("{}", .object([:])),
                              ("\"\\b\\f\\/\"", .string("\u{8}\u{c}/")), ("0", .int(0))] {
            XCTAssertEqual(try JSON.parse(good), value, good)
        }
        XCTAssertThrowsError(try JSON.parse("{\n  \"a\": [1, 2,\n}")) { e in
            XCTAssertEqual((e as? JSON.ParseError)?.line, 3, "\(e)")
        }
    }

    func testNestingIsBounded() throws {
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        XCTAssertNoThrow(try JSON.parse(ok))
        let deep = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        XCTAssertThrowsError(try JSON.parse(deep)) { e in XCTAssertTrue("\(e)".contains("nested too deeply"), "\(e)") }
        // Far deeper input stops at the bound instead of overflowing the stack.
        XCTAssertThrowsError(try JSON.parse(String(repeating: "{\"a\":[", count: 200_000)))
    }

    func testLayoutsAndKeyOrder() {
        let v = JSON.object(["b": .ints([1, 2]), "a": .object(["y": .null, "x": .string("s")]), "c": .array([]), "d": .object([:])])
        XCTAssertEqual(v.serialized(), #"{"a":{"x":"s","y":null},"b":[1,2],"c":[],"d":{}}"#)
        XCTAssertEqual(v.serialized(indent: 1), "{\n \"a\": {\n  \"x\": \"s\",\n  \"y\": null\n },\n \"b\": [\n  1,\n  2\n ],\n \"c\": [],\n \"d\": {}\n}")
        XCTAssertEqual(v.serialized(.file), "{\n  \"a\" : {\n    \"x\" : \"s\",\n    \"y\" : null\n  },\n  \"b\" : [\n    1,\n    2\n  ],\n  \"c\" : [\n\n  ],\n  \"d\" : {\n\n  }\n}")
        XCTAssertEqual(JSON.array([]).serialized(.file), "[\n\n]")
        // A caller's order applies to every object, at every depth.
        let reversed = JSON.Style(keyOrder: { $0 > $1 })
        XCTAssertEqual(v.serialized(reversed), #"{"d":{},"c":[],"b":[1,2],"a":{"y":null,"x":"s"}}"#)
        XCTAssertEqual(JSON.object(omittingNil: ["a": .int(1), "b": nil]), .object(["a": .int(1)]))
        XCTAssertEqual(JSON.integer(UInt64.max), .string("18446744073709551615"))
        XCTAssertEqual(JSON.integer(42), .int(42))
    }

    /// For values of the kinds the files written by Foundation held (ASCII keys, integers, strings
    /// without "/", lists and objects, fractional Doubles), the text is byte for byte what
    /// JSONSerialization wrote, compact and in the `.file` layout: classes.json, status.json, the
    /// checkpoint and bench headers do not change.
    func testTheFileLayoutIsFoundationsForTheValuesItWrote() throws {
        var d = Draw(state: 11)
        func foundationValue(depth: Int) -> (JSON, Any) {
            switch d.below(depth > 2 ? 4 : 6) {
            case 0: let i = Int(bitPattern: UInt(d.next())) >> d.below(64); return (.int(i), i)
            case 1: let b = d.below(2) == 0; return (.bool(b), b)
            case 2:
                var x = d.double()
                while !x.isFinite || x.rounded() == x { x = d.double() }
                return (.double(x), x)
            case 3:
                let s = String(d.string().unicodeScalars.filter { $0 != "/" && $0 != "\u{7f}" && $0.value >= 0x20 || $0 == "\n" })
                return (.string(s), s)
            case 4:
                let items = (0..<d.below(4)).map { _ in foundationValue(depth: depth + 1) }
                return (.array(items.map(\.0)), items.map(\.1))
            default:
                var o: [String: JSON] = [:], f: [String: Any] = [:]
                for _ in 0..<d.below(4) {
                    let k = String((0..<1 + d.below(6)).map { _ in "abcdefghijklmnopqrstuvwxyz_"[String.Index(utf16Offset: d.below(27), in: "abcdefghijklmnopqrstuvwxyz_")] })
                    let (j, a) = foundationValue(depth: depth + 1)
                    o[k] = j; f[k] = a
                }
                return (.object(o), f)
            }
        }
        for _ in 0..<300 {
            var (v, f) = foundationValue(depth: 0)
            if v.object == nil { v = .object(["k": v]); f = ["k": f] }
            let pretty = try JSONSerialization.data(withJSONObject: f, options: [.prettyPrinted, .sortedKeys])
            XCTAssertEqual(v.serialized(.file), String(decoding: pretty, as: UTF8.self))
            let compact = try JSONSerialization.data(withJSONObject: f, options: [.sortedKeys])
            XCTAssertEqual(v.serialized(), String(decoding: compact, as: UTF8.self))
        }
    }

    func testJSONLinesReadEveryObjectAndNameTheBadLine() throws {
        let rows = try JSONLines.objects(in: Data("{\"a\":1}\n\n  \n{\"b\":[2.5]}\n".utf8), path: "log.jsonl")
        XCTAssertEqual(rows, [["a": .int(1)], ["b": .array([.double(2.5)])]])
        for (text, line) in [("{\"a\":1}\n[1]\n", 2), ("{\"a\":1}\n{\"a\":\n", 2), ("x\n", 1)] {
            XCTAssertThrowsError(try JSONLines.objects(in: Data(text.utf8), path: "log.jsonl")) { e in
                XCTAssertTrue("\(e)".hasPrefix("log.jsonl:\(line): not a JSON object"), "\(e)")
            }
        }
        XCTAssertThrowsError(try JSONLines.objects(atPath: "/nonexistent/log.jsonl")) { e in XCTAssertTrue("\(e)".contains("cannot read"), "\(e)") }
    }
}
