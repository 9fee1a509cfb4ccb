import Foundation
import NN
import Tensor

/// Sliced score matching by finite differences (Pang et al. 2020, "Efficient learning of generative
/// models via finite-difference score matching"). Sliced score matching (Song et al. 2019) asks, for
/// random directions u with E[uuᵀ] = I and the model's score s = −∂E/∂x,
///   J = E_x E_u [ uᵀ(∂s/∂x)u + ½ (uᵀs)² ];
/// FD-SSM replaces both directional derivatives by central differences of the energy at x ± εu:
///   uᵀs ≈ (E₋ − E₊)/(2ε),   uᵀ(∂s/∂x)u ≈ (2E₀ − E₊ − E₋)/ε²,
///   J_ε = meanᵢ meanᵤ [ (2E₀ − E₊ − E₋)/ε² + (E₊ − E₋)²/(8ε²) ],
/// which is exact up to O(ε²) and needs first-order gradients only: three energies per projection
/// (E₀ shared), each a forward and a weight-gradient pass. Directions are √d·(unit vectors), d the
/// input size. E(x) = −logsumexp f(x). In JEM training it adds λ·cross-entropy of the real batch.
public final class SlicedScoreMatching: TrainingObjective {
    public let epsilon: Float
    public let projections: Int
    public let lambda: Float
    /// Draws the directions (the trainer's sampler generator, so resumes are exact).
    public let rng: RNG
    public var name: String { "ssm" }
    public var needsSamples: Bool { false }
    public var hyperparameters: [String: String] {
        ["objective": name, "eps": "\(epsilon)", "projections": "\(projections)", "lambda": "\(lambda)"]
    }

    public static let maxProjections = 64
    private let classifier = ClassifierTerm()
    private let shifted = Tensor(shape: [0]), direction = Tensor(shape: [0])
    private let energies = [Tensor(shape: [0]), Tensor(shape: [0]), Tensor(shape: [0])]
    private let gradLogits = Tensor(shape: [0])
    /// ∂J/∂E per input at x, x + εu and x − εu (kept between calls: no allocation per projection).
    private var dZero: [Double] = [], dPlus: [Double] = [], dMinus: [Double] = []

    public init(epsilon: Float = 0.1, projections: Int = 1, lambda: Float = 0, rng: RNG) throws {
        self.epsilon = try ObjectiveOptions.positive(epsilon, "ssm: eps")
        guard (1...Self.maxProjections).contains(projections) else {
            throw JouleError("ssm: projections must be in 1...\(Self.maxProjections), got \(projections)")
        }
        self.projections = projections
        self.lambda = try ObjectiveOptions.finite(lambda, "ssm: lambda")
        self.rng = rng
    }

    /// J_ε of the batch x, its gradient added to every parameter's. `directions`, if given, are the
    /// projections' u (each of x's shape, used as they are); otherwise they are drawn.
    @discardableResult
    public func addLossAndGradients(model: EnergyModel, _ x: Tensor, directions: [Tensor]? = nil) throws -> Double {
        try ObjectiveOptions.hasParameters(model, "ssm")
        let n = x.shape.first ?? 0
        guard n > 0 else { throw JouleError("ssm: empty batch") }
        if let directions {
            guard directions.count == projections, directions.allSatisfy({ $0.shape == x.shape }) else {
                throw JouleError("ssm: give \(projections) directions of the batch's shape \(x.shape)")
            }
        }
        let (eps, p) = (Double(epsilon), Double(projections))
        let e0 = energies[0]
        try energy(model, x, into: e0)
        // ∂J/∂E₀ = 2/ε² per input (the mean over projections of the same term).
        dZero = [Double](repeating: 2 / (eps * eps) / Double(n), count: n)
        if dPlus.count != n { dPlus = dZero; dMinus = dZero }
        try backward(model, dZero)
        var total = 0.0
        for k in 0..<projections {
            if let directions { try direction.assign(directions[k]) } else { try drawDirection(x.shape) }
            let (plus, minus) = (energies[1], energies[2])
            // E₋, then E₊ (whose forward pass the model keeps for its gradient pass), then x₋ again
            // for its gradient: three forward passes and two gradient passes per projection.
            try shift(x, by: -epsilon, into: minus, model)
            try shift(x, by: epsilon, into: plus, model)
            for i in 0..<n {
                let (ep, em, ez) = (Double(plus.data[i]), Double(minus.data[i]), Double(e0.data[i]))
                total += (2 * ez - ep - em) / (eps * eps) + (ep - em) * (ep - em) / (8 * eps * eps)
                dPlus[i] = (-1 / (eps * eps) + (ep - em) / (4 * eps * eps)) / (Double(n) * p)
                dMinus[i] = (-1 / (eps * eps) - (ep - em) / (4 * eps * eps)) / (Double(n) * p)
            }
            try backward(model, dPlus)
            try shift(x, by: -epsilon, into: minus, model)
            try backward(model, dMinus)
        }
        return total / (Double(n) * p)
    }

    /// E(x + t·u) into `e` (see `energy`).
    private func shift(_ x: Tensor, by t: Float, into e: Tensor, _ model: EnergyModel) throws {
        try shifted.resize(x.shape)
        for i in 0..<x.count { shifted.data[i] = x.data[i] + t * direction.data[i] }
        try energy(model, shifted, into: e)
    }

    /// E of the batch by a forward pass, with ∂E/∂logits in `gradLogits` for `backward`.
    private func energy(_ model: EnergyModel, _ x: Tensor, into e: Tensor) throws {
        try Energies.compute(of: try model.forwardLogits(x), labels: nil, into: e, gradLogits: gradLogits)
    }

    /// Adds Σᵢ dᵢ·∂Eᵢ/∂θ for the latest forward pass.
    private func backward(_ model: EnergyModel, _ d: [Double]) throws {
        let c = gradLogits.shape[1]
        for i in 0..<d.count { for j in 0..<c { gradLogits.data[i * c + j] *= Float(d[i]) } }
        _ = try model.backward(gradLogits, weights: true)
    }

    /// u = √d·w/‖w‖ per input, w standard normal: E[uuᵀ] = I.
    private func drawDirection(_ shape: [Int]) throws {
        try direction.resize(shape)
        rng.fillNormal(direction)
        let d = direction.itemSize
        for i in 0..<shape[0] {
            let row = direction.data + i * d
            var sq = 0.0
            for j in 0..<d { sq += Double(row[j]) * Double(row[j]) }
            let scale = Float((Double(d) / Swift.max(sq, 1e-30)).squareRoot())
            for j in 0..<d { row[j] *= scale }
        }
    }

    public func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        model.zeroGradients()
        let c = try classifier.run(model: model, real: real, labels: labels, lambda: lambda)
        let ssm = Float(try addLossAndGradients(model: model, real))
        return ObjectiveResult(terms: JEM.Terms(reg: 0, cdiv: 0, px: ssm, pyx: c.pyx, total: ssm + lambda * c.pyx),
                               predictions: c.predictions, meanF: (c.meanF, 0))
    }
}
