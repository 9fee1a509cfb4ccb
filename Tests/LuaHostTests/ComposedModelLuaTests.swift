import EBM
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// Networks composed in Lua from joule.nn modules: the PyTorch reference models, the ShallowCNN
/// written out in Lua against the preset, and such a model in every place a model goes.
final class ComposedModelLuaTests: LuaTestCase {
    static let models = TrainingTests.scripts.appendingPathComponent("models").path

    /// The reference networks (shared/reference/composed/models.json), composed in Lua.
    static let compositions = [
        "cnn3": """
            nn.Sequential{
              nn.Conv2d(3, 16, 3, { padding = 1 }), nn.LeakyReLU(0.2),
              nn.Residual(nn.Sequential{ nn.Conv2d(16, 16, 3, { padding = 1 }), nn.SiLU(), nn.Conv2d(16, 16, 3, { padding = 1 }) }),
              nn.Conv2d(16, 32, 4, { stride = 2, padding = 1 }), nn.SiLU(), nn.AvgPool2d(2),
              nn.Conv2d(32, 48, 3, { padding = 1, bias = false }), nn.ELU(1), nn.MaxPool2d(2),
              nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(48, 10) }
            """,
        "cnn1": """
            nn.Sequential{
              nn.Conv2d(1, 8, 7, { stride = 3, padding = 2 }), nn.Tanh(), nn.Conv2d(8, 24, 2), nn.ReLU(),
              nn.Conv2d(24, 24, 3, { stride = 2, padding = 3 }), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
              nn.Linear(24, 32), nn.SiLU(), nn.Linear(32, 7) }
            """,
        "mlp2d": "nn.Sequential{ nn.Linear(2, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(), nn.Linear(64, 1) }",
    ]

    func testReferenceModelsComposedInLuaMatchPyTorch() throws {
        for name in ComposedReference.models {
            let folder = Fixtures.path("composed/\(name)")
            // In Lua: logits, energies with their input gradients and one SGLD step, relative to
            // the largest reference magnitude; then the weights saved with the architecture.
            let r = try lua("""
                local nn = joule.nn
                local F = '\(folder)'
                local function npy(f) return (joule.load_npy(F .. '/' .. f)) end
                local function rel(a, b) return (a - b):abs():max() / b:abs():max() end
                local m = \(Self.compositions[name]!)
                m:load(F .. '/weights.safetensors')
                local x, y = npy('x.npy'), npy('y.npy')
                local eu, gu = m:energy_grad(x)
                local ec, gc = m:energy_grad(x, y)
                local shape = x:shape(); table.remove(shape, 1)
                local s = joule.ebm.SGLD{ model = m, shape = shape, conditional = false, precision = 'fp32' }  -- PyTorch's arithmetic
                local chain = npy('sgld_x0.npy')
                s:step(chain, npy('sgld_eps.npy'), { step_size = 10 })
                m:save(DIR .. '/\(name).safetensors')
                return rel(m:logits(x), npy('logits.npy')), rel(m:energy(x), npy('energy_uncond.npy')), rel(eu, npy('energy_uncond.npy')),
                       rel(gu, npy('grad_x_uncond.npy')), rel(ec, npy('energy_cond.npy')), rel(gc, npy('grad_x_cond.npy')),
                       (chain - npy('sgld_x1.npy')):abs():max()
                """)
            let tolerances: [Double] = [1e-5, 1e-5, 1e-5, 1e-4, 1e-5, 1e-4, 1e-4]
            let what = ["logits", "E(x)", "E(x) with gradient", "dE(x)/dx", "E(x, y)", "dE(x, y)/dx", "SGLD step (absolute)"]
            for (k, tol) in tolerances.enumerated() {
                XCTAssertLessThanOrEqual(number(r[k]), tol, "\(name): \(what[k])")
            }
            // The same architecture rebuilt from the file: JEM terms, every weight gradient, SGLD.
            let net = try EnergyNets.load(from: directory.appendingPathComponent("\(name).safetensors").path)
            try ComposedReference.check(name, net)
        }
    }

    /// scripts/models/shallow_cnn.lua is the preset, to the last bit, on the same weights.
    func testShallowCNNWrittenInLuaIsThePreset() throws {
        let r = try lua("""
            local a = joule.nn.from_file('\(Self.models)/shallow_cnn.lua', { hidden = 32, classes = 42 })
            local b = joule.nn.ShallowCNN{}
            local w = '\(Fixtures.path("shallowcnn_h32_c42.safetensors"))'
            a:load(w); b:load(w)
            local x = (joule.load_npy('\(Fixtures.path("x.npy"))'))
            local y = { 1, 2, 3, 4 }
            local ea, ga = a:energy_grad(x)
            local eb, gb = b:energy_grad(x)
            local eya, gya = a:energy_grad(x, y)
            local eyb, gyb = b:energy_grad(x, y)
            local names = {}
            for k in pairs(a:parameters()) do names[#names + 1] = k end
            for k in pairs(b:parameters()) do assert(a:parameters()[k], k) end
            local x32 = joule.tensor.rand(32, 1, 56, 56) * 2 - 1     -- split over the cores
            local _, g32a = a:energy_grad(x32)
            local _, g32b = b:energy_grad(x32)
            local function same(p, q) return (p - q):abs():max() == 0 end
            return same(a:logits(x), b:logits(x)), same(ea, eb), same(ga, gb), same(eya, eyb), same(gya, gyb), same(g32a, g32b),
                   #names, a:num_parameters() == b:num_parameters(), tostring(a:input_shape()[2])
            """)
        XCTAssertEqual(r, ["true", "true", "true", "true", "true", "true", "12", "true", "56"])
    }

