import Foundation

/// Values as Lua 5.4 source that reads back as the same value, byte for byte: the one writer for every
/// place that builds Lua source from a value (the cell `joule notebook run -p` injects, among others).
/// (Written as `\N` with a variable number of digits, "\x01" followed by "2" once arrived as "\f".)
public enum LuaLiteral {
    /// `bytes` as a double-quoted Lua string. Printable ASCII stays as it is (but `"` and `\` are
    /// escaped), well-formed UTF-8 of printable characters too, so a notebook cell stays readable;
    /// every other byte (controls, invalid UTF-8) is `\ddd` with always three digits, so a digit after
    /// it never joins the escape.
    public static func string(_ bytes: some Collection<UInt8>) -> String {
        let b = Array(bytes)
        var out = [UInt8(ascii: "\"")]
        out.reserveCapacity(b.count + 2)
        func escape(_ x: UInt8) {
            out += [UInt8(ascii: "\\"), 0x30 + x / 100, 0x30 + x / 10 % 10, 0x30 + x % 10]
        }
        var i = 0
        while i < b.count {
            let x = b[i]
            switch x {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8); i += 1
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8); i += 1
            case UInt8(ascii: "\n"): out += Array("\\n".utf8); i += 1
            case UInt8(ascii: "\t"): out += Array("\\t".utf8); i += 1
            case 0x20..<0x7f: out.append(x); i += 1
            case 0x80...:
                let n = utf8Length(b, at: i)
                // C1 controls (U+0080–U+009F, two bytes from 0xC2 0x80) are escaped like the C0 ones.
                if n > 0 && !(n == 2 && x == 0xc2 && b[i + 1] < 0xa0) {
                    out += b[i..<(i + n)]; i += n
                } else { escape(x); i += 1 }
            default: escape(x); i += 1
            }
        }
        out.append(UInt8(ascii: "\""))
        return String(decoding: out, as: UTF8.self)
    }

    public static func string(_ s: String) -> String { string(Array(s.utf8)) }

    /// The length of the well-formed UTF-8 sequence at `b[i]` (RFC 3629: no overlong forms, no
    /// surrogates, nothing past U+10FFFF), or 0.
    static func utf8Length(_ b: [UInt8], at i: Int) -> Int {
        let x = b[i]
        let (n, lo, hi): (Int, UInt8, UInt8)
        switch x {
        case 0xc2...0xdf: (n, lo, hi) = (2, 0x80, 0xbf)
        case 0xe0: (n, lo, hi) = (3, 0xa0, 0xbf)
        case 0xe1...0xec, 0xee...0xef: (n, lo, hi) = (3, 0x80, 0xbf)
        case 0xed: (n, lo, hi) = (3, 0x80, 0x9f)
        case 0xf0: (n, lo, hi) = (4, 0x90, 0xbf)
        case 0xf1...0xf3: (n, lo, hi) = (4, 0x80, 0xbf)
        case 0xf4: (n, lo, hi) = (4, 0x80, 0x8f)
        default: return 0
        }
        guard b.count - i >= n, (lo...hi).contains(b[i + 1]) else { return 0 }
        for k in 2..<n where !(0x80...0xbf).contains(b[i + k]) { return 0 }
        return n
    }

    /// An integer as Lua reads it back as an integer (the decimal numeral of Int.min would be a float).
    public static func integer(_ i: Int) -> String { i == Int.min ? "math.mininteger" : String(i) }

    /// A float as Lua reads it back as the same float: the shortest decimal that round-trips (always
    /// with a point or an exponent, so Lua reads a float); infinities and NaN as expressions.
    public static func number(_ d: Double) -> String {
        if d.isNaN { return "(0/0)" }
        if d.isInfinite { return d > 0 ? "math.huge" : "-math.huge" }
        return d.description
    }

    /// A command-line `-p` value: `true`/`false` as booleans, a decimal integer that fits in 64 bits
    /// as an integer, a decimal numeral with a point or an exponent and a finite value as a float
    /// (both as the user wrote them: Lua reads such a numeral as Swift does, correctly rounded);
    /// anything else (`+5`, `0x10`, `1e400`, a 30-digit integer, text) as the string it is.
    public static func parameter(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "true" || t == "false" { return t }
        switch numeral(t) {
        case .integer?: if let i = Int(t) { return i == Int.min ? integer(i) : t }
        case .float?: if let d = Double(t), d.isFinite { return t }
        case nil: break
        }
        return string(text)
    }

    enum Numeral { case integer, float }

    /// Whether `t` is `-?digits` (an integer numeral) or `-?(digits[.digits]|.digits)([eE][+-]?digits)?`.
    static func numeral(_ t: String) -> Numeral? {
        var s = Substring(t).utf8[...]
        func digits() -> Int {
            let n = s.prefix { $0 >= 0x30 && $0 <= 0x39 }.count
            s = s.dropFirst(n)
            return n
        }
        if s.first == UInt8(ascii: "-") { s = s.dropFirst() }
        var n = digits()
        var float = false
        if s.first == UInt8(ascii: ".") { s = s.dropFirst(); n += digits(); float = true }
        guard n > 0 else { return nil }
        if s.first == UInt8(ascii: "e") || s.first == UInt8(ascii: "E") {
            s = s.dropFirst()
            if s.first == UInt8(ascii: "+") || s.first == UInt8(ascii: "-") { s = s.dropFirst() }
            guard digits() > 0 else { return nil }
            float = true
        }
        guard s.isEmpty else { return nil }
        return float ? .float : .integer
    }
}
