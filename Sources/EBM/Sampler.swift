import Tensor

/// What the JEM trainer and training checkpoints need from a sampler of an energy model: the
/// synthesized batch of a training step (chains kept in a replay buffer), fresh samples for
/// evaluation, and the state a resumed run restores. `SGLDSampler` is one.
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
    /// New samples from fresh starts (nothing read from or written to the buffer).
    func sample(count: Int, labels: [Int]?, steps: Int?, keepEvery: Int?) throws -> (final: Tensor, frames: Tensor?)
    /// The most chains one call runs and the most steps a chain takes: what callers (the trainer,
    /// the Lua bindings) check counts against, whichever sampler they hold.
    var maxChains: Int { get }
    var maxSteps: Int { get }
}

extension ChainSampler {
    public var maxChains: Int { 100_000 }
    public var maxSteps: Int { 1_000_000 }
}
