import EBM
import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// joule.ebm.diagnostics: the numbers are EBM's Diagnostics (held to ArviZ in EBMTests); here,
/// that Lua gets them for the frames a sampler keeps, with the energies of a model.
final class DiagnosticsBindingTests: LuaTestCase {
    let setup = """
        local P = joule.tensor{{40, 12}, {12, 20}}
        local g = joule.ebm.Energy{ shape = {2}, energy_grad = function(x) local d = x:matmul(P); return 0.5 * (d * x):sum(2), d end }
        local eta = 2e-3
        local s = joule.ebm.SGLD{ model = g, steps = 200, step_size = eta, noise = math.sqrt(2 * eta), grad_clip = 1e9, conditional = false, seed = 5 }
        local x, frames = s:sample{ n = 4, keep_every = 5 }

        """

    func testDiagnosticsOfKeptChainsAndTheirEnergies() throws {
        let r = try lua(setup + """
            frames:save_npy(DIR .. '/frames.npy')
            local d = joule.ebm.diagnostics(frames, { model = g, warmup = 2 })
            d.energy.trace:save_npy(DIR .. '/trace.npy')
            local function exact(v) return string.format('%.17g', v) end
            return #d.ess, #d.rhat, exact(d.ess[1]), exact(d.ess[2]), exact(d.rhat[1]), exact(d.rhat[2]), d.draws, d.chains,
                   exact(d.energy.ess), exact(d.energy.rhat),
                   table.concat(d.energy.trace:shape(), 'x'), joule.ebm.diagnostics(frames).energy == nil
            """)
        XCTAssertEqual(Array(r[0...1]), ["2", "2"])
        let frames = try Npy.read(directory.appendingPathComponent("frames.npy").path)[0].tensor()
        XCTAssertEqual(frames.shape, [41, 4, 2])
        let kept = try frames.items(2..<41)
        let s = try Diagnostics.summary(frames: kept)
        XCTAssertEqual(number(r[2]), s.ess[0])
        XCTAssertEqual(number(r[3]), s.ess[1])
        XCTAssertEqual(number(r[4]), s.rhat[0])
        XCTAssertEqual(number(r[5]), s.rhat[1])
        XCTAssertEqual(Array(r[6...7]), ["39", "4"])
        // The energies are the model's of each kept frame: ½ xᵀPx.
        let trace = try Npy.read(directory.appendingPathComponent("trace.npy").path)[0].tensor()
        XCTAssertEqual(r[10], "39x4")
        let (a, b) = (Double(kept[(7 * 4 + 3) * 2]), Double(kept[(7 * 4 + 3) * 2 + 1]))
        XCTAssertEqual(Double(trace[7 * 4 + 3]), 0.5 * (40 * a * a + 24 * a * b + 20 * b * b), accuracy: 1e-5)
        let e = try Diagnostics.summary(frames: trace)
        XCTAssertEqual(number(r[8]), e.ess[0])
        XCTAssertEqual(number(r[9]), e.rhat[0])
        XCTAssertEqual(r[11], "true", "no model, no energies")
    }

    /// The summaries the scripts print: the smallest and the median ESS over coordinates, and the
    /// largest R-hat of the coordinates that move (a third, constant coordinate has R-hat NaN and is left out).
    func testSummariesOverCoordinates() throws {
        let r = try lua(setup + """
            local three = joule.tensor.cat{ frames:reshape(41 * 4, 2):transpose(), joule.tensor.ones(1, 41 * 4) }:transpose():reshape(41, 4, 3)
            local d = joule.ebm.diagnostics(three, { warmup = 1 })
            local function exact(v) return string.format('%.17g', v) end
            return exact(d.ess[1]), exact(d.ess[2]), exact(d.ess[3]), exact(d.rhat[1]), exact(d.rhat[2]), tostring(d.rhat[3]),
                   exact(d.ess_min), exact(d.ess_median), exact(d.rhat_max)
            """)
        let v = r.map { Double($0) ?? .nan }
        XCTAssertTrue(v[5].isNaN, "a constant coordinate: \(r[5])")
        XCTAssertEqual(v[2], 40 * 4, "a constant coordinate's ESS is draws × chains (an even number of draws: split chains drop none)")
        XCTAssertEqual(v[6], min(v[0], v[1]))
        XCTAssertEqual(v[7], [v[0], v[1], v[2]].sorted()[1])
        XCTAssertEqual(v[8], max(v[3], v[4]))
    }

    func testBadFramesAreClearErrorsWithTheLine() {
        var m = luaError(setup + "joule.ebm.diagnostics(frames:slice(1, 3))")
        XCTAssertTrue(m.hasPrefix("snippet.lua:6: diagnostics: need at least 4 draws per chain, got 3"), m)
        m = luaError(setup + "joule.ebm.diagnostics(frames:reshape(41, 8, 1):transpose(2, 3))")
        XCTAssertTrue(m.hasPrefix("snippet.lua:6: diagnostics: R-hat compares chains and needs at least 2, got 1"), m)
        m = luaError(setup + "frames:set(5, 2, 1, 0 / 0)\njoule.ebm.diagnostics(frames)")
        XCTAssertTrue(m.hasPrefix("snippet.lua:7: diagnostics: frame 5, chain 2, coordinate 1 is nan"), m)
        XCTAssertTrue(luaError(setup + "joule.ebm.diagnostics(frames, { warmup = 41 })").contains("leaves none"))
        XCTAssertTrue(luaError(setup + "joule.ebm.diagnostics(frames, { labels = {0, 0, 0, 0} })").contains("field 'labels' needs a 'model'"))
        XCTAssertTrue(luaError(setup + "joule.ebm.diagnostics(frames, { model = g, labels = {0, 0} })").contains("2 labels for 4 chains"))
        XCTAssertTrue(luaError(setup + "joule.ebm.diagnostics(frames, { modle = g })").contains("did you mean 'model'"))
    }
}
