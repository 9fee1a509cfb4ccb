import Foundation
import Tensor

/// A module whose forward pass depends on a training or evaluation mode, as PyTorch's
/// `module.training`. The energy model at the top finds these once (from `allModules`), sets their
/// mode (`model:train()` / `model:eval()`) and calls `beginPass` once per model-level pass, on the
/// calling thread and before a batch is split over per-core replicas; replicas never call it.
public protocol ModeDependent: AnyObject {
    var training: Bool { get set }
    /// What a pass needs first: in training mode the module's state advances (spectral
    /// normalisation's power iteration); in either mode derived values are brought up to date.
    func beginPass()
    /// Advances the state once whatever the mode, and brings derived values up to date (what a
    /// training step does before its objective's evaluation-mode passes).
    func advance()
}

/// Spectral normalisation of a Linear or Conv2d layer's weight, as PyTorch's
/// `torch.nn.utils.parametrizations.spectral_norm`: the layer computes with W_sn = W / σ(W), σ the
/// largest singular value of W viewed as the matrix (out, in·k·k) (PyTorch's reshape; Joule keeps
/// PyTorch's row-major shapes, so it is the same bytes), estimated by power iteration:
///
///   for each iteration: u = normalize(W v), v = normalize(Wᵀ u),  normalize(x) = x / max(‖x‖, eps)
///   σ = uᵀ W v   (u, v held constant in the backward pass, as in PyTorch)
///
/// When u and v advance (the design, PyTorch's): in training mode, once per model-level pass
/// (`beginPass`, which the energy model calls before each forward, input-gradient and second-order
/// pass); in evaluation mode never, σ then coming from the stored u and v. A new SpectralNorm is in
/// training mode (PyTorch's default); models loaded from files start in evaluation mode. The JEM
/// trainer advances u, v once per step and runs its objective's passes in evaluation mode.
///
/// The trained weight is `original` (PyTorch's `parametrizations.weight.original`); u and v are
/// buffers (`parametrizations.weight.0._u`, `._v`). The wrapped layer's own `weight` holds W_sn
/// (recomputed whenever `original`, u or v change) and its gradient is scratch; its bias stays its
/// own parameter, named "bias" as in PyTorch.
///
/// Weight gradient. With G = ∂L/∂W_sn (what the wrapped layer accumulates) and σ = uᵀWv:
///   ∂L/∂W_ij = Σ_kl G_kl ∂(W_kl/σ)/∂W_ij = G_ij/σ − (Σ_kl G_kl W_kl)/σ² · ∂σ/∂W_ij,  ∂σ/∂W = u vᵀ,
/// so ∂L/∂W = G/σ − (⟨G, W⟩/σ²)·u vᵀ. W_sn depends on W alone (R{W} = 0 along an input direction), so
/// the second-order R{∂L/∂W} is the same linear map of the wrapped layer's R{∂L/∂W_sn}.
public final class SpectralNorm: Module, ModeDependent {
    /// What the module and its replicas share. Only the thread that runs model-level passes
    /// advances u and v; W_sn is refreshed under `lock`, so replicas running on other threads
    /// after a weight update refresh it once.
    public final class State {
        public let original: Parameter
        /// PyTorch's `_u` (out) and `_v` (in·k·k).
        public let u: Tensor, v: Tensor
        /// σ = uᵀ W v of the latest refresh.
        public internal(set) var sigma: Double = 1
        public var training = true
        public let eps: Float
        public let iterations: Int
        let lock = NSLock()
        /// The versions of original, u and v that W_sn was computed from.
        var computedFrom: (UInt64, UInt64, UInt64)?

        init(original: Parameter, rows: Int, columns: Int, eps: Float, iterations: Int) {
            self.original = original
            u = Tensor(shape: [rows]); v = Tensor(shape: [columns])
            self.eps = eps; self.iterations = iterations
        }
    }

    /// The wrapped Linear or Conv2d.
    public let module: Module
    public let state: State
    /// The wrapped layer's weight (W_sn, gradient scratch) and bias.
    private let weight: Parameter
    private let bias: Parameter
    private let rows: Int, columns: Int

    /// PyTorch's limits: eps > 0, at least one iteration; and at most this many per pass.
    public static let maxIterations = 1000

