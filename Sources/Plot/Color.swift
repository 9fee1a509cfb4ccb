/// An opaque 8-bit sRGB colour.
public struct RGB: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8
    public var g: UInt8
    public var b: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) {
        self.r = r; self.g = g; self.b = b
    }

    /// From 0xRRGGBB.
    public init(hex: UInt32) {
        self.init(UInt8((hex >> 16) & 0xff), UInt8((hex >> 8) & 0xff), UInt8(hex & 0xff))
    }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    /// Text and axes: a very dark grey reads as black but is softer on white.
    public static let ink = RGB(34, 34, 34)
    public static let grid = RGB(228, 228, 228)
    public static let mutedInk = RGB(110, 110, 110)

    public var description: String { "RGB(\(r), \(g), \(b))" }

    /// `self` painted over `under` with opacity `alpha` in [0, 1].
    @inline(__always)
    public func over(_ under: RGB, alpha: Float) -> RGB {
        let a = max(0, min(1, alpha))
        @inline(__always) func mix(_ top: UInt8, _ bottom: UInt8) -> UInt8 {
            UInt8((Float(top) * a + Float(bottom) * (1 - a)).rounded())
        }
        return RGB(mix(r, under.r), mix(g, under.g), mix(b, under.b))
    }

    /// Squared distance in RGB space, for tests and for telling colours apart.
    public func distance2(_ other: RGB) -> Int {
        let dr = Int(r) - Int(other.r), dg = Int(g) - Int(other.g), db = Int(b) - Int(other.b)
        return dr * dr + dg * dg + db * db
    }
}

/// Series colours. Okabe & Ito's palette stays distinguishable under the common colour-vision
/// deficiencies; yellow comes last because it is faint on white.
public enum Palette {
    public static let series: [RGB] = [
        RGB(hex: 0x0072B2), // blue
        RGB(hex: 0xE69F00), // orange
        RGB(hex: 0x009E73), // bluish green
        RGB(hex: 0xD55E00), // vermillion
        RGB(hex: 0xCC79A7), // reddish purple
        RGB(hex: 0x56B4E9), // sky blue
        RGB(hex: 0x000000), // black
        RGB(hex: 0xF0E442), // yellow
    ]

    /// The colour of series `index`; after the palette runs out colours repeat and callers
    /// switch to dashed strokes (see `isDashed`).
    public static func color(_ index: Int) -> RGB { series[index % series.count] }

    /// Event marks across a chart (rollbacks): a dark red none of the series has.
    public static let mark = RGB(hex: 0x9E0031)

    /// Series past the first round of colours are dashed so they differ from the earlier ones.
    public static func isDashed(_ index: Int) -> Bool { (index / series.count) % 2 == 1 }

    /// Viridis, sampled at 9 stops: perceptually uniform and readable in grey and by colour-blind
    /// readers, for heat maps.
    static let viridisStops: [RGB] = [
        RGB(hex: 0x440154), RGB(hex: 0x472D7B), RGB(hex: 0x3B528B), RGB(hex: 0x2C728E), RGB(hex: 0x21918C),
        RGB(hex: 0x28AE80), RGB(hex: 0x5EC962), RGB(hex: 0xADDC30), RGB(hex: 0xFDE725),
    ]

    /// Viridis at t in [0, 1] (clamped; NaN maps to the low end).
    public static func viridis(_ t: Double) -> RGB {
        let u = t.isNaN ? 0 : max(0, min(1, t))
        let pos = u * Double(viridisStops.count - 1)
        let i = min(Int(pos), viridisStops.count - 2)
        let f = Float(pos - Double(i))
        return viridisStops[i + 1].over(viridisStops[i], alpha: f)
    }
}
