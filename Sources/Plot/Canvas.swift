import Tensor

/// An integer pixel rectangle; x grows right, y grows down.
public struct PixelRect: Equatable, Sendable {
    public var x: Int, y: Int, width: Int, height: Int
    public init(x: Int, y: Int, width: Int, height: Int) {
        self.x = x; self.y = y; self.width = width; self.height = height
    }
    public var maxX: Int { x + width }
    public var maxY: Int { y + height }
    public var isEmpty: Bool { width <= 0 || height <= 0 }

    public func intersection(_ o: PixelRect) -> PixelRect {
        let x0 = max(x, o.x), y0 = max(y, o.y), x1 = min(maxX, o.maxX), y1 = min(maxY, o.maxY)
        return PixelRect(x: x0, y: y0, width: max(0, x1 - x0), height: max(0, y1 - y0))
    }

    public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
}

/// An RGB8 raster that every figure is drawn on. Drawing is clipped to the canvas and to `clip`,
/// so callers never need to range-check; out-of-range or non-finite coordinates draw nothing.
public final class Canvas {
    public let width: Int
    public let height: Int
    /// Row-major RGB triples.
    public private(set) var pixels: [UInt8]
    /// Drawing outside this rectangle is discarded (the plot area while drawing data).
    public var clip: PixelRect

    /// Large enough for any figure a person looks at, small enough that a typo in a size
    /// does not try to allocate gigabytes.
    public static let maxSide = 16_384

    public init(width: Int, height: Int, background: RGB = .white) throws {
        guard width > 0, height > 0, width <= Self.maxSide, height <= Self.maxSide else {
            throw JouleError("canvas size \(width)×\(height) is out of range (1…\(Self.maxSide) pixels a side)")
        }
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        clip = PixelRect(x: 0, y: 0, width: width, height: height)
        fill(clip, background)
    }

    public var bounds: PixelRect { PixelRect(x: 0, y: 0, width: width, height: height) }

    public subscript(x: Int, y: Int) -> RGB {
        get {
            let i = (y * width + x) * 3
            return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            let i = (y * width + x) * 3
            pixels[i] = newValue.r; pixels[i + 1] = newValue.g; pixels[i + 2] = newValue.b
        }
    }

    /// Runs `body` with drawing clipped to `rect` (within the current clip), then restores it.
    public func clipped(to rect: PixelRect, _ body: () throws -> Void) rethrows {
        let saved = clip
        clip = clip.intersection(rect)
        defer { clip = saved }
        try body()
    }

    @inline(__always)
    public func blend(x: Int, y: Int, _ color: RGB, alpha: Float) {
        guard alpha > 0, clip.contains(x: x, y: y) else { return }
        if alpha >= 1 { self[x, y] = color } else { self[x, y] = color.over(self[x, y], alpha: alpha) }
    }

    public func fill(_ rect: PixelRect, _ color: RGB, alpha: Float = 1) {
        let r = rect.intersection(clip)
        guard !r.isEmpty else { return }
        for y in r.y..<r.maxY { for x in r.x..<r.maxX { blend(x: x, y: y, color, alpha: alpha) } }
    }

    /// A one-pixel outline just inside `rect`.
    public func strokeRect(_ rect: PixelRect, _ color: RGB, alpha: Float = 1) {
        guard !rect.isEmpty else { return }
        fill(PixelRect(x: rect.x, y: rect.y, width: rect.width, height: 1), color, alpha: alpha)
        fill(PixelRect(x: rect.x, y: rect.maxY - 1, width: rect.width, height: 1), color, alpha: alpha)
        fill(PixelRect(x: rect.x, y: rect.y + 1, width: 1, height: rect.height - 2), color, alpha: alpha)
        fill(PixelRect(x: rect.maxX - 1, y: rect.y + 1, width: 1, height: rect.height - 2), color, alpha: alpha)
    }

    /// Paints a coverage mask (values in [0, 1], row-major, `maskWidth` wide) with its top-left
    /// corner at (x, y): text and anti-aliased strokes all go through here.
    public func paint(mask: [Float], maskWidth: Int, at x: Int, _ y: Int, _ color: RGB, alpha: Float = 1) {
        guard maskWidth > 0 else { return }
        let maskHeight = mask.count / maskWidth
        let r = PixelRect(x: x, y: y, width: maskWidth, height: maskHeight).intersection(clip)
        guard !r.isEmpty else { return }
        for py in r.y..<r.maxY {
            let row = (py - y) * maskWidth - x
            for px in r.x..<r.maxX {
                let c = mask[row + px]
                if c > 0 { blend(x: px, y: py, color, alpha: c * alpha) }
            }
        }
    }

    /// True when any pixel in `rect` differs from `color` (tests use it to find text and marks).
    public func hasPixels(in rect: PixelRect, otherThan color: RGB) -> Bool {
        let r = rect.intersection(bounds)
        guard !r.isEmpty else { return false }
        for y in r.y..<r.maxY { for x in r.x..<r.maxX where self[x, y] != color { return true } }
        return false
    }
}