    /// Wraps `module` (a Linear or a Conv2d), taking its weight as `original`; u and v are drawn
    /// as PyTorch draws them (normalised standard normals, then 15 power iterations).
    public init(_ module: Module, eps: Float = 1e-12, iterations: Int = 1, rng: RNG) throws {
        let (w, b): (Parameter, Parameter)
        switch module {
        case let l as Linear: (w, b) = (l.weight, l.bias)
        case let c as Conv2d: (w, b) = (c.weight, c.bias)
        default: throw JouleError("SpectralNorm wraps a Linear or a Conv2d layer, got \(module.summary)")
        }
        guard eps.isFinite, eps > 0 else { throw JouleError("SpectralNorm: eps must be a finite number > 0, got \(eps)") }
        guard (1...Self.maxIterations).contains(iterations) else {
            throw JouleError("SpectralNorm: n_power_iterations must be in 1...\(Self.maxIterations), got \(iterations)")
        }
        self.module = module
        weight = w; bias = b
        rows = w.value.shape[0]; columns = w.value.count / rows
        // The trained weight moves to `original`; the layer's own parameter becomes W_sn.
        state = State(original: Parameter(w.value.copy()), rows: rows, columns: columns, eps: eps, iterations: iterations)
        initialize(rng: rng)
    }

    private init(sharing other: SpectralNorm) {
        module = other.module.replica()
        state = other.state
        weight = other.weight; bias = other.bias
        rows = other.rows; columns = other.columns
    }

    public func replica() -> Module { SpectralNorm(sharing: self) }

    public static let layer = LayerType(
        "SpectralNorm", wrapping: "module",
        arguments: [.init("eps", .setting, default: .setting(1e-12)),
                    .init("n_power_iterations", .integer(1...maxIterations), default: .integer(1))],
        drawsValues: true,
        signature: "joule.nn.SpectralNorm(layer [, { eps = 1e-12, n_power_iterations = 1, seed }]) → Model",
        documentation: "Spectral normalisation of a Linear or Conv2d layer, as torch.nn.utils.parametrizations.spectral_norm: the layer computes with W/σ(W), σ the largest singular value of W as an (out, in·k·k) matrix, estimated by power iteration (u = normalize(W v), v = normalize(Wᵀ u), σ = uᵀ W v). In training mode (a new SpectralNorm's; model:train()) u and v advance n_power_iterations times per model-level pass; in evaluation mode (model:eval(), and every model loaded from a file) they stay. The layer's weight is trained as parametrizations.weight.original; u and v are saved as parametrizations.weight.0._u and _v, PyTorch's names. u and v start as PyTorch's do: normalised standard normals (from `seed`, else joule.seed's generator), then 15 power iterations.",
        wrap: { a, m, rng in try SpectralNorm(m, eps: a.setting("eps")!, iterations: a.integer("n_power_iterations")!, rng: rng) })

    /// u, v as PyTorch's constructor draws them, for the present `original`: normalised standard
    /// normals, then 15 power iterations.
    public func initialize(rng: RNG) {
        state.lock.withLock {
            for t in [state.u, state.v] {
                for i in 0..<t.count { t.data[i] = rng.normal() }
                Self.normalize(t, eps: state.eps)
            }
            powerIterations(15)
        }
    }

    // MARK: Mode and power iteration

    public var training: Bool {
        get { state.training }
        set { state.training = newValue }
    }

    public func beginPass() { pass(advancing: false) }

    public func advance() { pass(advancing: true) }

    /// The power iteration when `advancing` or in training mode, then the normalised weight.
    private func pass(advancing: Bool) {
        state.lock.withLock {
            if advancing || state.training { powerIterations(state.iterations) }
            refreshLocked()
        }
    }

    /// x / max(‖x‖, eps), the norm accumulated in Double.
    private static func normalize(_ t: Tensor, eps: Float) {
        var s = 0.0
        for i in 0..<t.count { s += Double(t.data[i]) * Double(t.data[i]) }
        let scale = 1 / Swift.max(s.squareRoot(), Double(eps))
        for i in 0..<t.count { t.data[i] = Float(Double(t.data[i]) * scale) }
        t.touch()
    }

