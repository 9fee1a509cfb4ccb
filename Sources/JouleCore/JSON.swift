import Foundation

/// A JSON value with the one parser and the one writer of the program: notebooks, Jupyter messages
/// and connection files, checkpoint headers and architectures, run logs and results, sweep records
/// and manifests, dataset manifests and bench output all go through it.
///
/// Numbers keep what they were: `3` reads as `.int`, `3.0` and `3e0` as `.double`, and each is written
/// back the same way (a Double as the shortest text that reads back to the same bits). Objects are
/// dictionaries, so the writer puts their keys in a fixed order (sorted, or the caller's order):
/// the same value always gives the same text.
public enum JSON: Equatable, CustomStringConvertible, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    // MARK: building

    /// An object of the fields whose value is present: optional fields (a run's exit status) are left
    /// out rather than written as null.
    public static func object(omittingNil fields: KeyValuePairs<String, JSON?>) -> JSON {
        var o: [String: JSON] = [:]
        for (k, v) in fields { if let v { o[k] = v } }
        return .object(o)
    }

    public static func strings(_ a: [String]) -> JSON { .array(a.map(JSON.string)) }
    public static func ints(_ a: [Int]) -> JSON { .array(a.map(JSON.int)) }
    /// An unsigned integer (a seed): a number when it fits an Int, else its digits as a string, which
    /// keeps it exact where a Double would round it.
    public static func integer(_ u: UInt64) -> JSON { Int(exactly: u).map(JSON.int) ?? .string(String(u)) }

    // MARK: access

    public subscript(key: String) -> JSON? {
        get { if case .object(let o) = self { return o[key] } else { return nil } }
        set {
            guard case .object(var o) = self else { return }
            o[key] = newValue
            self = .object(o)
        }
    }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    public var int: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 0x1p62: return Int(d)
        default: return nil
        }
    }
    /// Any number as a Double (an integer beyond 2^53 rounds).
    public var double: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    public var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    public var object: [String: JSON]? { if case .object(let o) = self { return o } else { return nil } }
    public var isNull: Bool { self == .null }
    /// A list of strings, or nil when it is not one.
    public var strings: [String]? {
        guard case .array(let a) = self else { return nil }
        var out: [String] = []
        for x in a { guard case .string(let s) = x else { return nil }; out.append(s) }
        return out
    }

    /// nbformat's multiline strings: a string, or a list of strings to join.
    public var text: String? {
        switch self {
        case .string(let s): return s
        case .array: return strings?.joined()
        default: return nil
        }
    }

    public var description: String { serialized() }
}

// MARK: - writing

extension JSON {
    /// How `serialized` lays out its text.
    public struct Style: Sendable {
        /// Spaces per level, each value on its own line; nil writes one line without spaces.
        public var indent: Int?
        /// With `indent`, the layout of Foundation's writer, which wrote these files before:
        /// `"key" : value` rather than `"key": value`, and an empty list or object opened and closed on
        /// lines of their own with a blank line between.
        public var foundationLayout: Bool
        /// The order of an object's keys (every object's, at every depth).
        public var keyOrder: @Sendable (String, String) -> Bool

        public init(indent: Int? = nil, foundationLayout: Bool = false,
                    keyOrder: @escaping @Sendable (String, String) -> Bool = { $0 < $1 }) {
            self.indent = indent
            self.foundationLayout = foundationLayout
            self.keyOrder = keyOrder
        }

        /// One line, keys sorted: run logs, results, headers, messages.
        public static let compact = Style()
        /// Files that people open (classes.json, status.json, sweep manifests): two spaces in the
        /// layout these files had when Foundation wrote them, kept so that they stay the same bytes
        /// (but for Foundation's `\/` for a slash: a slash is written as itself).
        public static let file = Style(indent: 2, foundationLayout: true)
    }

    /// Compact (`indent` nil) or indented text, keys sorted (nbformat: `indent: 1`).
    public func serialized(indent: Int? = nil) -> String { serialized(Style(indent: indent)) }

    public func serialized(_ style: Style) -> String {
        var out: [UInt8] = []
        write(&out, style, level: 0)
        return String(decoding: out, as: UTF8.self)
    }

