import EBM
import Foundation
import Tensor
import TestSupport
import XCTest

/// Exactness by moments: on Gaussians with known non-diagonal covariances (2 and 50 dimensions),
/// MALA and HMC recover the mean and covariance within Monte Carlo error; unadjusted Langevin at the
/// same large step shows its known bias; a MALA whose acceptance drops the reverse proposal density fails.
///
/// How the tolerance is derived: many independent chains (each started from N(0, I), burnt in, then
/// thinned draws averaged over time) give one estimate per chain of every moment (the D means and the
/// D(D+1)/2 entries of E[(x − μ)(x − μ)ᵀ]). The chains are independent, so the spread of their
/// estimates gives each moment's standard error, se = sd / √chains, whatever the autocorrelation
/// within a chain (batch means with one batch per chain). Each moment's z = (estimate − truth) / se
/// must stay below the two-sided Bonferroni bound for a family-wise false-alarm rate of 10⁻³ over all
/// moments (4.4 for 2-D's 5 moments, 5.0 for 50-D's 1325): a correct sampler fails it once in a
/// thousand runs, and each test runs three seeds. The effective sample size of a mean is σ² / se².
final class SamplerMomentTests: XCTestCase {
    typealias Estimate = MomentEstimate

    static func bound(alpha: Double = 1e-3, tests k: Int) -> Double { MomentEstimate.bound(alpha: alpha, tests: k) }

    /// Runs the chains (from N(0, I), `burnIn` steps, then `draws` states `thin` steps apart) and
    /// compares their moments with `mean` and `covariance` (row-major; MomentEstimate says how).
    func estimate(_ s: MarkovSampler, _ g: GaussianEnergy, chains n: Int, burnIn: Int, draws: Int, thin: Int,
                  covariance: [Double]? = nil, offset: [Double]? = nil, seed: UInt64) throws -> Estimate {
        let d = g.dimension
        let x = Tensor(shape: [n, d])
        RNG(seed: seed).fillNormal(x)
        try s.run(x, labels: nil, steps: burnIn)
        var frames = [Float](repeating: 0, count: draws * n * d)
        for f in 0..<draws {
            try s.run(x, labels: nil, steps: thin)
            for i in 0..<(n * d) { frames[f * n * d + i] = x.data[i] }
        }
        return MomentEstimate(frames: frames, draws: draws, chains: n, mean: g.mean, covariance: covariance ?? g.covariance, offset: offset)
    }

    struct Setting {
        var dimension: Int, smallest: Double, largest: Double
        var h: Float, epsilon: Float, leapfrog: Int
        var chains: Int, burnIn: Int, draws: Int, thin: Int, hmcDraws: Int
        var tests: Int { dimension + dimension * (dimension + 1) / 2 }
    }

    // Variances from `smallest` to `largest`; h puts MALA near its usual acceptance and ULA far from exact.
    // HMC's trajectory εL stays below the resonance of the stiffest direction: a Gaussian direction of
    // variance v turns by about εL/√v per iteration, and near π it flips sign and never mixes.
    static let low = Setting(dimension: 2, smallest: 0.25, largest: 2, h: 0.12, epsilon: 0.15, leapfrog: 8,
                             chains: 200, burnIn: 300, draws: 300, thin: 5, hmcDraws: 150)
    static let high = Setting(dimension: 50, smallest: 0.5, largest: 2, h: 0.25, epsilon: 0.2, leapfrog: 8,
                              chains: 128, burnIn: 200, draws: 200, thin: 5, hmcDraws: 100)

    func gaussian(_ s: Setting, seed: UInt64) -> GaussianEnergy {
        GaussianEnergy.correlated(dimension: s.dimension, smallest: s.smallest, largest: s.largest, seed: 100 + seed)
    }

    func chains(_ s: Setting) -> ChainSettings {
        var c = ChainSettings()
        c.conditional = false
        c.steps = 1
        return c
    }

