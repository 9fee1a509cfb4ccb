import EBM
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// joule.ebm.Energy: energies written in Lua, used as models.
final class EnergyBindingTests: LuaTestCase {
    /// A Gaussian N(mu, P⁻¹) with a non-diagonal precision P, written with tensor arithmetic.
    func gaussian(mu: [Double], precision p: [[Double]], scale: Double = 1) -> String {
        """
        local mu = joule.tensor{\(mu.map { "\($0)" }.joined(separator: ", "))}
        local P = joule.tensor{\(p.map { "{" + $0.map { "\($0)" }.joined(separator: ", ") + "}" }.joined(separator: ", "))} * \(scale)
        local g = joule.ebm.Energy{ shape = {\(mu.count)},
          energy = function(x) local d = x - mu; return 0.5 * (d:matmul(P) * d):sum(2) end,
          energy_grad = function(x) local d = x - mu; local dP = d:matmul(P); return 0.5 * (dP * d):sum(2), dP end }

        """
    }

    let mu = [0.3, -0.2, 0.1]
    let p = [[2.0, 0.6, -0.3], [0.6, 1.0, 0.2], [-0.3, 0.2, 1.5]]

    func testGaussianEnergyAndGradientEqualTheClosedForm() throws {
        let x: [[Double]] = [[0.1, 0.2, -0.5], [-1.0, 0.7, 0.25], [0.3, -0.2, 0.1], [2.0, -3.0, 0.5]]
        let r = try lua(gaussian(mu: mu, precision: p) + """
            local x = joule.tensor{\(x.map { "{" + $0.map { "\($0)" }.joined(separator: ", ") + "}" }.joined(separator: ", "))}
            local e, grad = g:energy_grad(x)
            local e2 = g:energy(x)
            local px = joule.ood.scores(g, x, 'px')
            local logits = g:logits(x)
            return table.concat(e:totable(), ','), table.concat(grad:reshape(-1):totable(), ','), table.concat(e2:totable(), ','),
                   table.concat(px, ','), table.concat(logits:shape(), 'x'), g:classes(), tostring(g)
            """)
        let energies = r[0].split(separator: ",").map { Double($0)! }
        let grads = r[1].split(separator: ",").map { Double($0)! }
        for (i, xi) in x.enumerated() {
            let d = zip(xi, mu).map { $0 - $1 }
            let pd = p.map { row in zip(row, d).reduce(0) { $0 + $1.0 * $1.1 } }
            let e = 0.5 * zip(d, pd).reduce(0) { $0 + $1.0 * $1.1 }
            XCTAssertEqual(energies[i], e, accuracy: 1e-6 * max(1, abs(e)), "E(x\(i + 1))")
            for j in 0..<3 { XCTAssertEqual(grads[i * 3 + j], pd[j], accuracy: 1e-6 * max(1, abs(pd[j])), "∂E/∂x\(i + 1)[\(j + 1)]") }
        }
        XCTAssertEqual(r[2].split(separator: ",").map { Double($0)! }, energies, "energy and energy_grad agree")
        XCTAssertEqual(r[3].split(separator: ",").map { Double($0)! }, energies.map { -$0 }, "px = −E")
        XCTAssertEqual(r[4], "4x1")
        XCTAssertEqual(r[5], "1")
        XCTAssertEqual(r[6], "Energy(shape {3})")
    }

