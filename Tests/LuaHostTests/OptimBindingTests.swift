import Formats
import EBM
import Foundation
import LuaHost
import NN
import Tensor
import XCTest

/// A classifier training step written in Lua (cross-entropy, backward, clipping, Adam, StepLR)
/// gives exactly what the same step gives in Swift.
final class OptimBindingTests: LuaTestCase {
    func testLuaTrainingStepEqualsTheEngine() throws {
        let x = Tensor(shape: [4, 1, 16, 16])
        RNG(seed: 3).fillUniform(x, -1, 1)
        let labels = [0, 2, 1, 2]
        let xPath = directory.appendingPathComponent("x.npy").path
        try Npy.write([NpyArray(x)], to: xPath)
        let out = directory.appendingPathComponent("lua.safetensors").path
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 9 }
            local x = joule.load_npy('\(xPath)')
            local adam = joule.optim.Adam{ model = m, lr = 0.01, beta1 = 0 }
            local sched = joule.optim.StepLR{ optimizer = adam, step_size = 1, gamma = 0.5 }
            local losses, norm = {}, 0
            for i = 1, 3 do
              m:zero_grad()
              local loss, g = joule.nn.cross_entropy(m:logits(x), {0, 2, 1, 2})
              m:backward(x, g)
              norm = joule.optim.clip_grad_norm(m, 0.5)
              adam:step()
              losses[i] = loss
            end
            sched:step()
            m:save('\(out)')
            return losses[1], losses[3], norm, adam:lr(), adam:steps()
            """)
        let model = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 9))
        let adam = Adam(parameters: model.parameters, lr: 0.01, beta1: 0)
        var losses: [Float] = [], norm: Float = 0
        for _ in 0..<3 {
            model.zeroGradients()
            let g = Tensor(shape: [4, 3])
            losses.append(try Losses.crossEntropy(try model.logits(x), labels: labels, grad: g))
            try model.accumulateGradients(x, gradLogits: g)
            norm = GradientClipping.clipGlobalNorm(model.parameters, maxNorm: 0.5)
            adam.update()
        }
        XCTAssertEqual(Float(number(r[0])), losses[0])
        XCTAssertEqual(Float(number(r[1])), losses[2])
        XCTAssertLessThan(losses[2], losses[0], "training lowers the loss")
        XCTAssertEqual(Float(number(r[2])), norm)
        XCTAssertEqual(number(r[3]), 0.005, accuracy: 1e-9)
        XCTAssertEqual(r[4], "3")
        let trained = try SafeTensors.read(out).tensors
        for (name, p) in model.namedParameters { XCTAssertEqual(trained[name]?.array, p.value.array, name) }
    }

    func testOptimizerArgumentsAreChecked() throws {
        for (code, fragment) in [
            ("joule.optim.Adam{ lr = 1 }", "field 'model'"),
            ("joule.optim.Adam{ model = joule.nn.ShallowCNN{ hidden = 2, classes = 2 }, lr = -1 }", "must be positive"),
            ("joule.optim.Adam{ model = joule.nn.ShallowCNN{ hidden = 2, classes = 2 }, betas = 1 }", "betas"),
            ("joule.optim.StepLR{ step_size = 2 }", "field 'optimizer'"),
            ("joule.nn.cross_entropy(joule.tensor.zeros(2, 3), {0, 3})", "labels must lie"),
            ("joule.nn.ShallowCNN{ hidden = 2, classes = 2 }:backward(joule.tensor.zeros(1, 1, 16, 16), joule.tensor.zeros(1, 3))", "gradient to the logits"),
        ] {
            XCTAssertThrowsError(try lua(code), code) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(code): \(error)")
                XCTAssertTrue("\(error)".contains(":1:"), "\(code): no line in \(error)")
            }
        }
    }
}
