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
        for ((name, _), w, (m, v)) in zip3(jem.trainedParameters, s.weights, s.moments) {
            tensors["guard.weight.\(name)"] = w
            tensors["guard.exp_avg.\(name)"] = m
            tensors["guard.exp_avg_sq.\(name)"] = v
        }
        for ((name, _), t) in zip(jem.model.namedBuffers, s.buffers) { tensors["guard.state.\(name)"] = t }
        for (p, t) in s.buffer.storage.enumerated() where t.count > 0 { tensors["guard.buffer.\(p)"] = t }
        meta["guard.step"] = "\(s.step)"
        meta["guard.batch"] = "\(s.batch)"
        meta["guard.optimizer.step"] = "\(s.optimizerStep)"
        meta["guard.buffer.counts"] = s.buffer.counts.map { "\($0)" }.joined(separator: ",")
        meta["guard.buffer.heads"] = s.buffer.heads.map { "\($0)" }.joined(separator: ",")
        meta["guard.rng.sampler"] = s.samplerRNG.map { "\($0)" }.joined(separator: ",")
        for (k, t) in s.samplerState.tensors { tensors["guard.sampler." + k] = t }
        for (k, v) in s.samplerState.meta { meta["guard.sampler." + k] = v }
    }

    /// Reads the guard's part of a training state for `jem` (parsed and validated in Formats'
    /// `GuardStateFile`) and returns what puts it in place, so that nothing changes unless the whole
    /// state is valid. A state without it (saved unguarded)
    /// leaves the guard fresh. `batchesDone`: batches of the saved unfinished epoch, if any.
    func restorer(_ jem: JEM, tensors: [String: Tensor], meta: [String: String], batchesDone: Int?,
                  step: Int, optimizerStep: Int, fail: (String) -> JouleError) throws -> () -> Void {
        let buffer = jem.sampler.buffer
        let expected = GuardStateFile.Expectation(
            maxRollbacks: config.maxRollbacks, extraSteps: config.extraSteps, window: config.window,
            parameters: jem.trainedParameters.map { ($0.name, $0.parameter.value.shape) },
            buffers: jem.model.namedBuffers.map { ($0.name, $0.tensor.shape) },
            pools: buffer.pools, capacity: buffer.capacity, imageSize: buffer.imageSize,
            batchesDone: batchesDone, step: step, optimizerStep: optimizerStep)
        guard let file = try GuardStateFile.parse(tensors: tensors, meta: meta, expected: expected, fail: fail) else { return {} }
        let (scale, rollbacks, inARow, added, gaps) = (file.lrScale, file.rollbacks, file.inARow, file.stepsAdded, file.gaps)
        // The sampler's part of the good state: validated by the sampler now, put back at a rollback.
        let p = "guard.sampler."
        let samplerState = (tensors: Dictionary(uniqueKeysWithValues: tensors.filter { $0.key.hasPrefix(p) }.map { (String($0.key.dropFirst(p.count)), $0.value) }),
                            meta: Dictionary(uniqueKeysWithValues: meta.filter { $0.key.hasPrefix(p) }.map { (String($0.key.dropFirst(p.count)), $0.value) }))
        if file.goodState != nil {
            do { _ = try jem.sampler.stateRestorer(prefix: "", tensors: samplerState.tensors, meta: samplerState.meta) } catch let e as JouleError {
                throw fail("guard: \(e.message)")
            }
        }
        let kept = file.goodState.map { g in
            Snapshot(step: g.step, batch: g.batch, weights: g.weights, buffers: g.buffers, moments: g.moments,
                     optimizerStep: g.optimizerStep, buffer: (g.storage, g.counts, g.heads), samplerRNG: g.samplerRNG,
                     samplerState: samplerState)
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
