import Formats
import Foundation
import Tensor

/// The course's image transform, exactly as its PyTorch pipeline computes it:
/// per-image min-max to [0, 1] → `Resize(56, antialias=True)` of the shorter side →
/// `CenterCrop(56)` → `Normalize(0.5, 0.5)`, giving (N, 1, 56, 56) in [-1, 1].
public enum CourseTransform {
    public static let side = 56

    /// Output size of torchvision's `Resize(side)` for an `h`×`w` image: the shorter side becomes
    /// `side`, the longer one `int(side * long / short)` (truncated, not rounded).
    public static func resizedSize(height h: Int, width w: Int, side: Int = side) -> (height: Int, width: Int) {
        let short = min(h, w), long = max(h, w)
        let newLong = Int(Double(side * long) / Double(short))
        return h <= w ? (side, newLong) : (newLong, side)
    }

    /// torchvision's `CenterCrop` offset: Python's `int(round(x / 2.0))`, which rounds halves to even.
    static func cropOffset(_ size: Int, _ crop: Int) -> Int {
        Int((Double(size - crop) / 2.0).rounded(.toNearestOrEven))
    }

    /// Transforms images stored as (N, H, W) or (N, 1, H, W) of any supported dtype.
    public static func apply(_ images: NpyArray) throws -> Tensor {
        let s = images.shape
        let (n, h, w): (Int, Int, Int)
        switch s.count {
        case 3: (n, h, w) = (s[0], s[1], s[2])
        case 4 where s[1] == 1: (n, h, w) = (s[0], s[2], s[3])
        default:
            throw JouleError("images must have shape (N, H, W) or (N, 1, H, W), got \(s)")
        }
        guard images.dtype != .int32 && images.dtype != .int64 else {
            throw JouleError("images must be uint8, float32 or float64, got \(images.dtype.name)")
        }
        guard h > 0 && w > 0 else { throw JouleError("images have an empty side: shape \(s)") }
        return try apply(count: n, height: h, width: w) { i, dst in
            images.bytes.withUnsafeBytes { raw in
                let base = i * h * w
                switch images.dtype {
                case .uint8:
                    for k in 0..<h * w { dst[k] = Float(raw[base + k]) }
                case .float32:
                    for k in 0..<h * w {
                        dst[k] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: (base + k) * 4, as: UInt32.self)))
                    }
                case .float64:
                    for k in 0..<h * w {
                        dst[k] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: (base + k) * 8, as: UInt64.self))))
                    }
                case .int32, .int64:
                    break
                }
            }
        }
    }

    /// Transforms a float tensor of shape (N, H, W) or (N, 1, H, W).
    public static func apply(_ images: Tensor) throws -> Tensor {
        let s = images.shape
        guard s.count == 3 || (s.count == 4 && s[1] == 1) else {
            throw JouleError("images must have shape (N, H, W) or (N, 1, H, W), got \(s)")
        }
        let h = s[s.count - 2], w = s[s.count - 1]
        guard h > 0 && w > 0 else { throw JouleError("images have an empty side: shape \(s)") }
        return try apply(count: s[0], height: h, width: w) { i, dst in
            dst.update(from: images.data + i * h * w, count: h * w)
        }
    }

    /// The pipeline over `count` images that `load(i, buffer)` writes as floats, parallel over images.
    static func apply(count n: Int, height h: Int, width w: Int,
                      load: (Int, UnsafeMutablePointer<Float>) -> Void) throws -> Tensor {
        let side = Self.side
        let (rh, rw) = resizedSize(height: h, width: w)
        let top = cropOffset(rh, side), left = cropOffset(rw, side)
        // torchvision hands an image already of the target size back untouched.
        let identity = (rh, rw) == (h, w)
        let wx = ResampleWeights(inputSize: w, outputSize: rw)
        let wy = ResampleWeights(inputSize: h, outputSize: rh)
        let out = Tensor(shape: [n, 1, side, side])
        let outData = out.data
        Parallel.chunks(n, minChunk: 8) { range in
            let src = UnsafeMutablePointer<Float>.allocate(capacity: h * w)
            // Only the columns and rows the crop keeps are ever computed.
            let mid = UnsafeMutablePointer<Float>.allocate(capacity: h * side)
            defer { src.deallocate(); mid.deallocate() }
            for i in range {
                load(i, src)
                minMax(src, h * w)
                let dst = outData + i * side * side
                if identity {
                    for y in 0..<side { for x in 0..<side { dst[y * side + x] = src[(y + top) * w + x + left] } }
                } else {
                    resizeRows(src, height: h, width: w, weights: wx, from: left, count: side, into: mid)
                    resizeColumns(mid, width: side, weights: wy, from: top, count: side, into: dst)
                }
                for k in 0..<side * side { dst[k] = (dst[k] - 0.5) / 0.5 }
            }
        }
        return out
    }

    /// Scales to [0, 1]; a constant image (no contrast to stretch) becomes all zeros.
    static func minMax(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        var lo = Float.infinity, hi = -Float.infinity
        for k in 0..<n { lo = min(lo, p[k]); hi = max(hi, p[k]) }
        let range = hi - lo
        if range > 0 {
            for k in 0..<n { p[k] = (p[k] - lo) / range }
        } else {
            for k in 0..<n { p[k] = 0 }
        }
    }

    /// Horizontal pass: output columns `from ..< from+count` of every row.
    static func resizeRows(_ src: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
                                   weights r: ResampleWeights, from: Int, count: Int,
                                   into dst: UnsafeMutablePointer<Float>) {
        r.weights.withUnsafeBufferPointer { wt in
            for y in 0..<h {
                let row = src + y * w
                for x in 0..<count {
                    let o = x + from
                    let s0 = r.start[o], base = o * r.taps
                    var acc: Float = 0
                    for j in 0..<r.used[o] { acc += wt[base + j] * row[s0 + j] }
                    dst[y * count + x] = acc
                }
            }
        }
    }

    /// Vertical pass: output rows `from ..< from+count`.
    static func resizeColumns(_ src: UnsafeMutablePointer<Float>, width w: Int,
                                      weights r: ResampleWeights, from: Int, count: Int,
                                      into dst: UnsafeMutablePointer<Float>) {
        r.weights.withUnsafeBufferPointer { wt in
            for y in 0..<count {
                let o = y + from
                let s0 = r.start[o], base = o * r.taps
                let out = dst + y * w
                for x in 0..<w { out[x] = 0 }
                for j in 0..<r.used[o] {
                    let c = wt[base + j]
                    let row = src + (s0 + j) * w
                    for x in 0..<w { out[x] += c * row[x] }
                }
            }
        }
    }
}
