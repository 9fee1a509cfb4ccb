import Foundation
import NN
import Tensor

/// A Gaussian with one mean and standard deviation per input value, fitted to data: the noise of
/// noise-contrastive estimation.
public struct GaussianNoise {
    public let mean: Tensor, std: Tensor

    /// Standard deviations below this are raised to it (a constant pixel would give a point mass).
    public static let minStd: Float = 1e-3

    public init(mean: Tensor, std: Tensor) throws {
        guard mean.shape == std.shape, mean.count > 0 else { throw JouleError("nce: noise mean \(mean.shape) and std \(std.shape) must have one shape") }
        for i in 0..<std.count where !(std.data[i].isFinite && std.data[i] > 0 && mean.data[i].isFinite) {
            throw JouleError("nce: noise std must be finite and > 0 and the mean finite (element \(i + 1))")
        }
        self.mean = mean.copy(); self.std = std.copy()
    }

    /// Per-value mean and standard deviation of a batch (N, …) (std at least `minStd`).
    public static func fit(_ data: Tensor) throws -> GaussianNoise {
        let n = data.shape.first ?? 0
        guard n > 1 else { throw JouleError("nce: fitting the noise needs at least 2 inputs, got \(n)") }
        let d = data.itemSize
        let mean = Tensor(shape: Array(data.shape.dropFirst())), std = Tensor(shape: mean.shape)
        for j in 0..<d {
            var s = 0.0, ss = 0.0
            for i in 0..<n { let v = Double(data.data[i * d + j]); s += v; ss += v * v }
            let m = s / Double(n)
            mean.data[j] = Float(m)
            std.data[j] = Swift.max(Float((Swift.max(ss / Double(n) - m * m, 0)).squareRoot()), minStd)
        }
        return try GaussianNoise(mean: mean, std: std)
    }

    /// log q of each input of a batch (N, …).
    func logDensity(_ x: Tensor, into out: inout [Double]) {
        let (n, d) = (x.shape[0], x.itemSize)
        if out.count != n { out = [Double](repeating: 0, count: n) }
        var constant = 0.0
        for j in 0..<d { constant -= Foundation.log(Double(std.data[j])) + 0.5 * Foundation.log(2 * Double.pi) }
        for i in 0..<n {
            var s = constant
            for j in 0..<d {
                let z = (Double(x.data[i * d + j]) - Double(mean.data[j])) / Double(std.data[j])
                s -= 0.5 * z * z
            }
            out[i] = s
        }
    }
}

/// Noise-contrastive estimation (Gutmann & Hyvärinen 2010) with a learned log-normaliser c:
/// log p_θ(x) = −E(x) − c, noise q a Gaussian fitted to the data (`GaussianNoise`), ν noise inputs
/// per real one, G(u) = log p_θ(u) − log(ν q(u)), and
///   nce = −(1/N) Σᵢ log σ(G(xᵢ)) − (1/N) Σⱼ log σ(−G(yⱼ)),   yⱼ ~ q (ν·N of them),
/// the logistic loss of telling data from noise. Its gradients are first order: ∂nce/∂E(xᵢ) =
/// (1 − σ(G(xᵢ)))/N, ∂nce/∂E(yⱼ) = −σ(G(yⱼ))/N, and ∂nce/∂c their sum. E(x) = −logsumexp f(x).
/// In JEM training c is trained with the weights (as "objective.log_z") and it adds λ·cross-entropy.
public final class NoiseContrastiveEstimation: TrainingObjective {
    public let noise: GaussianNoise
    public let ratio: Int
    /// c, the learned log-normaliser: its gradient accumulates in `logNormalizer.grad`.
    public let logNormalizer: Parameter
    public let rng: RNG
    public let lambda: Float
    public static let maxRatio = 64
    public var name: String { "nce" }
    public var needsSamples: Bool { false }
    public var hyperparameters: [String: String] { ["objective": name, "ratio": "\(ratio)", "lambda": "\(lambda)"] }
    public var ownParameters: [(name: String, parameter: Parameter)] { [("log_z", logNormalizer)] }
    private let classifier = ClassifierTerm()
    private let noiseBatch = Tensor(shape: [0]), energy = Tensor(shape: [0]), gradLogits = Tensor(shape: [0])
    private var logQ: [Double] = []

