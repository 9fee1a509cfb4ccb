import Foundation

/// Moments of many independent chains against a Gaussian's, with the Monte Carlo error taken from
/// the chains themselves: each chain's time average gives one estimate of every moment (the D means
/// and the D(D+1)/2 entries of E[(x − μ)(x − μ)ᵀ]); the chains are independent, so the spread of
/// their estimates gives each moment's standard error, se = sd / √chains, whatever the
/// autocorrelation within a chain (batch means with one batch per chain). z = (estimate − truth) / se
/// per moment, held below `bound` (a family-wise false-alarm rate over all moments). Shared by the
/// samplers' moment tests in Swift (EBMTests) and from Lua (LuaHostTests).
public struct MomentEstimate {
    public var z: [Double]
    /// Largest |estimate − truth| of a covariance entry relative to √(Σ_ii Σ_jj), and of a mean relative to √Σ_ii.
    public var bias: Double
    /// Largest standard error, relative likewise.
    public var error: Double
    /// Smallest effective sample size of a coordinate's mean (all chains together): σ² / se².
    public var ess: Double
    public var maxZ: Double { z.map(abs).max()! }

    /// The two-sided normal quantile of a family-wise rate `alpha` over `k` tests (bisection on erfc).
    public static func bound(alpha: Double = 1e-3, tests k: Int) -> Double {
        var lo = 0.0, hi = 10.0
        for _ in 0..<100 {
            let z = (lo + hi) / 2
            if erfc(z / 2.0.squareRoot()) > alpha / Double(k) { lo = z } else { hi = z }
        }
        return lo
    }

    /// The moments of `frames`, draws × chains × D (row-major, `draws` frames of `chains` states),
    /// against mean `mean` and covariance `covariance` (row-major). `offset`: E[x − μ] when the
    /// target is not N(μ, ·) itself (a truncated Gaussian); zero by default.
    public init(frames: UnsafePointer<Float>, draws: Int, chains n: Int, mean: [Double], covariance sigma: [Double],
                offset: [Double]? = nil) {
        let d = mean.count, offset = offset ?? Array(repeating: 0, count: d)
        let m = d + d * (d + 1) / 2
        var sums = [Double](repeating: 0, count: n * m)
        var centred = [Double](repeating: 0, count: d)
        for f in 0..<draws {
            for c in 0..<n {
                let row = frames + (f * n + c) * d
                for i in 0..<d { centred[i] = Double(row[i]) - mean[i] }
                var k = c * m
                for i in 0..<d { sums[k] += centred[i]; k += 1 }
                for i in 0..<d { for j in i..<d { sums[k] += centred[i] * centred[j]; k += 1 } }
            }
        }
        var z: [Double] = [], bias = 0.0, error = 0.0, ess = Double.infinity
        var k = 0
        func compare(_ truth: Double, _ scale: Double) -> Double {
            let per = (0..<n).map { sums[$0 * m + k] / Double(draws) }
            let mean = per.reduce(0, +) / Double(n)
            let sd = (per.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)).squareRoot()
            let se = sd / Double(n).squareRoot()
            z.append((mean - truth) / se)
            bias = max(bias, abs(mean - truth) / scale)
            error = max(error, se / scale)
            k += 1
            return se
        }
        for i in 0..<d {
            let se = compare(offset[i], sigma[i * d + i].squareRoot())
            ess = min(ess, sigma[i * d + i] / (se * se))
        }
        for i in 0..<d { for j in i..<d { _ = compare(sigma[i * d + j], (sigma[i * d + i] * sigma[j * d + j]).squareRoot()) } }
        self.z = z; self.bias = bias; self.error = error; self.ess = ess
    }
}
