import Foundation

/// What the built-in corpus draws: its 42 classes, how often each occurs, and the glyphs of the
/// near out-of-distribution set.
public enum GlyphClasses {
    /// 21 lowercase letters of Latin print (j, k, w, y, z are left out: they hardly occur in
    /// 15th-century Latin), 16 capitals whose shape differs from their lowercase form (O, S, V, X
    /// would only be larger copies of o, s, v, x), and the five macron vowels that abbreviate a
    /// following m or n.
    public static let classes: [Character] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v", "x",
        "A", "B", "C", "D", "E", "F", "G", "H", "I", "L", "M", "N", "P", "Q", "R", "T",
        "\u{101}", "\u{113}", "\u{12B}", "\u{14D}", "\u{16B}",
    ]

    /// Occurrences per thousand letters of Latin text (lowercase), rarer capitals, and the macron
    /// abbreviations; the corpus mixes these with a uniform share so rare classes still get
    /// enough examples to learn from.
    static let frequency: [Character: Double] = [
        "a": 89, "b": 16, "c": 45, "d": 27, "e": 114, "f": 9, "g": 12, "h": 7, "i": 100, "l": 32, "m": 54,
        "n": 63, "o": 54, "p": 30, "q": 15, "r": 67, "s": 76, "t": 80, "u": 85, "v": 10, "x": 6,
        "A": 6, "B": 2, "C": 5, "D": 4, "E": 4, "F": 2, "G": 2, "H": 2, "I": 5, "L": 3, "M": 3, "N": 3,
        "P": 4, "Q": 3, "R": 2, "T": 3,
        "\u{101}": 8, "\u{113}": 10, "\u{12B}": 4, "\u{14D}": 5, "\u{16B}": 7,
    ]

    /// Share of the corpus spread evenly over the classes; the rest follows `frequency`.
    static let uniformShare = 0.35

    /// Glyphs of the same typefaces outside the 42 classes: the left-out letters, long s, digits,
    /// punctuation, ligatures and the scribal abbreviation signs the fonts carry.
    public static let outside: [Character] = [
        "j", "k", "w", "y", "z", "J", "K", "U", "W", "Y", "Z", "\u{17F}", "\u{DF}",
        "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
        ".", ",", ";", ":", "?", "!", "&",
        "\u{FB00}", "\u{FB01}", "\u{FB02}", "\u{FB05}",
        "\u{A770}", "\u{A76F}", "\u{A751}", "\u{A753}", "\u{A757}",
    ]

    /// Lowercase letters that stand beside a crop's glyph as its neighbours in a line of text.
    static let neighbours: [Character] = Array(classes.prefix(21))

    /// Images per class for a corpus of `total` images: uneven like real text, summing exactly to
    /// `total` (largest remainders, ties to the lower class index).
    public static func counts(total: Int) -> [Int] {
        let weights = classes.map { frequency[$0]! }
        let sum = weights.reduce(0, +)
        let share = weights.map { uniformShare / Double(classes.count) + (1 - uniformShare) * $0 / sum }
        return apportion(total, share)
    }

    /// Splits `total` into integer parts proportional to `shares` (which sum to 1).
    static func apportion(_ total: Int, _ shares: [Double]) -> [Int] {
        let exact = shares.map { Double(total) * $0 }
        var parts = exact.map { Int($0.rounded(.down)) }
        let order = exact.indices.sorted { a, b in
            let fa = exact[a] - Double(parts[a]), fb = exact[b] - Double(parts[b])
            return fa != fb ? fa > fb : a < b
        }
        var left = total - parts.reduce(0, +)
        var k = 0
        while left > 0 { parts[order[k % order.count]] += 1; left -= 1; k += 1 }
        return parts
    }

    /// A character's code point(s) as `U+XXXX`, for messages.
    static func codePoint(_ c: Character) -> String {
        c.unicodeScalars.map { String(format: "U+%04X", $0.value) }.joined(separator: " ")
    }
}
