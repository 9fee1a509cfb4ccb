import Foundation
import Tensor

/// Convergence diagnostics of Markov chains, as Vehtari, Gelman, Simpson, Carpenter and Bürkner
/// (2021, "Rank-normalization, folding, and localization: an improved R-hat") define them and as
/// ArviZ computes them (`arviz.ess(method="bulk")`, `arviz.rhat(method="rank")`, the same code in
/// arviz 0.x `stats/diagnostics.py` and arviz-stats `base/diagnostics.py`), step for step, so that
/// the numbers agree with ArviZ's to rounding (the tests hold them to 1e-6 relative):
///   - split: each chain's first and last ⌊n/2⌋ draws become two chains (an odd middle draw is dropped);
///   - rank normalisation: all draws of all split chains ranked together (ties get their average
///     rank), r ↦ Φ⁻¹((r − 3/8) / (S + 1/4)) (Blom's offset, S draws in all);
///   - bulk ESS: S / τ̂ of the rank-normalised split chains, τ̂ = −1 + 2 Σ ρ̂ over Geyer's initial
///     positive sequence made monotone, autocovariances by FFT, ρ̂ from the multi-chain variance
///     estimate, and τ̂ at least 1 / log10(S);
///   - rank R-hat: the larger of the split R-hat of the rank-normalised chains (bulk) and of the
///     rank-normalised folded chains |x − median| (tails).
/// Chains are given as `chains[c][d]`: chain c, draw d.
public enum Diagnostics {
    /// Fewer draws per chain than this give no diagnostics (ArviZ returns NaN; we say why).
    public static let minDraws = 4

    /// Bulk effective sample size of one scalar quantity.
    public static func bulkESS(_ chains: [[Double]]) throws -> Double {
        try check(chains, minChains: 1)
        return ess(zScale(split(chains)))
    }

    /// Rank-normalised split R-hat of one scalar quantity (needs two chains at least).
    public static func rankRhat(_ chains: [[Double]]) throws -> Double {
        try check(chains, minChains: 2)
        let s = split(chains)
        let bulk = rhat(zScale(s))
        let m = median(s.flatMap { $0 })
        let tail = rhat(zScale(s.map { $0.map { Swift.abs($0 - m) } }))
        // Python's max(bulk, tail): NaN only when bulk is NaN (a chain that never moves).
        return tail > bulk ? tail : bulk
    }

    /// ESS and R-hat of every coordinate of kept chains.
    public struct Summary {
        /// One value per coordinate of a chain's state, in row-major order.
        public var ess: [Double]
        public var rhat: [Double]
        public var draws: Int
        public var chains: Int

        /// The slowest coordinate's ESS and the median over coordinates (NaN when there are none).
        public var essMin: Double { ess.min() ?? .nan }
        public var essMedian: Double {
            let s = ess.sorted(), n = s.count
            return n == 0 ? .nan : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
        /// The largest R-hat over the coordinates that move (a constant coordinate's R-hat is NaN and
        /// says nothing about mixing); NaN when none moves.
        public var rhatMax: Double { rhat.filter { !$0.isNaN }.max() ?? .nan }
    }

    /// The diagnostics of every coordinate of `frames`, draws × chains × state: (F, N, C, H, W) or
    /// (F, N, D) as a sampler keeps them, or (F, N) for one number per chain and draw (an energy
    /// trace). Coordinates are independent, so they are split over the cores.
    public static func summary(frames: Tensor) throws -> Summary {
        guard frames.rank >= 2 else {
            throw JouleError("diagnostics: frames must be draws × chains × state, e.g. (F, N, D) or (F, N, C, H, W); got shape \(frames.shape)")
        }
        let (draws, chains) = (frames.shape[0], frames.shape[1])
        let d = chains == 0 ? 0 : frames.count / Swift.max(draws * chains, 1)
        try checkShape(draws: draws, chains: chains, minChains: 2)
        let x = frames.data
        for i in 0..<frames.count where !x[i].isFinite {
            let (f, rest) = i.quotientAndRemainder(dividingBy: chains * d)
            let (c, j) = rest.quotientAndRemainder(dividingBy: d)
            throw JouleError("diagnostics: frame \(f + 1), chain \(c + 1), coordinate \(j + 1) is \(text(x[i])) (every draw must be a finite number)")
        }
        var ess = [Double](repeating: .nan, count: d), rhat = [Double](repeating: .nan, count: d)
        ess.withUnsafeMutableBufferPointer { e in
            rhat.withUnsafeMutableBufferPointer { r in
                Parallel.chunks(d) { coordinates in
                    for j in coordinates {
                        let series = (0..<chains).map { c in (0..<draws).map { f in Double(x[(f * chains + c) * d + j]) } }
                        // The checks above are those of bulkESS and rankRhat: they cannot throw here.
                        e[j] = (try? bulkESS(series)) ?? .nan
                        r[j] = (try? rankRhat(series)) ?? .nan
                    }
                }
            }
        }
        return Summary(ess: ess, rhat: rhat, draws: draws, chains: chains)
    }

