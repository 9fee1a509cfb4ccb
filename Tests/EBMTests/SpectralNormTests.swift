import ArchitectureFiles
import EBM
import Formats
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Spectral normalisation against shared/reference/second_order/spectral (copied to
/// Tests/Fixtures/second_order/spectral): PyTorch's `torch.nn.utils.parametrizations.spectral_norm`
/// on every Conv2d and Linear of the ShallowCNN and the three composed models, computed in float64.
/// One training-mode forward of the joint batch [x; x reversed] advances u, v once; its logits,
/// the advanced u, v, and the JEM terms with every gradient to the original weights and biases.
/// The README's tolerances: values 1e-5 and gradients 1e-4 relative to the largest magnitude.
final class SpectralNormTests: XCTestCase {
    static let models = ["shallowcnn", "cnn3", "cnn1", "mlp2d"]

    static func path(_ model: String, _ file: String) -> String { Fixtures.path("second_order/spectral/\(model)/\(file)") }
    static func tensor(_ model: String, _ file: String) throws -> Tensor { try Npy.read(path(model, file))[0].tensor() }
    static func tensors(_ model: String, _ file: String) throws -> [String: Tensor] { try SafeTensors.read(path(model, file)).tensors }

    /// The spectrally normalised reference model with the state before the forward (in training
    /// mode, as PyTorch's): the ShallowCNN through `spectrallyNormalised`, the composed models from
    /// their architectures with every Conv2d and Linear wrapped.
    static func model(_ name: String) throws -> EnergyNet {
        let net: EnergyNet
        if name == "shallowcnn" {
            net = try ShallowCNN(hidden: 32, classes: 42, rng: RNG(seed: 1)).spectrallyNormalised(rng: RNG(seed: 2))
        } else {
            let json = SpectralNorm.wrappingEveryLayer(try JSON.parse(ComposedReference.architectures[name]!))
            net = try EnergyNet(try Architecture.build(json, rng: RNG(seed: 3)))
        }
        try net.load(stateDict: try tensors(name, "weights.safetensors"))
        XCTAssertTrue(net.training, "\(name): a new spectrally normalised model is in training mode")
        return net
    }

    /// x and its reverse along the batch (the reference's synthesized batch).
    static func reversed(_ x: Tensor) throws -> Tensor { try x.gather(Array((0..<x.shape[0]).reversed())) }

    /// u and v against `after.safetensors` (PyTorch's state after one training-mode forward).
    private func checkAdvanced(_ net: EnergyNet, _ name: String, _ what: String) throws {
        let after = try Self.tensors(name, "after.safetensors")
        for (bname, t) in net.namedBuffers {
            guard let ref = after[bname] else { XCTFail("\(name): no \(bname) in after.safetensors"); continue }
            assertClose(t, ref, relative: 1e-5, "\(name): \(bname) \(what)")
        }
    }

    func testTrainingModeForwardLogitsAndPowerIteration() throws { try KernelFamilies.each(self) {
        for name in Self.models {
            let net = try Self.model(name)
            let x = try Self.tensor(name, "x.npy")
            let joint = try Tensor.concatenate([x, try Self.reversed(x)])
            let logits = try net.logits(joint)
            assertClose(try logits.items(0..<x.shape[0]), try Self.tensor(name, "logits.npy"), relative: 1e-5, "\(name): logits")
            try checkAdvanced(net, name, "after one training-mode forward")
            // Evaluation mode: the stored u, v stay, and the logits are those of the same σ.
            net.training = false
            let before = net.namedBuffers.map { $0.tensor.copy() }
            let again = try net.logits(joint)
            for ((bname, t), b) in zip(net.namedBuffers, before) { XCTAssertEqual(t.array, b.array, "\(name): \(bname) moved in evaluation mode") }
            assertClose(again, logits, relative: 1e-6, "\(name): evaluation-mode logits")
        }
    } }

    /// A batch split over per-core replicas advances u, v once, on the calling thread.
    func testSplitEnergyGradientAdvancesOnce() throws {
        let net = try Self.model("mlp2d")
        let x = try Self.tensor("mlp2d", "x.npy")
        let joint = try Tensor.concatenate([x, try Self.reversed(x)])   // 32 rows: split when there are cores
        _ = try net.energyGradient(joint, labels: nil, energy: Tensor(shape: [0]))
        try checkAdvanced(net, "mlp2d", "after one energy-gradient pass")
    }

    func testJEMTermsAndGradients() throws { try KernelFamilies.each(self) {
        for name in Self.models {
            let net = try Self.model(name)
            let x = try Self.tensor(name, "x.npy"), y = try Npy.read(Self.path(name, "y.npy"))[0].ints()
            var sc = SGLDSampler.Config(); sc.imageShape = Array(x.shape.dropFirst())
            var jc = JEM.Config(); jc.realNoise = 0
            let jem = try JEM(model: net, sampler: try SGLDSampler(model: net, config: sc, rng: RNG(seed: 1)), config: jc)
            let terms = try jem.lossAndGradients(real: x, labels: y, sampled: try Self.reversed(x))
            XCTAssertTrue(net.training, "\(name): the caller's mode is restored")
            try checkAdvanced(net, name, "after the JEM terms (advanced once for both batches)")
            let ref = try Self.tensor(name, "jem_terms.npy")
            XCTAssertEqual(terms.cdiv, ref[1], accuracy: 1e-5, "\(name): cdiv")
            for (value, i, term) in [(terms.reg, 0, "reg"), (terms.px, 2, "px"), (terms.pyx, 3, "pyx"), (terms.total, 4, "total")] {
                XCTAssertEqual(value, ref[i], accuracy: 1e-5 * max(abs(ref[i]), 1e-3), "\(name): \(term)")
            }
            let grads = try Self.tensors(name, "jem_grads.safetensors")
            XCTAssertEqual(Set(grads.keys), Set(net.namedParameters.map(\.name)), "\(name): gradient names")
            for (pname, p) in net.namedParameters {
                guard let g = grads[pname] else { continue }
                assertClose(p.grad, g, relative: 1e-4, "\(name): gradient of \(pname)")
            }
        }
    } }

    /// JEM.step: sampling in evaluation mode, then one advance for the objective's passes.
    func testTrainingStepAdvancesOnce() throws {
        let net = try Self.model("mlp2d"), twin = try Self.model("mlp2d")
        let x = try Self.tensor("mlp2d", "x.npy")
        var sc = SGLDSampler.Config(); sc.imageShape = [2]; sc.steps = 5
        let jem = try JEM(model: net, sampler: try SGLDSampler(model: net, config: sc, rng: RNG(seed: 1)))
        _ = try jem.step(x, labels: Array(repeating: 0, count: x.shape[0]))
        XCTAssertTrue(net.training)
        twin.beginTrainingStep()
        for ((bname, t), (_, ref)) in zip(net.namedBuffers, twin.namedBuffers) {
            XCTAssertEqual(t.array, ref.array, "\(bname): one advance per step")
        }
        // In evaluation mode (as train_jem.lua keeps the model) a step advances once all the same.
        net.training = false
        let before = try Self.model("mlp2d")
        try before.load(stateDict: net.stateDict())
        _ = try jem.step(x, labels: Array(repeating: 0, count: x.shape[0]))
        XCTAssertFalse(net.training, "the caller's mode is restored")
        before.beginTrainingStep()
        for ((bname, t), (_, ref)) in zip(net.namedBuffers, before.namedBuffers) {
            XCTAssertEqual(t.array, ref.array, "\(bname): one advance per step in evaluation mode")
        }
    }

    /// The weight gradient through W/σ(W) (u, v held) against central differences in the
    /// original weights: first order (∂ΣE/∂W) and second order (∂(vᵀ∂E/∂x)/∂W), in evaluation mode.
    func testGradientsAgainstFiniteDifferences() throws {
        for name in ["shallowcnn", "mlp2d"] {
            let net = try Self.model(name)
            net.training = false
            let x = try Self.tensor(name, "x.npy")
            let v = Tensor(shape: x.shape)
            let rng = RNG(seed: 5)
            for i in 0..<v.count { v[i] = rng.normal() }
            func energySum() throws -> Double { try net.energy(x).sumDouble() }
            func directional() throws -> Double {
                let g = try net.energyGradient(x, labels: nil, energy: Tensor(shape: [0]))
                return (0..<g.count).reduce(0.0) { $0 + Double(g[$1]) * Double(v[$1]) }
            }
            let h: Float = 1e-2
            for order in [1, 2] {
                net.zeroGradients()
                if order == 1 {
                    let e = Tensor(shape: [0])
                    let logits = try net.forwardLogits(x)
                    let gradLogits = Tensor(shape: logits.shape)
                    try Energies.compute(of: logits, labels: nil, into: e, gradLogits: gradLogits)
                    try net.accumulateGradients(x, gradLogits: gradLogits)
                } else {
                    try net.accumulateWeightGradientOfInputGradient(x, direction: v, labels: nil)
                }
                for (pname, p) in net.namedParameters where pname.hasSuffix("original") {
                    var worst: Float = 0, scale: Float = 0
                    for i in [0, p.value.count / 3, p.value.count / 2, p.value.count - 1] {
                        let saved = p.value[i]
                        p.value[i] = saved + h
                        let a = order == 1 ? try energySum() : try directional()
                        p.value[i] = saved - h
                        let b = order == 1 ? try energySum() : try directional()
                        p.value[i] = saved
                        let numeric = Float((a - b) / Double(2 * h))
                        worst = max(worst, abs(numeric - p.grad[i])); scale = max(scale, abs(numeric))
                    }
                    XCTAssertLessThanOrEqual(worst, 2e-2 * scale + 1e-4, "\(name): order \(order), ∂/∂\(pname)")
                }
            }
        }
    }

    /// What Joule saves is PyTorch's state_dict after the forward: the same names and tensors.
    func testSavedFileIsPyTorchsStateDict() throws {
        for name in Self.models {
            let net = try Self.model(name)
            let x = try Self.tensor(name, "x.npy")
            _ = try net.logits(try Tensor.concatenate([x, try Self.reversed(x)]))
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("sn-\(UUID().uuidString).safetensors").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try net.save(to: path)
            let saved = try SafeTensors.read(path).tensors, after = try Self.tensors(name, "after.safetensors")
            XCTAssertEqual(Set(saved.keys), Set(after.keys), "\(name): names")
            for (k, t) in after { if let s = saved[k] { assertClose(s, t, relative: 1e-5, "\(name): \(k)") } }
            // And back: a file loads in evaluation mode with its u, v.
            let loaded = try EnergyNets.load(from: path)
            XCTAssertFalse(loaded.training, "\(name): a loaded model is in evaluation mode")
            for ((bname, t), (_, s)) in zip(loaded.namedBuffers, net.namedBuffers) { XCTAssertEqual(t.array, s.array, "\(name): \(bname)") }
            net.training = false   // the saved u, v: no further advance
            assertClose(try loaded.logits(x), try net.logits(x), relative: 1e-6, "\(name): logits after loading")
        }
    }

    func testArchitectureRoundTripAndNames() throws {
        let net = try Self.model("shallowcnn")
        XCTAssertEqual(Set(net.stateDict().keys), Set(try Self.tensors("shallowcnn", "weights.safetensors").keys))
        let rebuilt = try Architecture.build(net.root.architecture, rng: RNG(seed: 0))
        XCTAssertEqual(rebuilt.architecture, net.root.architecture)
        XCTAssertTrue(Architecture.describe(rebuilt).contains("(module) Conv2d"), Architecture.describe(rebuilt))
        // Residual goes through the same path for wrapping kinds.
        let residual = try Architecture.build(try JSON.parse(ComposedReference.architectures["cnn3"]!), rng: RNG(seed: 0))
        XCTAssertTrue(Architecture.describe(residual).contains("(body) Sequential"))
    }

    /// An activation after a wrapped Conv2d or Linear runs in place, as after the bare layer (the
    /// wrapper hands on the layer's own output, which nothing else reads).
    func testActivationsAfterWrappedLayersRunInPlace() throws {
        func inPlace(_ m: Module) -> [Bool] { m.allModules.compactMap { $0 as? Swish }.map(\.inPlace) }
        let bare = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 1))
        XCTAssertEqual(inPlace(bare.root), [true, true, true, true, true])
        XCTAssertEqual(inPlace(try bare.spectrallyNormalised(rng: RNG(seed: 2)).root), inPlace(bare.root))
        // A last activation may share its tensors with the caller: in place neither way.
        let json = try JSON.parse(ComposedReference.architectures["mlp2d"]!)
        let tail = #"{"type": "Sequential", "modules": [{"type": "Linear", "in": 2, "out": 3}, {"type": "SiLU"}]}"#
        for text in [tail, SpectralNorm.wrappingEveryLayer(try JSON.parse(tail)).serialized()] {
            XCTAssertEqual(inPlace(try Architecture.build(try JSON.parse(text), rng: RNG(seed: 0))), [false], text)
        }
        XCTAssertEqual(inPlace(try Architecture.build(SpectralNorm.wrappingEveryLayer(json), rng: RNG(seed: 0))), [true, true])
    }

    func testBadInput() throws {
        let rng = RNG(seed: 0)
        assertThrowsMessage("SpectralNorm wraps a Linear or a Conv2d layer, got SiLU") { _ = try SpectralNorm(Swish(), rng: rng) }
        for eps: Float in [0, -1, .nan, .infinity] {
            assertThrowsMessage("eps must be a finite number > 0") { _ = try SpectralNorm(Linear(2, 2, rng: rng), eps: eps, rng: rng) }
        }
        for n in [0, -1, 1 << 40] {
            assertThrowsMessage("n_power_iterations must be in 1...1000") { _ = try SpectralNorm(Linear(2, 2, rng: rng), iterations: n, rng: rng) }
        }
        func build(_ text: String) throws { _ = try Architecture.build(try JSON.parse(text), rng: rng) }
        let linear = #"{"type": "Linear", "in": 2, "out": 3}"#
        assertThrowsMessage("SpectralNorm wraps a Linear or a Conv2d layer") { try build(#"{"type": "SpectralNorm", "module": {"type": "SiLU"}}"#) }
        assertThrowsMessage("eps must be a finite number > 0") { try build(#"{"type": "SpectralNorm", "eps": 0, "module": \#(linear)}"#) }
        assertThrowsMessage("\"eps\" the setting must be a finite number") { try build(#"{"type": "SpectralNorm", "eps": 1e300, "module": \#(linear)}"#) }
        assertThrowsMessage("\"n_power_iterations\" must be an integer in 1...1000") {
            try build(#"{"type": "SpectralNorm", "n_power_iterations": 0, "module": \#(linear)}"#)
        }
        assertThrowsMessage("\"n_power_iterations\" must be an integer in 1...1000") {
            try build(#"{"type": "SpectralNorm", "n_power_iterations": 1000000000, "module": \#(linear)}"#)
        }
        assertThrowsMessage("SpectralNorm needs \"module\"") { try build(#"{"type": "SpectralNorm"}"#) }

        // A file whose u has the wrong shape: refused with the name, before anything is read.
        let net = try Self.model("mlp2d")
        var state = net.stateDict()
        state["2.parametrizations.weight.0._u"] = Tensor(shape: [63])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sn-bad-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors(tensors: state, metadata: net.hyperparameters).write(to: path)
        assertThrowsMessage("weight '2.parametrizations.weight.0._u' has shape [63], the model needs [64]") { _ = try EnergyNets.load(from: path) }
        assertThrowsMessage("weight '2.parametrizations.weight.0._u' has shape [63]") { try net.load(stateDict: state) }
        state["2.parametrizations.weight.0._u"] = nil
        assertThrowsMessage("missing weight '2.parametrizations.weight.0._u'") { try net.load(stateDict: state) }
    }
}
