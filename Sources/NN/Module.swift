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
///
/// Images travel between modules channels-last, (N, H, W, C), the layout the convolutions' GEMMs
/// read and write directly (see `Convolution`); vectors are (N, D). Parameters keep PyTorch's shapes
/// and names, so weights move both ways unchanged; the energy model at the top turns PyTorch's
/// (N, C, H, W) into channels-last and back (one copy when C = 1, the same bytes).
public protocol Module: AnyObject {
    func forward(_ input: Tensor) throws -> Tensor
    func backwardInput(_ gradOutput: Tensor) throws -> Tensor
    func accumulateWeightGradients(_ gradOutput: Tensor) throws
    /// Parameters under their PyTorch `state_dict` names relative to this module.
    var namedParameters: [(name: String, parameter: Parameter)] { get }
    /// State that is not trained but belongs in checkpoints (PyTorch's buffers: spectral
    /// normalisation's u and v), under their `state_dict` names relative to this module.
    var namedBuffers: [(name: String, tensor: Tensor)] { get }
    /// A copy that shares this module's parameters but has workspaces of its own (Torch7's
    /// `clone('weight', 'bias')`), so that several threads can run it on different batches.
    func replica() -> Module
    /// Weight gradients and, when asked, the gradient to the input, in one sweep: containers pass
    /// it on so that each layer's input gradient is computed once.
    func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor?
    /// The layer as messages name it: "Conv2d 16→32", "SiLU".
    var summary: String { get }
    /// Its constructor and arguments (see `Architecture`), from which a checkpoint rebuilds it.
    var architecture: JSON { get }
    /// Modules inside this one (containers).
    var children: [Module] { get }
    /// The shape and cost of its output for one input (see `Workload`), or nil when the input does
    /// not fit; modules that keep the shape and touch each value once use the default.
    func workload(after input: Workload) -> Workload

    // Second order: Pearlmutter's R-operator, forward over reverse (see `SecondOrder.swift`).
    // R{·} is the derivative along the input direction R{x} = v with the weights held (R{θ} = 0).

    /// The forward pass (as `forward`, which the first-order backward passes may then follow) and
    /// the output's tangent R{y} for the input's tangent `tangent` = R{x}.
    func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor)
    /// The backward pass of the latest `forward(_:tangent:)` and its tangent: given g = ∂L/∂y and
    /// R{g}, returns ∂L/∂x and R{∂L/∂x} when `needInputGradient`, and with `weights` accumulates
    /// R{∂L/∂θ} (not ∂L/∂θ) into the parameters' gradients. Tensors returned are the module's own,
    /// reused on the next call, like the first-order ones.
    func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)?
}

extension Module {
    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {}
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }
    public var namedBuffers: [(name: String, tensor: Tensor)] { [] }
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor? {
        try accumulateWeightGradients(gradOutput)
        return needInputGradient ? try backwardInput(gradOutput) : nil
    }
    public var summary: String { architecture["type"]?.string ?? "\(type(of: self))" }
    /// A module written without second order says so, rather than giving a wrong derivative.
    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        throw JouleError("\(summary) has no second-order pass (Hessian-vector products, score matching and gradient penalties need one)")
    }
    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        throw JouleError("\(summary) has no second-order pass (Hessian-vector products, score matching and gradient penalties need one)")
    }
    public var children: [Module] { [] }
    /// This module and every module inside it, depth first.
    public var allModules: [Module] { [self] + children.flatMap(\.allModules) }
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }
    public func zeroGradients() { for p in parameters { p.grad.zero() } }
}
