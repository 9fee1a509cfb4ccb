/// Vectorisable elementwise functions. Calling `expf` per element would make Swish the most
/// expensive part of SGLD; this Cephes-style exp is within 2 ulp of it, written as straight-line
/// scalar code that the compiler turns into SIMD loops.
public enum FastMath {
    @inlinable @inline(__always)
    public static func exp(_ v: Float) -> Float {
        let x = Swift.min(Swift.max(v, -87.3), 88.3)
        let k = (x * 1.442_695_04).rounded(.toNearestOrEven)
        // Two-part ln 2 keeps the reduced argument exact.
        let r = (x - k * 0.693_359_375) + k * 2.121_944_4e-4
        var p: Float = 1.987_569_15e-4
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * r * r + r + 1
        return p * Float(bitPattern: UInt32(truncatingIfNeeded: (Int32(k) &+ 127) &<< 23))
    }

    /// Natural logarithm for positive, finite x (Cephes logf: x = m·2ᵉ, polynomial in m − 1).
    @inlinable @inline(__always)
    public static func log(_ v: Float) -> Float {
        let bits = v.bitPattern
        var e = Float(Int32(bitPattern: (bits >> 23) & 0xFF) - 126)
        var m = Float(bitPattern: (bits & 0x007F_FFFF) | 0x3F00_0000)   // in [0.5, 1)
        let small = m < 0.707_106_77
        e = small ? e - 1 : e
        m = small ? m + m - 1 : m - 1
        let z = m * m
        var y: Float = 7.037_683_6e-2
        y = y * m - 1.151_461_0e-1
        y = y * m + 1.167_699_9e-1
        y = y * m - 1.242_014_1e-1
        y = y * m + 1.424_932_3e-1
        y = y * m - 1.666_805_8e-1
        y = y * m + 2.000_071_5e-1
        y = y * m - 2.499_999_4e-1
        y = y * m + 3.333_333_1e-1
        y = y * m * z
        y += -2.121_944_4e-4 * e
        y += -0.5 * z
        return m + y + 0.693_359_375 * e
    }

    /// √v for v ≥ 0: Newton's method on 1/√v from the classic bit-level first guess, within 2 ulp.
    /// Swift's squareRoot() becomes a call to sqrtf on Linux (for errno), which no loop vectorises through.
    @inlinable @inline(__always)
    public static func sqrt(_ v: Float) -> Float {
        let x = Swift.max(v, 1e-30)
        var y = Float(bitPattern: 0x5F37_59DF &- (x.bitPattern >> 1))
        y = y * (1.5 - 0.5 * x * y * y)
        y = y * (1.5 - 0.5 * x * y * y)
        y = y * (1.5 - 0.5 * x * y * y)
        return v * y
    }

    /// sin(2πu) and cos(2πu) for u in [0, 1]: reduced to an eighth of a turn, then Cephes' polynomials.
    @inlinable @inline(__always)
    public static func sinCosTurns(_ u: Float) -> (sin: Float, cos: Float) {
        let q = (u * 4).rounded(.toNearestOrEven)           // quarter turns, 0...4
        let r = (u - q * 0.25) * (2 * Float.pi)             // in [−π/4, π/4]
        let r2 = r * r
        let s = ((-1.951_529_6e-4 * r2 + 8.332_160_8e-3) * r2 - 1.666_665_5e-1) * r2 * r + r
        let c = ((2.443_315_7e-5 * r2 - 1.388_731_6e-3) * r2 + 4.166_664_6e-2) * r2 * r2 - 0.5 * r2 + 1
        // Rotate by k quarter turns with selects and sign flips, no branches, so that loops over
        // this vectorise: odd k swaps sine and cosine; sin is negated for k = 2, 3, cos for k = 1, 2.
        let k = UInt32(truncatingIfNeeded: Int32(q))
        let swap = k & 1 != 0
        let sinv = Float(bitPattern: (swap ? c : s).bitPattern ^ ((k & 2) << 30))
        let cosv = Float(bitPattern: (swap ? s : c).bitPattern ^ (((k &+ 1) & 2) << 30))
        return (sinv, cosv)
    }
}
