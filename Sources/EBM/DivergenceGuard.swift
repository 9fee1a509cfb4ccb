import Foundation
import Tensor

/// Watches JEM training for divergence and undoes it: after every step of `JEM.fitEpoch` it checks
/// the step's numbers; on a sign of divergence it restores the last good state (kept in memory),
/// reseeds the sampler, optionally lowers the learning rate and raises the SGLD steps, and redoes
/// the batches since that state. This is the JEM authors' manual remedy (restart from the last
/// checkpoint with another seed, a lower learning rate, more SGLD steps), done in place.
///
/// The checks, in order (each names itself in the event):
/// - `non_finite`: the loss, the real or sampled batch's mean energy, or the gradient norm (before
///   clipping) is NaN or infinite — the update has already poisoned the weights.
/// - `energy`: |mean energy| of the real or the sampled batch is above `energyMax`. JEM's α·f²
///   term keeps healthy energies within a few tens (the course setting and the quick-start preset stay
///   below 30); energies in the thousands mean the energy surface has lost its scale.
/// - `gap`: the mean over the last `window` steps of |E(sampled) − E(real)| is above `gapMax`. The
///   gap is what px pushes on; in a healthy run SGLD closes most of it every step and it hovers
///   around a few units. When the sampler can no longer follow the model the gap runs away,
///   step after step; the mean over a window tells that from one bad batch.
///
/// Good states are taken at the start of every epoch and every `every` steps that pass the checks, so
/// the state rolled back to always lies in the current epoch and the redone batches are the same ones.
/// A snapshot copies the weights, Adam's moments, the replay buffer and the sampler's generator: for
/// the course setting (42 pools of 128 glyphs) about 70 MB, a memcpy of some ten milliseconds every
/// `every` steps of a third of a second or more each.
public final class DivergenceGuard {
    public struct Config: Equatable {
        /// Steps between good states (besides each epoch's start).
        public var every = 50
        public var energyMax: Float = 1000
        public var gapMax: Float = 100
        public var window = 20
        /// The learning rate is multiplied by this at every rollback (1: unchanged).
        public var lrFactor: Float = 0.5
        /// SGLD steps added at every rollback (0: unchanged).
        public var extraSteps = 0
        /// Rollbacks in a row (with no new good state between them) before training gives up.
        public var maxRollbacks = 4
        public init() {}

        func validate() throws {
            guard (1...1_000_000).contains(every) else { throw JouleError("guard: every must be in 1...1000000, got \(every)") }
            guard (1...100_000).contains(window) else { throw JouleError("guard: window must be in 1...100000, got \(window)") }
            guard energyMax > 0, gapMax > 0, !energyMax.isNaN, !gapMax.isNaN else {
                throw JouleError("guard: energy_max and gap_max must be positive")
            }
            guard lrFactor > 0, lrFactor <= 1 else { throw JouleError("guard: lr_factor must be in (0, 1], got \(lrFactor)") }
            guard (0...100_000).contains(extraSteps) else { throw JouleError("guard: extra_steps must be in 0...100000, got \(extraSteps)") }
            guard (1...1000).contains(maxRollbacks) else { throw JouleError("guard: max_rollbacks must be in 1...1000, got \(maxRollbacks)") }
        }
    }

    /// What a rollback did, for the log.
    public struct Event: Equatable {
        /// The step whose numbers fired the check, and the step training went back to.
        public var step, rolledBackTo: Int
        public var check: String
        /// What fired: the quantity's name and its value.
        public var quantity: String
        public var value: Double
        public var lrScale: (before: Float, after: Float)
        public var sgldSteps: (before: Int, after: Int)
        /// Rollbacks so far in this run, and in a row.
        public var rollbacks, inARow: Int

        public static func == (a: Event, b: Event) -> Bool {
            a.step == b.step && a.rolledBackTo == b.rolledBackTo && a.check == b.check && a.quantity == b.quantity
                && a.value.bitPattern == b.value.bitPattern && a.lrScale == b.lrScale && a.sgldSteps == b.sgldSteps
                && a.rollbacks == b.rollbacks && a.inARow == b.inARow
        }
    }

    /// A good state of the trainer: everything a step changes.
    struct Snapshot {
        var step: Int
        /// Batches of the epoch in progress done at that state.
        var batch: Int
        var weights: [Tensor]
        /// The model's buffers (spectral normalisation's u, v), in `namedBuffers` order.
        var buffers: [Tensor] = []
        var moments: [(m: Tensor, v: Tensor)]
        var optimizerStep: Int
        var buffer: (storage: [Tensor], counts: [Int], heads: [Int])
        var samplerRNG: [UInt64]
        /// The sampler's own state (persistent chains, an adapted step size), as `ChainSampler.saveState` gives it.
        var samplerState: (tensors: [String: Tensor], meta: [String: String]) = ([:], [:])
    }

    public let config: Config
    /// The learning rate's factor from rollbacks so far (the schedule's rate times this is used).
    public internal(set) var lrScale: Float = 1
    public internal(set) var rollbacks = 0
    public internal(set) var inARow = 0
    /// |E(sampled) − E(real)| of the latest steps, oldest first (at most `window`).
    public internal(set) var gaps: [Float] = []
    /// SGLD steps added by rollbacks so far.
    public internal(set) var stepsAdded = 0
    var snapshot: Snapshot?

