import Foundation
import Tensor

/// The glyphs a corpus needs, rendered once from each of several fonts and shared read-only by
/// the rendering threads.
struct FontSet: @unchecked Sendable {
    let names: [String]
    /// Per font, the rendered glyph of each character it really has.
    private let glyphs: [[Character: GlyphBitmap]]

    init(paths: [String], characters: [Character]) throws {
        guard !paths.isEmpty else { throw JouleError("no fonts given") }
        // Opening checks every file before the slower rendering starts.
        let faces = try paths.map { try FontFace(path: $0, pixelSize: GlyphCorpus.pixelSize) }
        var rendered = [[Character: GlyphBitmap]](repeating: [:], count: faces.count)
        rendered.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            // One FreeType library per face, so faces render concurrently.
            DispatchQueue.concurrentPerform(iterations: faces.count) { f in
                var table: [Character: GlyphBitmap] = [:]
                for c in characters { if let g = faces[f].render(c) { table[c] = g } }
                base[f] = table
            }
        }
        names = faces.map(\.name)
        glyphs = rendered
    }

    /// Indices of the fonts that have `c`; with `required`, an error naming the glyph when none does.
    func fonts(having c: Character, required: Bool) throws -> [Int] {
        let found = glyphs.indices.filter { glyphs[$0][c] != nil }
        if found.isEmpty && required {
            throw JouleError("no font has the glyph '\(c)' (\(GlyphClasses.codePoint(c))); searched \(names.joined(separator: ", "))")
        }
        return found
    }

    /// The glyph of `c` in font `f`, and the neighbours that font can set beside it.
    func bitmaps(_ c: Character, font f: Int) -> (target: GlyphBitmap, neighbours: [GlyphBitmap]) {
        (glyphs[f][c]!, GlyphClasses.neighbours.compactMap { glyphs[f][$0] })
    }
}
