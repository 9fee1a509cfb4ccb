/// Copies and fills of runs of floats that are often short: a one-channel image's kernel rows are
/// 5 floats, and a library call per run would cost more than the copy. Long runs go to memmove/memset.
public enum Runs {
    @inlinable @inline(__always)
    public static func copy(_ dst: UnsafeMutablePointer<Float>, from src: UnsafePointer<Float>, count: Int) {
        if count > 32 { dst.update(from: src, count: count); return }
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self),
                                                        as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dst[i] = src[i]; i += 1 }
    }

    @inlinable @inline(__always)
    public static func fill(_ dst: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
        if count > 32 { dst.update(repeating: value, count: count); return }
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8(repeating: value), as: SIMD8<Float>.self)
            i += 8
        }
        while i < count { dst[i] = value; i += 1 }
    }
}
