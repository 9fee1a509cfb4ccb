import NN
import Tensor

/// The classifier's part of a JEM loss for objectives other than maximum likelihood: one forward
/// pass of the real batch gives the predictions and mean f = −E that a training step reports, and,
/// with weight λ > 0, λ·cross-entropy with its gradient accumulated into the parameters' gradients.
final class ClassifierTerm {
    private let lse = Tensor(shape: [0])
    private let gradLogits = Tensor(shape: [0])

    /// (cross-entropy, predictions, mean f of the real batch).
    func run(model: EnergyModel, real: Tensor, labels: [Int], lambda: Float) throws -> (pyx: Float, predictions: [Int], meanF: Double) {
        let b = real.shape.first ?? 0
        guard b > 0, labels.count == b else { throw JouleError("need one label per real image (\(labels.count) for \(b))") }
        let logits = try model.forwardLogits(real)
        try Losses.logsumexp(logits, into: lse)
        let meanF = lse.sumDouble() / Double(b)
        let predictions = try logits.argmaxRows()
        guard lambda > 0 else { return (0, predictions, meanF) }
        try gradLogits.resize(logits.shape)
        gradLogits.zero()
        let pyx = try Losses.crossEntropy(logits, labels: labels, grad: gradLogits, scale: lambda)
        _ = try model.backward(gradLogits, weights: true)
        return (pyx, predictions, meanF)
    }
}

/// Checks of objectives' options, with one message for each (NaN and infinities are refused).
public enum ObjectiveOptions {
    private static func text(_ v: Float) -> String { v.isNaN ? "nan" : v.isInfinite ? (v > 0 ? "inf" : "-inf") : "\(v)" }
    public static func finite(_ value: Float, _ what: String, atLeast low: Float = 0) throws -> Float {
        guard value.isFinite, value >= low else { throw JouleError("\(what) must be a finite number ≥ \(low), got \(text(value))") }
        return value
    }
    public static func positive(_ value: Float, _ what: String) throws -> Float {
        guard value.isFinite, value > 0 else { throw JouleError("\(what) must be a finite number > 0, got \(text(value))") }
        return value
    }
    public static func hasParameters(_ model: EnergyModel, _ what: String) throws {
        guard !model.parameters.isEmpty else { throw JouleError("\(what): the model has no parameters to train") }
    }
}