    func mala(_ s: Setting, _ g: GaussianEnergy, seed: UInt64) throws -> MALASampler {
        var c = MALASampler.Config()
        c.stepSize = s.h; c.chains = chains(s)
        return try MALASampler(model: g, config: c, rng: RNG(seed: seed))
    }

    func hmc(_ s: Setting, _ g: GaussianEnergy, seed: UInt64) throws -> HMCSampler {
        var c = HMCSampler.Config()
        c.stepSize = s.epsilon; c.leapfrog = s.leapfrog; c.chains = chains(s)
        return try HMCSampler(model: g, config: c, rng: RNG(seed: seed))
    }

    func ula(_ s: Setting, _ g: GaussianEnergy, seed: UInt64) throws -> AnnealedLangevinSampler {
        var c = AnnealedLangevinSampler.Config()
        c.stepSize = s.h; c.t0 = 1; c.chains = chains(s)
        return try AnnealedLangevinSampler(model: g, config: c, rng: RNG(seed: seed))
    }

    /// ULA's stationary covariance on a Gaussian: x' = x − hP(x − μ) + √(2h)ξ is a linear
    /// autoregression whose fixed point is Σ_h = (P − hP²/2)⁻¹ (each eigenvalue 1/λ inflated by 1/(1 − hλ/2)).
    func ulaCovariance(_ g: GaussianEnergy, h: Double) -> [Double] {
        let d = g.dimension, p = g.precisionMatrix
        var a = p
        for i in 0..<d { for j in 0..<d { a[i * d + j] -= h / 2 * (0..<d).reduce(0.0) { $0 + p[i * d + $1] * p[$1 * d + j] } } }
        return GaussianEnergy.inverse(a, d)
    }

    func report(_ name: String, _ s: Setting, _ e: Estimate, acceptance: [Double]?) {
        let a = acceptance.map { String(format: "%.3f", $0.reduce(0, +) / Double($0.count)) } ?? "-"
        print(String(format: "moments: %@ D=%d  max|z| %.2f (bound %.2f)  bias %.4f  error %.4f  ESS %.0f  acceptance %@",
                     name, s.dimension, e.maxZ, Self.bound(tests: s.tests), e.bias, e.error, e.ess, a))
    }

    func testCovariancesAreNonDiagonal() {
        for s in [Self.low, Self.high] {
            let g = gaussian(s, seed: 1), d = s.dimension
            var corr = 0.0
            for i in 0..<d {
                for j in 0..<d where j != i {
                    let c: Double = abs(g.covariance[i * d + j]) / (g.covariance[i * d + i] * g.covariance[j * d + j]).squareRoot()
                    corr = max(corr, c)
                }
            }
            XCTAssertGreaterThan(corr, 0.1, "D=\(d): the test Gaussian must be correlated")
            // The precision really is Σ⁻¹.
            for i in 0..<d {
                for j in 0..<d {
                    var v = 0.0
                    for k in 0..<d { v += g.covariance[i * d + k] * g.precisionMatrix[k * d + j] }
                    XCTAssertEqual(v, i == j ? 1 : 0, accuracy: 1e-9)
                }
            }
        }
    }

    func testMALARecoversMeanAndCovariance() throws {
        for s in [Self.low, Self.high] {
            for seed: UInt64 in 1...3 {
                let g = gaussian(s, seed: seed)
                let m = try mala(s, g, seed: seed)
                let e = try estimate(m, g, chains: s.chains, burnIn: s.burnIn, draws: s.draws, thin: s.thin, seed: seed)
                report("MALA seed \(seed)", s, e, acceptance: m.acceptance)
                XCTAssertLessThan(e.maxZ, Self.bound(tests: s.tests), "MALA D=\(s.dimension) seed \(seed)")
                let a = m.acceptance!.reduce(0, +) / Double(s.chains)
                XCTAssertTrue(a > 0.3 && a < 0.99, "MALA's acceptance \(a) at D=\(s.dimension): the step tests the correction")
            }
        }
    }

