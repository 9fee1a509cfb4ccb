import CFreeType
import Foundation
import Tensor

/// A line of text rendered to a coverage mask; `baseline` is the row of the baseline from the top.
public struct TextMask {
    public let width: Int
    public let height: Int
    public let baseline: Int
    public let coverage: [Float]
}

/// Text for figures, rendered with FreeType from DejaVu Sans (Debian's fonts-dejavu-core), which
/// covers the class names the corpus uses (ā ē ī ō ū, long s, …). One shared instance: FreeType
/// faces are not thread-safe, so every call takes the lock; rendered glyphs are cached.
public final class Font: @unchecked Sendable {
    /// Tried in order; `JOULE_PLOT_FONT` (a .ttf path) comes first when set.
    public static let candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    ]
    static let boldCandidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ]

    private struct Glyph {
        let width: Int, height: Int, left: Int, top: Int
        let advance: Int
        let coverage: [Float]
    }
    private struct Key: Hashable { let scalar: UInt32; let size: Int; let bold: Bool }

    private let lock = NSLock()
    private var library: FT_Library?
    private var regular: FT_Face?
    private var bold: FT_Face?
    private var glyphs: [Key: Glyph] = [:]
    private var metrics: [Key: (ascent: Int, descent: Int)] = [:]

    nonisolated(unsafe) private static var shared: Font?
    private static let sharedLock = NSLock()

    /// The figure font, loaded on first use.
    public static func standard() throws -> Font {
        sharedLock.lock(); defer { sharedLock.unlock() }
        if let shared { return shared }
        var paths = candidates
        if let env = ProcessInfo.processInfo.environment["JOULE_PLOT_FONT"], !env.isEmpty { paths.insert(env, at: 0) }
        guard let path = paths.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw JouleError("no font for figure text: install fonts-dejavu-core (scripts/setup) or set JOULE_PLOT_FONT to a .ttf file")
        }
        let font = try Font(path: path, boldPath: boldCandidates.first { FileManager.default.fileExists(atPath: $0) })
        shared = font
        return font
    }

    init(path: String, boldPath: String?) throws {
        guard FT_Init_FreeType(&library) == 0, let library else { throw JouleError("cannot initialise FreeType") }
        guard FT_New_Face(library, path, 0, &regular) == 0, regular != nil else {
            FT_Done_FreeType(library)
            throw JouleError("font \(path): FreeType cannot open it")
        }
        if let boldPath, FT_New_Face(library, boldPath, 0, &bold) != 0 { bold = nil }
    }

    deinit {
        if let regular { FT_Done_Face(regular) }
        if let bold { FT_Done_Face(bold) }
        if let library { FT_Done_FreeType(library) }
    }

    /// Width in pixels of `text` at `size` pixels (the em size).
    public func width(_ text: String, size: Int, bold: Bool = false) -> Int {
        lock.lock(); defer { lock.unlock() }
        return Self.clean(text).unicodeScalars.reduce(0) { $0 + glyph($1.value, size, bold).advance }
    }

    /// Ascent above and descent below the baseline for the face at `size` (not for one string,
    /// so labels in a row share a baseline and a height).
    public func lineMetrics(size: Int, bold: Bool = false) -> (ascent: Int, descent: Int) {
        lock.lock(); defer { lock.unlock() }
        return faceMetrics(size, bold)
    }

    public func lineHeight(size: Int, bold: Bool = false) -> Int {
        let m = lineMetrics(size: size, bold: bold)
        return m.ascent + m.descent
    }

    /// Renders `text` to a coverage mask one line-height tall.
    public func render(_ text: String, size: Int, bold: Bool = false) -> TextMask {
        lock.lock(); defer { lock.unlock() }
        let (ascent, descent) = faceMetrics(size, bold)
        let scalars = Array(Self.clean(text).unicodeScalars)
        let gs = scalars.map { glyph($0.value, size, bold) }
        let width = max(1, gs.reduce(0) { $0 + $1.advance })
        let height = ascent + descent
        var coverage = [Float](repeating: 0, count: width * height)
        var pen = 0
        for g in gs {
            for gy in 0..<g.height {
                let y = ascent - g.top + gy
                guard y >= 0, y < height else { continue }
                for gx in 0..<g.width {
                    let x = pen + g.left + gx
                    guard x >= 0, x < width else { continue }
                    coverage[y * width + x] = min(1, coverage[y * width + x] + g.coverage[gy * g.width + gx])
                }
            }
            pen += g.advance
        }
        return TextMask(width: width, height: height, baseline: ascent, coverage: coverage)
    }

    /// `text` shortened with an ellipsis so it fits in `maxWidth` pixels: the longest prefix,
    /// trimmed of surrounding spaces, that fits with "…" after it. Widths are sums of advances, so
    /// one pass of prefix sums finds it (measuring each candidate anew took minutes for a
    /// 100,000-character title).
    public func fitting(_ text: String, maxWidth: Int, size: Int, bold: Bool = false) -> String {
        if width(text, size: size, bold: bold) <= maxWidth { return text }
        let chars = Array(text)
        let ellipsis = width("…", size: size, bold: bold)
        // prefix[k]: the width of the first k characters.
        var prefix = [0]
        prefix.reserveCapacity(chars.count + 1)
        do {
            lock.lock(); defer { lock.unlock() }
            for c in chars {
                let w = Self.clean(String(c)).unicodeScalars.reduce(0) { $0 + glyph($1.value, size, bold).advance }
                prefix.append(prefix.last! + w)
            }
        }
        func isSpace(_ c: Character) -> Bool { c.unicodeScalars.allSatisfy { CharacterSet.whitespaces.contains($0) } }
        let lead = chars.firstIndex { !isSpace($0) } ?? chars.count
        // trimmed[k]: the end of the first k characters without their trailing spaces.
        var trimmed = [Int](repeating: 0, count: chars.count + 1)
        for k in 1..<trimmed.count { trimmed[k] = isSpace(chars[k - 1]) ? trimmed[k - 1] : k }
        var end = chars.count - 1
        while end > 0 {
            let k = trimmed[end]
            let w = k > lead ? prefix[k] - prefix[lead] : 0
            if w + ellipsis <= maxWidth { return String(chars[(k > lead ? lead : 0)..<(k > lead ? k : 0)]) + "…" }
            end -= 1
        }
        return ellipsis <= maxWidth ? "…" : ""
    }

    // MARK: - FreeType

    /// Control characters (a newline in a series name) would render as boxes: show a space.
    private static func clean(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            $0.properties.generalCategory == .control ? " " : $0
        }))
    }

    private func face(_ bold: Bool) -> FT_Face { (bold ? self.bold ?? regular : regular)! }

    private func setSize(_ size: Int, _ bold: Bool) {
        FT_Set_Pixel_Sizes(face(bold), 0, FT_UInt(max(1, size)))
    }

    private func faceMetrics(_ size: Int, _ bold: Bool) -> (ascent: Int, descent: Int) {
        let key = Key(scalar: 0, size: size, bold: bold)
        if let m = metrics[key] { return m }
        setSize(size, bold)
        let m = face(bold).pointee.size.pointee.metrics
        let result = (Int((Double(m.ascender) / 64).rounded(.up)), Int((Double(-m.descender) / 64).rounded(.up)))
        metrics[key] = result
        return result
    }

    /// FT_LOAD_TARGET_LIGHT, a function-like macro that does not reach Swift.
    private let lightTarget = Int32((FT_RENDER_MODE_LIGHT.rawValue & 15) << 16)

    private func glyph(_ scalar: UInt32, _ size: Int, _ bold: Bool) -> Glyph {
        let key = Key(scalar: scalar, size: size, bold: bold)
        if let g = glyphs[key] { return g }
        setSize(size, bold)
        let f = face(bold)
        var result = Glyph(width: 0, height: 0, left: 0, top: 0, advance: size / 3, coverage: [])
        // Light hinting: crisp horizontal stems at small sizes without distorting letter widths.
        if FT_Load_Char(f, FT_ULong(scalar), Int32(FT_LOAD_RENDER) | lightTarget) == 0,
           let slot = f.pointee.glyph {
            let bm = slot.pointee.bitmap
            let w = Int(bm.width), h = Int(bm.rows), pitch = Int(bm.pitch)
            var coverage = [Float](repeating: 0, count: w * h)
            if let buffer = bm.buffer {
                for y in 0..<h { for x in 0..<w { coverage[y * w + x] = Float(buffer[y * pitch + x]) / 255 } }
            }
            result = Glyph(width: w, height: h, left: Int(slot.pointee.bitmap_left), top: Int(slot.pointee.bitmap_top),
                           advance: Int((Double(slot.pointee.advance.x) / 64).rounded()), coverage: coverage)
        }
        glyphs[key] = result
        return result
    }
}

