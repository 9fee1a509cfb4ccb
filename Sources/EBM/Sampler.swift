import Tensor

/// What the JEM trainer and training checkpoints need from a sampler of an energy model: the
/// synthesized batch of a training step (chains kept in a replay buffer), fresh samples for
/// evaluation, and the state a resumed run restores. `SGLDSampler` is one; MALA, HMC and annealed
/// Langevin (`Samplers/`) share `MarkovSampler`.
public protocol ChainSampler: AnyObject {
    var model: EnergyModel { get }
    /// Draws the sampler's randomness; checkpoints save and restore its state.
    var rng: RNG { get }
    /// Samples E(x, y) for given classes (one buffer per class) rather than E(x).
    var conditional: Bool { get }
    var buffer: ReplayBuffer { get }
    /// Steps per chain of a training batch (the divergence guard lengthens the chains after a rollback).
    var steps: Int { get set }
    /// Its settings under the names the Lua options use, prefixed ("sgld.steps"), for checkpoints.
    var hyperparameters: [String: String] { get }
    /// Chains started from the replay buffer (or fresh), run, and put back.
    func sampleFromBuffer(count: Int, labels: [Int]?) throws -> Tensor
    /// The synthesized batch of a training step, its chains started where the sampler's `start`
    /// says (`ChainStart`); `real` is the step's real batch, where contrastive divergence starts.
    func sampleForTraining(real: Tensor, labels: [Int]?) throws -> Tensor
    /// Per-chain mean acceptance of the latest run (nil: the sampler has no accept test).
    var acceptance: [Double]? { get }
    /// The sampler's own part of a training checkpoint besides its generator and replay buffer
    /// (persistent chains, an adapted step size), under `prefix`.
    func saveState(prefix: String, into tensors: inout [String: Tensor], _ meta: inout [String: String])
    /// Validates a saved part (as `saveState` wrote it) and returns what puts it in place, so that
    /// nothing changes unless the whole checkpoint is valid.
    func stateRestorer(prefix: String, tensors: [String: Tensor], meta: [String: String]) throws -> () -> Void
    /// New samples from fresh starts (nothing read from or written to the buffer).
    func sample(count: Int, labels: [Int]?, steps: Int?, keepEvery: Int?) throws -> (final: Tensor, frames: Tensor?)
    /// Runs the chains `x` in place for `steps` (nil: the configured count); with `keepEvery` k, their
    /// frames (the start, every k-th step, the end) stacked as (frames, N, …).
    func run(_ x: Tensor, labels: [Int]?, steps: Int?, keepEvery: Int?) throws -> Tensor?
    /// The most chains one call runs and the most steps a chain takes: what callers (the trainer,
    /// the Lua bindings) check counts against, whichever sampler they hold.
    var maxChains: Int { get }
    var maxSteps: Int { get }
}

extension ChainSampler {
    public func sampleForTraining(real: Tensor, labels: [Int]?) throws -> Tensor {
        try sampleFromBuffer(count: real.shape.first ?? 0, labels: labels)
    }
    public var acceptance: [Double]? { nil }
    public func saveState(prefix: String, into tensors: inout [String: Tensor], _ meta: inout [String: String]) {}
    public func stateRestorer(prefix: String, tensors: [String: Tensor], meta: [String: String]) throws -> () -> Void {
        if let k = (tensors.keys.sorted() + meta.keys.sorted()).first {
            throw JouleError("unexpected sampler state '\(k.prefix(80))' (the checkpoint is of another sampler)")
        }
        return {}
    }
    public var maxChains: Int { 100_000 }
    public var maxSteps: Int { 1_000_000 }
}
