import Foundation
import Sweep

/// The shell-word writer (Sweep/ShellText), read back by a reader of sh's quoting: any bytes but NUL
/// come back as they were, NUL is refused; comments and #SBATCH directives never hold a line break or
/// another control character. A difference traps, so libFuzzer keeps the input.
/// (Tests/SweepTests/ShellTextTests checks the same writer against /bin/sh and bash themselves.)

/// One word as sh reads it (quote removal), or nil where the text is not one plain word: an unquoted
/// blank, `$`, a backquote or another character that sh would expand or treat as an operator.
func readWord(_ w: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = [], i = 0
    let special = Set(" \t\n|&;<>()$`*?[]#~{}!^".utf8)
    while i < w.count {
        switch w[i] {
        case UInt8(ascii: "'"):
            guard let end = w[(i + 1)...].firstIndex(of: UInt8(ascii: "'")) else { return nil }
            out += w[(i + 1)..<end]
            i = end + 1
        case UInt8(ascii: "\\"):
            guard i + 1 < w.count, w[i + 1] != UInt8(ascii: "\n") else { return nil }
            out.append(w[i + 1]); i += 2
        case UInt8(ascii: "\""): return nil     // the writer never uses double quotes
        case let b where special.contains(b): return nil
        case let b: out.append(b); i += 1
        }
    }
    return w.isEmpty ? nil : out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    do {
        let w = try ShellText.word(bytes)
        if bytes.contains(0) { fatalError("a word with a NUL was written: \(w)") }
        guard let back = readWord(w), back == bytes else { fatalError("\(bytes) written as \(w) reads back as \(String(describing: readWord(w)))") }
    } catch {
        if !bytes.contains(0) { fatalError("\(bytes) refused: \(error)") }
    }
    let text = String(decoding: bytes, as: UTF8.self)
    let isControl: (Unicode.Scalar) -> Bool = { $0.value < 0x20 || $0.value == 0x7f }
    let c = ShellText.comment(text)
    if c.unicodeScalars.contains(where: { isControl($0) || (0x80..<0xa0).contains($0.value) || $0 == "\u{2028}" || $0 == "\u{2029}" }) {
        fatalError("comment \(c.debugDescription) breaks its line")
    }
    if let d = try? ShellText.directive("--partition", text, what: "fuzz") {
        if d.unicodeScalars.contains(where: isControl) { fatalError("directive \(d.debugDescription) holds a control character") }
    } else if !text.unicodeScalars.contains(where: isControl) {
        fatalError("directive refused \(text.debugDescription)")
    }
    return 0
}