    /// SGLD as a proper Langevin sampler (σ² = 2η, no clipping) on a narrow Gaussian inside
    /// [−1, 1]³: after many relaxation times the chains' mean is the Gaussian's mean within five
    /// standard errors (sd/√N per coordinate; unadjusted Langevin leaves a Gaussian's mean unbiased).
    func testSGLDSamplesTheLuaGaussian() throws {
        let scale = 50.0, n = 400
        let r = try lua(gaussian(mu: mu, precision: p, scale: scale) + """
            local eta = 1e-3
            local s = joule.ebm.SGLD{ model = g, steps = 600, step_size = eta, noise = math.sqrt(2 * eta), grad_clip = 1e9,
                                      conditional = false, seed = 3 }
            local x, frames = s:sample{ n = \(n), keep_every = 100 }
            return table.concat(x:mean(1):totable(), ','), table.concat(x:shape(), 'x'), table.concat(frames:shape(), 'x')
            """)
        XCTAssertEqual(r[1], "\(n)x3")
        XCTAssertEqual(r[2], "7x\(n)x3", "the start and every 100th step")
        let mean = r[0].split(separator: ",").map { Double($0)! }
        // Σ = P⁻¹ / scale; its diagonal by cofactors.
        let det = p[0][0] * (p[1][1] * p[2][2] - p[1][2] * p[2][1]) - p[0][1] * (p[1][0] * p[2][2] - p[1][2] * p[2][0])
            + p[0][2] * (p[1][0] * p[2][1] - p[1][1] * p[2][0])
        let cof = [p[1][1] * p[2][2] - p[1][2] * p[2][1], p[0][0] * p[2][2] - p[0][2] * p[2][0], p[0][0] * p[1][1] - p[0][1] * p[1][0]]
        for j in 0..<3 {
            let sd = (cof[j] / det / scale).squareRoot()
            XCTAssertEqual(mean[j], mu[j], accuracy: 5 * sd / Double(n).squareRoot(), "mean of coordinate \(j + 1)")
        }
    }

    func testBadReturnsAreClearErrorsWithTheLines() {
        let setup = "local x = joule.tensor.randn(4, 2)\n"
        func energy(_ body: String) -> String { "local g = joule.ebm.Energy{ shape = {2}, energy_grad = function(x) \(body) end }\n" }
        var m = luaError(setup + energy("return (x * x):sum(2), x:sum(2)") + "local e, d = g:energy_grad(x)")
        XCTAssertTrue(m.hasPrefix("snippet.lua:3: joule.ebm.Energy (made at snippet.lua:2): energy_grad returned gradients of shape [4]; they must have the shape of x, [4, 2]"), m)
        m = luaError(setup + energy("return (x * 0 / 0):sum(2), x") + "\nlocal s = joule.ebm.SGLD{ model = g, conditional = false }\ns:sample{ n = 4 }")
        XCTAssertTrue(m.hasPrefix("snippet.lua:5: joule.ebm.Energy (made at snippet.lua:2): energy_grad returned energy nan for input 1 of 4"), m)
        m = luaError(setup + energy("return 5, x") + "g:energy(x)")
        XCTAssertTrue(m.contains("energy_grad must return a Tensor of 4 energies, got 5"), m)
        m = luaError(setup + energy("return (x * x):sum(2, true), x") + "g:energy(x)")
        XCTAssertTrue(m.contains("energies of shape [4, 1]; a batch of 4 needs shape [4]"), m)
        m = luaError(setup + energy("return (x * x):sum(2)") + "g:energy_grad(x)")
        XCTAssertTrue(m.contains("must return energies and gradients (two Tensors), got nil"), m)
        m = luaError(setup + energy("return (x * x):sum(2), x * (0 / 0)") + "g:energy_grad(x)")
        XCTAssertTrue(m.contains("energy_grad returned gradient nan for input 1 of 4"), m)
        m = luaError(setup + energy("return (x * x):sum(2), x") + "g:energy(joule.tensor.zeros(3, 3))")
        XCTAssertTrue(m.hasPrefix("snippet.lua:3: joule.ebm.Energy (made at snippet.lua:2) takes a batch of shape (N, 2), got [3, 3]"), m)
    }

