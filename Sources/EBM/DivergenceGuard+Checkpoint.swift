import Foundation
import Formats
import Tensor

/// The guard's part of a training state (`state.safetensors`), so that a run interrupted and resumed
/// rolls back exactly as one that never stopped: its counters and gap window always, and, while an
/// epoch is unfinished, the good state it would roll back to (under `guard.`: weights, Adam's
/// moments, the replay buffer, the sampler's generator). At an epoch's end no good state is needed:
/// the next epoch starts by taking one.
extension DivergenceGuard {
    func save(_ jem: JEM, into tensors: inout [String: Tensor], _ meta: inout [String: String]) {
        meta["guard.lr_scale"] = "\(lrScale.bitPattern)"
        meta["guard.rollbacks"] = "\(rollbacks)"
        meta["guard.in_a_row"] = "\(inARow)"
        meta["guard.steps_added"] = "\(stepsAdded)"
        if !gaps.isEmpty {
            let t = Tensor(shape: [gaps.count])
            for (i, g) in gaps.enumerated() { t.data[i] = g }
            tensors["guard.gaps"] = t
        }
        guard jem.epochInProgress != nil, let s = snapshot else { return }
        for ((name, _), w, (m, v)) in zip3(jem.model.namedParameters, s.weights, s.moments) {
            tensors["guard.weight.\(name)"] = w
            tensors["guard.exp_avg.\(name)"] = m
            tensors["guard.exp_avg_sq.\(name)"] = v
        }
        for (p, t) in s.buffer.storage.enumerated() where t.count > 0 { tensors["guard.buffer.\(p)"] = t }
        meta["guard.step"] = "\(s.step)"
        meta["guard.batch"] = "\(s.batch)"
        meta["guard.optimizer.step"] = "\(s.optimizerStep)"
        meta["guard.buffer.counts"] = s.buffer.counts.map { "\($0)" }.joined(separator: ",")
        meta["guard.buffer.heads"] = s.buffer.heads.map { "\($0)" }.joined(separator: ",")
        meta["guard.rng.sampler"] = s.samplerRNG.map { "\($0)" }.joined(separator: ",")
    }

    /// Reads the guard's part of a training state for `jem` and returns what puts it in place, so
    /// that nothing changes unless the whole state is valid. A state without it (saved unguarded)
    /// leaves the guard fresh. `batchesDone`: batches of the saved unfinished epoch, if any.
    func restorer(_ jem: JEM, tensors: [String: Tensor], meta: [String: String], batchesDone: Int?,
                  step: Int, optimizerStep: Int, fail: (String) -> JouleError) throws -> () -> Void {
        guard meta["guard.rollbacks"] != nil else { return {} }
        func int(_ key: String, _ range: ClosedRange<Int> = 0...Int.max) throws -> Int {
            guard let s = meta[key], let v = Int(s), range.contains(v) else { throw fail("guard metadata '\(key)' missing or not in \(range.lowerBound)...\(range.upperBound)") }
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
        let inARow = try int("guard.in_a_row", 0...Swift.min(rollbacks, config.maxRollbacks))
        let added = try int("guard.steps_added", 0...Swift.min(rollbacks * config.extraSteps, 1_000_000))
        let gapTensor = tensors["guard.gaps"]
        guard (gapTensor?.rank ?? 1) == 1, (gapTensor?.count ?? 0) <= config.window else {
            throw fail("guard gap window 'guard.gaps' is not a vector of at most \(config.window) values")
        }
        let gaps = gapTensor?.array ?? []
        var kept: Snapshot?
        if let done = batchesDone, meta["guard.step"] != nil {
            let params = jem.model.namedParameters, buffer = jem.sampler.buffer
            var weights: [Tensor] = [], moments: [(m: Tensor, v: Tensor)] = []
            for (name, p) in params {
                guard let w = tensors["guard.weight.\(name)"], let m = tensors["guard.exp_avg.\(name)"],
                      let v = tensors["guard.exp_avg_sq.\(name)"],
                      w.shape == p.value.shape, m.shape == p.value.shape, v.shape == p.value.shape else {
                    throw fail("the guard's good state of '\(name)' is missing or not of shape \(p.value.shape)")
                }
                weights.append(w); moments.append((m, v))
            }
            let storage = (0..<buffer.pools).map { tensors["guard.buffer.\($0)"] ?? Tensor(shape: [0]) }
            guard storage.allSatisfy({ $0.count == 0 || $0.count == buffer.capacity * buffer.imageSize }) else {
                throw fail("the guard's replay buffer does not fit this sampler's")
            }
            let words = (meta["guard.rng.sampler"] ?? "").split(separator: ",").compactMap { UInt64($0) }
            guard words.count == 5, words[0] | words[1] | words[2] | words[3] != 0 else {
                throw fail("guard metadata 'guard.rng.sampler' is malformed (five integers, not all zeros)")
            }
            let counts = try ints("guard.buffer.counts", count: buffer.pools), heads = try ints("guard.buffer.heads", count: buffer.pools)
            guard zip(counts, heads).allSatisfy({ (0...buffer.capacity).contains($0) && (0..<buffer.capacity).contains($1) }),
                  zip(counts, storage).allSatisfy({ $0 == 0 || $1.count > 0 }) else {
                throw fail("the guard's replay buffer counts or heads are out of range")
            }
            kept = Snapshot(step: try int("guard.step", 0...step), batch: try int("guard.batch", 0...done),
                            weights: weights, moments: moments, optimizerStep: try int("guard.optimizer.step", 0...optimizerStep),
                            buffer: (storage, counts, heads), samplerRNG: words)
        }
        return { [self] in
            self.lrScale = scale
            self.rollbacks = rollbacks
            self.inARow = inARow
            self.stepsAdded = added
            self.gaps = gaps
            self.snapshot = kept
            jem.sampler.steps = Swift.min(jem.sampler.steps + added, 1_000_000)
        }
    }
}

private func zip3<A: Sequence, B: Sequence, C: Sequence>(_ a: A, _ b: B, _ c: C) -> [(A.Element, B.Element, C.Element)] {
    zip(a, zip(b, c)).map { ($0, $1.0, $1.1) }
}
