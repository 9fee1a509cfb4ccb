import EBM
import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// joule.nn.SpectralNorm, joule.nn.spectral_norm and the models' train / eval / training from Lua.
final class SpectralNormLuaTests: LuaTestCase {
    /// The reference ShallowCNN, wrapped in Lua, reproduces PyTorch's training-mode forward, and
    /// modes switch as PyTorch's do: a new wrapper trains, eval() keeps u and v, a loaded model
    /// evaluates.
    func testSpectralNormFromLuaMatchesPyTorch() throws {
        let folder = Fixtures.path("second_order/spectral/shallowcnn")
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("sn-lua-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try lua("""
            local F = '\(folder)'
            local m = joule.nn.spectral_norm(joule.nn.ShallowCNN{ hidden = 32, classes = 42 }, { seed = 4 })
            assert(m:training(), 'a new spectrally normalised model trains')
            m:load(F .. '/weights.safetensors')
            local x = joule.load_npy(F .. '/x.npy')
            local n = x:size(1)
            local idx = {}
            for i = 1, n do idx[i] = n - i + 1 end
            local joint = joule.tensor.cat({ x, x:index(idx) })
            local logits = m:logits(joint):slice(1, n)
            local ref = joule.load_npy(F .. '/logits.npy')
            local worst = (logits - ref):abs():max() / ref:abs():max()
            m:eval()
            local again = m:logits(joint):slice(1, n)
            m:save('\(out)')
            local loaded = joule.nn.load('\(out)')
            return worst, (again - logits):abs():max(), m:training(), loaded:training(),
                   (loaded:logits(x) - m:logits(x)):abs():max(), m:train():training(), m:train(false):training()
            """)
        XCTAssertLessThanOrEqual(number(r[0]), 1e-5, "training-mode logits against PyTorch's")
        XCTAssertLessThanOrEqual(number(r[1]), 1e-6, "evaluation mode keeps σ")
        XCTAssertEqual(r[2], "false")
        XCTAssertEqual(r[3], "false", "a loaded model evaluates")
        XCTAssertEqual(number(r[4]), 0, "a loaded model gives the saved one's logits")
        XCTAssertEqual(r[5], "true")
        XCTAssertEqual(r[6], "false")
        let names = Set(try SafeTensors.read(out).tensors.keys)
        XCTAssertEqual(names, Set(try SafeTensors.read(folder + "/weights.safetensors").tensors.keys))
    }

    func testSpectralNormLayersAndErrors() throws {
        let r = try lua("""
            local nn = joule.nn
            local m = nn.Sequential{ nn.SpectralNorm(nn.Linear(2, 8), { n_power_iterations = 2, seed = 1 }), nn.SiLU(),
                                     nn.SpectralNorm(nn.Linear(8, 1)) }
            local names = {}
            for k in pairs(m:parameters()) do names[#names + 1] = k end
            table.sort(names)
            return table.concat(names, ' '), m:summary()
            """)
        XCTAssertEqual(r[0], "0.bias 0.parametrizations.weight.original 2.bias 2.parametrizations.weight.original")
        XCTAssertTrue(r[1].contains("SpectralNorm(") && r[1].contains("n_power_iterations 2") && r[1].contains("(module) Linear"), r[1])
        for (code, fragment) in [
            ("joule.nn.SpectralNorm(joule.nn.SiLU())", "SpectralNorm wraps a Linear or a Conv2d layer, got SiLU"),
            ("joule.nn.SpectralNorm(joule.nn.Linear(2, 2), { eps = 0 })", "eps must be a finite number > 0"),
            ("joule.nn.SpectralNorm(joule.nn.Linear(2, 2), { eps = 0/0 })", "field 'eps' must be a finite number"),
            ("joule.nn.SpectralNorm(joule.nn.Linear(2, 2), { n_power_iterations = 0 })", "n_power_iterations"),
            ("joule.nn.SpectralNorm(joule.nn.Linear(2, 2), { n_power_iterations = 1e9 })", "n_power_iterations"),
            ("joule.nn.SpectralNorm(joule.nn.Linear(2, 2), { epsilon = 1 })", "unknown option 'epsilon'"),
            ("joule.nn.SpectralNorm(3)", "Model expected"),
            ("joule.nn.spectral_norm(joule.nn.SiLU())", "cannot tell how many logits"),
        ] {
            let message = luaError(code)
            XCTAssertTrue(message.contains(fragment), "\(code): \(message)")
            XCTAssertTrue(message.contains("snippet.lua:1:"), "\(code): \(message) (file:line)")
        }
    }
}
