/// One decoded image (a page of a TIFF is one image): samples as the file holds them, row by row.
public struct RasterImage: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case grey, rgb
        /// Ink amounts (0 = none), as Pillow reads CMYK JPEGs.
        case cmyk
    }

    public let width: Int
    public let height: Int
    public let kind: Kind
    /// 8 or 16: the range of `samples` is 0 … 2^depth − 1.
    public let depth: Int
    /// Bits per sample in the file (1, 2, 4, 8, 16), for the data card.
    public let fileDepth: Int
    /// `width * height * channels` samples.
    public let samples: [UInt16]

    public var channels: Int { kind == .grey ? 1 : kind == .rgb ? 3 : 4 }
    public var maxValue: Int { (1 << depth) - 1 }

    public init(width: Int, height: Int, kind: Kind, depth: Int, fileDepth: Int, samples: [UInt16]) {
        precondition(samples.count == width * height * (kind == .grey ? 1 : kind == .rgb ? 3 : 4))
        self.width = width; self.height = height; self.kind = kind
        self.depth = depth; self.fileDepth = fileDepth; self.samples = samples
    }

    /// RGB samples: grey repeated, CMYK converted as Pillow's `convert("RGB")` does
    /// (R = clip(255 − K − C·(255 − K)/255), with its rounding).
    public func rgb() -> [UInt16] {
        switch kind {
        case .rgb: return samples
        case .grey:
            var out = [UInt16](repeating: 0, count: samples.count * 3)
            for (i, v) in samples.enumerated() { out[3 * i] = v; out[3 * i + 1] = v; out[3 * i + 2] = v }
            return out
        case .cmyk:
            let n = width * height
            var out = [UInt16](repeating: 0, count: n * 3)
            for i in 0..<n {
                let nk = 255 - Int(samples[4 * i + 3])
                for c in 0..<3 {
                    let t = Int(samples[4 * i + c]) * nk + 128
                    out[3 * i + c] = UInt16(max(0, min(255, nk - (((t >> 8) + t) >> 8))))
                }
            }
            return out
        }
    }

    /// Grey samples as Pillow's `convert("L")` computes them from RGB (ITU-R 601-2 luma,
    /// L = (19595 R + 38470 G + 7471 B + 32768) >> 16), at the image's own depth.
    public func grey() -> [UInt16] {
        if kind == .grey { return samples }
        let c = rgb()
        var out = [UInt16](repeating: 0, count: width * height)
        for i in 0..<out.count {
            let r: Int = 19595 * Int(c[3 * i]), g: Int = 38470 * Int(c[3 * i + 1]), b: Int = 7471 * Int(c[3 * i + 2])
            out[i] = UInt16((r + g + b + 0x8000) >> 16)
        }
        return out
    }
}
