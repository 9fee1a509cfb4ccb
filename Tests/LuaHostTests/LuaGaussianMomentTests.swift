import EBM
import Formats
import Foundation
import Tensor
import TestSupport
import XCTest

/// Exactness by moments with the energy written in Lua: the correlated Gaussians of
/// EBMTests/SamplerMomentTests (2 and 50 dimensions, the same settings) as a joule.ebm.Energy of tensor
/// arithmetic (a matmul by the precision), sampled by MALA and HMC from Lua, recover the mean and every
/// covariance entry within Monte Carlo error (MomentEstimate: the tolerance from the spread of
/// independent chains, Bonferroni over all moments). The Lua energy and gradient first equal
/// GaussianEnergy's closed form, so what is tested is the whole path a user's Lua energy takes.
final class LuaGaussianMomentTests: LuaTestCase {
    struct Setting {
        var dimension: Int, smallest: Double, largest: Double
        var h: Double, epsilon: Double, leapfrog: Int
        var chains: Int, burnIn: Int, draws: Int, thin: Int, hmcDraws: Int
        var tests: Int { dimension + dimension * (dimension + 1) / 2 }
    }

    // SamplerMomentTests.low and .high: MALA near its usual acceptance, HMC's εL below the stiffest
    // direction's half period.
    static let low = Setting(dimension: 2, smallest: 0.25, largest: 2, h: 0.12, epsilon: 0.15, leapfrog: 8,
                             chains: 200, burnIn: 300, draws: 300, thin: 5, hmcDraws: 150)
    static let high = Setting(dimension: 50, smallest: 0.5, largest: 2, h: 0.25, epsilon: 0.2, leapfrog: 8,
                              chains: 128, burnIn: 200, draws: 200, thin: 5, hmcDraws: 100)

    func literal(_ v: [Double]) -> String { "{" + v.map { String(format: "%.17g", $0) }.joined(separator: ", ") + "}" }

    /// The Gaussian as a Lua energy, `g`, with mean `mu` and precision `P`.
    func energy(_ g: GaussianEnergy) -> String {
        let d = g.dimension
        let rows = (0..<d).map { i in literal(Array(g.precisionMatrix[(i * d)..<((i + 1) * d)])) }
        return """
            local mu = joule.tensor\(literal(g.mean))
            local P = joule.tensor{\(rows.joined(separator: ",\n"))}
            local g = joule.ebm.Energy{ shape = {\(d)},
              energy_grad = function(x)
                local d = x - mu
                local dP = d:matmul(P)              -- P (x − mu) per row (P symmetric)
                return 0.5 * (dP * d):sum(2), dP
              end }

            """
    }

    func testTheLuaEnergyIsTheGaussian() throws {
        for s in [Self.low, Self.high] {
            let g = GaussianEnergy.correlated(dimension: s.dimension, smallest: s.smallest, largest: s.largest, seed: 101)
            let x = Tensor(shape: [7, s.dimension])
            RNG(seed: 3).fillNormal(x)
            try Npy.write([NpyArray(x)], to: directory.appendingPathComponent("x.npy").path)
            try lua(energy(g) + """
                local e, grad = g:energy_grad(joule.load_npy(DIR .. '/x.npy'))
                e:save_npy(DIR .. '/e.npy'); grad:save_npy(DIR .. '/g.npy')
                """)
            let e = try Npy.read(directory.appendingPathComponent("e.npy").path)[0].tensor()
            let grad = try Npy.read(directory.appendingPathComponent("g.npy").path)[0].tensor()
            let want = Tensor(shape: [7])
            let wantGrad = try g.energyGradient(x, labels: nil, energy: want)
            XCTAssertEqual(e.shape, [7]); XCTAssertEqual(grad.shape, [7, s.dimension])
            // Float32 arithmetic in a different order: agreement to a few ulps of the terms' size.
            for i in 0..<7 { XCTAssertEqual(e[i], want[i], accuracy: 2e-5 * max(1, abs(want[i])), "E(x\(i + 1)) D=\(s.dimension)") }
            for i in 0..<grad.count {
                XCTAssertEqual(grad[i], wantGrad[i], accuracy: 2e-5 * max(1, abs(wantGrad[i])), "∂E/∂x[\(i)] D=\(s.dimension)")
            }
        }
    }