    public init(noise: GaussianNoise, ratio: Int = 1, logNormalizer c: Float = 0, lambda: Float = 0, rng: RNG) throws {
        guard (1...Self.maxRatio).contains(ratio) else { throw JouleError("nce: ratio must be in 1...\(Self.maxRatio), got \(ratio)") }
        self.noise = noise; self.ratio = ratio; self.rng = rng
        self.lambda = try ObjectiveOptions.finite(lambda, "nce: lambda")
        logNormalizer = Parameter(try Tensor(shape: [1], values: [try ObjectiveOptions.finite(c, "nce: log_z", atLeast: -.greatestFiniteMagnitude)]))
    }

    /// The loss of the batch x against ν·N noise inputs (drawn, or μ + s·`standardNoise` when
    /// given, of shape (ν·N, …)), its gradient added to every parameter's and to c's.
    @discardableResult
    public func addLossAndGradients(model: EnergyModel, _ x: Tensor, standardNoise: Tensor? = nil) throws -> Double {
        try ObjectiveOptions.hasParameters(model, "nce")
        let n = x.shape.first ?? 0
        guard n > 0, Array(x.shape.dropFirst()) == noise.mean.shape else {
            throw JouleError("nce: inputs \(x.shape) do not have the noise's shape (N, \(noise.mean.shape.map(String.init).joined(separator: ", ")))")
        }
        let m = ratio * n, d = x.itemSize
        try noiseBatch.resize([m] + noise.mean.shape)
        if let standardNoise {
            guard standardNoise.shape == noiseBatch.shape else { throw JouleError("nce: noise has shape \(standardNoise.shape), expected \(noiseBatch.shape)") }
            try noiseBatch.assign(standardNoise)
        } else {
            rng.fillNormal(noiseBatch)
        }
        for i in 0..<m { for j in 0..<d { noiseBatch.data[i * d + j] = noise.mean.data[j] + noise.std.data[j] * noiseBatch.data[i * d + j] } }
        let c = Double(logNormalizer.value.data[0]), logNu = Foundation.log(Double(ratio))
        var loss = 0.0, dc = 0.0
        for (batch, isData) in [(x, true), (noiseBatch, false)] {
            try Energies.compute(of: try model.forwardLogits(batch), labels: nil, into: energy, gradLogits: gradLogits)
            noise.logDensity(batch, into: &logQ)
            let k = gradLogits.shape[1]
            for i in 0..<batch.shape[0] {
                let g = -Double(energy.data[i]) - c - logNu - logQ[i]
                let s = 1 / (1 + Foundation.exp(-g))
                // −log σ(G) = softplus(−G), −log σ(−G) = softplus(G), computed stably.
                let (sp, dE) = isData ? (Self.softplus(-g), (1 - s) / Double(n)) : (Self.softplus(g), -s / Double(n))
                loss += sp / Double(n)
                dc += dE
                for j in 0..<k { gradLogits.data[i * k + j] *= Float(dE) }
            }
            _ = try model.backward(gradLogits, weights: true)
        }
        logNormalizer.grad.data[0] += Float(dc)
        return loss
    }

    public func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        model.zeroGradients()
        logNormalizer.grad.zero()
        let c = try classifier.run(model: model, real: real, labels: labels, lambda: lambda)
        let nce = Float(try addLossAndGradients(model: model, real))
        return ObjectiveResult(terms: JEM.Terms(reg: 0, cdiv: 0, px: nce, pyx: c.pyx, total: nce + lambda * c.pyx),
                               predictions: c.predictions, meanF: (c.meanF, 0))
    }

    static func softplus(_ v: Double) -> Double { v > 0 ? v + Foundation.log1p(Foundation.exp(-v)) : Foundation.log1p(Foundation.exp(v)) }
}
