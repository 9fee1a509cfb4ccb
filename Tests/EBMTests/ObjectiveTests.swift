import ArchitectureFiles
import EBM
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The objectives without a PyTorch reference, against analytic values and finite differences:
/// sliced score matching by finite differences (Pang et al. 2020) against exact sliced score
/// matching computed from the model's Hessian-vector products.
final class ObjectiveTests: XCTestCase {
    private func mlp() throws -> (EnergyNet, Tensor) {
        (try SecondOrderParityTests.model("mlp2d"), try SecondOrderParityTests.tensor("mlp2d", "x.npy"))
    }

    /// Exact SSM for directions u: meanᵢ [ −uᵢᵀHᵢuᵢ + ½ (uᵢᵀ∂E/∂xᵢ)² ] (s = −∂E/∂x).
    private func exactSSM(_ net: EnergyNet, _ x: Tensor, _ u: Tensor) throws -> Double {
        let hu = try net.hessianVectorProduct(x, u, labels: nil).copy()
        let g = try net.energyGradient(x, labels: nil, energy: Tensor(shape: [0])).copy()
        let (n, d) = (x.shape[0], x.itemSize)
        var total = 0.0
        for i in 0..<n {
            var uhu = 0.0, ug = 0.0
            for j in 0..<d { let k = i * d + j; uhu += Double(u[k]) * Double(hu[k]); ug += Double(u[k]) * Double(g[k]) }
            total += -uhu + 0.5 * ug * ug
        }
        return total / Double(n)
    }

    func testFiniteDifferenceSSMConvergesToExactSSM() throws {
        let (net, x) = try mlp()
        let u = Tensor(shape: x.shape)
        RNG(seed: 5).fillNormal(u)
        let exact = try exactSSM(net, x, u)
        // Central differences err by O(ε²) (here 5e-5 of J at ε = 0.2), shrinking with ε.
        var errors: [Double] = []
        for eps: Float in [0.2, 0.1] {
            let ssm = try SlicedScoreMatching(epsilon: eps, projections: 1, rng: RNG(seed: 0))
            net.zeroGradients()
            let value = try ssm.addLossAndGradients(model: net, x, directions: [u])
            errors.append(abs(value - exact))
            XCTAssertEqual(value, exact, accuracy: 1e-3 * abs(exact), "ε = \(eps)")
        }
        XCTAssertLessThan(errors[1], errors[0])
    }

    /// J_ε's weight gradient (first-order passes at x and x ± εu, weighted by ∂J/∂E) against
    /// central differences of J_ε in single weights, with two projections.
    func testFiniteDifferenceSSMWeightGradient() throws {
        let (net, x) = try mlp()
        let us = [Tensor(shape: x.shape), Tensor(shape: x.shape)]
        for (k, u) in us.enumerated() { RNG(seed: UInt64(10 + k)).fillNormal(u) }
        let ssm = try SlicedScoreMatching(epsilon: 0.2, projections: 2, rng: RNG(seed: 0))
        net.zeroGradients()
        try ssm.addLossAndGradients(model: net, x, directions: us)
        let analytic = net.parameters.map { $0.grad.copy() }
        let h: Float = 1e-2
        for (k, (name, p)) in net.namedParameters.enumerated() {
            for i in [0, p.value.count / 3, p.value.count - 1] {
                let saved = p.value[i]
                p.value[i] = saved + h
                let up = try ssm.addLossAndGradients(model: net, x, directions: us)
                p.value[i] = saved - h
                let down = try ssm.addLossAndGradients(model: net, x, directions: us)
                p.value[i] = saved
                let numeric = (up - down) / Double(2 * h)
                XCTAssertEqual(Double(analytic[k][i]), numeric, accuracy: 2e-2 * abs(numeric) + 1e-4, "∂J/∂\(name)[\(i)]")
            }
        }
    }

    /// Directions drawn: the loss is the mean over projections, so for a fixed generator seed the
    /// value is reproducible, and an empty or wrong direction list is refused.
    func testSSMOptions() throws {
        let (net, x) = try mlp()
        let a = try SlicedScoreMatching(epsilon: 0.1, projections: 3, rng: RNG(seed: 4)).addLossAndGradients(model: net, x)
        let b = try SlicedScoreMatching(epsilon: 0.1, projections: 3, rng: RNG(seed: 4)).addLossAndGradients(model: net, x)
        XCTAssertEqual(a, b)
        assertThrowsMessage("eps must be a finite number > 0") { _ = try SlicedScoreMatching(epsilon: 0, rng: RNG(seed: 0)) }
        assertThrowsMessage("projections must be in") { _ = try SlicedScoreMatching(projections: 0, rng: RNG(seed: 0)) }
        assertThrowsMessage("directions") {
            try SlicedScoreMatching(projections: 2, rng: RNG(seed: 0)).addLossAndGradients(model: net, x, directions: [x])
        }
    }

