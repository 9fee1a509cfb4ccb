import Formats
import EBM
import Foundation
import NN
import Tensor
import XCTest

/// The golden values of shared/reference/composed (copied to Tests/Fixtures/composed): three
/// networks that are not the ShallowCNN, each checked the same way whichever way it was built
/// (in Swift from its architecture, or composed in Lua). Tolerances of the reference's README:
/// forward values 1e-5 and gradients 1e-4 relative to the largest magnitude, cdiv 1e-5 absolute.
public enum ComposedReference {
    public static let models = ["cnn3", "cnn1", "mlp2d"]

    /// The architectures of the reference models, as `Architecture` reads them.
    public static let architectures: [String: String] = [
        "cnn3": """
            {"type": "Sequential", "modules": [
              {"type": "Conv2d", "in": 3, "out": 16, "kernel": 3, "stride": 1, "padding": 1},
              {"type": "LeakyReLU", "negative_slope": 0.2},
              {"type": "Residual", "body": {"type": "Sequential", "modules": [
                {"type": "Conv2d", "in": 16, "out": 16, "kernel": 3, "padding": 1}, {"type": "SiLU"},
                {"type": "Conv2d", "in": 16, "out": 16, "kernel": 3, "padding": 1}]}},
              {"type": "Conv2d", "in": 16, "out": 32, "kernel": 4, "stride": 2, "padding": 1}, {"type": "SiLU"},
              {"type": "AvgPool2d", "kernel": 2},
              {"type": "Conv2d", "in": 32, "out": 48, "kernel": 3, "padding": 1, "bias": false}, {"type": "ELU", "alpha": 1},
              {"type": "MaxPool2d", "kernel": 2}, {"type": "AdaptiveAvgPool2d"}, {"type": "Flatten"},
              {"type": "Linear", "in": 48, "out": 10}]}
            """,
        "cnn1": """
            {"type": "Sequential", "modules": [
              {"type": "Conv2d", "in": 1, "out": 8, "kernel": 7, "stride": 3, "padding": 2}, {"type": "Tanh"},
              {"type": "Conv2d", "in": 8, "out": 24, "kernel": 2}, {"type": "ReLU"},
              {"type": "Conv2d", "in": 24, "out": 24, "kernel": 3, "stride": 2, "padding": 3}, {"type": "SiLU"},
              {"type": "AdaptiveAvgPool2d"}, {"type": "Flatten"},
              {"type": "Linear", "in": 24, "out": 32}, {"type": "SiLU"}, {"type": "Linear", "in": 32, "out": 7}]}
            """,
        "mlp2d": """
            {"type": "Sequential", "modules": [
              {"type": "Linear", "in": 2, "out": 64}, {"type": "SiLU"}, {"type": "Linear", "in": 64, "out": 64}, {"type": "SiLU"},
              {"type": "Linear", "in": 64, "out": 1}]}
            """,
    ]

    public static func file(_ model: String, _ name: String) -> String { Fixtures.path("composed/\(model)/\(name)") }
    public static func tensor(_ model: String, _ name: String) throws -> Tensor { try Npy.read(file(model, name))[0].tensor() }

    /// The reference weights loaded into `net`, which must have exactly their names and shapes.
    public static func loadWeights(_ model: String, into net: EnergyModel) throws {
        try net.load(stateDict: try SafeTensors.read(file(model, "weights.safetensors")).tensors)
    }

    /// Every reference value of `model` computed by `net` (which holds the reference weights).
    public static func check(_ model: String, _ net: EnergyModel, file: StaticString = #filePath, line: UInt = #line) throws {
        let x = try tensor(model, "x.npy"), fake = try tensor(model, "fake.npy")
        let y = try Npy.read(Self.file(model, "y.npy"))[0].ints()
        func close(_ a: Tensor, _ name: String, _ tol: Float, _ what: String) throws {
            assertClose(a, try tensor(model, name), relative: tol, "\(model): \(what)", file: file, line: line)
        }
        try close(try net.logits(x), "logits.npy", 1e-5, "logits")
        try close(try net.energy(x), "energy_uncond.npy", 1e-5, "E(x)")
        try close(try net.energy(x, labels: y), "energy_cond.npy", 1e-5, "E(x, y)")
        let e = Tensor(shape: [0])
        try close(try net.energyGradient(x, labels: nil, energy: e).copy(), "grad_x_uncond.npy", 1e-4, "dE(x)/dx")
        try close(e, "energy_uncond.npy", 1e-5, "E(x) with its gradient")
        try close(try net.energyGradient(x, labels: y, energy: e).copy(), "grad_x_cond.npy", 1e-4, "dE(x, y)/dx")

        // The JEM terms and every weight gradient of their total.
        var sc = SGLDSampler.Config(); sc.imageShape = Array(x.shape.dropFirst()); sc.precision = .fp32   // PyTorch's arithmetic
        var jc = JEM.Config(); jc.realNoise = 0
        let jem = try JEM(model: net, sampler: try SGLDSampler(model: net, config: sc, rng: RNG(seed: 1)), config: jc)
        let terms = try jem.lossAndGradients(real: x, labels: y, sampled: fake)
        let ref = try tensor(model, "jem_terms.npy")
        XCTAssertEqual(terms.cdiv, ref[1], accuracy: 1e-5, "\(model): cdiv", file: file, line: line)
        for (value, i, name) in [(terms.reg, 0, "reg"), (terms.px, 2, "px"), (terms.pyx, 3, "pyx"), (terms.total, 4, "total")] {
            XCTAssertEqual(value, ref[i], accuracy: 1e-5 * max(abs(ref[i]), 1e-3), "\(model): \(name)", file: file, line: line)
        }
        let grads = try SafeTensors.read(Self.file(model, "jem_grads.safetensors")).tensors
        XCTAssertEqual(Set(grads.keys), Set(net.namedParameters.map(\.name)), "\(model): gradient names", file: file, line: line)
        for (name, p) in net.namedParameters {
            guard let g = grads[name] else { continue }
            assertClose(p.grad, g, relative: 1e-4, "\(model): gradient of \(name)", file: file, line: line)
        }

        // One unconditional SGLD step.
        var c = SGLDSampler.Config(); c.conditional = false; c.imageShape = sc.imageShape; c.precision = .fp32
        let sampler = try SGLDSampler(model: net, config: c, rng: RNG(seed: 0))
        let chain = try tensor(model, "sgld_x0.npy")
        try sampler.step(chain, noise: try tensor(model, "sgld_eps.npy"), labels: nil, stepSize: 10)
        // x1 = clamp(x − 10·clamp(g)): a gradient error of 1e-4 relative moves x by at most 10·3e-6.
        assertClose(chain, try tensor(model, "sgld_x1.npy"), absolute: 1e-4, "\(model): x after one SGLD step", file: file, line: line)
    }
}