    /// Runs `sampler` (a Lua constructor over `g`) from Lua: chains from N(0, I) (the same start as the
    /// Swift tests), `burnIn` steps, then `draws` states `thin` steps apart, kept by run{ keep_every }.
    func moments(_ s: Setting, _ g: GaussianEnergy, sampler: String, burnIn: Int, draws: Int, thin: Int, seed: UInt64)
        throws -> (MomentEstimate, acceptance: Double) {
        let x = Tensor(shape: [s.chains, s.dimension])
        RNG(seed: seed).fillNormal(x)
        try Npy.write([NpyArray(x)], to: directory.appendingPathComponent("start.npy").path)
        let r = try lua(energy(g) + """
            local s = \(sampler)
            local x = joule.load_npy(DIR .. '/start.npy')
            s:run(x, { steps = \(burnIn) })
            local frames = s:run(x, { steps = \(draws * thin), keep_every = \(thin) })
            frames:save_npy(DIR .. '/frames.npy')
            local a = 0
            for _, v in ipairs(s:acceptance()) do a = a + v end
            return a / #s:acceptance()
            """)
        let frames = try Npy.read(directory.appendingPathComponent("frames.npy").path)[0].tensor()
        // The start (after the burn-in), then every thin-th step.
        XCTAssertEqual(frames.shape, [draws + 1, s.chains, s.dimension])
        let kept = try frames.items(1..<(draws + 1))
        let e = MomentEstimate(frames: kept.data, draws: draws, chains: s.chains, mean: g.mean, covariance: g.covariance)
        return (e, number(r[0]))
    }

    func check(_ name: String, _ s: Setting, _ e: MomentEstimate, acceptance: Double, within range: ClosedRange<Double>) {
        let bound = MomentEstimate.bound(tests: s.tests)
        print(String(format: "moments (Lua energy): %@ D=%d  max|z| %.2f (bound %.2f)  bias %.4f  error %.4f  ESS %.0f  acceptance %.3f",
                     name, s.dimension, e.maxZ, bound, e.bias, e.error, e.ess, acceptance))
        XCTAssertLessThan(e.maxZ, bound, "\(name) D=\(s.dimension)")
        XCTAssertTrue(range.contains(acceptance), "\(name)'s acceptance \(acceptance) at D=\(s.dimension)")
    }

    func testMALAAndHMCRecoverTheMomentsOfALuaGaussian() throws {
        for s in [Self.low, Self.high] {
            for seed: UInt64 in 1...3 {
                let g = GaussianEnergy.correlated(dimension: s.dimension, smallest: s.smallest, largest: s.largest, seed: 100 + seed)
                let (m, ma) = try moments(s, g, sampler: "joule.ebm.MALA{ model = g, step_size = \(s.h), steps = 1, conditional = false, seed = \(seed) }",
                                          burnIn: s.burnIn, draws: s.draws, thin: s.thin, seed: seed)
                check("MALA seed \(seed)", s, m, acceptance: ma, within: 0.3...0.99)
                let (h, ha) = try moments(s, g, sampler: """
                    joule.ebm.HMC{ model = g, step_size = \(s.epsilon), leapfrog = \(s.leapfrog), steps = 1, conditional = false, seed = \(seed) }
                    """, burnIn: s.burnIn / 4, draws: s.hmcDraws, thin: 1, seed: seed)
                check("HMC seed \(seed)", s, h, acceptance: ha, within: 0.5...1)
            }
        }
    }
}