    /// The text as bytes with a final newline, as files hold it.
    public func fileData(_ style: Style = .file) -> Data { Data((serialized(style) + "\n").utf8) }

    private func write(_ out: inout [UInt8], _ style: Style, level: Int) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .double(let d): out += JSON.number(d).utf8
        case .string(let s): JSON.appendQuoted(s, to: &out)
        case .array(let a):
            if a.isEmpty { JSON.empty("[]", &out, style, level); return }
            out.append(UInt8(ascii: "["))
            for (i, x) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.newline(&out, style.indent, level + 1)
                x.write(&out, style, level: level + 1)
            }
            JSON.newline(&out, style.indent, level)
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty { JSON.empty("{}", &out, style, level); return }
            out.append(UInt8(ascii: "{"))
            let colon = style.indent == nil ? ":" : style.foundationLayout ? " : " : ": "
            for (i, k) in o.keys.sorted(by: style.keyOrder).enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.newline(&out, style.indent, level + 1)
                JSON.appendQuoted(k, to: &out)
                out += colon.utf8
                o[k]!.write(&out, style, level: level + 1)
            }
            JSON.newline(&out, style.indent, level)
            out.append(UInt8(ascii: "}"))
        }
    }

    private static func empty(_ brackets: String, _ out: inout [UInt8], _ style: Style, _ level: Int) {
        let b = Array(brackets.utf8)
        out.append(b[0])
        if style.indent != nil && style.foundationLayout {
            out.append(10)
            newline(&out, style.indent, level)
        }
        out.append(b[1])
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int?, _ level: Int) {
        guard let indent else { return }
        out.append(10)
        out += repeatElement(UInt8(ascii: " "), count: indent * level)
    }

    /// A Double as JSON: integral values below 1e15 as `3.0` (so that they read back as Doubles),
    /// others as Swift's shortest text that reads back to the same bits (`0.1`, `1e+20`), the sign
    /// of -0.0 kept. JSON has no NaN or infinity: they become null, which keeps the text readable
    /// (a run log's line) and the gap visible.
    public static func number(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        if d.rounded() == d && abs(d) < 1e15 { return (d.sign == .minus ? "-" : "") + String(Int(abs(d))) + ".0" }
        return "\(d)"
    }

    /// A string literal escaped as RFC 8259 asks: quote, backslash and the control characters
    /// (and DEL); everything else, NUL-free or not, stays as its UTF-8 bytes.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        // Bytes of 0x80 and above belong to multi-byte scalars of a valid String and pass unchanged.
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += "\\\"".utf8
            case UInt8(ascii: "\\"): out += "\\\\".utf8
            case UInt8(ascii: "\n"): out += "\\n".utf8
            case UInt8(ascii: "\r"): out += "\\r".utf8
            case UInt8(ascii: "\t"): out += "\\t".utf8
            case 0..<0x20, 0x7f: out += "\\u00".utf8; out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - parsing