    public init(config: Config = Config()) throws {
        try config.validate()
        self.config = config
    }

    /// The check that the numbers of a step fire, if any: (check, quantity, value). Keeps the step's
    /// gap in the window (a guard that only watches a run can call it too).
    public func check(_ s: JEM.StepStats) -> (check: String, quantity: String, value: Double)? {
        for (name, v) in [("loss", s.terms.total), ("energy_real", s.energyReal),
                          ("energy_sampled", s.energySampled), ("grad_norm", s.gradNorm)] where !v.isFinite {
            return ("non_finite", name, Double(v))
        }
        for (name, v) in [("energy_real", s.energyReal), ("energy_sampled", s.energySampled)] where abs(v) > config.energyMax {
            return ("energy", name, Double(v))
        }
        gaps.append(abs(s.energySampled - s.energyReal))
        if gaps.count > config.window { gaps.removeFirst(gaps.count - config.window) }
        if gaps.count == config.window {
            let mean = gaps.reduce(0.0) { $0 + Double($1) } / Double(gaps.count)
            if mean > Double(config.gapMax) { return ("gap", "mean_gap", mean) }
        }
        return nil
    }

    /// Keeps the trainer's present state as the last good one (`batch` batches of the epoch done).
    /// `fitEpoch` calls it; it is public so that `joule bench` can time it.
    public func keep(_ jem: JEM, batch: Int) {
        let opt = jem.optimizer, buffer = jem.sampler.buffer
        var samplerState: (tensors: [String: Tensor], meta: [String: String]) = ([:], [:])
        jem.sampler.saveState(prefix: "", into: &samplerState.tensors, &samplerState.meta)
        snapshot = Snapshot(step: jem.step, batch: batch,
                            weights: jem.trainedParameters.map { $0.parameter.value.copy() },
                            moments: zip(opt.m, opt.v).map { ($0.copy(), $1.copy()) },
                            optimizerStep: opt.step,
                            buffer: (buffer.storage.map { $0.copy() }, buffer.counts, buffer.heads),
                            samplerRNG: jem.sampler.rng.state,
                            samplerState: (samplerState.tensors.mapValues { $0.copy() }, samplerState.meta))
        snapshot!.buffers = jem.model.namedBuffers.map { $0.tensor.copy() }
        inARow = 0
    }

    /// Puts the last good state back into `jem`, reseeds its sampler and applies the configured
    /// changes; throws when this is one rollback in a row too many (after restoring the good state).
    func rollBack(_ jem: JEM, firedBy fired: (check: String, quantity: String, value: Double), at step: Int) throws -> Event {
        guard let s = snapshot else { throw JouleError("guard: no good state to roll back to") }
        try restore(s, into: jem)
        rollbacks += 1
        inARow += 1
        gaps = []
        if inARow > config.maxRollbacks {
            throw JouleError("training diverged: \(config.maxRollbacks) rollbacks in a row to step \(s.step) did not help (\(fired.check): \(fired.quantity) = \(fired.value) at step \(step)); the model is back at step \(s.step), and the last saved checkpoint is the last good one. Try a lower lr, more SGLD steps or a larger alpha")
        }
        // Another seed for the sampler (and the real images' noise), derived from the good state's
        // and the rollback count, so a resumed run draws the same one.
        let seed = s.samplerRNG.reduce(UInt64(rollbacks) &* 0x9E37_79B9_7F4A_7C15) { ($0 ^ $1) &* 0xBF58_476D_1CE4_E5B9 }
        jem.sampler.rng.reseed(seed)
        let lr = lrScale, steps = jem.sampler.steps
        lrScale *= config.lrFactor
        jem.sampler.steps = Swift.min(steps + config.extraSteps, 1_000_000)
        stepsAdded += jem.sampler.steps - steps
        return Event(step: step, rolledBackTo: s.step, check: fired.check, quantity: fired.quantity, value: fired.value,
                     lrScale: (lr, lrScale), sgldSteps: (steps, jem.sampler.steps),
                     rollbacks: rollbacks, inARow: inARow)
    }

    private func restore(_ s: Snapshot, into jem: JEM) throws {
        let opt = jem.optimizer
        for ((_, p), w) in zip(jem.trainedParameters, s.weights) {
            p.value.data.update(from: w.data, count: w.count)
            p.value.touch()
        }
        for ((_, t), b) in zip(jem.model.namedBuffers, s.buffers) {
            t.data.update(from: b.data, count: b.count)
            t.touch()
        }
        for (k, (m, v)) in s.moments.enumerated() {
            opt.m[k].data.update(from: m.data, count: m.count)
            opt.v[k].data.update(from: v.data, count: v.count)
        }
        opt.restore(step: s.optimizerStep)
        try jem.sampler.buffer.restore(storage: s.buffer.storage, counts: s.buffer.counts, heads: s.buffer.heads)
        jem.sampler.rng.state = s.samplerRNG
        try jem.sampler.stateRestorer(prefix: "", tensors: s.samplerState.tensors, meta: s.samplerState.meta)()
        jem.restore(epoch: jem.epoch, step: s.step)
    }
}
