import ArchitectureFiles
import EBM
import Formats
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The second-order golden values of shared/reference/second_order (copied to
/// Tests/Fixtures/second_order), computed by PyTorch's double backward in float64: the input
/// Hessian-vector product of E(x) = −logsumexp f(x), the gradient penalty and denoising score
/// matching with every weight gradient, for the ShallowCNN and the three composed models. The
/// README's tolerances: values 1e-5 and gradients 1e-4 relative to the largest magnitude.
final class SecondOrderParityTests: XCTestCase {
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    static let models = ["shallowcnn", "cnn3", "cnn1", "mlp2d"]

    /// The reference model with its weights (the ShallowCNN's file, or the composed folder's).
    static func model(_ name: String) throws -> EnergyNet {
        if name == "shallowcnn" { return try ShallowCNN.load(from: Fixtures.path("shallowcnn_h32_c42.safetensors")) }
        let root = try Architecture.build(try JSON.parse(ComposedReference.architectures[name]!), rng: RNG(seed: 3))
        let net = try EnergyNet(root)
        try ComposedReference.loadWeights(name, into: net)
        return net
    }

    static func tensor(_ model: String, _ file: String) throws -> Tensor { try Fixtures.tensor("second_order/\(model)/\(file)") }
    static func tensors(_ model: String, _ file: String) throws -> [String: Tensor] {
        try SafeTensors.read(Fixtures.path("second_order/\(model)/\(file)")).tensors
    }

    func testHessianVectorProducts() throws { try KernelFamilies.each(self) {
        for name in Self.models {
            let net = try Self.model(name)
            let (x, v) = (try Self.tensor(name, "x.npy"), try Self.tensor(name, "v.npy"))
            let hvp = try net.hessianVectorProduct(x, v, labels: nil).copy()
            assertClose(hvp, try Self.tensor(name, "hvp_x.npy"), relative: 1e-4, "\(name): Hessian-vector product")
            // Linear in v: twice the direction, twice the product (a check that needs no reference).
            let v2 = v.copy()
            for i in 0..<v2.count { v2[i] *= 2 }
            let hvp2 = try net.hessianVectorProduct(x, v2, labels: nil)
            for i in 0..<hvp.count { hvp[i] *= 2 }
            assertClose(hvp2, hvp, relative: 1e-6, "\(name): linear in v")
        }
    } }

    /// The product against central differences of ∂E/∂x along v, for E(x, y) too (the reference
    /// holds the unconditional one only), and the weight gradient of vᵀ∂E/∂x against differences
    /// in a few weights. On the models without kinks (ReLU, max pooling), which differences would cross.
    func testConditionalEnergyAgainstFiniteDifferences() throws {
        for name in ["shallowcnn", "mlp2d"] {
            let net = try Self.model(name)
            let x = try Self.tensor(name, "x.npy"), v = try Self.tensor(name, "v.npy")
            let labels = (0..<x.shape[0]).map { $0 % net.classes }
            let hvp = try net.hessianVectorProduct(x, v, labels: labels).copy()
            let h: Float = 1e-2
            func gradient(_ s: Float) throws -> Tensor {
                let xs = x.copy()
                for i in 0..<xs.count { xs[i] += s * v[i] }
                return try net.energyGradient(xs, labels: labels, energy: Tensor(shape: [0])).copy()
            }
            let (up, down) = (try gradient(h), try gradient(-h))
            let numeric = Tensor(shape: x.shape)
            for i in 0..<x.count { numeric[i] = (up[i] - down[i]) / (2 * h) }
            assertClose(hvp, numeric, relative: 1e-2, "\(name): conditional Hessian-vector product")

            net.zeroGradients()
            try net.accumulateWeightGradientOfInputGradient(x, direction: v, labels: labels)
            func directional() throws -> Double {
                let g = try net.energyGradient(x, labels: labels, energy: Tensor(shape: [0]))
                return (0..<g.count).reduce(0.0) { $0 + Double(g[$1]) * Double(v[$1]) }
            }
            for (pname, p) in net.namedParameters {
                var worst: Float = 0, scale: Float = 0
                for i in [0, p.value.count / 2, p.value.count - 1] {
                    let saved = p.value[i]
                    p.value[i] = saved + h
                    let a = try directional()
                    p.value[i] = saved - h
                    let b = try directional()
                    p.value[i] = saved
                    let numeric = Float((a - b) / Double(2 * h))
                    worst = max(worst, abs(numeric - p.grad[i])); scale = max(scale, abs(numeric))
                }
                XCTAssertLessThanOrEqual(worst, 2e-2 * scale + 1e-4, "\(name): ∂(vᵀ∂E/∂x)/∂\(pname)")
            }
        }
    }

    /// Every parameter's gradient against the reference's, 1e-4 relative to each tensor's largest.
    private func checkGradients(_ net: EnergyNet, _ name: String, _ file: String, _ what: String) throws {
        let grads = try Self.tensors(name, file)
        XCTAssertEqual(Set(grads.keys), Set(net.namedParameters.map(\.name)), "\(name): gradient names")
        for (pname, p) in net.namedParameters {
            guard let g = grads[pname] else { continue }
            assertClose(p.grad, g, relative: 1e-4, "\(name): \(what) gradient of \(pname)")
        }
    }

    func testGradientPenalty() throws { try KernelFamilies.each(self) {
        for name in Self.models {
            let net = try Self.model(name)
            net.zeroGradients()
            let gp = try GradientPenalty(weight: 1).addLossAndGradients(model: net, try Self.tensor(name, "x.npy"))
            let ref = Double(try Self.tensor(name, "gp.npy")[0])
            XCTAssertEqual(gp, ref, accuracy: 1e-5 * abs(ref), "\(name): gp")
            try checkGradients(net, name, "gp_grads.safetensors", "gp")
        }
    } }

    func testDenoisingScoreMatching() throws { try KernelFamilies.each(self) {
        for name in Self.models {
            let net = try Self.model(name)
            net.zeroGradients()
            let dsm = try DenoisingScoreMatching(sigmas: [0.1], rng: RNG(seed: 0))
            let loss = try dsm.addLossAndGradients(model: net, try Self.tensor(name, "x.npy"), noise: try Self.tensor(name, "noise.npy"))
            let ref = Double(try Self.tensor(name, "dsm.npy")[0])
            XCTAssertEqual(loss, ref, accuracy: 1e-5 * abs(ref), "\(name): dsm")
            try checkGradients(net, name, "dsm_grads.safetensors", "dsm")
        }
    } }

    /// An energy written outside the modules (as a Lua-written one would be): first order only.
    private final class FirstOrderEnergy: EnergyModel {
        let classes = 1
        let inputShape: [Int]? = [2]
        let logits = Tensor(shape: [0])
        func forwardLogits(_ x: Tensor) throws -> Tensor { try logits.resize([x.shape[0], 1]); return logits }
        func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor? { nil }
        func energyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor { Tensor(shape: x.shape) }
        let namedParameters: [(name: String, parameter: Parameter)] = [("w", Parameter(Tensor(shape: [1])))]
        let hyperparameters: [String: String] = [:]
        func load(stateDict: [String: Tensor]) throws {}
    }

    func testSecondOrderErrors() throws {
        let x = Tensor(shape: [2, 2])
        assertThrowsMessage("gives no second derivatives") { _ = try FirstOrderEnergy().hessianVectorProduct(x, x, labels: nil) }
        assertThrowsMessage("gives no second derivatives") { try GradientPenalty(weight: 1).addLossAndGradients(model: FirstOrderEnergy(), x) }
        let bare = try EnergyNet(Sequential([Swish()]), inputShape: [2])
        assertThrowsMessage("the model has no parameters") { try GradientPenalty(weight: 1).addLossAndGradients(model: bare, x) }
        assertThrowsMessage("the model has no parameters") {
            try DenoisingScoreMatching(sigmas: [0.1], rng: RNG(seed: 1)).addLossAndGradients(model: bare, x)
        }
        assertThrowsMessage("sigma must be a finite number > 0") { _ = try DenoisingScoreMatching(sigmas: [0.1, 0], rng: RNG(seed: 1)) }
        assertThrowsMessage("got nan") { _ = try DenoisingScoreMatching(sigmas: [.nan], rng: RNG(seed: 1)) }
        assertThrowsMessage("weight must be a finite number") { _ = try GradientPenalty(weight: .infinity) }
        let net = try Self.model("mlp2d")
        assertThrowsMessage("direction v has shape") { _ = try net.hessianVectorProduct(Tensor(shape: [2, 2]), Tensor(shape: [3, 2]), labels: nil) }
        assertThrowsMessage("labels") { _ = try net.hessianVectorProduct(Tensor(shape: [2, 2]), Tensor(shape: [2, 2]), labels: [0]) }
    }
}