    func testHMCRecoversMeanAndCovariance() throws {
        for s in [Self.low, Self.high] {
            for seed: UInt64 in 1...3 {
                let g = gaussian(s, seed: seed)
                let m = try hmc(s, g, seed: seed)
                let e = try estimate(m, g, chains: s.chains, burnIn: s.burnIn / 4, draws: s.hmcDraws, thin: 1, seed: seed)
                report("HMC seed \(seed)", s, e, acceptance: m.acceptance)
                XCTAssertLessThan(e.maxZ, Self.bound(tests: s.tests), "HMC D=\(s.dimension) seed \(seed)")
                let a = m.acceptance!.reduce(0, +) / Double(s.chains)
                XCTAssertTrue(a > 0.5 && a <= 1, "HMC's acceptance \(a) at D=\(s.dimension)")
            }
        }
    }

    /// A per-coordinate mass changes the kinetic energy ½pᵀM⁻¹p and the drift M⁻¹p: still exact.
    func testHMCWithADiagonalMassIsExact() throws {
        let s = Self.low, g = gaussian(s, seed: 1)
        for seed: UInt64 in 1...3 {
            var c = HMCSampler.Config()
            c.stepSize = 0.3; c.leapfrog = 3; c.mass = [0.5, 3]; c.chains = chains(s)
            let h = try HMCSampler(model: g, config: c, rng: RNG(seed: seed))
            let e = try estimate(h, g, chains: s.chains, burnIn: 50, draws: s.hmcDraws, thin: 1, seed: seed)
            report("HMC mass (0.5, 3) seed \(seed)", s, e, acceptance: h.acceptance)
            XCTAssertLessThan(e.maxZ, Self.bound(tests: s.tests), "seed \(seed)")
        }
    }

    /// ULA at MALA's step matches its own (analytic) biased covariance and misses the target's by
    /// far; MALA at that step is exact (the test above).
    func testUnadjustedLangevinShowsItsKnownBias() throws {
        for s in [Self.low, Self.high] {
            let g = gaussian(s, seed: 1)
            let biased = ulaCovariance(g, h: Double(s.h))
            let e = try estimate(try ula(s, g, seed: 1), g, chains: s.chains, burnIn: s.burnIn, draws: s.draws, thin: s.thin,
                                 covariance: biased, seed: 1)
            report("ULA vs its biased Σ_h", s, e, acceptance: nil)
            XCTAssertLessThan(e.maxZ, Self.bound(tests: s.tests), "ULA D=\(s.dimension) against (P − hP²/2)⁻¹")
            let wrong = try estimate(try ula(s, g, seed: 1), g, chains: s.chains, burnIn: s.burnIn, draws: s.draws, thin: s.thin, seed: 1)
            report("ULA vs Σ", s, wrong, acceptance: nil)
            XCTAssertGreaterThan(wrong.maxZ, 3 * Self.bound(tests: s.tests), "ULA D=\(s.dimension) must show its bias against Σ")
        }
    }

