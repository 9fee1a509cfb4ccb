import NN
import Tensor

/// What a training step minimises, behind one interface: given a batch of real images with their
/// labels (and sampled images, when the objective asks for them), the loss's terms, with every
/// parameter's gradient of the loss accumulated into the model (gradients zeroed first). The JEM
/// trainer draws the samples, clips the gradient and takes the optimizer's step around it; an
/// objective is the maths between. A new objective is one new file conforming to this protocol.
public protocol TrainingObjective: AnyObject {
    /// The name it goes by in options and checkpoints ("ml").
    var name: String { get }
    /// Whether each step draws samples from the trainer's sampler for it.
    var needsSamples: Bool { get }
    /// Its settings under the names the Lua options use, for checkpoints.
    var hyperparameters: [String: String] { get }
    func lossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult
    /// Parameters of its own (NCE's log-normaliser), trained with the model's, their gradients
    /// accumulated (and zeroed) by `lossAndGradients` too; checkpoints keep them under these names.
    var ownParameters: [(name: String, parameter: Parameter)] { get }
}

/// One evaluation of an objective.
public struct ObjectiveResult {
    public var terms: JEM.Terms
    /// The classes the model predicts for the real batch (from the same forward pass).
    public var predictions: [Int]
    /// Mean f = −E over the real and the sampled batch (0 without samples).
    public var meanF: (real: Double, sampled: Double)

    public init(terms: JEM.Terms, predictions: [Int], meanF: (real: Double, sampled: Double)) {
        self.terms = terms; self.predictions = predictions; self.meanF = meanF
    }
}

extension TrainingObjective {
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }

    /// As `lossAndGradients`, but adding the loss's gradient to the gradients already accumulated
    /// (an objective called on its own, e.g. from Lua, next to other terms) instead of replacing them.
    public func addLossAndGradients(model: EnergyModel, real: Tensor, labels: [Int], sampled: Tensor?) throws -> ObjectiveResult {
        let saved = model.parameters.map { $0.grad.copy() }
        let r = try lossAndGradients(model: model, real: real, labels: labels, sampled: sampled)
        for (p, g) in zip(model.parameters, saved) {
            for i in 0..<g.count { p.grad.data[i] += g.data[i] }
        }
        return r
    }
}
