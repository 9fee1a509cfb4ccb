import Foundation
import Tensor

/// What the samplers of the literature (MALA, HMC, annealed Langevin) share: the state space,
/// chain starts (replay buffer, noise, the real batch, persistent chains), per-chain generators,
/// kept frames, per-chain acceptance and the checks. A kernel is a subclass that says how one step
/// moves a batch of chains (`advance`); each chain accepts or rejects on its own, so a batch is
/// N independent chains however it is split over cores.
open class MarkovSampler: ChainSampler {
    /// The kernel's name in messages ("MALA") and the prefix of its hyperparameters and `-p sampler=` name ("mala").
    public let name: String, key: String
    public let model: EnergyModel
    public let space: StateSpace
    public let settings: ChainSettings
    public let rng: RNG
    public let buffer: ReplayBuffer
    public let persistent = PersistentChains()
    public var steps: Int

    /// Accepted proposals per chain in the latest run, and the steps it took.
    var accepted: [Double] = []
    var stepsRun = 0

    /// The energies and input gradients of the chains' present states (the kernel keeps them current).
    let energy = Tensor(shape: [0])
    let gradient = Tensor(shape: [0])
    private var stepModel: (precision: SamplingPrecision, model: EnergyModel)?

    init(name: String, key: String, model: EnergyModel, settings: ChainSettings, rng: RNG) throws {
        self.name = name
        self.key = key
        space = try settings.space(for: model, name: name)
        self.model = model
        self.settings = settings
        self.rng = rng
        steps = settings.steps
        buffer = try ReplayBuffer(pools: settings.conditional ? model.classes : 1, capacity: settings.bufferPerClass,
                                  imageSize: space.size)
    }

    public var conditional: Bool { settings.conditional }
    public var shape: [Int] { space.shape }
    /// The arithmetic the gradients really run in, in words (see `SGLDSampler.runningPrecision`).
    public var runningPrecision: String { runningModel.arithmetic }

    /// Nil before any run, and after a run of no steps.
    public var acceptance: [Double]? {
        guard stepsRun > 0 else { return nil }
        return accepted.map { $0 / Double(stepsRun) }
    }

    /// The kernel's own settings, unprefixed ("step_size").
    open var kernelHyperparameters: [String: String] { [:] }

    public var hyperparameters: [String: String] {
        let p = key
        return settings.hyperparameters(p, space: space)
            .merging(["\(p).steps": "\(steps)", "sampler": p, "\(p).running_precision": runningPrecision]) { $1 }
            .merging(kernelHyperparameters.map { ("\(p).\($0.key)", $0.value) }) { $1 }
    }

    // MARK: What a kernel implements

    /// One step of every chain in place; adds each chain's acceptance (0 or 1, or a probability)
    /// to `accepted`. `step` counts from 0 to `steps` − 1; `rngs` are the chains' generators.
    open func advance(_ x: Tensor, labels: [Int]?, step: Int, of steps: Int, rngs: [RNG]) throws {
        fatalError("a MarkovSampler subclass implements advance")
    }

    /// The kernel's part of a checkpoint (an adapted step size), under `prefix`.
    open func saveKernelState(prefix: String, into meta: inout [String: String]) {}
    open func kernelStateRestorer(prefix: String, meta: [String: String]) throws -> () -> Void { {} }
    /// Metadata keys the kernel's part uses.
    open var kernelStateKeys: [String] { [] }

    // MARK: Helpers for kernels

    private var runningModel: EnergyModel {
        if let m = stepModel, m.precision == settings.precision { return m.model }
        let m = model.sampling(in: settings.precision)
        stepModel = (settings.precision, m)
        return m
    }