    /// The same bad returns through MALA, HMC and annealed Langevin: one message with the line of the
    /// call that ran the sampler and the line that made the energy, also when the energy goes bad only
    /// away from the start (a NaN on the way, where |x| grows past 3).
    func testBadReturnsThroughEverySamplerAreClearErrorsWithTheLines() {
        func energy(_ body: String) -> String { "local g = joule.ebm.Energy{ shape = {2}, energy_grad = function(x) \(body) end }\n" }
        for make in ["joule.ebm.MALA{ model = g, conditional = false, step_size = 0.5, steps = 50, seed = 1 }",
                     "joule.ebm.HMC{ model = g, conditional = false, step_size = 0.5, leapfrog = 3, steps = 50, seed = 1 }",
                     "joule.ebm.AnnealedLangevin{ model = g, conditional = false, step_size = 0.5, steps = 50, seed = 1 }"] {
            let name = String(make.dropFirst("joule.ebm.".count).prefix { $0 != "{" })
            let run = "local s = \(make)\ns:sample{ n = 4 }"
            var m = luaError("\n" + energy("return (x * 0 / 0):sum(2), x") + run)
            XCTAssertTrue(m.hasPrefix("snippet.lua:4: joule.ebm.Energy (made at snippet.lua:2): energy_grad returned energy nan for input 1 of 4"),
                          "\(name): \(m)")
            m = luaError("\n" + energy("return (x * x):sum(2), x:sum(2)") + run)
            XCTAssertTrue(m.hasPrefix("snippet.lua:4: joule.ebm.Energy (made at snippet.lua:2): energy_grad returned gradients of shape [4]; they must have the shape of x, [4, 2]"),
                          "\(name): \(m)")
            // Finite at the start, NaN for chain 3 from the fifth evaluation on (a proposal, in MALA and HMC).
            m = luaError("local calls = 0\n" + energy("calls = calls + 1; local e = (x * x):sum(2); if calls >= 5 then e:set(3, 0 / 0) end; return e, 2 * x")
                         + run)
            XCTAssertTrue(m.hasPrefix("snippet.lua:4: joule.ebm.Energy (made at snippet.lua:2): energy_grad returned energy nan for input 3 of 4"),
                          "\(name): \(m)")
        }
    }

    func testALuaErrorInsideTheEnergyKeepsItsMessageAndLine() {
        let m = luaError("""
            local g = joule.ebm.Energy{ shape = {2},
              energy_grad = function(x)
                local y = nil
                return y.field, x
              end }
            local s = joule.ebm.SGLD{ model = g, conditional = false }
            s:sample{ n = 2 }
            """)
        XCTAssertTrue(m.hasPrefix("snippet.lua:4: attempt to index a nil value (local 'y') (in the energy_grad of joule.ebm.Energy (made at snippet.lua:1))"), m)
    }

    func testAnEnergyWithoutGradientSaysWhatIsMissing() throws {
        let code = "local g = joule.ebm.Energy{ shape = {2}, energy = function(x) return (x * x):sum(2) end }\n"
        // Energies alone serve energies and px scores...
        XCTAssertEqual(try lua(code + "return g:energy(joule.tensor{{1, 2}}):item(), joule.ood.scores(g, joule.tensor{{1, 2}}, 'px')[1]"), ["5.0", "-5.0"])
        // ...but a sampler needs ∂E/∂x, which Joule does not derive from Lua.
        let m = luaError(code + "local s = joule.ebm.SGLD{ model = g, conditional = false }\ns:sample{ n = 2 }")
        XCTAssertTrue(m.hasPrefix("snippet.lua:3: joule.ebm.Energy (made at snippet.lua:1) has no energy_grad, and this needs ∂E/∂x: Joule derives no gradient from a Lua energy"), m)
        XCTAssertTrue(luaError(code + "joule.ood.scores(g, joule.tensor{{1, 2}}, 'mass')").contains("has no energy_grad"))
    }

    /// What Lua gets from energy_grad is its own: a later call does not change it, and a sampler
    /// never writes into a tensor the script returns every call.
    func testGradientsAreNotShared() throws {
        let r = try lua("""
            local G = joule.tensor{{1, 2}}
            local g = joule.ebm.Energy{ shape = {2}, energy_grad = function(x) return x:sum(2), G end }
            local _, first = g:energy_grad(joule.tensor{{0, 0}})
            local s = joule.ebm.SGLD{ model = g, steps = 3, conditional = false }
            s:sample{ n = 1 }
            local _, second = g:energy_grad(joule.tensor{{5, 5}})
            second:fill(9)
            local _, third = g:energy_grad(joule.tensor{{1, 1}})
            return table.concat(first:reshape(-1):totable(), ','), table.concat(G:reshape(-1):totable(), ','), third:get(1, 2)
            """)
        XCTAssertEqual(r, ["1.0,2.0", "1.0,2.0", "2.0"])
    }