extension JSON {
    /// Nesting deeper than this is refused: the parser recurses, and no file of ours comes near it.
    public static let maxDepth = 512

    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public let line: Int
        public let column: Int
        public var description: String { "\(message) at line \(line), column \(column)" }
    }

    public static func parse(_ data: Data) throws -> JSON { try parse([UInt8](data)) }
    public static func parse(_ text: String) throws -> JSON { try parse(Array(text.utf8)) }

    /// RFC 8259 text, strictly: no trailing commas, leading zeros, `+1`, `.5`, NaN or numbers beyond
    /// a Double's range. Text that is not UTF-8 inside strings reads as U+FFFD, and so do escaped
    /// surrogates that are not a pair (a Swift String holds only Unicode scalars).
    public static func parse(_ bytes: [UInt8]) throws -> JSON {
        var p = Parser(bytes: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.error("unexpected text after the JSON value") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ message: String) -> ParseError {
            var line = 1, col = 1
            for b in bytes[..<Swift.min(i, bytes.count)] { if b == 10 { line += 1; col = 1 } else { col += 1 } }
            return ParseError(message: message, line: line, column: col)
        }

        mutating func skipSpace() {
            while i < bytes.count {
                switch bytes[i] {
                case 32, 9, 10, 13: i += 1
                default: return
                }
            }
        }

        func at(_ c: Unicode.Scalar) -> Bool { i < bytes.count && bytes[i] == UInt8(ascii: c) }

        mutating func value(depth: Int) throws -> JSON {
            guard depth < JSON.maxDepth else { throw error("nested too deeply") }
            guard i < bytes.count else { throw error("unexpected end of text") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o: [String: JSON] = [:]
                skipSpace()
                if at("}") { i += 1; return .object(o) }
                while true {
                    skipSpace()
                    guard at("\"") else { throw error("expected a string key") }
                    let k = try string()
                    skipSpace()
                    guard at(":") else { throw error("expected ':'") }
                    i += 1
                    skipSpace()
                    o[k] = try value(depth: depth + 1)
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end of text in an object") }
                    if at(",") { i += 1; continue }
                    if at("}") { i += 1; return .object(o) }
                    throw error("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [JSON] = []
                skipSpace()
                if at("]") { i += 1; return .array(a) }
                while true {
                    skipSpace()
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end of text in a list") }
                    if at(",") { i += 1; continue }
                    if at("]") { i += 1; return .array(a) }
                    throw error("expected ',' or ']'")
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw error("unexpected character") }
            i += w.count
        }

        mutating func digits() -> Int {
            let start = i
            while i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 { i += 1 }
            return i - start
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        mutating func number() throws -> JSON {
            let start = i
            if at("-") { i += 1 }
            guard i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 else { i = start; throw error("unexpected character") }
            if at("0") {
                i += 1
                if i < bytes.count, bytes[i] >= 48 && bytes[i] <= 57 { throw error("a number with a leading zero") }
            } else {
                _ = digits()
            }
            var isInteger = true
            if at(".") {
                i += 1; isInteger = false
                guard digits() > 0 else { throw error("expected a digit after '.'") }
            }
            if at("e") || at("E") {
                i += 1; isInteger = false
                if at("+") || at("-") { i += 1 }
                guard digits() > 0 else { throw error("expected a digit in the exponent") }
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if isInteger, let v = Int(text) { return .int(v) }
            // An integer beyond Int's range reads as the nearest Double, as most readers do.
            guard let d = Double(text), d.isFinite else { i = start; throw error("number '\(text.prefix(40))' out of range") }
            return .double(d)
        }

        mutating func string() throws -> String {
            i += 1
            var out = [UInt8]()
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { i += 1; break }
                if c == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { throw error("unterminated string") }
                    let e = bytes[i]; i += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(34)
                    case UInt8(ascii: "\\"): out.append(92)
                    case UInt8(ascii: "/"): out.append(47)
                    case UInt8(ascii: "b"): out.append(8)
                    case UInt8(ascii: "f"): out.append(12)
                    case UInt8(ascii: "n"): out.append(10)
                    case UInt8(ascii: "r"): out.append(13)
                    case UInt8(ascii: "t"): out.append(9)
                    case UInt8(ascii: "u"):
                        var code = try hex4(at: i)
                        i += 4
                        // A high surrogate joins the low one escaped right after it; alone, either is U+FFFD.
                        if code >= 0xD800 && code < 0xDC00, i + 6 <= bytes.count, bytes[i] == 92, bytes[i + 1] == UInt8(ascii: "u"),
                           let low = try? hex4(at: i + 2), low >= 0xDC00 && low < 0xE000 {
                            i += 6
                            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        }
                        out += String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8
                    default: i -= 1; throw error("invalid escape")
                    }
                    continue
                }
                guard c >= 0x20 else { throw error("control character in a string") }
                out.append(c); i += 1
            }
            return String(decoding: out, as: UTF8.self)
        }

        func hex4(at j: Int) throws -> UInt32 {
            guard j + 4 <= bytes.count else { throw error("invalid \\u escape") }
            var v: UInt32 = 0
            for b in bytes[j..<j + 4] {
                let d: UInt8
                switch b {
                case 48...57: d = b - 48
                case 65...70: d = b - 55
                case 97...102: d = b - 87
                default: throw error("invalid \\u escape")
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
    }
}
