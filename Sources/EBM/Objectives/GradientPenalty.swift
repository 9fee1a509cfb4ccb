import NN
import Tensor

/// The gradient penalty gp = λ·meanᵢ ‖∂E(xᵢ)/∂xᵢ‖² of E(x) = −logsumexp f(x), a stabiliser added to
/// any objective (see `Penalized`). Its weight gradient is second order: with s = ∂E/∂x,
/// ∂gp/∂θ = ∂/∂θ [vᵀ s] for v = 2λ·s/N held fixed, which the model computes exactly
/// (`accumulateWeightGradientOfInputGradient`).
public final class GradientPenalty {
    public let weight: Float
    /// Whether it also applies to the sampled batch (when the objective draws one).
    public let onSampled: Bool
    private let energy = Tensor(shape: [0])
    private let direction = Tensor(shape: [0])

    public init(weight: Float, onSampled: Bool = false) throws {
        self.weight = try ObjectiveOptions.finite(weight, "gradient penalty: weight")
        self.onSampled = onSampled
    }

    /// λ·meanᵢ ‖∂E(xᵢ)/∂xᵢ‖² of the batch x, its gradient added to every parameter's.
    @discardableResult
    public func addLossAndGradients(model: EnergyModel, _ x: Tensor) throws -> Double {
        try ObjectiveOptions.hasParameters(model, "gradient penalty")
        let n = x.shape.first ?? 0
        guard n > 0 else { throw JouleError("gradient penalty: empty batch") }
        let s = try model.energyGradient(x, labels: nil, energy: energy)
        try direction.resize(s.shape)
        var sum = 0.0
        let scale = 2 * weight / Float(n)
        for i in 0..<s.count {
            sum += Double(s.data[i]) * Double(s.data[i])
            direction.data[i] = scale * s.data[i]
        }
        if weight > 0 { try model.accumulateWeightGradientOfInputGradient(x, direction: direction, labels: nil) }
        return Double(weight) * sum / Double(n)
    }
}

/// Any objective with a gradient penalty on its real batch (and, with `onSampled`, on its sampled
/// one): the penalty counts as regularisation, added to the reg, px and total terms.
public final class Penalized: TrainingObjective {
    public let base: TrainingObjective
    public let penalty: GradientPenalty
    public var name: String { base.name }
    public var needsSamples: Bool { base.needsSamples }
    public var ownParameters: [(name: String, parameter: Parameter)] { base.ownParameters }
    public var hyperparameters: [String: String] {
        base.hyperparameters.merging(["gp": "\(penalty.weight)", "gp_sampled": "\(penalty.onSampled)"]) { $1 }
    }

    public init(_ base: TrainingObjective, penalty: GradientPenalty) { self.base = base; self.penalty = penalty }

    public func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        var r = try base.lossAndGradients(model: model, real: real, labels: labels, sampled: sampled)
        var gp = try penalty.addLossAndGradients(model: model, real)
        if penalty.onSampled, let sampled { gp += try penalty.addLossAndGradients(model: model, sampled) }
        r.terms.reg += Float(gp); r.terms.px += Float(gp); r.terms.total += Float(gp)
        return r
    }
}