    /// The energies of kept chains, (F, N): E(x) of each frame's batch, or E(x, y) with one label
    /// per chain.
    public static func energyTrace(model: EnergyModel, frames: Tensor, labels: [Int]? = nil) throws -> Tensor {
        guard frames.rank >= 3 else {
            throw JouleError("diagnostics: frames must be draws × chains × state, (F, N, D) or (F, N, C, H, W), to compute energies; got shape \(frames.shape)")
        }
        let (draws, chains) = (frames.shape[0], frames.shape[1])
        if let labels, labels.count != chains { throw JouleError("diagnostics: \(labels.count) labels for \(chains) chains") }
        let trace = Tensor(shape: [draws, chains])
        for f in 0..<draws {
            try Interruption.check()
            let batch = try frames.items(f..<(f + 1))
            try batch.reshape(Array(frames.shape.dropFirst()))
            let e = try model.energy(batch, labels: labels)
            (trace.data + f * chains).update(from: e.data, count: chains)
        }
        trace.touch()
        return trace
    }

    // MARK: checks

    static func check(_ chains: [[Double]], minChains: Int) throws {
        let draws = chains.first?.count ?? 0
        guard chains.allSatisfy({ $0.count == draws }) else {
            throw JouleError("diagnostics: chains of different lengths (\(chains.map(\.count)))")
        }
        try checkShape(draws: draws, chains: chains.count, minChains: minChains)
        for (c, chain) in chains.enumerated() {
            if let d = chain.firstIndex(where: { !$0.isFinite }) {
                throw JouleError("diagnostics: draw \(d + 1) of chain \(c + 1) is \(text(chain[d])) (every draw must be a finite number)")
            }
        }
    }

    static func checkShape(draws: Int, chains: Int, minChains: Int) throws {
        guard draws >= minDraws else {
            throw JouleError("diagnostics: need at least \(minDraws) draws per chain, got \(draws) (keep more frames: a smaller keep_every or more steps)")
        }
        guard chains >= minChains else {
            throw JouleError("diagnostics: R-hat compares chains and needs at least 2, got \(chains) (sample n ≥ 2 chains)")
        }
    }

    // MARK: the steps, as ArviZ takes them

    /// Each chain's first and last ⌊n/2⌋ draws as two chains (ArviZ's `_split_chains`).
    static func split(_ chains: [[Double]]) -> [[Double]] {
        let half = (chains.first?.count ?? 0) / 2
        return chains.map { Array($0.prefix(half)) } + chains.map { Array($0.suffix(half)) }
    }

    /// Rank-normalised values: average ranks over every draw of every chain, back-transformed with
    /// Blom's offset 3/8 and mapped through the normal quantile function (`_z_scale`).
    static func zScale(_ chains: [[Double]]) -> [[Double]] {
        let flat = chains.flatMap { $0 }
        let size = Double(flat.count)
        let order = flat.indices.sorted { flat[$0] < flat[$1] }
        var rank = [Double](repeating: 0, count: flat.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && flat[order[j + 1]] == flat[order[i]] { j += 1 }
            // Ranks i+1 … j+1 are tied: each gets their mean.
            let r = Double(i + j + 2) / 2
            for k in i...j { rank[order[k]] = r }
            i = j + 1
        }
        let c = 3.0 / 8
        let z = rank.map { normalQuantile(($0 - c) / (size - 2 * c + 1)) }
        let n = chains.first?.count ?? 0
        return chains.indices.map { Array(z[($0 * n)..<(($0 + 1) * n)]) }
    }

    /// Split R-hat of (already split) chains (`_rhat`).
    static func rhat(_ chains: [[Double]]) -> Double {
        let n = Double(chains[0].count)
        let means = chains.map(mean)
        let within = chains.map(variance).reduce(0, +) / Double(chains.count)
        let between = n * variance(means)
        return ((between / within + n - 1) / n).squareRoot()
    }