    func testAComposedModelGoesWhereverAModelGoes() throws {
        let r = try lua("""
            local nn = joule.nn
            joule.seed(4)
            -- A plain EBM of points: SGLD takes the model's own input shape.
            local mlp = joule.nn.from_file('\(Self.models)/mlp2d.lua', { hidden = 16 })
            local s = joule.ebm.SGLD{ model = mlp, steps = 5, conditional = false }
            local pts = s:sample{ n = 8 }
            -- A JEM of 3-channel images with a residual block; OOD scores, Adam, clipping.
            local net = joule.nn.from_file('\(Self.models)/residual_ebm.lua', { hidden = 4, classes = 3, channels = 3 })
            local sampler = joule.ebm.SGLD{ model = net, steps = 3, shape = { 3, 12, 12 }, buffer_per_class = 4 }
            local jem = joule.ebm.JEM{ model = net, sampler = sampler, lr = 1e-3 }
            local x = joule.tensor.rand(8, 3, 12, 12) * 2 - 1
            local stats = jem:fit_epoch({ images = x, labels = { 0, 1, 2, 0, 1, 2, 0, 1 } }, { batch_size = 4, progress = false })
            local mass = joule.ood.scores(net, x, 'mass')
            local adam = joule.optim.Adam{ model = net, lr = 1e-3 }
            net:zero_grad()
            local lg = net:logits(x)
            local _, dl = joule.nn.cross_entropy(lg, { 0, 1, 2, 0, 1, 2, 0, 1 })
            net:backward(x, dl)
            local norm = joule.optim.clip_grad_norm(net, 1)
            adam:step()
            return table.concat(pts:shape(), 'x'), stats.batches, #mass, norm > 0, tostring(net):match('^Sequential') ~= nil,
                   net:classes(), mlp:classes(), table.concat(mlp:input_shape(), ','), #net:predict(x)
            """)
        XCTAssertEqual(r, ["8x2", "2", "8", "true", "true", "3", "1", "2", "8"])
    }

    func testComposedCheckpointResumesExactly() throws {
        func run(_ split: Int?) throws -> String {
            try lua("""
                joule.seed(3)
                local function trainer()
                  local m = joule.nn.from_file('\(Self.models)/residual_ebm.lua', { hidden = 3, classes = 3 })
                  local s = joule.ebm.SGLD{ model = m, steps = 3, shape = { 1, 12, 12 }, buffer_per_class = 8, fresh_fraction = 0.3 }
                  return joule.ebm.JEM{ model = m, sampler = s, lr = 1e-3, lr_step = 1, lr_gamma = 0.5 }
                end
                local x = joule.tensor.rand(24, 1, 12, 12) * 2 - 1
                local y = {}
                for i = 1, 24 do y[i] = (i - 1) % 3 end
                local jem, losses = trainer(), {}
                for epoch = 1, 3 do
                  if epoch == \(split.map { $0 + 1 } ?? -1) then
                    jem:save_checkpoint(DIR .. '/half')
                    joule.tensor.rand(5)
                    jem = trainer()
                    jem:load_checkpoint(DIR .. '/half')
                  end
                  local s = jem:fit_epoch({ images = x, labels = y }, { batch_size = 8, progress = false })
                  losses[#losses + 1] = string.format('%.9g', s.loss)
                end
                return table.concat(losses, ' ')
                """)[0]
        }
        XCTAssertEqual(try run(1), try run(nil))
    }

    /// The console and the kernel complete and document a composed model as they do the preset.
    func testCompletionAndHelpKnowComposedModels() throws {
        let host = try makeHost()
        try host.lua.run(string: "m = joule.nn.Sequential{ joule.nn.Linear(2, 3), joule.nn.SiLU(), joule.nn.Linear(3, 1) }")
        func complete(_ code: String) -> [String] { LuaCompleter.complete(host.lua, code: code, cursor: code.unicodeScalars.count).matches }
        XCTAssertEqual(complete("m:energy"), ["energy", "energy_grad"])
        XCTAssertEqual(complete("m:su"), ["summary"])
        XCTAssertTrue(complete("joule.nn.Co").contains("Conv2d"))
        XCTAssertEqual(complete("joule.nn.Res"), ["Residual"])
        XCTAssertTrue(JouleDocs.help(host.lua, expression: "m:energy_grad")?.hasPrefix("model:energy_grad(") ?? false)
        XCTAssertTrue(JouleDocs.help(host.lua, expression: "m")?.hasPrefix("Model") ?? false)
        XCTAssertTrue(JouleDocs.lookup("joule.nn.Sequential")?.contains("names") ?? false)
    }

