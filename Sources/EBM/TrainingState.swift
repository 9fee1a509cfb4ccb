import Formats
import Foundation
import NN
import Tensor

/// A training checkpoint: a folder with two safetensors files.
///
/// - `model.safetensors`: the weights under their PyTorch names (they load into the course's
///   model with `load_state_dict`), with the hyperparameters, epoch and step as metadata.
/// - `state.safetensors`: everything else a run needs to continue exactly as if it had never
///   stopped: Adam's moments (`optimizer.exp_avg.<name>`, `optimizer.exp_avg_sq.<name>`) and step,
///   the epoch and step counters (the StepLR schedule follows the epoch), the replay buffer
///   (`buffer.<pool>` rows with their counts and ring heads), the state of every random generator
///   involved (named by the caller: the sampler's, the epoch shuffler's, a script's), an
///   unfinished epoch's batch order, position and per-batch stats, and the sampler's own state
///   under `sampler.` (persistent chains, an adapted step size: `ChainSampler.saveState`).
///
/// The folder is written whole beside its destination and swapped in (`AtomicFolder`), so the two
/// files always belong together; both also carry the step they were written at and `restore`
/// refuses a pair whose steps differ.
public enum TrainingCheckpoint {
    public static let weightsFile = "model.safetensors"
    public static let stateFile = "state.safetensors"
    public static let format = TrainingStateFile.format
    /// Where the sampler's own state lies in the state file.
    public static let samplerPrefix = "sampler."

    /// The checkpoint folder `path` names: the folder itself when it holds a training state,
    /// otherwise its `last/` (so a run folder works too).
    public static func folder(_ path: String) -> String {
        let fm = FileManager.default
        AtomicFolder.recover(path); AtomicFolder.recover(path + "/last")
        if fm.fileExists(atPath: path + "/" + stateFile) { return path }
        if fm.fileExists(atPath: path + "/last/" + stateFile) { return path + "/last" }
        return path
    }

    /// Writes the weights and the training state of `jem` into `directory`, replacing a checkpoint
    /// there as a whole or not at all (see `AtomicFolder`): a kill at any moment leaves either the
    /// previous complete checkpoint or the new one.
    /// `rngs` are the generators to restore besides the sampler's (which is always saved, as "sampler").
    public static func save(_ jem: JEM, rngs: [String: RNG], to directory: String, metadata: [String: String] = [:]) throws {
        let model = jem.model, sampler = jem.sampler, buffer = sampler.buffer, opt = jem.optimizer
        guard rngs["sampler"] == nil else { throw JouleError("checkpoint: the generator name 'sampler' is reserved") }
        var moments: [String: (m: Tensor, v: Tensor)] = [:]
        for (k, (name, _)) in jem.trainedParameters.enumerated() { moments[name] = (opt.m[k], opt.v[k]) }
        // The divergence guard's part, under `guard.`.
        var extra: (tensors: [String: Tensor], meta: [String: String]) = ([:], [:])
        jem.divergenceGuard?.save(jem, into: &extra.tensors, &extra.meta)
        sampler.saveState(prefix: samplerPrefix, into: &extra.tensors, &extra.meta)
        let state = TrainingStateFile(
            epoch: jem.epoch, step: jem.step, optimizerStep: opt.step, moments: moments,
            buffer: .init(pools: buffer.pools, capacity: buffer.capacity, imageSize: buffer.imageSize,
                          counts: buffer.counts, heads: buffer.heads, storage: buffer.storage),
            generators: rngs.mapValues(\.state).merging(["sampler": sampler.rng.state]) { $1 },
            extraTensors: extra.tensors, extraMetadata: extra.meta,
            epochInProgress: jem.epochInProgress.map { e in
                .init(order: e.order, batchSize: e.batchSize, batches: e.batches, stats: e.stats.map { s in
                    [s.terms.reg, s.terms.cdiv, s.terms.px, s.terms.pyx, s.terms.total,
                     s.gradNorm, s.accuracy, s.energyReal, s.energySampled]
                })
            })
        // The objective's own parameters (NCE's log-normaliser) are no model weights that PyTorch
        // would load: their values travel in the metadata, as exact bit patterns.
        var counters = ["epoch": "\(jem.epoch)", "step": "\(jem.step)"]
        for (name, p) in jem.objective.ownParameters { counters["objective.\(name)"] = p.value.array.map { String($0.bitPattern) }.joined(separator: ",") }
        let stateBytes = try state.safeTensors().encoded()
        let weightsBytes = try SafeTensors(tensors: model.stateDict(),
                                           metadata: model.hyperparameters.merging(metadata) { $1 }
                                               .merging(hyperparameters(jem)) { $1 }.merging(counters) { $1 }).encoded()
        try AtomicFolder.replace(directory) { staging in
            try AtomicFolder.write(stateBytes, to: staging + "/" + stateFile)
            AtomicFolder.testStop("between-files")
            try AtomicFolder.write(weightsBytes, to: staging + "/" + weightsFile)
        }
    }

    /// The hyperparameters of the trainer and its sampler, under the names the Lua options use.
    public static func hyperparameters(_ jem: JEM) -> [String: String] {
        let c = jem.config
        return ["alpha": "\(c.alpha)", "lambda": "\(c.lambda)", "real_noise": "\(c.realNoise)", "lr": "\(c.lr)",
                "lr_step": "\(c.lrStep)", "lr_gamma": "\(c.lrGamma)", "clip": "\(c.clip)",
                "beta1": "\(c.beta1)", "beta2": "\(c.beta2)"].merging(jem.sampler.hyperparameters) { $1 }
            .merging(jem.objective.hyperparameters) { $1 }
    }

