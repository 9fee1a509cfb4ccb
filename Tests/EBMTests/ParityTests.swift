import Formats
import EBM
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Every golden value of shared/reference, with the tolerances its README gives:
/// forward values 1e-5 and gradients 1e-4, relative to the largest magnitude.
/// Each test runs once per FP32 kernel family this machine runs (`KernelFamilies.each`), at the same tolerances.
final class ParityTests: XCTestCase {
    /// Failures name the kernel family forced when they happened (see `KernelFamilies.each`).
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    var model: ShallowCNN!
    var x: Tensor!, fake: Tensor!
    var y: [Int] = []

    override func setUpWithError() throws {
        model = try ShallowCNN.load(from: Fixtures.path("shallowcnn_h32_c42.safetensors"))
        x = try Fixtures.tensor("x.npy")
        fake = try Fixtures.tensor("fake.npy")
        y = try Fixtures.ints("y.npy")
    }

    func testCheckpointShapesTheModel() { KernelFamilies.each(self) {
        XCTAssertEqual(model.hidden, 32)
        XCTAssertEqual(model.classes, 42)
    } }

    func testLogits() throws { try KernelFamilies.each(self) {
        assertClose(try model.logits(x), try Fixtures.tensor("logits.npy"), relative: 1e-5, "logits")
    } }

    func testEnergies() throws { try KernelFamilies.each(self) {
        assertClose(try model.energy(x), try Fixtures.tensor("energy_uncond.npy"), relative: 1e-5, "E(x)")
        assertClose(try model.energy(x, labels: y), try Fixtures.tensor("energy_cond.npy"), relative: 1e-5, "E(x, y)")
    } }

    func testInputGradients() throws { try KernelFamilies.each(self) {
        let e = Tensor(shape: [0])
        let gu = try model.energyGradient(x, energy: e).copy()
        assertClose(e, try Fixtures.tensor("energy_uncond.npy"), relative: 1e-5, "E(x) with gradient")
        assertClose(gu, try Fixtures.tensor("grad_x_uncond.npy"), relative: 1e-4, "dE(x)/dx")
        let gc = try model.energyGradient(x, labels: y, energy: e)
        assertClose(gc, try Fixtures.tensor("grad_x_cond.npy"), relative: 1e-4, "dE(x,y)/dx")
    } }

    private func jem() throws -> JEM {
        var s = SGLDSampler.Config(); s.imageShape = [1, 56, 56]
        var c = JEM.Config(); c.realNoise = 0
        return try JEM(model: model, sampler: try SGLDSampler(model: model, config: s, rng: RNG(seed: 1)), config: c)
    }

    func testJEMTermsAndWeightGradients() throws { try KernelFamilies.each(self) {
        let terms = try jem().lossAndGradients(real: x, labels: y, sampled: fake)
        let ref = try Fixtures.tensor("jem_terms.npy")
        let got = try Tensor(shape: [5], values: [terms.reg, terms.cdiv, terms.px, terms.pyx, terms.total])
        XCTAssertEqual(terms.cdiv, ref[1], accuracy: 1e-5, "cdiv (absolute, a difference of near-equal means)")
        for (i, name) in [(0, "reg"), (2, "px"), (3, "pyx"), (4, "total")] {
            XCTAssertEqual(got[i], ref[i], accuracy: 1e-5 * abs(ref[i]), name)
        }
        let grads = try SafeTensors.read(Fixtures.path("jem_grads.safetensors")).tensors
        XCTAssertEqual(Set(grads.keys), Set(model.namedParameters.map(\.name)))
        for (name, p) in model.namedParameters {
            assertClose(p.grad, grads[name]!, relative: 1e-4, "gradient of \(name)")
        }
        let norm = GradientClipping.clipGlobalNorm(model.parameters, maxNorm: 0.1)
        XCTAssertEqual(norm, try Fixtures.tensor("grad_total_norm.npy")[0], accuracy: 1e-4 * norm)
    } }

    func testTwoAdamStepsWithTheClippedGradient() throws { try KernelFamilies.each(self) {
        _ = try jem().lossAndGradients(real: x, labels: y, sampled: fake)
        GradientClipping.clipGlobalNorm(model.parameters, maxNorm: 0.1)
        let adam = Adam(parameters: model.parameters, lr: 1e-4, beta1: 0, beta2: 0.999, eps: 1e-8)
        adam.update()
        adam.update()
        let after = try SafeTensors.read(Fixtures.path("after_two_adam_steps.safetensors")).tensors
        for (name, p) in model.namedParameters {
            assertClose(p.value, after[name]!, relative: 1e-5, "\(name) after two Adam steps")
        }
    } }

    func testOneSGLDStep() throws { try KernelFamilies.each(self) {
        var c = SGLDSampler.Config(); c.conditional = false
        let sampler = try SGLDSampler(model: model, config: c, rng: RNG(seed: 0))
        let chain = try Fixtures.tensor("sgld_x0.npy")
        try sampler.step(chain, noise: try Fixtures.tensor("sgld_eps.npy"), labels: nil, stepSize: 10)
        // x1 = clamp(x − 10·clamp(g)): a gradient error of 1e-4 relative moves x by at most 10·3e-6.
        assertClose(chain, try Fixtures.tensor("sgld_x1.npy"), absolute: 1e-4, "x after one SGLD step")
    } }

    func testAUROCAndAUPRCWithTies() throws { try KernelFamilies.each(self) {
        let scores = try Npy.read(Fixtures.path("ood_scores.npy"))[0].doubles()
        let labels = try Fixtures.ints("ood_labels.npy")
        XCTAssertGreaterThan(Set(scores).count, 0)
        XCTAssertLessThan(Set(scores).count, scores.count, "the fixture has ties")
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.folder.appendingPathComponent("ood_metrics.json"))) as! [String: Double]
        XCTAssertEqual(try Metrics.auroc(scores: scores, labels: labels), ref["auroc"]!, accuracy: 1e-12)
        XCTAssertEqual(try Metrics.auprc(scores: scores, labels: labels), ref["auprc"]!, accuracy: 1e-12)
    } }
}