    func testMistakesNameTheLayerOrTheParameter() throws {
        func error(_ code: String) -> String { luaError("local nn = joule.nn; " + code) }
        XCTAssertTrue(error("local m = nn.Sequential{ nn.Conv2d(3, 16, 3), nn.SiLU(), nn.Conv2d(8, 4, 3), nn.Flatten(), nn.Linear(4, 2) }; m:logits(joule.tensor.zeros(1, 3, 9, 9))")
            .contains("layer 2 (Conv2d 8→4): expected 8 input channels, got 16"))
        XCTAssertTrue(error("local m = nn.Sequential{ nn.Linear(2, 3), nn.Linear(3, 1) }; m:save(DIR .. '/m.safetensors'); nn.Sequential{ nn.Linear(2, 4), nn.Linear(4, 1) }:load(DIR .. '/m.safetensors')")
            .contains("weight '0.weight' has shape [3, 2], the model needs [4, 2]"))
        XCTAssertTrue(error("nn.Sequential{ nn.Linear(2, 3), 5 }").contains("element 2: a joule.nn module expected, got 5"))
        XCTAssertTrue(error("nn.Sequential{ nn.Linear(2, 3), nam = {'a'} }").contains("unknown option 'nam' (did you mean 'names'?)"))
        XCTAssertTrue(error("nn.Conv2d(3, 16, 3, { strid = 2 })").contains("did you mean 'stride'?"))
        XCTAssertTrue(error("nn.Conv2d(3, 0, 3)").contains("bad argument #2 to 'joule.nn.Conv2d'"))
        XCTAssertTrue(error("nn.Sequential{ nn.Conv2d(1, 2, 3), nn.Flatten() }:energy(joule.tensor.zeros(1, 1, 5, 5))")
            .contains("end it with a Linear layer or give its input shape"))
        XCTAssertTrue(error("joule.ebm.SGLD{ model = nn.Sequential{ nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2) } }")
            .contains("the model declares no input shape"))
        XCTAssertTrue(error("nn.from_file(DIR .. '/none.lua')").contains("none.lua"))
    }

    /// A module keeps its latest input and output, so one object in two places of a network
    /// would read its own output as input: refused as the network is made. Two networks may share
    /// a layer. Nesting stops where checkpoints stop (64 levels), not in a crash of Swift's stack.
    /// A declared input shape the layers do not fit fails at once, naming the layer.
    func testAModuleStandsInOnePlaceAndNestingIsBounded() throws {
        func error(_ code: String) -> String { luaError("local nn = joule.nn; " + code) }
        XCTAssertTrue(error("local l = nn.Linear(3, 3); nn.Sequential{ nn.Sequential{ l }, nn.SiLU(), nn.Residual(nn.Sequential{ l }) }")
            .contains("snippet.lua:1: the same Linear 3→3 module appears twice in the network"))
        XCTAssertTrue(error("local l = nn.Linear(3, 3); nn.Residual(nn.Sequential{ l, nn.Tanh(), l })").contains("appears twice"))
        XCTAssertTrue(error("nn.Sequential{ nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(9, 1), input_shape = { 1, 5, 5 } }")
            .contains("snippet.lua:1: layer 2 (Linear 9→1): "))

        let r = try lua("""
            local nn = joule.nn
            local l = nn.Linear(2, 1)
            local a, b = nn.Sequential{ l }, nn.Sequential{ nn.Tanh(), l }
            local x = joule.tensor.rand(3, 2)
            local t = x:copy()
            for i = 1, 3 do for j = 1, 2 do t:set(i, j, math.tanh(x:get(i, j))) end end
            -- 63 containers around a layer: 64 levels, the most a checkpoint holds; it saves and loads.
            local deep = nn.Linear(2, 2)
            for i = 1, 63 do deep = nn.Sequential{ deep } end
            deep:save(DIR .. '/deep.safetensors')
            local back = nn.load(DIR .. '/deep.safetensors')
            local ok, err = pcall(function() return nn.Sequential{ deep } end)
            local ok2, err2 = pcall(function() return nn.Residual(deep) end)
            return a:logits(t):get(1, 1) == b:logits(x):get(1, 1), back:logits(x):get(2, 2) == deep:logits(x):get(2, 2),
                   ok, err, ok2
            """)
        XCTAssertEqual(r[0..<3], ["true", "true", "false"])
        XCTAssertTrue(r[3].contains("snippet.lua:12: the network is more than 64 levels deep"), r[3])
        XCTAssertEqual(r[4], "false")
    }
}
