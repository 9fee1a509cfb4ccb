import Formats
import Foundation
import Tensor

extension CourseTransform {
    /// Images of different sizes stored in one (N, H, W) or (N, 1, H, W) array: image i is the
    /// top-left `sizes[i]` = (height, width) of its slot (the rest is padding). Each goes through
    /// the transform at its own size, so the result is what each original file would give alone.
    static func apply(_ images: NpyArray, sizes: NpyArray) throws -> Tensor {
        let s = images.shape
        let (n, slotH, slotW): (Int, Int, Int)
        switch s.count {
        case 3: (n, slotH, slotW) = (s[0], s[1], s[2])
        case 4 where s[1] == 1: (n, slotH, slotW) = (s[0], s[2], s[3])
        default: throw JouleError("images with sizes must have shape (N, H, W) or (N, 1, H, W), got \(s)")
        }
        guard [.uint8, .float32, .float64].contains(images.dtype) else {
            throw JouleError("images must be uint8, float32 or float64, got \(images.dtype.name)")
        }
        guard sizes.shape == [n, 2] else { throw JouleError("sizes must have shape (\(n), 2), got \(sizes.shape)") }
        let hw = try sizes.ints()
        var groups: [Int: [Int]] = [:]   // key h * (slotW + 1) + w
        for i in 0..<n {
            let h = hw[2 * i], w = hw[2 * i + 1]
            guard h >= 1, h <= slotH, w >= 1, w <= slotW else {
                throw JouleError("an (N, 2) integer array after the images holds their sizes (joule data import), but image \(i)'s, \(h)×\(w), does not fit its \(slotH)×\(slotW) slot")
            }
            groups[h * (slotW + 1) + w, default: []].append(i)
        }
        let side = Self.side
        let out = Tensor(shape: [n, 1, side, side])
        let dtype = images.dtype
        for key in groups.keys.sorted() {
            let members = groups[key]!
            let h = key / (slotW + 1), w = key % (slotW + 1)
            let t = try images.bytes.withUnsafeBytes { raw -> Tensor in
                try apply(count: members.count, height: h, width: w) { k, dst in
                    let base = members[k] * slotH * slotW
                    for y in 0..<h {
                        for x in 0..<w {
                            let e = base + y * slotW + x
                            switch dtype {
                            case .uint8: dst[y * w + x] = Float(raw[e])
                            case .float32:
                                dst[y * w + x] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: e * 4, as: UInt32.self)))
                            case .float64:
                                dst[y * w + x] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: e * 8, as: UInt64.self))))
                            case .int32, .int64: dst[y * w + x] = 0
                            }
                        }
                    }
                }
            }
            let per = side * side
            for (k, i) in members.enumerated() { (out.data + i * per).update(from: t.data + k * per, count: per) }
        }
        return out
    }

    /// The transform's geometry alone — antialiased resize of the shorter side to `side`, centre crop —
    /// of one `h`×`w` plane, without the min-max and normalisation (for `joule data import --size`).
    static func resizeAndCrop(_ src: UnsafeMutablePointer<Float>, height h: Int, width w: Int, side: Int,
                              into dst: UnsafeMutablePointer<Float>) {
        let (rh, rw) = resizedSize(height: h, width: w, side: side)
        let top = cropOffset(rh, side), left = cropOffset(rw, side)
        if (rh, rw) == (h, w) {
            for y in 0..<side { for x in 0..<side { dst[y * side + x] = src[(y + top) * w + x + left] } }
            return
        }
        let mid = UnsafeMutablePointer<Float>.allocate(capacity: h * side)
        defer { mid.deallocate() }
        resizeRows(src, height: h, width: w, weights: ResampleWeights(inputSize: w, outputSize: rw), from: left, count: side, into: mid)
        resizeColumns(mid, width: side, weights: ResampleWeights(inputSize: h, outputSize: rh), from: top, count: side, into: dst)
    }
}
