import Foundation
import Tensor

/// Stochastic gradient Langevin dynamics on a batch of chains, with the course's conventions:
///   x ← clamp(x + σ·ε, −1, 1);  g ← clamp(∂E/∂x, −c, c);  x ← clamp(x − η·g, −1, 1),
/// η multiplied by `stepDecay` after every step.
public final class SGLDSampler: ChainSampler {
    public struct Config: Equatable {
        public var steps = 60
        public var stepSize: Float = 10
        public var stepDecay: Float = 1
        public var noise: Float = 0.005
        public var gradClip: Float = 0.03
        /// Fraction of chains that start fresh instead of from the replay buffer.
        public var freshFraction: Float = 0.05
        public var initial: ChainInit = .uniform
        /// Where the chains of a training step start (`sampleForTraining`); the replay buffer by default.
        public var start: ChainStart = .replay
        /// Sample E(x, y) with one buffer per class; otherwise E(x) with a single buffer.
        public var conditional = true
        public var bufferPerClass = 128
        /// One chain's shape, (C, H, W) or (D); nil: the model's own (`EnergyModel.inputShape`).
        public var imageShape: [Int]?
        /// The arithmetic of the steps' energy gradients: bf16 runs the convolutions' GEMMs in
        /// bfloat16 with FP32 accumulation where the CPU has AVX512-BF16 (elsewhere FP32, said once);
        /// auto, per convolution shape, the faster of the two on this CPU (`PrecisionTuning`).
        public var precision: SamplingPrecision = .auto
        public init() {}
    }

    /// Limits on what callers may ask for (documented in the README): steps per run, chains per
    /// sample, buffer images per class, and the floats a buffer or a kept chain may hold (8 GiB).
    public static let maxSteps = 1_000_000, maxChains = 100_000, maxBufferPerClass = 1_000_000
    public static let maxFloats = 1 << 31

    public let model: EnergyModel
    /// One chain's shape: the configured one, else the model's.
    public let shape: [Int]
    public var config: Config
    public let rng: RNG
    public let buffer: ReplayBuffer
    /// The chains of `start = .pcd`.
    public let persistent = PersistentChains()

    /// The model the steps run, for the precision it was made for: `model` itself, or its replica
    /// in `config.precision` (made again if the configuration changes).
    private var stepModel: (precision: SamplingPrecision, model: EnergyModel)?

    // Workspaces reused by every step.
    private let eps = Tensor(shape: [0])
    private let energy = Tensor(shape: [0])