    /// HMC in a box reflects at its faces, which keeps it exact for the density restricted to the box:
    /// N(0.5, 1) on [−1, 1] (moments by quadrature), its chains started from N(0, 1) projected into the box.
    func testHMCReflectingInABoxIsExactForTheTruncatedDensity() throws {
        let g = GaussianEnergy(mean: [0.5], covariance: [1])
        // Simpson's rule for the truncated density's E[x − μ] and E[(x − μ)²].
        let k = 20_000, w = 2.0 / Double(k)
        var z = 0.0, m1 = 0.0, m2 = 0.0
        for i in 0...k {
            let x = -1 + Double(i) * w, c = i == 0 || i == k ? 1.0 : (i % 2 == 1 ? 4.0 : 2.0)
            let p = c * exp(-(x - 0.5) * (x - 0.5) / 2)
            z += p; m1 += p * (x - 0.5); m2 += p * (x - 0.5) * (x - 0.5)
        }
        var c = HMCSampler.Config()
        c.stepSize = 0.3; c.leapfrog = 5
        c.chains.conditional = false; c.chains.steps = 1; c.chains.bounds = .box(-1, 1)
        for seed: UInt64 in 1...3 {
            let h = try HMCSampler(model: g, config: c, rng: RNG(seed: seed))
            let e = try estimate(h, g, chains: 200, burnIn: 50, draws: 300, thin: 1, covariance: [m2 / z], offset: [m1 / z], seed: seed)
            var one = Self.low
            one.dimension = 1
            report("HMC in [−1, 1] seed \(seed)", one, e, acceptance: h.acceptance)
            XCTAssertLessThan(e.maxZ, Self.bound(tests: 2), "seed \(seed)")
        }
        // Without the box the same chains find the untruncated variance, far from the truncated one.
        c.chains.bounds = .unbounded
        let free = try estimate(try HMCSampler(model: g, config: c, rng: RNG(seed: 1)), g, chains: 200, burnIn: 50, draws: 300, thin: 1,
                                covariance: [m2 / z], offset: [m1 / z], seed: 1)
        XCTAssertGreaterThan(free.maxZ, 3 * Self.bound(tests: 2))
    }

    /// MALA's warm-up moves the step size toward the target acceptance from far off either side, then
    /// freezes it: later runs keep it, and their acceptance is near the target.
    func testMALAAdaptationReachesTheTargetThenStops() throws {
        let s = Self.high, g = gaussian(s, seed: 1)
        for start: Float in [2, 1e-3] {
            var c = MALASampler.Config(stepSize: start, adaptSteps: 400, chains: chains(s))
            c.targetAcceptance = 0.574
            let m = try MALASampler(model: g, config: c, rng: RNG(seed: 4))
            let x = Tensor(shape: [64, s.dimension])
            RNG(seed: 5).fillNormal(x)
            try m.run(x, labels: nil, steps: 400)
            XCTAssertEqual(m.adapted, 400)
            let h = m.stepSize
            try m.run(x, labels: nil, steps: 300)
            XCTAssertEqual(m.stepSize, h, "frozen after the warm-up")
            let a = m.acceptance!.reduce(0, +) / 64
            print(String(format: "MALA adapted from h %.3g to %.3g: acceptance %.3f", Double(start), h, a))
            // The tolerance bounds where Robbins–Monro has got to after 400 steps, not Monte Carlo error: the mean
            // acceptance of 64 chains × 300 steps is known to ±0.01, while the last gains (400^−0.6 ≈ 3 % of
            // log h per step) leave h a few percent off, the acceptance a few hundredths (measured 0.578 and 0.571).
            XCTAssertEqual(a, 0.574, accuracy: 0.08, "from h = \(start)")
        }
    }

    /// A MALA that leaves the reverse proposal density out of its acceptance ratio.
    final class ForwardOnlyMALA: MALASampler {
        override func reverseProposalLogDensity(squaredNorm: Double, stepSize h: Double) -> Double { 0 }
    }

    func testAWrongProposalDensityFailsTheMomentTest() throws {
        for s in [Self.low, Self.high] {
            let g = gaussian(s, seed: 1)
            var c = MALASampler.Config()
            c.stepSize = s.h; c.chains = chains(s)
            let wrong = try ForwardOnlyMALA(model: g, config: c, rng: RNG(seed: 1))
            let e = try estimate(wrong, g, chains: s.chains, burnIn: s.burnIn, draws: s.draws, thin: s.thin, seed: 1)
            report("MALA without the reverse density", s, e, acceptance: wrong.acceptance)
            XCTAssertGreaterThan(e.maxZ, Self.bound(tests: s.tests), "the moment test must catch a wrong proposal density (D=\(s.dimension))")
        }
    }
}