    /// E and ∂E/∂x of `x` into `e` and `g` (resized to fit). A NaN energy is an error naming its
    /// chain; an infinite one is a state of zero probability, which a Metropolis test rejects.
    func evaluate(_ x: Tensor, labels: [Int]?, energy e: Tensor, gradient g: Tensor, step: Int) throws {
        let grad = try runningModel.energyGradient(x, labels: labels, energy: e)
        guard grad.shape == x.shape, e.count == x.shape[0] else {
            throw JouleError("\(name): the model's energy gradient has shape \(grad.shape) for chains \(x.shape)")
        }
        try g.resize(x.shape)
        g.data.update(from: grad.data, count: grad.count)
        g.touch()
        if let i = (0..<e.count).first(where: { e.data[$0].isNaN }) {
            throw JouleError("\(name): the energy of chain \(i + 1) of \(e.count) is NaN at step \(step)")
        }
    }

    /// Standard-normal noise into `t`, each chain's row from its own generator.
    func fillNoise(_ t: Tensor, rngs: [RNG]) {
        let d = t.itemSize
        Parallel.chunks(rngs.count) { chains in
            for c in chains { rngs[c].fillNormal(t.data + c * d, count: d) }
        }
        t.touch()
    }

    /// Accepts chain c's proposal with probability min(1, exp(logRatio)): one uniform from its
    /// generator; a NaN ratio (∞ − ∞ of two infinite energies) rejects.
    @inline(__always) func metropolis(_ logRatio: Double, _ rng: RNG) -> Bool {
        guard !logRatio.isNaN else { return false }
        return logRatio >= 0 || log(Double(rng.uniform())) < logRatio
    }

    // MARK: Running chains

    /// Runs `steps` steps on `x` in place. With `keepEvery` k, returns the frames (the start, every
    /// k-th step, and the end) stacked as (frames, N, C, H, W) or (frames, N, D). Each chain draws
    /// from its own generator, seeded from `rng`.
    @discardableResult
    public func run(_ x: Tensor, labels: [Int]?, steps: Int? = nil, keepEvery: Int? = nil) throws -> Tensor? {
        let steps = steps ?? self.steps
        guard (0...SGLDSampler.maxSteps).contains(steps) else { throw JouleError("\(name): steps must be in 0...\(SGLDSampler.maxSteps), got \(steps)") }
        if let k = keepEvery, k <= 0 { throw JouleError("\(name): keep_every must be positive, got \(k)") }
        guard x.rank == space.shape.count + 1, Array(x.shape.dropFirst()) == space.shape, x.shape[0] > 0 else {
            throw JouleError("\(name): expected chains of shape (N, \(space.shape.map(String.init).joined(separator: ", "))), got \(x.shape)")
        }
        if let k = keepEvery {
            let frames = steps / k + 2
            guard !frames.multipliedReportingOverflow(by: x.count).overflow, frames * x.count <= SGLDSampler.maxFloats else {
                throw JouleError("\(name): keeping \(frames) frames of \(x.count) values is too large (at most \(SGLDSampler.maxFloats) values); raise keep_every")
            }
        }
        let n = x.shape[0]
        if let labels {
            guard labels.count == n else { throw JouleError("\(name): \(labels.count) labels for \(n) chains") }
            guard labels.allSatisfy({ $0 >= 0 && $0 < model.classes }) else { throw JouleError("\(name): labels must lie in 0..<\(model.classes)") }
        }
        let rngs = (0..<n).map { _ in RNG(seed: rng.next()) }
        accepted = Array(repeating: 0, count: n)
        stepsRun = 0
        var frames: [Tensor] = keepEvery == nil ? [] : [x.copy()]
        if steps > 0 {
            space.project(x.data, count: x.count)
            try evaluate(x, labels: labels, energy: energy, gradient: gradient, step: 0)
        }
        for s in 0..<steps {
            try Interruption.check()
            try advance(x, labels: labels, step: s, of: steps, rngs: rngs)
            x.touch()
            stepsRun = s + 1
            if let k = keepEvery, (s + 1) % k == 0 || s + 1 == steps { frames.append(x.copy()) }
        }
        guard keepEvery != nil else { return nil }
        let stacked = try Tensor.concatenate(frames)
        try stacked.reshape([frames.count] + x.shape)
        return stacked
    }

