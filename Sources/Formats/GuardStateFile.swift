import Foundation
import Tensor

/// The divergence guard's part of a training state (metadata and tensors under `guard.`), read and
/// validated against the trainer that resumes it before anything changes. Outside bytes: parsed
/// here, with Swift's checks, and handed to the guard as values (EBM runs -Ounchecked).
public struct GuardStateFile {
    /// What the resuming trainer and its guard's configuration allow.
    public struct Expectation {
        public var maxRollbacks: Int, extraSteps: Int, window: Int
        /// The model's parameters, the replay buffer's geometry, and the counters of the state itself.
        public var parameters: [(name: String, shape: [Int])]
        /// The model's buffers (spectral normalisation's u, v): part of its good state too.
        public var buffers: [(name: String, shape: [Int])]
        public var pools: Int, capacity: Int, imageSize: Int
        public var batchesDone: Int?, step: Int, optimizerStep: Int
        public init(maxRollbacks: Int, extraSteps: Int, window: Int, parameters: [(name: String, shape: [Int])],
                    buffers: [(name: String, shape: [Int])] = [], pools: Int, capacity: Int, imageSize: Int, batchesDone: Int?, step: Int, optimizerStep: Int) {
            self.maxRollbacks = maxRollbacks; self.extraSteps = extraSteps; self.window = window
            self.parameters = parameters; self.buffers = buffers; self.pools = pools; self.capacity = capacity; self.imageSize = imageSize
            self.batchesDone = batchesDone; self.step = step; self.optimizerStep = optimizerStep
        }
    }

    /// The good state an unfinished epoch would roll back to.
    public struct GoodState {
        public var step: Int, batch: Int, optimizerStep: Int
        public var weights: [Tensor], buffers: [Tensor], moments: [(m: Tensor, v: Tensor)]
        public var storage: [Tensor], counts: [Int], heads: [Int]
        public var samplerRNG: [UInt64]
    }

    public var lrScale: Float
    public var rollbacks: Int, inARow: Int, stepsAdded: Int
    public var gaps: [Float]
    public var goodState: GoodState?

    /// The guard's part of a state, or nil when the state was saved unguarded.
    public static func parse(tensors: [String: Tensor], meta: [String: String], expected e: Expectation,
                             fail: (String) -> JouleError) throws -> GuardStateFile? {
        guard meta["guard.rollbacks"] != nil else { return nil }
        func int(_ key: String, _ range: ClosedRange<Int> = 0...Int.max) throws -> Int {
            guard let s = meta[key], let v = Int(s), range.contains(v) else {
                throw fail("guard metadata '\(key)' missing or not in \(range.lowerBound)...\(range.upperBound)")
            }
            return v
        }
        func ints(_ key: String, count: Int) throws -> [Int] {
            let v = (meta[key] ?? "").split(separator: ",").compactMap { Int($0) }
            guard v.count == count else { throw fail("guard metadata '\(key)' is not a list of \(count) integers") }
            return v
        }
        guard let bits = meta["guard.lr_scale"].flatMap(UInt32.init), case let scale = Float(bitPattern: bits),
              scale > 0, scale <= 1 else { throw fail("guard metadata 'guard.lr_scale' missing or not in (0, 1]") }
        // The counters against one another and this configuration: rollbacks in a row never exceed
        // what training allows before it gives up (a state past it would roll back forever), and
        // steps are added only by rollbacks, `extra_steps` at a time.
        let rollbacks = try int("guard.rollbacks", 0...TrainingStateFile.maxCounter)
        let inARow = try int("guard.in_a_row", 0...Swift.min(rollbacks, e.maxRollbacks))
        let added = try int("guard.steps_added", 0...Swift.min(rollbacks * e.extraSteps, 1_000_000))
        let gapTensor = tensors["guard.gaps"]
        guard (gapTensor?.rank ?? 1) == 1, (gapTensor?.count ?? 0) <= e.window else {
            throw fail("guard gap window 'guard.gaps' is not a vector of at most \(e.window) values")
        }
        var state = GuardStateFile(lrScale: scale, rollbacks: rollbacks, inARow: inARow, stepsAdded: added,
                                   gaps: gapTensor?.array ?? [], goodState: nil)
        guard let done = e.batchesDone, meta["guard.step"] != nil else { return state }
        var weights: [Tensor] = [], moments: [(m: Tensor, v: Tensor)] = []
        for (name, shape) in e.parameters {
            guard let w = tensors["guard.weight.\(name)"], let m = tensors["guard.exp_avg.\(name)"],
                  let v = tensors["guard.exp_avg_sq.\(name)"], w.shape == shape, m.shape == shape, v.shape == shape else {
                throw fail("the guard's good state of '\(name)' is missing or not of shape \(shape)")
            }
            weights.append(w); moments.append((m, v))
        }
        var buffers: [Tensor] = []
        for (name, shape) in e.buffers {
            guard let t = tensors["guard.state.\(name)"], t.shape == shape else {
                throw fail("the guard's good state of buffer '\(name)' is missing or not of shape \(shape)")
            }
            buffers.append(t)
        }
        let storage = (0..<e.pools).map { tensors["guard.buffer.\($0)"] ?? Tensor(shape: [0]) }
        guard storage.allSatisfy({ $0.count == 0 || $0.count == e.capacity * e.imageSize }) else {
            throw fail("the guard's replay buffer does not fit this sampler's")
        }
        let words = (meta["guard.rng.sampler"] ?? "").split(separator: ",").compactMap { UInt64($0) }
        guard words.count == 5, words[0] | words[1] | words[2] | words[3] != 0 else {
            throw fail("guard metadata 'guard.rng.sampler' is malformed (five integers, not all zeros)")
        }
        let counts = try ints("guard.buffer.counts", count: e.pools), heads = try ints("guard.buffer.heads", count: e.pools)
        guard zip(counts, heads).allSatisfy({ (0...e.capacity).contains($0) && (0..<e.capacity).contains($1) }),
              zip(counts, storage).allSatisfy({ $0 == 0 || $1.count > 0 }) else {
            throw fail("the guard's replay buffer counts or heads are out of range")
        }
        state.goodState = GoodState(step: try int("guard.step", 0...e.step), batch: try int("guard.batch", 0...done),
                                    optimizerStep: try int("guard.optimizer.step", 0...e.optimizerStep),
                                    weights: weights, buffers: buffers, moments: moments, storage: storage, counts: counts, heads: heads,
                                    samplerRNG: words)
        return state
    }
}
