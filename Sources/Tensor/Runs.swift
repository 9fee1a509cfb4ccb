/// Copies, fills and sums of short runs of floats, inline: a one-channel image's kernel rows are
/// 5 floats and a deeper layer's a few hundred, and a library call per run would cost more than
/// the work. Runs of 8 or more go in 8-wide steps, the last one overlapping the one before, so
/// source and destination must not overlap.
public enum Runs {
    @inlinable @inline(__always)
    public static func copy(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, count: Int) {
        if count >= 8 {
            var i = 0
            while i + 8 < count { store(load8(src + i), dst + i); i += 8 }
            store(load8(src + count - 8), dst + count - 8)
        } else if count >= 4 {
            store(load4(src), dst)
            store(load4(src + count - 4), dst + count - 4)
        } else {
            for i in 0..<count { dst[i] = src[i] }
        }
    }

    @inlinable @inline(__always)
    public static func fill(_ dst: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
        if count >= 8 {
            var i = 0
            while i + 8 < count { store(SIMD8(repeating: value), dst + i); i += 8 }
            store(SIMD8(repeating: value), dst + count - 8)
        } else {
            for i in 0..<count { dst[i] = value }
        }
    }

    /// dst += src (no overlapping steps here: each value must be added once).
    @inlinable @inline(__always)
    public static func add(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count { store(load8(dst + i) + load8(src + i), dst + i); i += 8 }
        while i < count { dst[i] += src[i]; i += 1 }
    }

    @inlinable @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inlinable @inline(__always)
    static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }
    @inlinable @inline(__always)
    static func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }
    @inlinable @inline(__always)
    static func store<V: SIMD>(_ v: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
}
