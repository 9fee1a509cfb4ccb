import Foundation
import LuaHost
import TestSupport
import XCTest

/// model:hvp and joule.ebm.objectives from Lua: the second-order references of mlp2d and cnn1
/// (Tests/Fixtures/second_order), gradients accumulating across calls, and bad options.
final class ObjectivesLuaTests: LuaTestCase {
    private func setup(_ name: String) -> String {
        """
        local nn = joule.nn
        local F = '\(Fixtures.path("second_order/\(name)"))'
        local function npy(f) return (joule.load_npy(F .. '/' .. f)) end
        local function rel(a, b) return (a - b):abs():max() / b:abs():max() end
        local m = \(ComposedModelLuaTests.compositions[name]!)
        m:load('\(Fixtures.path("composed/\(name)/weights.safetensors"))')
        local x, v, noise = npy('x.npy'), npy('v.npy'), npy('noise.npy')
        """
    }

    func testReferencesFromLua() throws {
        for name in ["mlp2d", "cnn1"] {
            let r = try lua(setup(name) + """
                local hvp = rel(m:hvp(x, v), npy('hvp_x.npy'))
                m:zero_grad()
                local gp = joule.ebm.objectives.gradient_penalty(m, x)
                local dsm = joule.ebm.objectives.dsm(m, x, { sigma = 0.1, noise = noise })
                return hvp, math.abs(gp / npy('gp.npy')[1] - 1), math.abs(dsm / npy('dsm.npy')[1] - 1)
                """)
            XCTAssertLessThanOrEqual(number(r[0]), 1e-4, "\(name): hvp")
            XCTAssertLessThanOrEqual(number(r[1]), 1e-5, "\(name): gradient penalty")
            XCTAssertLessThanOrEqual(number(r[2]), 1e-5, "\(name): dsm")
        }
    }

    /// Each call adds its gradient to those already there: two calls give twice one call's.
    func testGradientsAccumulate() throws {
        let r = try lua(setup("mlp2d") + """
            local function first() local g = m:grads(); return g['0.weight']:copy() end
            for _, f in ipairs{ function() return joule.ebm.objectives.gradient_penalty(m, x, { weight = 0.5 }) end,
                                function() return joule.ebm.objectives.dsm(m, x, { sigma = {0.1, 0.3}, noise = noise }) end,
                                function() return joule.ebm.objectives.ml(m, x, { sampled = noise, lambda = 0 }) end } do
              m:zero_grad(); f(); local once = first()
              f(); local twice = first()
              if rel(twice, once * 2) > 1e-6 then return 'not accumulated' end
            end
            return 'ok'
            """)
        XCTAssertEqual(r, ["ok"])
    }

    /// NCE and SSM from Lua: a loss and, for NCE, the gradient to c, which moves as the loss does.
    func testNCEAndSSM() throws {
        let r = try lua(setup("mlp2d") + """
            local eps = joule.tensor.randn(32, 2)
            local l0, dc = joule.ebm.objectives.nce(m, x, { data = x, ratio = 2, noise = eps, log_z = 0 })
            local l1 = joule.ebm.objectives.nce(m, x, { data = x, ratio = 2, noise = eps, log_z = 0.01 })
            local s = joule.ebm.objectives.ssm(m, x, { eps = 0.1, projections = 2, seed = 1 })
            return math.abs((l1 - l0) / 0.01 - dc) / math.abs(dc), s
            """)
        XCTAssertLessThanOrEqual(number(r[0]), 2e-2)
        XCTAssertTrue(number(r[1]).isFinite)
    }

    func testBadOptions() throws {
        let m = setup("mlp2d")
        for (code, fragment) in [
            ("joule.ebm.objectives.dsm(m, x, { sigma = 0 })", "sigma must be a finite number > 0, got 0"),
            ("joule.ebm.objectives.dsm(m, x, { sigma = -0.1 })", "sigma must be a finite number > 0"),
            ("joule.ebm.objectives.dsm(m, x, { sigma = 0/0 })", "sigma must be a finite number > 0, got nan"),
            ("joule.ebm.objectives.dsm(m, x, { sigma = { 0.1, math.huge } })", "got inf"),
            ("joule.ebm.objectives.dsm(m, x, { sigma = {} })", "give 1 to 64 noise levels"),
            ("joule.ebm.objectives.dsm(m, x, { sigma = 'a' })", "field 'sigma': number or list of numbers expected"),
            ("joule.ebm.objectives.dsm(m, x, { noise = joule.tensor.zeros(3, 2) })", "noise has shape"),
            ("joule.ebm.objectives.dsm(m, x, { sigmas = 0.1 })", "unknown option 'sigmas'"),
            ("joule.ebm.objectives.gradient_penalty(m, x, { weight = 0/0 })", "weight must be a finite number"),
            ("joule.ebm.objectives.gradient_penalty(m, x, { weight = -1 })", "weight must be a finite number ≥ 0"),
            ("joule.ebm.objectives.ml(m, x, { sampled = x, alpha = math.huge })", "alpha must be a finite number"),
            ("joule.ebm.objectives.ml(m, x, { sampled = x })", "labels"),
            ("m:hvp(x, joule.tensor.zeros(3, 2))", "direction v has shape"),
            ("joule.ebm.objectives.ssm(m, x, { eps = -1 })", "eps must be a finite number > 0"),
            ("joule.ebm.objectives.ssm(m, x, { projections = 0 })", "projections"),
            ("joule.ebm.objectives.nce(m, x, {})", "give 'data' (to fit it to) or 'mean' and 'std'"),
            ("joule.ebm.objectives.nce(m, x, { mean = joule.tensor.zeros(2), std = joule.tensor.zeros(2) })", "std must be finite and > 0"),
            ("joule.ebm.objectives.nce(m, x, { data = x, log_z = 0/0 })", "log_z must be a finite number"),
        ] {
            let message = luaError(m + code)
            XCTAssertTrue(message.contains(fragment), "\(code): \(message)")
        }
    }
}
