import CFreeType
import Foundation
import Tensor

/// One glyph rendered to an 8-bit coverage bitmap, positioned relative to its pen origin on the
/// baseline (y grows downwards).
struct GlyphBitmap: Sendable {
    let width: Int
    let height: Int
    /// Offset of the bitmap's left column from the pen position.
    let left: Int
    /// Offset of the bitmap's top row above the baseline.
    let top: Int
    /// Horizontal advance to the next glyph's pen position, in pixels.
    let advance: Float
    /// Coverage in [0, 1], row-major.
    let coverage: [Float]

    /// Coverage at a bitmap position (bilinear, zero outside).
    @inline(__always)
    func sample(_ x: Float, _ y: Float) -> Float {
        let fx = x - 0.5, fy = y - 0.5
        let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
        if x0 < -1 || y0 < -1 || x0 >= width || y0 >= height { return 0 }
        let ax = fx - Float(x0), ay = fy - Float(y0)
        @inline(__always) func at(_ x: Int, _ y: Int) -> Float {
            (x < 0 || y < 0 || x >= width || y >= height) ? 0 : coverage[y * width + x]
        }
        let top = at(x0, y0) * (1 - ax) + at(x0 + 1, y0) * ax
        let bottom = at(x0, y0 + 1) * (1 - ax) + at(x0 + 1, y0 + 1) * ax
        return top * (1 - ay) + bottom * ay
    }
}

/// A font file opened with FreeType, rendering glyphs at one pixel size.
/// FreeType faces are not thread-safe: render everything a run needs up front, then share the bitmaps.
final class FontFace {
    let path: String
    /// The file name without directory and extension, for messages and the manifest.
    let name: String
    let pixelSize: Int
    private var library: FT_Library?
    private var face: FT_Face?

    init(path: String, pixelSize: Int) throws {
        self.path = path
        self.name = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        self.pixelSize = pixelSize
        guard FileManager.default.fileExists(atPath: path) else {
            throw JouleError("font \(path) is missing (install it with scripts/setup: fonts-gotico-antiqua, fonts-blankenburg, fonts-dejavu-core)")
        }
        guard FT_Init_FreeType(&library) == 0, let library else { throw JouleError("cannot initialise FreeType") }
        guard FT_New_Face(library, path, 0, &face) == 0, let face else {
            FT_Done_FreeType(library)
            throw JouleError("font \(path): FreeType cannot open it (not a font file, or damaged)")
        }
        guard FT_Set_Pixel_Sizes(face, 0, FT_UInt(pixelSize)) == 0 else {
            throw JouleError("font \(path): cannot set pixel size \(pixelSize)")
        }
    }

    deinit {
        if let face { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// True when the font maps `character` to a real glyph with a non-empty outline, rather than
    /// to .notdef or an empty placeholder.
    func has(_ character: Character) -> Bool {
        guard let index = glyphIndex(character), load(index) else { return false }
        return face!.pointee.glyph.pointee.outline.n_points > 0
    }

    /// Renders `character`; nil when the font lacks it.
    func render(_ character: Character) -> GlyphBitmap? {
        guard has(character) else { return nil }
        let slot = face!.pointee.glyph!
        guard FT_Render_Glyph(slot, FT_RENDER_MODE_NORMAL) == 0 else { return nil }
        let bm = slot.pointee.bitmap
        let w = Int(bm.width), h = Int(bm.rows), pitch = Int(bm.pitch)
        guard w > 0, h > 0, let buffer = bm.buffer else { return nil }
        var coverage = [Float](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w { coverage[y * w + x] = Float(buffer[y * pitch + x]) / 255 } }
        return GlyphBitmap(width: w, height: h, left: Int(slot.pointee.bitmap_left), top: Int(slot.pointee.bitmap_top),
                           advance: Float(slot.pointee.advance.x) / 64, coverage: coverage)
    }

    private func glyphIndex(_ character: Character) -> FT_UInt? {
        let scalars = character.unicodeScalars
        // Ligatures and precomposed letters are single code points; anything longer is not a glyph.
        guard scalars.count == 1, let face else { return nil }
        let index = FT_Get_Char_Index(face, FT_ULong(scalars.first!.value))
        return index == 0 ? nil : index
    }

    private func load(_ index: FT_UInt) -> Bool {
        // Unhinted outlines: hinting snaps stems to this one pixel size, which the later affine
        // jitter would only distort.
        FT_Load_Glyph(face, index, Int32(FT_LOAD_NO_HINTING)) == 0
            && face!.pointee.glyph.pointee.format == FT_GLYPH_FORMAT_OUTLINE
    }
}