    public init(model: EnergyModel, config: Config = Config(), rng: RNG) throws {
        let c = config
        guard c.steps >= 0, c.steps <= Self.maxSteps else { throw JouleError("SGLD: steps must be in 0...\(Self.maxSteps), got \(c.steps)") }
        guard c.stepSize.isFinite, c.stepSize >= 0 else { throw JouleError("SGLD: step_size must be a non-negative number, got \(c.stepSize)") }
        guard c.noise.isFinite, c.noise >= 0 else { throw JouleError("SGLD: noise must be a non-negative number, got \(c.noise)") }
        guard c.gradClip > 0 else { throw JouleError("SGLD: grad_clip must be positive, got \(c.gradClip)") }
        guard c.stepDecay > 0, c.stepDecay <= 1 else { throw JouleError("SGLD: step_decay must be in (0, 1], got \(c.stepDecay)") }
        guard (0...1).contains(c.freshFraction) else { throw JouleError("SGLD: fresh_fraction must be in [0, 1], got \(c.freshFraction)") }
        guard let shape = c.imageShape ?? model.inputShape else {
            throw JouleError("SGLD: the model declares no input shape: give the chains' shape (C, H, W) or (D)")
        }
        guard shape.count == 3 || shape.count == 1, shape.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }), shape.reduce(1, *) <= 1 << 24 else {
            throw JouleError("SGLD: the chains' shape must be (C, H, W) or (D), positive and at most \(1 << 24) values, got \(shape)")
        }
        if let s = model.inputShape, s.count != shape.count || s[0] != shape[0] {
            throw JouleError("SGLD: chains of shape \(shape) do not fit the model's inputs \(s)")
        }
        guard (1...Self.maxBufferPerClass).contains(c.bufferPerClass) else {
            throw JouleError("SGLD: buffer_per_class must be in 1...\(Self.maxBufferPerClass), got \(c.bufferPerClass)")
        }
        let pools = c.conditional ? model.classes : 1
        let floats = [pools, c.bufferPerClass].reduce(shape.reduce(1, *)) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard floats <= Self.maxFloats else {
            throw JouleError("SGLD: a replay buffer of \(pools) pools × \(c.bufferPerClass) images × \(shape.reduce(1, *)) values is too large (at most \(Self.maxFloats) values)")
        }
        self.model = model
        self.shape = shape
        self.config = c
        self.rng = rng
        buffer = try ReplayBuffer(pools: c.conditional ? model.classes : 1, capacity: c.bufferPerClass,
                                  imageSize: shape.reduce(1, *))
    }

    public var conditional: Bool { config.conditional }

    /// The arithmetic the steps really run in, in words: bf16 only where the CPU has it; under
    /// auto what was measured faster per convolution (measured now if no step has run yet).
    public var runningPrecision: String { runningModel.arithmetic }

    private var runningModel: EnergyModel {
        if let m = stepModel, m.precision == config.precision { return m.model }
        if config.precision == .bf16 && Precision.bf16.available == .fp32 { Self.warnNoBF16() }
        let m = model.sampling(in: config.precision)
        stepModel = (config.precision, m)
        return m
    }

    nonisolated(unsafe) private static var warned = false
    private static func warnNoBF16() {
        guard !warned else { return }
        warned = true
        let why = Precision.bf16Unavailable ?? "this CPU has no AVX512-BF16"
        FileHandle.standardError.write(Data("SGLD: \(why); precision bf16 runs in FP32\n".utf8))
    }
    public var steps: Int {
        get { config.steps }
        set { config.steps = newValue }
    }

    public var hyperparameters: [String: String] {
        let s = config
        return ["sgld.steps": "\(s.steps)", "sgld.step_size": "\(s.stepSize)", "sgld.step_decay": "\(s.stepDecay)",
                "sgld.noise": "\(s.noise)", "sgld.grad_clip": "\(s.gradClip)",
                "sgld.fresh_fraction": "\(s.freshFraction)", "sgld.conditional": "\(s.conditional)",
                "sgld.buffer_per_class": "\(s.bufferPerClass)", "sgld.shape": shape.map(String.init).joined(separator: ","),
                "sgld.precision": s.precision.rawValue, "sgld.running_precision": runningPrecision]
            // Only a start other than the default is recorded, so checkpoints of the default stay as they were.
            .merging(s.start == .replay ? [:] : ["sgld.start": s.start.rawValue]) { $1 }
    }

    /// One step on `x` in place, with the given standard-normal noise `eps`.
    public func step(_ x: Tensor, noise eps: Tensor, labels: [Int]?, stepSize: Float) throws {
        try requireSameShape(x, eps, "SGLD noise")
        let (c, sigma, xs, e) = (config.gradClip, config.noise, x.data, eps.data)
        for i in 0..<x.count { xs[i] = Swift.min(Swift.max(xs[i] + sigma * e[i], -1), 1) }
        let g = try runningModel.energyGradient(x, labels: labels, energy: energy).data
        for i in 0..<x.count { xs[i] = Swift.min(Swift.max(xs[i] - stepSize * Swift.min(Swift.max(g[i], -c), c), -1), 1) }
        x.touch()
    }

    /// Runs `steps` steps on `x` in place. With `keepEvery` k, returns the chain's frames
    /// (the start, every k-th step, and the end) stacked as (frames, N, C, H, W) or (frames, N, D).
    /// Each chain draws its noise from its own generator, seeded from `rng`, so chains are
    /// reproducible however the batch is split over cores.
    @discardableResult
    public func run(_ x: Tensor, labels: [Int]?, steps: Int?, keepEvery: Int?) throws -> Tensor? {
        try run(x, labels: labels, steps: steps, keepEvery: keepEvery, onStep: nil)
    }

    @discardableResult
    public func run(_ x: Tensor, labels: [Int]?, steps: Int? = nil, keepEvery: Int? = nil,
                    onStep: ((Int) -> Void)? = nil) throws -> Tensor? {
        let steps = steps ?? config.steps
        guard steps >= 0, steps <= Self.maxSteps else { throw JouleError("SGLD: steps must be in 0...\(Self.maxSteps), got \(steps)") }
        if let k = keepEvery, k <= 0 { throw JouleError("SGLD: keep_every must be positive, got \(k)") }
        guard x.rank == 2 || x.rank == 4, x.shape[0] > 0 else {
            throw JouleError("SGLD: expected chains of shape (N, C, H, W) or (N, D), got \(x.shape)")
        }
        if let k = keepEvery {
            let frames = steps / k + 2
            guard !frames.multipliedReportingOverflow(by: x.count).overflow, frames * x.count <= Self.maxFloats else {
                throw JouleError("SGLD: keeping \(frames) frames of \(x.count) values is too large (at most \(Self.maxFloats) values); raise keep_every")
            }
        }
        let n = x.shape[0], d = x.itemSize
        if let labels, labels.count != n { throw JouleError("SGLD: \(labels.count) labels for \(n) chains") }
        let chainRNGs = (0..<n).map { _ in RNG(seed: rng.next()) }
        try eps.resize(x.shape)
        var frames: [Tensor] = keepEvery == nil ? [] : [x.copy()]
        var eta = config.stepSize
        for s in stride(from: 1, through: steps, by: 1) {
            try Interruption.check()
            Parallel.chunks(n) { chains in
                for chain in chains { chainRNGs[chain].fillNormal(eps.data + chain * d, count: d) }
            }
            try step(x, noise: eps, labels: labels, stepSize: eta)
            eta *= config.stepDecay
            if let k = keepEvery, s % k == 0 || s == steps { frames.append(x.copy()) }
            onStep?(s)
        }
        guard keepEvery != nil else { return nil }
        let stacked = try Tensor.concatenate(frames)
        try stacked.reshape([frames.count] + x.shape)
        return stacked
    }

    /// Chains started from the replay buffer (or fresh), run for `config.steps`, and put back:
    /// the synthesized batch of a JEM step. `labels` choose the class pools when conditional.
    public func sampleFromBuffer(count: Int, labels: [Int]?) throws -> Tensor {
        let pools = try poolIndices(count: count, labels: labels)
        let x = Tensor(shape: [count] + shape)
        buffer.draw(into: x, pools: pools, freshFraction: config.freshFraction, initial: config.initial, rng: rng)
        try run(x, labels: config.conditional ? labels : nil)
        try buffer.store(x, pools: pools)
        return x
    }

    /// The synthesized batch of a JEM step, started where `config.start` says: the replay buffer
    /// (`sampleFromBuffer`, unchanged), fresh noise, the real batch (CD), or the persistent chains (PCD).
    public func sampleForTraining(real: Tensor, labels: [Int]?) throws -> Tensor {
        try config.start.trainingChains(
            real: real, labels: labels, shape: shape, conditional: config.conditional, sampler: "SGLD", persistent: persistent,
            checkLabels: { _ = try poolIndices(count: $0, labels: $1) }, replay: sampleFromBuffer,
            fresh: { [config, rng] x in config.initial.fill(x.data, count: x.count, rng: rng) },
            run: { try run($0, labels: $1) })
    }

    public func saveState(prefix: String, into tensors: inout [String: Tensor], _ meta: inout [String: String]) {
        persistent.save(prefix: prefix, into: &tensors, &meta)
    }

    public func stateRestorer(prefix: String, tensors: [String: Tensor], meta: [String: String]) throws -> () -> Void {
        let known: Set = [prefix + "persistent", prefix + "persistent.labels"]
        if let k = (tensors.keys.sorted() + meta.keys.sorted()).first(where: { !known.contains($0) }) {
            throw JouleError("unexpected sampler state '\(k.prefix(80))' (the checkpoint is of another sampler)")
        }
        return try persistent.restorer(prefix: prefix, tensors: tensors, meta: meta, shape: shape, classes: model.classes,
                                       conditional: config.conditional)
    }

    /// New samples from fresh starts (nothing read from or written to the buffer).
    public func sample(count: Int, labels: [Int]?, steps: Int? = nil, keepEvery: Int? = nil) throws -> (final: Tensor, frames: Tensor?) {
        guard count > 0, count <= Self.maxChains else { throw JouleError("SGLD: n must be in 1...\(Self.maxChains), got \(count)") }
        if let labels {
            guard labels.count == count else { throw JouleError("SGLD: \(labels.count) labels for \(count) chains") }
            guard labels.allSatisfy({ $0 >= 0 && $0 < model.classes }) else { throw JouleError("SGLD: labels must lie in 0..<\(model.classes)") }
        }
        let x = Tensor(shape: [count] + shape)
        config.initial.fill(x.data, count: x.count, rng: rng)
        let frames = try run(x, labels: labels, steps: steps, keepEvery: keepEvery)
        return (x, frames)
    }

    private func poolIndices(count: Int, labels: [Int]?) throws -> [Int] {
        guard count > 0 else { throw JouleError("SGLD: need at least one chain") }
        guard config.conditional else { return Array(repeating: 0, count: count) }
        guard let labels, labels.count == count else {
            throw JouleError("SGLD: class-conditional sampling needs one label per chain")
        }
        guard labels.allSatisfy({ $0 >= 0 && $0 < model.classes }) else { throw JouleError("SGLD: labels must lie in 0..<\(model.classes)") }
        return labels
    }
}
