import NN
import Tensor

/// JEM's objective, contrastive maximum likelihood with the classifier's cross-entropy (the course's
/// and the reference's): px = α·mean(f_r² + f_s²) + mean(f_s) − mean(f_r), f = −E of the real and the
/// sampled batch; pyx = cross-entropy of the real batch; total = px + λ·pyx. With λ = 0 and one
/// class it is a plain EBM's maximum-likelihood loss.
public final class ContrastiveML: TrainingObjective {
    public let alpha, lambda: Float
    public var name: String { "ml" }
    public var needsSamples: Bool { true }
    public var hyperparameters: [String: String] { ["objective": name, "alpha": "\(alpha)", "lambda": "\(lambda)"] }

    private let lse = Tensor(shape: [0])
    private let softmax = Tensor(shape: [0])
    private let gradLogits = Tensor(shape: [0])

    public init(alpha: Float, lambda: Float) { self.alpha = alpha; self.lambda = lambda }

    public func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        guard let sampled else { throw JouleError("JEM: maximum likelihood needs a sampled batch") }
        let b = real.shape.first ?? 0
        guard b > 0, labels.count == b, sampled.shape == real.shape else {
            throw JouleError("JEM: need equal real \(real.shape) and sampled \(sampled.shape) batches and one label per real image")
        }
        let c = model.classes
        guard labels.allSatisfy({ $0 >= 0 && $0 < c }) else { throw JouleError("JEM: labels must lie in 0..<\(c)") }
        let nb = Float(b)
        var meanF = (real: 0.0, sampled: 0.0), predictions: [Int] = []
        model.zeroGradients()
        // Each row's gradient depends only on its own logits (the means are over rows), so the real
        // and the sampled batch go through the network one after the other: half the activation
        // memory of one joint pass.
        var sumSquares = 0.0, pyx: Float = 0
        for isReal in [true, false] {
            let logits = try model.forwardLogits(isReal ? real : sampled)
            try Losses.logsumexp(logits, into: lse, softmax: softmax)
            try gradLogits.resize(logits.shape)
            var sumF = 0.0
            for i in 0..<b {
                let f = lse.data[i]
                sumSquares += Double(f) * Double(f)
                sumF += Double(f)
                // ∂px/∂logits: f = logsumexp contributes softmax · ∂px/∂f.
                let dpx = isReal ? (2 * alpha * f - 1) / nb : (2 * alpha * f + 1) / nb
                for j in 0..<c { gradLogits.data[i * c + j] = dpx * softmax.data[i * c + j] }
            }
            if isReal {
                meanF.real = sumF / Double(b)
                predictions = try logits.argmaxRows()
                // pyx: cross-entropy of the real rows, its gradient added to theirs.
                pyx = try Losses.crossEntropy(logits, labels: labels, grad: gradLogits, scale: lambda)
            } else {
                meanF.sampled = sumF / Double(b)
            }
            _ = try model.backward(gradLogits, weights: true)
        }
        let reg = Float(Double(alpha) * sumSquares / Double(b))
        let cdiv = Float(meanF.sampled - meanF.real)
        return ObjectiveResult(terms: JEM.Terms(reg: reg, cdiv: cdiv, px: reg + cdiv, pyx: pyx, total: reg + cdiv + lambda * pyx),
                               predictions: predictions, meanF: meanF)
    }
}
