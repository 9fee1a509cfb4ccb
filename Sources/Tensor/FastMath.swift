/// Vectorised elementwise functions. Calling `expf` per element would make Swish the second most
/// expensive part of SGLD; this Cephes-style exp on 16 lanes is within 2 ulp of it.
public enum FastMath {
    public typealias V = SIMD16<Float>

    @inline(__always)
    public static func exp(_ v: V) -> V {
        let x = v.clamped(lowerBound: V(repeating: -87.3), upperBound: V(repeating: 88.3))
        let k = (x * 1.442_695_04).rounded(.toNearestOrEven)
        // Two-part ln 2 keeps the reduced argument exact.
        var r = x - k * 0.693_359_375
        r = r + k * 2.121_944_4e-4
        var p = V(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_12e-1
        p = p * r * r + r + 1
        let bits = (SIMD16<Int32>(k, rounding: .towardZero) &+ 127) &<< 23
        return p * unsafeBitCast(bits, to: V.self)
    }

    /// out[i] = 1 / (1 + exp(−x[i])).
    public static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: V.self)
            let s = 1 / (1 + exp(-v))
            UnsafeMutableRawPointer(out + i).storeBytes(of: s, as: V.self)
            i += 16
        }
        if i < count {
            var v = V(repeating: 0)
            for j in 0..<(count - i) { v[j] = x[i + j] }
            let s = 1 / (1 + exp(-v))
            for j in 0..<(count - i) { out[i + j] = s[j] }
        }
    }
}
