import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
/// Every random draw in Joule comes from one of these, so a seed fixes a run.
public final class RNG {
    private var s: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    /// Box–Muller yields normals in pairs; the second waits here.
    private var spareNormal: Float?

    public init(seed: UInt64) { reseed(seed) }

    public func reseed(_ seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
        spareNormal = nil
    }

    /// The full generator state, for checkpoints that resume exactly.
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3, spareNormal.map { UInt64($0.bitPattern) | (1 << 32) } ?? 0] }
        set {
            require(newValue.count == 5, "RNG state has 5 words")
            s = (newValue[0], newValue[1], newValue[2], newValue[3])
            spareNormal = newValue[4] & (1 << 32) != 0 ? Float(bitPattern: UInt32(truncatingIfNeeded: newValue[4])) : nil
        }
    }

    @inline(__always)
    public func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    public func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// Uniform integer in 0..<n.
    public func int(_ n: Int) -> Int {
        require(n > 0, "RNG: a range of n > 0 values")
        return Int(next() % UInt64(n))
    }

    /// Standard normal.
    public func normal() -> Float {
        if let z = spareNormal { spareNormal = nil; return z }
        var u1 = uniform()
        while u1 == 0 { u1 = uniform() }
        let u2 = uniform()
        let r = (-2 * log(Double(u1))).squareRoot()
        let a = 2 * Double.pi * Double(u2)
        spareNormal = Float(r * sin(a))
        return Float(r * cos(a))
    }

    public func fillNormal(_ t: Tensor, mean: Float = 0, std: Float = 1) {
        // Large tensors fill in blocks, each from a generator seeded by this one: the blocks can
        // run on all cores, and the values do not depend on how many there are.
        let block = 16_384
        if t.count >= 4 * block {
            let seeds = (0..<((t.count + block - 1) / block)).map { _ in next() }
            Parallel.chunks(seeds.count) { blocks in
                for b in blocks {
                    RNG(seed: seeds[b]).fillNormal(t.data + b * block, count: Swift.min(block, t.count - b * block))
                }
            }
        } else {
            fillNormal(t.data, count: t.count)
        }
        if mean != 0 || std != 1 { for i in 0..<t.count { t.data[i] = mean + std * t.data[i] } }
        t.touch()
    }

    /// Standard normals in bulk: Box–Muller over pairs of uniforms, in vectorisable Float math
    /// (the SGLD noise of every step comes from here).
    public func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let pairs = count / 2
        for i in 0..<(2 * pairs) { p[i] = Float((next() >> 40) + 1) * 0x1p-24 }   // (0, 1]
        // The first half holds the radii's uniforms, the second the angles'; both become normals in place.
        let angles = p + pairs
        for j in 0..<pairs {
            let r = FastMath.sqrt(-2 * FastMath.log(p[j]))
            let (s, c) = FastMath.sinCosTurns(angles[j])
            p[j] = r * c
            angles[j] = r * s
        }
        if count % 2 == 1 { p[count - 1] = normal() }
    }

    public func fillUniform(_ t: Tensor, _ lo: Float, _ hi: Float) {
        for i in 0..<t.count { t.data[i] = uniform(lo, hi) }
        t.touch()
    }

    /// A random permutation of 0..<n (Fisher–Yates).
    public func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 { for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, int(i + 1)) } }
        return p
    }
}
