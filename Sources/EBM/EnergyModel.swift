import Formats
import Foundation
import NN
import Tensor

/// What the sampler, the JEM trainer, OOD scoring and checkpoints need from an energy network:
/// logits f(x) ∈ R^C of a batch, energies E(x) = −logsumexp_y f(x)[y] and E(x, y) = −f(x)[y] with
/// their input gradients, the gradient of any loss of the logits to every parameter, and the
/// parameters under their PyTorch `state_dict` names. A plain EBM is the C = 1 case.
/// Inputs are PyTorch's: images (N, C, H, W) or vectors (N, D).
public protocol EnergyModel: AnyObject {
    /// Logits per input (C).
    var classes: Int { get }
    /// The shape of one input, (C, H, W) or (D), when the model declares one (samplers start there).
    var inputShape: [Int]? { get }
    /// Logits (N, C) of a batch, in a tensor the model reuses on the next call.
    func forwardLogits(_ x: Tensor) throws -> Tensor
    /// Gradient of a loss to the inputs of the latest `forwardLogits`, given its gradient to their
    /// logits; with `weights`, accumulates every parameter's gradient instead (and returns nil).
    func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor?
    /// Energies into `energy` (N) and ∂E/∂x in a tensor the model reuses on the next call; each
    /// input's gradient is that of its own energy. Splits large batches over per-core replicas.
    func energyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor
    var namedParameters: [(name: String, parameter: Parameter)] { get }
    /// Checkpointed state that is not trained (PyTorch's buffers: spectral normalisation's u, v).
    var namedBuffers: [(name: String, tensor: Tensor)] { get }
    /// PyTorch's training / evaluation mode, for models with mode-dependent modules (spectral
    /// normalisation: in training mode each model-level pass advances its power iteration).
    var training: Bool { get set }
    /// What a training step does once before its objective's passes, which then run in
    /// evaluation mode: advance the mode-dependent state once, whatever the mode (as PyTorch's one
    /// training-mode forward of the step's joint batch would).
    func beginTrainingStep()
    /// What a checkpoint's metadata records to rebuild the model (see `EnergyNets.load`).
    var hyperparameters: [String: String] { get }
    /// Copies weights (and buffers) in; every name must be present with the right shape, and no unknown names.
    func load(stateDict: [String: Tensor]) throws
    /// A model sharing these parameters whose energy gradients run in `precision` (what a sampler
    /// calls); `self` when that is already the case or the model cannot.
    func sampling(in precision: SamplingPrecision) -> EnergyModel
    /// The arithmetic its energy gradients run in, in words ("fp32", "bf16", "bf16 in 3 of 5 convolutions …").
    var arithmetic: String { get }
    /// The input Hessian of each input's energy, E(x) (labels nil) or E(x, y), times v:
    /// ∂/∂x [vᵀ ∂E/∂x], exact (forward over reverse, see NN's `SecondOrder.swift`), of x's shape, in
    /// a tensor the model reuses on the next call.
    func hessianVectorProduct(_ x: Tensor, _ v: Tensor, labels: [Int]?) throws -> Tensor
    /// Accumulates ∂/∂θ [Σᵢ vᵢᵀ ∂E(xᵢ)/∂xᵢ] into every parameter's gradient: the weight gradient of
    /// any loss of the input gradients ∂E/∂x, v being the loss's gradient to them.
    func accumulateWeightGradientOfInputGradient(_ x: Tensor, direction v: Tensor, labels: [Int]?) throws
}

