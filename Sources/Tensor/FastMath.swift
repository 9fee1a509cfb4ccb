/// Vectorisable elementwise functions. Calling `expf` per element would make Swish the most
/// expensive part of SGLD; this Cephes-style exp is within 2 ulp of it, written as straight-line
/// scalar code that the compiler turns into SIMD loops.
public enum FastMath {
    @inline(__always)
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

    /// out[i] = 1 / (1 + exp(−x[i])).
    public static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = 1 / (1 + exp(-x[i])) }
    }
}