    private func poolIndices(count: Int, labels: [Int]?) throws -> [Int] {
        guard count > 0, count <= SGLDSampler.maxChains else { throw JouleError("\(name): the chains must number 1...\(SGLDSampler.maxChains), got \(count)") }
        guard settings.conditional else { return Array(repeating: 0, count: count) }
        guard let labels, labels.count == count else { throw JouleError("\(name): class-conditional sampling needs one label per chain") }
        guard labels.allSatisfy({ $0 >= 0 && $0 < model.classes }) else { throw JouleError("\(name): labels must lie in 0..<\(model.classes)") }
        return labels
    }

    private func fresh(_ x: Tensor) {
        space.fill(x.data, count: x.count, noise: settings.initial, rng: rng)
        x.touch()
    }

    public func sampleFromBuffer(count: Int, labels: [Int]?) throws -> Tensor {
        let pools = try poolIndices(count: count, labels: labels)
        let x = Tensor(shape: [count] + space.shape)
        // As `ReplayBuffer.draw`, but fresh chains come from the state space (a vector's Gaussian start is not clamped).
        let d = space.size
        for (i, p) in pools.enumerated() {
            let row = x.data + i * d
            if buffer.counts[p] == 0 || rng.uniform() < settings.freshFraction {
                space.fill(row, count: d, noise: settings.initial, rng: rng)
            } else {
                row.update(from: buffer.storage[p].data + rng.int(buffer.counts[p]) * d, count: d)
            }
        }
        x.touch()
        try run(x, labels: settings.conditional ? labels : nil)
        try buffer.store(x, pools: pools)
        return x
    }

    public func sampleForTraining(real: Tensor, labels: [Int]?) throws -> Tensor {
        try settings.start.trainingChains(
            real: real, labels: labels, shape: space.shape, conditional: settings.conditional, sampler: name, persistent: persistent,
            checkLabels: { _ = try poolIndices(count: $0, labels: $1) }, replay: sampleFromBuffer, fresh: fresh,
            run: { try run($0, labels: $1) })
    }

    public func sample(count: Int, labels: [Int]?, steps: Int? = nil, keepEvery: Int? = nil) throws -> (final: Tensor, frames: Tensor?) {
        guard count > 0, count <= SGLDSampler.maxChains else { throw JouleError("\(name): n must be in 1...\(SGLDSampler.maxChains), got \(count)") }
        if let labels, labels.count != count { throw JouleError("\(name): \(labels.count) labels for \(count) chains") }
        let x = Tensor(shape: [count] + space.shape)
        fresh(x)
        let frames = try run(x, labels: labels, steps: steps, keepEvery: keepEvery)
        return (x, frames)
    }

    // MARK: Checkpoints

    public func saveState(prefix: String, into tensors: inout [String: Tensor], _ meta: inout [String: String]) {
        persistent.save(prefix: prefix, into: &tensors, &meta)
        saveKernelState(prefix: prefix, into: &meta)
    }

    public func stateRestorer(prefix: String, tensors: [String: Tensor], meta: [String: String]) throws -> () -> Void {
        let known = Set([prefix + "persistent", prefix + "persistent.labels"] + kernelStateKeys.map { prefix + $0 })
        if let k = (tensors.keys.sorted() + meta.keys.sorted()).first(where: { !known.contains($0) }) {
            throw JouleError("unexpected sampler state '\(k.prefix(80))' (the checkpoint is of another sampler)")
        }
        let chains = try persistent.restorer(prefix: prefix, tensors: tensors, meta: meta, shape: space.shape,
                                             classes: model.classes, conditional: settings.conditional)
        let kernel = try kernelStateRestorer(prefix: prefix, meta: meta)
        return { chains(); kernel() }
    }
}
