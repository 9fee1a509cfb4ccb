import NN
import Tensor

/// Denoising score matching (Vincent 2011; multi-scale as Song & Ermon 2019): for each noise level
/// σ, x̃ = x + σ·ε with ε standard normal, and
///   dsm_σ = ½ σ² · meanᵢ ‖ −∂E(x̃ᵢ)/∂x̃ᵢ + (x̃ᵢ − xᵢ)/σ² ‖²,
/// the model's score −∂E/∂x̃ against the noise's; the loss is the mean of dsm_σ over the levels
/// (σ² weighs every level alike). E(x) = −logsumexp f(x). Its weight gradient is second order:
/// with r = −s + ε/σ (s = ∂E/∂x̃), ∂dsm_σ/∂θ = ∂/∂θ [vᵀ s] for v = −σ²·r/N held fixed.
/// In JEM training it adds λ·cross-entropy of the real batch (λ = 0: a plain EBM).
public final class DenoisingScoreMatching: TrainingObjective {
    public let sigmas: [Float]
    public let lambda: Float
    /// Draws the noise ε when none is given (the trainer's sampler generator, so resumes are exact).
    public let rng: RNG
    public var name: String { "dsm" }
    public var needsSamples: Bool { false }
    public var hyperparameters: [String: String] {
        ["objective": name, "sigma": sigmas.map { "\($0)" }.joined(separator: ","), "lambda": "\(lambda)"]
    }

    public static let maxLevels = 64
    private let classifier = ClassifierTerm()
    private let noisy = Tensor(shape: [0]), eps = Tensor(shape: [0]), energy = Tensor(shape: [0])
    private let direction = Tensor(shape: [0])

    public init(sigmas: [Float], lambda: Float = 0, rng: RNG) throws {
        guard !sigmas.isEmpty, sigmas.count <= Self.maxLevels else {
            throw JouleError("dsm: give 1 to \(Self.maxLevels) noise levels sigma, got \(sigmas.count)")
        }
        self.sigmas = try sigmas.map { try ObjectiveOptions.positive($0, "dsm: sigma") }
        self.lambda = try ObjectiveOptions.finite(lambda, "dsm: lambda")
        self.rng = rng
    }

    /// The loss of the batch x, its gradient added to every parameter's. `noise`, of x's shape,
    /// is ε for every level; without it each level draws its own from `rng`.
    @discardableResult
    public func addLossAndGradients(model: EnergyModel, _ x: Tensor, noise: Tensor? = nil) throws -> Double {
        try ObjectiveOptions.hasParameters(model, "dsm")
        let n = x.shape.first ?? 0
        guard n > 0 else { throw JouleError("dsm: empty batch") }
        if let noise, noise.shape != x.shape { throw JouleError("dsm: noise has shape \(noise.shape), the batch \(x.shape)") }
        try noisy.resize(x.shape); try direction.resize(x.shape)
        var total = 0.0
        for sigma in sigmas {
            let e: Tensor
            if let noise { e = noise } else { try eps.resize(x.shape); rng.fillNormal(eps); e = eps }
            for i in 0..<x.count { noisy.data[i] = x.data[i] + sigma * e.data[i] }
            let s = try model.energyGradient(noisy, labels: nil, energy: energy)
            // r = −s + (x̃ − x)/σ², computed from ε as PyTorch's reference does from x̃ − x.
            var sum = 0.0
            let scale = -sigma * sigma / Float(n * sigmas.count)
            for i in 0..<x.count {
                let r = -s.data[i] + (noisy.data[i] - x.data[i]) / (sigma * sigma)
                sum += Double(r) * Double(r)
                direction.data[i] = scale * r
            }
            total += 0.5 * Double(sigma) * Double(sigma) * sum / Double(n)
            try model.accumulateWeightGradientOfInputGradient(noisy, direction: direction, labels: nil)
        }
        return total / Double(sigmas.count)
    }

    public func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        model.zeroGradients()
        let c = try classifier.run(model: model, real: real, labels: labels, lambda: lambda)
        let dsm = Float(try addLossAndGradients(model: model, real))
        return ObjectiveResult(terms: JEM.Terms(reg: 0, cdiv: 0, px: dsm, pyx: c.pyx, total: dsm + lambda * c.pyx),
                               predictions: c.predictions, meanF: (c.meanF, 0))
    }
}