extension EnergyModel {
    public func sampling(in precision: SamplingPrecision) -> EnergyModel { self }
    public var arithmetic: String { "fp32" }
    public var namedBuffers: [(name: String, tensor: Tensor)] { [] }
    public var training: Bool {
        get { false }
        set {}
    }
    public func beginTrainingStep() {}
    /// Names and shapes of everything a weights file holds for this model: parameters, then buffers.
    public var stateShapes: [(name: String, shape: [Int])] {
        namedParameters.map { ($0.name, $0.parameter.value.shape) } + namedBuffers.map { ($0.name, $0.tensor.shape) }
    }
    /// A model without second derivatives (one whose energy is written outside the modules) says so.
    public func hessianVectorProduct(_ x: Tensor, _ v: Tensor, labels: [Int]?) throws -> Tensor {
        throw JouleError("this energy model gives no second derivatives (Hessian-vector products need a model of joule.nn modules)")
    }
    public func accumulateWeightGradientOfInputGradient(_ x: Tensor, direction v: Tensor, labels: [Int]?) throws {
        throw JouleError("this energy model gives no second derivatives (score matching and gradient penalties need a model of joule.nn modules)")
    }
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }
    public func zeroGradients() { for p in parameters { p.grad.zero() } }

    public func stateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.parameter.value) } + namedBuffers.map { ($0.name, $0.tensor) })
    }

    public func logits(_ x: Tensor) throws -> Tensor { try forwardLogits(x).copy() }

    /// E(x) (unconditional, labels nil) or E(x, y), one per input.
    public func energy(_ x: Tensor, labels: [Int]? = nil) throws -> Tensor {
        let e = Tensor(shape: [x.shape.first ?? 0])
        try Energies.compute(of: try forwardLogits(x), labels: labels, into: e, gradLogits: nil)
        return e
    }

    /// Accumulates every parameter's gradient of a loss whose gradient to the logits of `x` is
    /// `gradLogits` (for training steps written outside the engine, e.g. in Lua).
    public func accumulateGradients(_ x: Tensor, gradLogits: Tensor) throws {
        let logits = try forwardLogits(x)
        guard gradLogits.shape == logits.shape else {
            throw JouleError("gradient to the logits has shape \(gradLogits.shape), the logits have \(logits.shape)")
        }
        _ = try backward(gradLogits, weights: true)
    }

    /// The weights under their PyTorch names, with `hyperparameters` and `metadata` as metadata.
    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors(tensors: stateDict(), metadata: hyperparameters.merging(metadata) { $1 }).write(to: path)
    }
}

/// Energies of logits, the one definition every caller uses.
public enum Energies {
    /// E (N) of (N, C) logits into `energy`, and ∂E/∂logits into `gradLogits` when given; `lse`
    /// and `softmax` are workspaces.
    public static func compute(of logits: Tensor, labels: [Int]?, into energy: Tensor, gradLogits: Tensor?,
                               lse: Tensor = Tensor(shape: [0]), softmax: Tensor = Tensor(shape: [0])) throws {
        let (n, c) = (logits.shape[0], logits.shape[1])
        try energy.resize([n])
        try gradLogits?.resize(logits.shape)
        if let labels {
            guard labels.count == n else { throw JouleError("\(labels.count) labels for \(n) inputs") }
            gradLogits?.zero()
            for (i, y) in labels.enumerated() {
                guard y >= 0 && y < c else { throw JouleError("label \(y) out of range 0..<\(c)") }
                energy.data[i] = -logits.data[i * c + y]
                gradLogits?.data[i * c + y] = -1
            }
        } else {
            try Losses.logsumexp(logits, into: lse, softmax: gradLogits == nil ? nil : softmax)
            for i in 0..<n { energy.data[i] = -lse.data[i] }
            if let g = gradLogits { for i in 0..<g.count { g.data[i] = -softmax.data[i] } }
        }
    }

    /// The tangent R{∂E/∂f} of `compute`'s ∂E/∂f, `gradLogits`, along the logits' tangent R{f}:
    /// zero for E(x, y) = −f_y; for E = −logsumexp f, g = −p and R{g}_j = g_j (R{f}_j + Σ_k g_k R{f}_k).
    public static func gradientTangent(_ gradLogits: Tensor, logitsTangent rf: Tensor, conditional: Bool, into out: Tensor) throws {
        try requireSameShape(rf, gradLogits, "logits' tangent")
        try out.resize(gradLogits.shape)
        guard !conditional else { out.zero(); return }
        let (n, c) = (gradLogits.shape[0], gradLogits.shape[1])
        let (g, r, o) = (gradLogits.data, rf.data, out.data)
        for i in 0..<n {
            var dot: Float = 0
            for j in 0..<c { dot += g[i * c + j] * r[i * c + j] }
            for j in 0..<c { o[i * c + j] = g[i * c + j] * (r[i * c + j] + dot) }
        }
    }
}
