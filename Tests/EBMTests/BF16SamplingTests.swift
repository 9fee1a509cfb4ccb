import EBM
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Sampling in bfloat16 against FP32 on the reference model and batch. The bound: bf16 keeps 8 bits
/// of mantissa, so every GEMM input is within 2⁻⁹ relative and a layer's outputs within about
/// 2⁻⁸·Σ|aᵢbᵢ| — a fraction of a percent per layer, compounding over the four bf16 layers. Energies
/// must agree within 1 % of the batch's largest energy, input gradients within 2 % in L2 (the
/// gradient is a difference of many terms, so its relative error is larger than the energies';
/// measured: 0.5 %, energies 0.007 %).
/// Chains run in bf16 must end at the same mean energy as FP32 chains, within their own spread.
final class BF16SamplingTests: XCTestCase {
    var model: ShallowCNN!
    var x: Tensor!
    var y: [Int]!

    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isAvailable, "kernel family bf16 does not run here: \(BF16GEMM.unavailableReason ?? "")")
        // The bf16 family forced: what runs whatever JOULE_KERNELS says.
        try Kernels.force("bf16")
        model = try ShallowCNN.load(from: Fixtures.path("shallowcnn_h32_c42.safetensors"))
        // The reference weights are PyTorch's initialisation, whose logits barely differ (E ≈ −log 42
        // everywhere). Scaled up, the last layer gives energies that depend on the image, as a trained
        // model's do, so that the comparison and the chains have something to show.
        for (name, p) in model.namedParameters where name.hasPrefix("fc_layers") {
            for i in 0..<p.value.count { p.value.data[i] *= 40 }
            p.value.touch()
        }
        // The reference batch four times over: 16 images, so the bf16 replica splits them over its helpers.
        let base = try Fixtures.tensor("x.npy")
        x = try Tensor.concatenate([base, base, base, base])
        y = try Fixtures.ints("y.npy")
        y = y + y + y + y
    }

    override func tearDown() { try? Kernels.force(nil) }

    func relativeL2(_ a: Tensor, _ b: Tensor) -> Double {
        var d = 0.0, n = 0.0
        for i in 0..<a.count { d += pow(Double(a[i] - b[i]), 2); n += pow(Double(b[i]), 2) }
        return (d / n).squareRoot()
    }

    func testEnergiesAndInputGradientsWithinTheErrorBF16Implies() throws {
        let fast = model.sampling(in: .bf16)
        XCTAssertFalse(fast === model, "a replica of its own")
        XCTAssertTrue(model.sampling(in: .fp32) === model)
        for labels in [nil, y] as [[Int]?] {
            let e32 = Tensor(shape: [0]), e16 = Tensor(shape: [0])
            let g32 = try model.energyGradient(x, labels: labels, energy: e32).copy()
            let g16 = try fast.energyGradient(x, labels: labels, energy: e16).copy()
            assertClose(e16, e32, relative: 1e-2, "bf16 energies, labels \(labels == nil ? "none" : "given")")
            let gradientError = relativeL2(g16, g32)
            XCTAssertLessThan(gradientError, 2e-2, "bf16 input gradients")
            XCTAssertGreaterThan(gradientError, 1e-5, "the bf16 pass really ran in bf16")
        }
    }

    /// The bf16 replica shares the model's parameters: a change of the weights reaches it (its
    /// packed bf16 weights follow the weights' version).
    func testTheReplicaFollowsTheWeights() throws {
        let fast = model.sampling(in: .bf16)
        let before = try fast.energy(x)
        for p in model.parameters {
            for i in 0..<p.value.count { p.value.data[i] *= 1.5 }
            p.value.touch()
        }
        let after = try fast.energy(x), exact = try model.energy(x)
        assertClose(after, exact, relative: 1e-2, "bf16 energies after an update")
        XCTAssertGreaterThan(relativeL2(after, before), 10 * relativeL2(after, exact), "the update changed the bf16 energies")
    }

    func testChainsEndAtTheSameMeanEnergy() throws {
        func sampleEnergies(_ precision: SamplingPrecision) throws -> [Double] {
            var c = SGLDSampler.Config(); c.conditional = false; c.precision = precision
            let s = try SGLDSampler(model: model, config: c, rng: RNG(seed: 3))
            XCTAssertEqual(s.runningPrecision, precision == .fp32 ? "fp32" : "bf16 in 4 of 5 convolutions (fp32 in the rest)")
            let final = try s.sample(count: 64, labels: nil, steps: 60).final
            return try model.energy(final).array.map(Double.init)
        }
        let (a, b) = (try sampleEnergies(.fp32), try sampleEnergies(.bf16))
        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        func variance(_ v: [Double]) -> Double { let m = mean(v); return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1) }
        let noise = Tensor(shape: [64, 1, 56, 56]); RNG(seed: 9).fillUniform(noise, -1, 1)
        let start = try model.energy(noise).array.map(Double.init)
        let standardError = ((variance(a) + variance(b)) / 64).squareRoot()
        XCTAssertLessThan(abs(mean(a) - mean(b)), 3 * standardError)
        XCTAssertLessThan(mean(b), mean(start), "bf16 chains descend the energy")
    }
}