/// Where a text's anchor point sits on the text.
public enum HAlign: Sendable { case left, center, right }
public enum VAlign: Sendable { case top, middle, baseline, bottom }

extension Canvas {
    /// Draws one line of text with its anchor at (x, y); `rotated` turns it 90° anticlockwise
    /// (reading bottom to top, for y-axis labels), anchors then refer to the rotated box.
    /// Returns the box it covered.
    @discardableResult
    public func drawText(_ text: String, font: Font, size: Int, at x: Int, _ y: Int, color: RGB = .ink,
                         bold: Bool = false, h: HAlign = .left, v: VAlign = .baseline, rotated: Bool = false) -> PixelRect {
        let m = font.render(text, size: size, bold: bold)
        if !rotated {
            let left = h == .left ? x : h == .center ? x - m.width / 2 : x - m.width
            let top: Int
            switch v {
            case .top: top = y
            case .middle: top = y - m.height / 2
            case .baseline: top = y - m.baseline
            case .bottom: top = y - m.height
            }
            paint(mask: m.coverage, maskWidth: m.width, at: left, top, color)
            return PixelRect(x: left, y: top, width: m.width, height: m.height)
        }
        // Rotate the mask: text column i becomes row (width − 1 − i), text row j becomes column j.
        let rw = m.height, rh = m.width
        var r = [Float](repeating: 0, count: rw * rh)
        for j in 0..<m.height { for i in 0..<m.width { r[(m.width - 1 - i) * rw + j] = m.coverage[j * m.width + i] } }
        let left = h == .left ? x : h == .center ? x - rw / 2 : x - rw
        let top: Int
        switch v {
        case .top: top = y
        case .middle, .baseline: top = y - rh / 2
        case .bottom: top = y - rh
        }
        paint(mask: r, maskWidth: rw, at: left, top, color)
        return PixelRect(x: left, y: top, width: rw, height: rh)
    }
}
