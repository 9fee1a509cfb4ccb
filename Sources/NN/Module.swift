import Tensor

/// A learnable tensor and the gradient accumulated for it.
public final class Parameter {
    public let value: Tensor
    public let grad: Tensor
    public init(_ value: Tensor) {
        self.value = value
        self.grad = Tensor(shape: value.shape)
    }
}

/// A layer with an explicit forward pass and two separate backward passes, as in Torch7's `nn`:
/// the gradient to the input (`backwardInput`, Torch's updateGradInput) and the gradient to the
/// weights (`accumulateWeightGradients`, accGradParameters). Sampling by SGLD needs only the first.
///
/// A module owns its output and input-gradient tensors and returns the same objects on every call
/// (resized when the batch changes): callers copy what they need to keep. `backwardInput` and
/// `accumulateWeightGradients` refer to the input of the latest `forward`.
public protocol Module: AnyObject {
    func forward(_ input: Tensor) throws -> Tensor
    func backwardInput(_ gradOutput: Tensor) throws -> Tensor
    func accumulateWeightGradients(_ gradOutput: Tensor) throws
    /// Parameters under their PyTorch `state_dict` names relative to this module.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
    /// A copy that shares this module's parameters but has workspaces of its own (Torch7's
    /// `clone('weight', 'bias')`), so that several threads can run it on different batches.
    func replica() -> Module
}

extension Module {
    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {}
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }
    public func zeroGradients() { for p in parameters { p.grad.zero() } }
}