    /// PyTorch's `_power_method`: u = normalize(W v), v = normalize(Wᵀ u), `count` times.
    private func powerIterations(_ count: Int) {
        let w = state.original.value.data, u = state.u, v = state.v
        var acc = [Double](repeating: 0, count: columns)
        for _ in 0..<count {
            for i in 0..<rows {
                var s = 0.0
                let row = w + i * columns
                for j in 0..<columns { s += Double(row[j]) * Double(v.data[j]) }
                u.data[i] = Float(s)
            }
            Self.normalize(u, eps: state.eps)
            for j in 0..<columns { acc[j] = 0 }
            for i in 0..<rows {
                let ui = Double(u.data[i]), row = w + i * columns
                for j in 0..<columns { acc[j] += Double(row[j]) * ui }
            }
            for j in 0..<columns { v.data[j] = Float(acc[j]) }
            Self.normalize(v, eps: state.eps)
        }
    }

    /// σ = uᵀ W v and W_sn = W / σ, when original, u or v changed since the last time.
    private func refresh() { state.lock.withLock { refreshLocked() } }

    private func refreshLocked() {
        let versions = (state.original.value.version, state.u.version, state.v.version)
        if let c = state.computedFrom, c == versions { return }
        let w = state.original.value.data, u = state.u.data, v = state.v.data
        var sigma = 0.0
        for i in 0..<rows {
            var s = 0.0
            let row = w + i * columns
            for j in 0..<columns { s += Double(row[j]) * Double(v[j]) }
            sigma += Double(u[i]) * s
        }
        state.sigma = sigma
        let out = weight.value.data
        for k in 0..<(rows * columns) { out[k] = Float(Double(w[k]) / sigma) }
        weight.value.touch()   // a Conv2d repacks its weights (see its packedVersion)
        state.computedFrom = versions
    }

    // MARK: Module

    public var children: [Module] { [module] }
    public var summary: String { "SpectralNorm(\(module.summary))" }
    public var architecture: JSON {
        .object(["type": .string("SpectralNorm"), "module": module.architecture, "eps": .double(Double(state.eps)),
                 "n_power_iterations": .int(state.iterations)])
    }
    public func workload(after input: Workload) -> Workload { module.workload(after: input) }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        [("parametrizations.weight.original", state.original)] + (bias.value.count > 0 ? [("bias", bias)] : [])
    }
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        [("parametrizations.weight.0._u", state.u), ("parametrizations.weight.0._v", state.v)]
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        refresh()
        return try module.forward(input)
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor { try module.backwardInput(gradOutput) }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        weight.grad.zero()
        try module.accumulateWeightGradients(gradOutput)
        accumulateOriginalGradient()
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor? {
        weight.grad.zero()
        let g = try module.backward(gradOutput, needInputGradient: needInputGradient)
        accumulateOriginalGradient()
        return g
    }

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        refresh()
        return try module.forward(input, tangent: tangent)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        if weights { weight.grad.zero() }
        let r = try module.backward(gradOutput, tangent: tangent, weights: weights, needInputGradient: needInputGradient)
        if weights { accumulateOriginalGradient() }
        return r
    }

    /// original.grad += G/σ − (⟨G, W⟩/σ²)·u vᵀ for the scratch gradient G (see the type's comment).
    private func accumulateOriginalGradient() {
        let g = weight.grad.data, w = state.original.value.data, out = state.original.grad.data
        let (u, v, sigma) = (state.u.data, state.v.data, state.sigma)
        var dot = 0.0
        for k in 0..<(rows * columns) { dot += Double(g[k]) * Double(w[k]) }
        let c = dot / (sigma * sigma)
        for i in 0..<rows {
            let cu = c * Double(u[i]), base = i * columns
            for j in 0..<columns { out[base + j] += Float(Double(g[base + j]) / sigma - cu * Double(v[j])) }
        }
    }

    /// The architecture `json` with every Conv2d and Linear wrapped in a SpectralNorm (those already
    /// wrapped stay as they are): `joule.nn.spectral_norm`'s network.
    public static func wrappingEveryLayer(_ json: JSON, eps: Float = 1e-12, iterations: Int = 1) -> JSON {
        guard var o = json.object, let type = o["type"]?.string else { return json }
        if type == "SpectralNorm" { return json }
        if type == "Conv2d" || type == "Linear" {
            return .object(["type": .string("SpectralNorm"), "module": json, "eps": .double(Double(eps)),
                            "n_power_iterations": .int(iterations)])
        }
        for (key, value) in o {
            if let list = value.array, list.contains(where: { $0.object != nil }) {
                o[key] = .array(list.map { wrappingEveryLayer($0, eps: eps, iterations: iterations) })
            } else if value.object != nil {
                o[key] = wrappingEveryLayer(value, eps: eps, iterations: iterations)
            }
        }
        return .object(o)
    }
}