    func testBadOptions() {
        XCTAssertTrue(luaError("joule.ebm.Energy{ energy = function(x) end }").contains("field 'shape': {D} or {C, H, W} expected, got nil"))
        XCTAssertTrue(luaError("joule.ebm.Energy{ shape = {2, 3}, energy = function(x) end }").contains("got 2 numbers"))
        XCTAssertTrue(luaError("joule.ebm.Energy{ shape = {2}, energy = 3 }").contains("field 'energy': function expected, got 3"))
        XCTAssertTrue(luaError("joule.ebm.Energy{ shape = {2} }").contains("give 'energy'"))
        XCTAssertTrue(luaError("joule.ebm.Energy{ shape = {2}, energy_gard = function(x) end }").contains("energy_grad"))
        XCTAssertTrue(luaError("joule.ebm.Energy{ shape = {0}, energy = function(x) end }").contains("field 'shape'"))
        XCTAssertTrue(luaError("joule.ebm.SGLD{ model = 3 }").contains("field 'model': Model or Energy expected, got 3"))
        XCTAssertTrue(luaError("joule.ood.scores({}, joule.tensor.zeros(1, 2), 'px')").contains("Model or Energy expected"))
    }

    /// Labels make no sense for an energy of x alone: 0 is its one class, anything else is an error.
    func testLabelsOfAPlainEnergy() throws {
        let m = luaError(gaussian(mu: mu, precision: p) + "local s = joule.ebm.SGLD{ model = g }\ns:sample{ n = 2, labels = {1, 0} }")
        XCTAssertTrue(m.contains("labels must lie in 0..<1"), m)
    }

    /// A network's energy at a temperature T with a Gaussian prior, as the README writes it: the
    /// Lua energy calls back into the network (Lua → Swift → Lua → Swift), and its gradient is the
    /// network's / T plus x; ∂E/∂x also agrees with central differences of the energy.
    func testANetworksEnergyWithTemperatureAndPrior() throws {
        let r = try lua("""
            local nn = joule.nn
            local net = nn.Sequential{ nn.Linear(3, 8), nn.SiLU(), nn.Linear(8, 4), input_shape = {3} }
            local T = 2.5
            local g = joule.ebm.Energy{ shape = {3},
              energy = function(x) return net:energy(x) / T + 0.5 * (x * x):sum(2) end,
              energy_grad = function(x)
                local e, d = net:energy_grad(x)
                return e / T + 0.5 * (x * x):sum(2), d / T + x
              end }
            local x = joule.tensor{{0.2, -0.4, 0.9}, {-1.1, 0.3, 0.05}}
            local e, grad = g:energy_grad(x)
            local ne, nd = net:energy_grad(x)
            local worst, fd = 0, 0
            local h = 1e-2
            for i = 1, 2 do for j = 1, 3 do
              local xp, xm = x:copy(), x:copy()
              xp:set(i, j, x:get(i, j) + h); xm:set(i, j, x:get(i, j) - h)
              local numeric = (g:energy(xp):get(i) - g:energy(xm):get(i)) / (2 * h)
              fd = math.max(fd, math.abs(numeric - grad:get(i, j)))
              worst = math.max(worst, math.abs(grad:get(i, j) - (nd:get(i, j) / T + x:get(i, j))))
            end end
            local prior = 0.5 * (x * x):sum(2)
            return (e - (ne / T + prior)):abs():max(), worst, fd, (g:energy(x) - e):abs():max()
            """)
        XCTAssertEqual(number(r[0]), 0, accuracy: 1e-6)
        XCTAssertEqual(number(r[1]), 0, accuracy: 1e-6)
        // Central differences in float32 with h = 0.01: truncation of order h² times the third
        // derivative, rounding of order ε·|E|/h ≈ 1e-5 for energies of order 1.
        XCTAssertEqual(number(r[2]), 0, accuracy: 2e-3)
        XCTAssertEqual(number(r[3]), 0, accuracy: 1e-6)
    }
}