    /// Restores weights and training state saved by `save` into `jem` (whose model, sampler and
    /// buffer must have the saved shapes) and the named generators; returns the weights' metadata.
    /// Both files are validated against this trainer before anything is allocated or changed: a
    /// failed restore leaves the trainer as it was.
    @discardableResult
    public static func restore(_ jem: JEM, rngs: [String: RNG], from path: String) throws -> [String: String] {
        let directory = folder(path)
        let weightsPath = directory + "/" + weightsFile, statePath = directory + "/" + stateFile
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw JouleError("\(path): no training checkpoint (expected \(stateFile) and \(weightsFile) here or in \(path)/last)")
        }
        let model = jem.model, opt = jem.optimizer, buffer = jem.sampler.buffer
        // Parameters and buffers (spectral normalisation's u, v): a resumed run continues from both.
        let shapes = model.stateShapes
        let trained = jem.trainedParameters.map { (name: $0.name, shape: $0.parameter.value.shape) }
        let weights = try SafeTensors.read(weightsPath) { header in
            for (name, shape) in shapes where header.entries[name]?.shape != shape {
                throw JouleError("weight '\(name)' missing or not of shape \(shape) (the checkpoint is of another model)")
            }
            if let extra = header.entries.keys.sorted().first(where: { name in !shapes.contains { $0.name == name } }) {
                throw JouleError("unknown weight '\(extra.prefix(80))' (the checkpoint is of another model)")
            }
        }
        // The objective it was trained with (checkpoints that name one): another would not resume
        // the same run.
        if weights.metadata["objective"] != nil {
            let mine = jem.objective.hyperparameters
            let keys = Set(mine.keys).union(["objective", "sigma", "eps", "projections", "gp", "gp_sampled"].filter { weights.metadata[$0] != nil })
            // The objective's name first: the message then says what differs most.
            for key in ["objective"] + keys.subtracting(["objective"]).sorted() where weights.metadata[key] != mine[key] {
                throw JouleError("\(weightsPath): trained with \(key) = \(weights.metadata[key]?.prefix(40) ?? "none"), this trainer has \(key) = \(mine[key] ?? "none"): resume with the same objective")
            }
        }
        let state = try TrainingStateFile.read(statePath, expected: .init(
            parameters: trained, pools: buffer.pools, capacity: buffer.capacity, imageSize: buffer.imageSize,
            generators: Array(rngs.keys), extraPrefixes: ["guard.", samplerPrefix]))
        guard weights.metadata["step"] == "\(state.step)" else {
            throw JouleError("\(directory): weights (step \(weights.metadata["step"]?.prefix(20) ?? "?")) and training state (step \(state.step)) do not belong together")
        }
        let progress = state.epochInProgress.map { e in
            JEM.EpochProgress(order: e.order, batchSize: e.batchSize, batches: e.batches, stats: e.stats.map { r in
                JEM.StepStats(terms: JEM.Terms(reg: r[0], cdiv: r[1], px: r[2], pyx: r[3], total: r[4]),
                              gradNorm: r[5], accuracy: r[6], energyReal: r[7], energySampled: r[8])
            })
        }
        func part(_ p: String) -> (tensors: [String: Tensor], meta: [String: String]) {
            (state.extraTensors.filter { $0.key.hasPrefix(p) }, state.extraMetadata.filter { $0.key.hasPrefix(p) })
        }
        let samplerPart = part(samplerPrefix)
        let restoreSampler: () -> Void
        do {
            restoreSampler = try jem.sampler.stateRestorer(prefix: samplerPrefix, tensors: samplerPart.tensors, meta: samplerPart.meta)
        } catch let e as JouleError { throw JouleError("\(statePath): \(e.message)") }
        let restoreGuard = try jem.divergenceGuard?.restorer(
            jem, tensors: part("guard.").tensors, meta: part("guard.").meta, batchesDone: progress?.stats.count,
            step: state.step, optimizerStep: state.optimizerStep, fail: { JouleError("\(statePath): \($0)") })
        var ownValues: [(Parameter, [Float])] = []
        for (name, p) in jem.objective.ownParameters {
            let bits = weights.metadata["objective.\(name)"]?.split(separator: ",").compactMap { UInt32($0) } ?? []
            guard bits.count == p.value.count else { throw JouleError("\(weightsPath): metadata 'objective.\(name)' missing or malformed") }
            ownValues.append((p, bits.map(Float.init(bitPattern:))))
        }
        do {
            try buffer.restore(storage: state.buffer.storage, counts: state.buffer.counts, heads: state.buffer.heads)
        } catch let e as JouleError { throw JouleError("\(statePath): \(e.message)") }
        do { try model.load(stateDict: weights.tensors) } catch let e as JouleError { throw JouleError("\(weightsPath): \(e.message)") }
        for (p, values) in ownValues {
            for (i, v) in values.enumerated() { p.value.data[i] = v }
            p.value.touch()
        }
        for (k, (name, _)) in jem.trainedParameters.enumerated() {
            let (m, v) = state.moments[name]!
            opt.m[k].data.update(from: m.data, count: m.count)
            opt.v[k].data.update(from: v.data, count: v.count)
        }
        opt.restore(step: state.optimizerStep)
        jem.restore(epoch: state.epoch, step: state.step)
        jem.epochInProgress = progress
        jem.sampler.rng.state = state.generators["sampler"]!
        for (name, rng) in rngs { rng.state = state.generators[name]! }
        restoreSampler()
        restoreGuard?()
        return weights.metadata
    }
}