    /// Effective sample size of (already split and normalised) chains (`_ess`): Geyer's initial
    /// positive sequence of autocorrelation pairs, made monotone.
    static func ess(_ chains: [[Double]]) -> Double {
        let flat = chains.flatMap { $0 }
        let total = Double(flat.count)
        // A quantity that never changes: ArviZ counts every draw as effective.
        if flat.max()! - flat.min()! < 1e-15 { return total }
        let m = chains.count, n = chains[0].count
        let acov = chains.map(autocovariance)
        let meanAcov = { (lag: Int) in acov.reduce(0.0) { $0 + $1[lag] } / Double(m) }
        let meanVar = meanAcov(0) * Double(n) / (Double(n) - 1)
        var varPlus = meanVar * (Double(n) - 1) / Double(n)
        if m > 1 { varPlus += variance(chains.map(mean)) }
        var rho = [Double](repeating: 0, count: n)
        var even = 1.0
        rho[0] = even
        var odd = 1 - (meanVar - meanAcov(1)) / varPlus
        rho[1] = odd
        var t = 1
        while t < n - 3 && even + odd > 0 {
            even = 1 - (meanVar - meanAcov(t + 1)) / varPlus
            odd = 1 - (meanVar - meanAcov(t + 2)) / varPlus
            if even + odd >= 0 {
                rho[t + 1] = even
                rho[t + 2] = odd
            }
            t += 2
        }
        let maxT = t - 2
        if even > 0 { rho[maxT + 1] = even }
        t = 1
        while t <= maxT - 2 {
            if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t] {
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2
                rho[t + 2] = rho[t + 1]
            }
            t += 2
        }
        // Σ ρ̂[0…maxT] twice, plus ρ̂[maxT + 1] once when it exists.
        let head = maxT >= 0 ? rho[0...maxT].reduce(0, +) : 0
        let last = maxT + 1 < n ? rho[maxT + 1] : 0
        let tau = Swift.max(-1 + 2 * head + last, 1 / log10(total))
        return rho.contains(where: \.isNaN) ? .nan : total / tau
    }

    /// Autocovariances at lags 0 ..< n, each divided by n (the biased estimate ArviZ uses), through
    /// an FFT of the centred chain padded with zeros to a power of two ≥ 2n (no wrap-around).
    public static func autocovariance(_ x: [Double]) -> [Double] {
        let n = x.count
        let mu = mean(x)
        var size = 1
        while size < 2 * n { size <<= 1 }
        var re = [Double](repeating: 0, count: size), im = [Double](repeating: 0, count: size)
        for i in 0..<n { re[i] = x[i] - mu }
        fft(&re, &im, inverse: false)
        for i in 0..<size {
            re[i] = re[i] * re[i] + im[i] * im[i]
            im[i] = 0
        }
        fft(&re, &im, inverse: true)
        return (0..<n).map { re[$0] / Double(size) / Double(n) }
    }

    /// In-place iterative radix-2 FFT (unnormalised both ways) of a power-of-two length.
    static func fft(_ re: inout [Double], _ im: inout [Double], inverse: Bool) {
        let n = re.count
        var j = 0
        for i in 1..<n {
            var bit = n >> 1
            while j & bit != 0 { j ^= bit; bit >>= 1 }
            j |= bit
            if i < j { re.swapAt(i, j); im.swapAt(i, j) }
        }
        var len = 2
        while len <= n {
            let angle = (inverse ? 2 : -2) * Double.pi / Double(len)
            let (wr, wi) = (cos(angle), sin(angle))
            for start in stride(from: 0, to: n, by: len) {
                var (cr, ci) = (1.0, 0.0)
                for k in 0..<(len / 2) {
                    let a = start + k, b = a + len / 2
                    let tr = re[b] * cr - im[b] * ci, ti = re[b] * ci + im[b] * cr
                    (re[b], im[b]) = (re[a] - tr, im[a] - ti)
                    (re[a], im[a]) = (re[a] + tr, im[a] + ti)
                    (cr, ci) = (cr * wr - ci * wi, cr * wi + ci * wr)
                }
            }
            len <<= 1
        }
    }

    /// A number in a message: "nan" whatever its sign bit (0/0 is "-nan" on x86), as Lua prints it.
    static func text<T: BinaryFloatingPoint>(_ v: T) -> String { v.isNaN ? "nan" : "\(v)" }

    static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

    /// Sample variance (ddof = 1), two-pass.
    static func variance(_ x: [Double]) -> Double {
        let mu = mean(x)
        return x.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(x.count - 1)
    }

    static func median(_ x: [Double]) -> Double {
        let s = x.sorted()
        let k = s.count / 2
        return s.count % 2 == 1 ? s[k] : (s[k - 1] + s[k]) / 2
    }

    /// Φ⁻¹(p) for 0 < p < 1: Acklam's rational approximation (relative error 1e-9) refined by one
    /// Halley step on erfc, which brings it to double precision (scipy's `norm.ppf` to ~1e-15).
    public static func normalQuantile(_ p: Double) -> Double {
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                 -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        // Halley's step: e = Φ(x) − p, with Φ(x) = erfc(−x/√2)/2.
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