    /// NCE's gradients (first order: ∂nce/∂E per input times ∂E/∂θ, and ∂nce/∂c) against central
    /// differences of the loss in c and in single weights, with fixed noise draws; the fitted
    /// Gaussian against the data's moments.
    func testNoiseContrastiveEstimationGradients() throws {
        let (net, x) = try mlp()
        let noise = try GaussianNoise.fit(x)
        for j in 0..<2 {
            let column = (0..<x.shape[0]).map { Double(x[$0 * 2 + j]) }
            let mean = column.reduce(0, +) / Double(column.count)
            XCTAssertEqual(Double(noise.mean[j]), mean, accuracy: 1e-6)
            XCTAssertEqual(Double(noise.std[j]), (column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(column.count)).squareRoot(), accuracy: 1e-5)
        }
        let nce = try NoiseContrastiveEstimation(noise: noise, ratio: 2, logNormalizer: 0.3, rng: RNG(seed: 0))
        let eps = Tensor(shape: [2 * x.shape[0], 2]); RNG(seed: 9).fillNormal(eps)
        net.zeroGradients(); nce.logNormalizer.grad.zero()
        try nce.addLossAndGradients(model: net, x, standardNoise: eps)
        let analytic = net.parameters.map { $0.grad.copy() }
        let dc = Double(nce.logNormalizer.grad[0])
        let h: Float = 1e-2
        func loss() throws -> Double { try nce.addLossAndGradients(model: net, x, standardNoise: eps) }
        func difference(_ t: Tensor, _ i: Int) throws -> Double {
            let saved = t[i]
            t[i] = saved + h; let up = try loss()
            t[i] = saved - h; let down = try loss()
            t[i] = saved
            return (up - down) / Double(2 * h)
        }
        let numericC = try difference(nce.logNormalizer.value, 0)
        XCTAssertEqual(dc, numericC, accuracy: 1e-2 * abs(numericC) + 1e-5, "∂nce/∂c")
        XCTAssertGreaterThan(abs(numericC), 1e-3)
        for (k, (name, p)) in net.namedParameters.enumerated() {
            for i in [0, p.value.count / 2, p.value.count - 1] {
                let numeric = try difference(p.value, i)
                XCTAssertEqual(Double(analytic[k][i]), numeric, accuracy: 2e-2 * abs(numeric) + 1e-4, "∂nce/∂\(name)[\(i)]")
            }
        }
        assertThrowsMessage("ratio must be in") { _ = try NoiseContrastiveEstimation(noise: noise, ratio: 0, rng: RNG(seed: 0)) }
        assertThrowsMessage("std must be finite and > 0") {
            _ = try GaussianNoise(mean: Tensor(shape: [2]), std: try Tensor(shape: [2], values: [1, .nan]))
        }
        assertThrowsMessage("do not have the noise's shape") { try nce.addLossAndGradients(model: net, Tensor(shape: [3, 3])) }
    }

    /// Learning: an MLP energy trained by each score-free-of-sampling objective on a mixture of two
    /// Gaussians at (±1, 0) (std 0.2) puts a minimum of E near each centre: the lowest energy on a
    /// grid of step 0.05 within 0.5 of each centre lies within 0.15 of it, and the lowest energy
    /// over the whole grid is within that of one of them.
    func testObjectivesLearnATwoModeMixture() throws {
        for objective in ["dsm", "ssm", "nce"] {
            let rng = RNG(seed: 21)
            let net = try EnergyNet(Sequential([Linear(2, 64, rng: rng), Swish(), Linear(64, 64, rng: rng), Swish(), Linear(64, 1, rng: rng)]))
            let batch = 128
            func sample() -> Tensor {
                let x = Tensor(shape: [batch, 2])
                for i in 0..<batch {
                    x[2 * i] = (rng.uniform() < 0.5 ? -1 : 1) + 0.2 * rng.normal()
                    x[2 * i + 1] = 0.2 * rng.normal()
                }
                return x
            }
            let nceData = Tensor(shape: [0]); try nceData.assign(sample())
            let dsm = try DenoisingScoreMatching(sigmas: [0.1], rng: rng)
            let ssm = try SlicedScoreMatching(epsilon: 0.05, projections: 2, rng: rng)
            let nce = try NoiseContrastiveEstimation(noise: try GaussianNoise.fit(nceData), ratio: 2, rng: rng)
            let params = net.parameters + (objective == "nce" ? [nce.logNormalizer] : [])
            let adam = Adam(parameters: params, lr: 3e-3)
            for _ in 0..<600 {
                let x = sample()
                for p in params { p.grad.zero() }
                switch objective {
                case "dsm": try dsm.addLossAndGradients(model: net, x)
                case "ssm": try ssm.addLossAndGradients(model: net, x)
                default: try nce.addLossAndGradients(model: net, x)
                }
                adam.update()
            }
            var grid: [(x: Float, y: Float)] = []
            for i in -40...40 { for j in -20...20 { grid.append((Float(i) * 0.05, Float(j) * 0.05)) } }
            let g = Tensor(shape: [grid.count, 2])
            for (k, p) in grid.enumerated() { g[2 * k] = p.x; g[2 * k + 1] = p.y }
            let e = try net.energy(g)
            func lowest(near c: Float?) -> (x: Float, y: Float) {
                var best = Float.infinity, at = (x: Float(0), y: Float(0))
                for (k, p) in grid.enumerated() where c == nil || ((p.x - c!) * (p.x - c!) + p.y * p.y).squareRoot() <= 0.5 {
                    if e[k] < best { best = e[k]; at = p }
                }
                return at
            }
            for c: Float in [-1, 1] {
                let m = lowest(near: c)
                XCTAssertLessThanOrEqual(((m.x - c) * (m.x - c) + m.y * m.y).squareRoot(), 0.15, "\(objective): minimum near (\(c), 0) at \(m)")
            }
            let m = lowest(near: nil)
            XCTAssertLessThanOrEqual(min(abs(m.x - 1), abs(m.x + 1)) + abs(m.y), 0.2, "\(objective): global minimum at \(m)")
        }
    }
}
