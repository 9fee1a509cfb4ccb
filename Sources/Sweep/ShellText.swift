import Foundation
import Tensor

/// Everything a sweep writes for a shell or for Slurm passes through here: a value from a spec reaches
/// a job script only as one quoted shell word, as a comment with its control characters escaped, or as
/// an `#SBATCH` value that has none. (A newline in a grid value once ended a comment line, and what
/// followed ran as shell.)
public enum ShellText {
    /// Bytes a word may hold unquoted: none is special to sh or bash anywhere in a word.
    static let plain: [Bool] = (0..<256).map { b in
        let u = UInt8(b)
        return (u >= 0x61 && u <= 0x7a) || (u >= 0x41 && u <= 0x5a) || (u >= 0x30 && u <= 0x39) || "_-+=/.,:@%".utf8.contains(u)
    }

    /// `bytes` as one shell word that sh and bash read back byte for byte: as they are when every byte
    /// is plain, else in single quotes (inside which only `'` is special: it becomes `'\''`). A NUL
    /// cannot be in a shell word (nor in a program's argument): refused.
    public static func word(_ bytes: some Collection<UInt8>) throws -> [UInt8] {
        if bytes.contains(0) { throw JouleError("a value holds a NUL byte, which no shell word or program argument can hold") }
        if !bytes.isEmpty && bytes.allSatisfy({ plain[Int($0)] }) { return Array(bytes) }
        var out: [UInt8] = [0x27]
        out.reserveCapacity(bytes.count + 2)
        for b in bytes {
            if b == 0x27 { out += Array("'\\''".utf8) } else { out.append(b) }
        }
        out.append(0x27)
        return out
    }

    public static func word(_ s: String) throws -> String {
        String(decoding: try word(Array(s.utf8)), as: UTF8.self)
    }

    /// Text for a `#` comment line of a script: control characters (which would end the line, or
    /// confuse a terminal showing it) and the backslash written as `\xHH` / `\\`, so the comment
    /// stays one line and still tells values apart.
    public static func comment(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u == "\\" { out += "\\\\" }
            else if u.value < 0x20 || u.value == 0x7f || (u.value >= 0x80 && u.value < 0xa0) || u == "\u{2028}" || u == "\u{2029}" {
                out += u.value < 0x100 ? String(format: "\\x%02x", u.value) : String(format: "\\u%04x", u.value)
            } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    /// `#SBATCH OPTION=VALUE` (or `#SBATCH VALUE` without an option): sbatch reads the line itself and
    /// must get the value as it is, so a value with a control character (a newline would end the
    /// directive and start a shell command) is refused rather than changed.
    public static func directive(_ option: String?, _ value: String, what: String) throws -> String {
        if let bad = value.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f }) {
            throw JouleError("\(what) holds a control character (\(String(format: "0x%02x", bad.value))), which cannot go into a Slurm job script: \(comment(value))")
        }
        return "#SBATCH " + (option.map { $0 + "=" } ?? "") + value
    }
}
