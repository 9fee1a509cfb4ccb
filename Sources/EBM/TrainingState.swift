import Foundation
import NN
import Tensor

/// A training checkpoint: a folder with two safetensors files.
///
/// - `model.safetensors`: the weights under their PyTorch names (they load into the course's
///   `ShallowCNN` with `load_state_dict`), with the hyperparameters, epoch and step as metadata.
/// - `state.safetensors`: everything else a run needs to continue exactly as if it had never
///   stopped: Adam's moments (`optimizer.exp_avg.<name>`, `optimizer.exp_avg_sq.<name>`) and step,
///   the epoch and step counters (the StepLR schedule follows the epoch), the replay buffer
///   (`buffer.<pool>` rows with their counts and ring heads), the state of every random generator
///   involved (named by the caller: the sampler's, the epoch shuffler's, a script's), and an
///   unfinished epoch's batch order, position and per-batch stats.
///
/// Each file is written to a temporary name and renamed into place; both carry the step they were
/// written at and `restore` refuses a pair whose steps differ (a save cut off between the two).
public enum TrainingCheckpoint {
    public static let weightsFile = "model.safetensors"
    public static let stateFile = "state.safetensors"
    public static let format = "joule-jem-state-1"
    /// Per-batch stats of an unfinished epoch, in this column order.
    static let statColumns = 9

    /// The checkpoint folder `path` names: the folder itself when it holds a training state,
    /// otherwise its `last/` (so a run folder works too).
    public static func folder(_ path: String) -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: path + "/" + stateFile) { return path }
        if fm.fileExists(atPath: path + "/last/" + stateFile) { return path + "/last" }
        return path
    }

    /// Writes the weights and the training state of `jem` into `directory` (created if needed).
    /// `rngs` are the generators to restore besides the sampler's (which is always saved, as "sampler").
    public static func save(_ jem: JEM, rngs: [String: RNG], to directory: String, metadata: [String: String] = [:]) throws {
        let model = jem.model, sampler = jem.sampler, buffer = sampler.buffer, opt = jem.optimizer
        var tensors: [String: Tensor] = [:]
        for (k, (name, _)) in model.namedParameters.enumerated() {
            tensors["optimizer.exp_avg.\(name)"] = opt.m[k]
            tensors["optimizer.exp_avg_sq.\(name)"] = opt.v[k]
        }
        for p in 0..<buffer.pools where buffer.storage[p].count > 0 {
            tensors["buffer.\(p)"] = buffer.storage[p]
        }
        let counters = ["epoch": "\(jem.epoch)", "step": "\(jem.step)"]
        var meta = counters.merging([
            "format": format,
            "optimizer.step": "\(opt.step)",
            "buffer.pools": "\(buffer.pools)", "buffer.capacity": "\(buffer.capacity)",
            "buffer.image_size": "\(buffer.imageSize)",
            "buffer.counts": list(buffer.counts), "buffer.heads": list(buffer.heads),
            "rng.sampler": list(sampler.rng.state),
        ]) { $1 }
        for (name, rng) in rngs {
            guard name != "sampler" else { throw JouleError("checkpoint: the generator name 'sampler' is reserved") }
            meta["rng.\(name)"] = list(rng.state)
        }
        if let e = jem.epochInProgress {
            guard e.order.count < 1 << 24 else { throw JouleError("checkpoint: an epoch over \(e.order.count) images is too large to save") }
            let order = Tensor(shape: [e.order.count])
            for (i, v) in e.order.enumerated() { order.data[i] = Float(v) }
            tensors["epoch.order"] = order
            if !e.stats.isEmpty {
                let stats = Tensor(shape: [e.stats.count, statColumns])
                for (i, s) in e.stats.enumerated() {
                    let row = [s.terms.reg, s.terms.cdiv, s.terms.px, s.terms.pyx, s.terms.total,
                               s.gradNorm, s.accuracy, s.energyReal, s.energySampled]
                    for (j, v) in row.enumerated() { stats.data[i * statColumns + j] = v }
                }
                tensors["epoch.stats"] = stats
            }
            meta["epoch.batch_size"] = "\(e.batchSize)"
            meta["epoch.batches"] = "\(e.batches)"
            meta["epoch.done"] = "\(e.stats.count)"
        }
        jem.divergenceGuard?.save(jem, into: &tensors, &meta)
        try SafeTensors(tensors: tensors, metadata: meta).write(to: directory + "/" + stateFile)
        try model.save(to: directory + "/" + weightsFile,
                       metadata: metadata.merging(hyperparameters(jem)) { $1 }.merging(counters) { $1 })
    }

    /// The hyperparameters of the trainer and its sampler, under the names the Lua options use.
    public static func hyperparameters(_ jem: JEM) -> [String: String] {
        let c = jem.config, s = jem.sampler.config
        return ["alpha": "\(c.alpha)", "lambda": "\(c.lambda)", "real_noise": "\(c.realNoise)", "lr": "\(c.lr)",
                "lr_step": "\(c.lrStep)", "lr_gamma": "\(c.lrGamma)", "clip": "\(c.clip)",
                "beta1": "\(c.beta1)", "beta2": "\(c.beta2)",
                "sgld.steps": "\(s.steps)", "sgld.step_size": "\(s.stepSize)", "sgld.step_decay": "\(s.stepDecay)",
                "sgld.noise": "\(s.noise)", "sgld.grad_clip": "\(s.gradClip)",
                "sgld.fresh_fraction": "\(s.freshFraction)", "sgld.conditional": "\(s.conditional)",
                "sgld.buffer_per_class": "\(s.bufferPerClass)"]
    }

    /// Restores weights and training state saved by `save` into `jem` (whose model, sampler and
    /// buffer must have the saved shapes) and the named generators; returns the weights' metadata.
    @discardableResult
    public static func restore(_ jem: JEM, rngs: [String: RNG], from path: String) throws -> [String: String] {
        let directory = folder(path)
        let weightsPath = directory + "/" + weightsFile, statePath = directory + "/" + stateFile
        guard FileManager.default.fileExists(atPath: statePath) else {
            throw JouleError("\(path): no training checkpoint (expected \(stateFile) and \(weightsFile) here or in \(path)/last)")
        }
        let weights = try SafeTensors.read(weightsPath)
        let state = try SafeTensors.read(statePath)
        func fail(_ message: String) -> JouleError { JouleError("\(statePath): \(message)") }
        let meta = state.metadata
        guard meta["format"] == format else {
            throw fail("not a Joule training state (format \(meta["format"].map { "'\($0)'" } ?? "missing"), expected '\(format)')")
        }
        func int(_ key: String, in m: [String: String] = meta) throws -> Int {
            guard let s = m[key], let v = Int(s) else { throw fail("metadata '\(key)' missing or not an integer") }
            return v
        }
        func ints(_ key: String) throws -> [Int] {
            guard let s = meta[key] else { throw fail("metadata '\(key)' missing") }
            let parts = s.split(separator: ",")
            let v = parts.compactMap { Int($0) }
            guard v.count == parts.count else { throw fail("metadata '\(key)' is not a list of integers") }
            return v
        }
        func words(_ key: String) throws -> [UInt64] {
            guard let s = meta[key] else { throw fail("no generator state '\(key)'") }
            let v = s.split(separator: ",").compactMap { UInt64($0) }
            guard v.count == 5 else { throw fail("generator state '\(key)' is malformed") }
            return v
        }
        let (epoch, step) = (try int("epoch"), try int("step"))
        guard weights.metadata["step"] == "\(step)" else {
            throw JouleError("\(directory): weights (step \(weights.metadata["step"] ?? "?")) and training state (step \(step)) do not belong together")
        }

        // Check everything before changing anything: a failed restore leaves the trainer as it was.
        let model = jem.model, opt = jem.optimizer, buffer = jem.sampler.buffer
        for (name, p) in model.namedParameters where weights.tensors[name]?.shape != p.value.shape {
            throw JouleError("\(weightsPath): weight '\(name)' missing or not of shape \(p.value.shape) (the checkpoint is of another model)")
        }
        var moments: [(Tensor, Tensor)] = []
        for (name, p) in model.namedParameters {
            guard let m = state.tensors["optimizer.exp_avg.\(name)"], let v = state.tensors["optimizer.exp_avg_sq.\(name)"],
                  m.shape == p.value.shape, v.shape == p.value.shape else {
                throw fail("optimizer moments of '\(name)' missing or not of shape \(p.value.shape)")
            }
            moments.append((m, v))
        }
        guard try int("buffer.pools") == buffer.pools, try int("buffer.capacity") == buffer.capacity,
              try int("buffer.image_size") == buffer.imageSize else {
            throw fail("the saved replay buffer (\(meta["buffer.pools"] ?? "?") pools of \(meta["buffer.capacity"] ?? "?") images of \(meta["buffer.image_size"] ?? "?") values) does not fit this sampler's (\(buffer.pools) of \(buffer.capacity) of \(buffer.imageSize)); use the same conditional, buffer_per_class and image size")
        }
        let storage = (0..<buffer.pools).map { state.tensors["buffer.\($0)"] ?? Tensor(shape: [0]) }
        let counts = try ints("buffer.counts"), heads = try ints("buffer.heads")
        let samplerState = try words("rng.sampler")
        let rngStates = try rngs.keys.sorted().map { ($0, try words("rng.\($0)")) }
        var progress: JEM.EpochProgress?
        if let order = state.tensors["epoch.order"] {
            let batchSize = try int("epoch.batch_size"), batches = try int("epoch.batches"), done = try int("epoch.done")
            let stats = state.tensors["epoch.stats"] ?? Tensor(shape: [0, statColumns])
            guard stats.shape == [done, statColumns], done < batches, batches * batchSize <= order.count else {
                throw fail("the unfinished epoch's record is inconsistent")
            }
            let c = statColumns
            progress = JEM.EpochProgress(
                order: order.array.map { Int($0) }, batchSize: batchSize, batches: batches,
                stats: (0..<done).map { i in
                    let r = Array(UnsafeBufferPointer(start: stats.data + i * c, count: c))
                    return JEM.StepStats(terms: JEM.Terms(reg: r[0], cdiv: r[1], px: r[2], pyx: r[3], total: r[4]),
                                         gradNorm: r[5], accuracy: r[6], energyReal: r[7], energySampled: r[8])
                })
        }
        let restoreGuard = try jem.divergenceGuard?.restorer(
            jem, tensors: state.tensors, meta: meta, batchesDone: progress?.stats.count,
            step: step, optimizerStep: try int("optimizer.step"), fail: fail)
        do { try buffer.restore(storage: storage, counts: counts, heads: heads) } catch let e as JouleError { throw fail(e.message) }
        do { try model.load(stateDict: weights.tensors) } catch let e as JouleError { throw JouleError("\(weightsPath): \(e.message)") }
        for (k, (m, v)) in moments.enumerated() {
            opt.m[k].data.update(from: m.data, count: m.count)
            opt.v[k].data.update(from: v.data, count: v.count)
        }
        opt.restore(step: try int("optimizer.step"))
        jem.restore(epoch: epoch, step: step)
        jem.epochInProgress = progress
        jem.sampler.rng.state = samplerState
        for (name, words) in rngStates { rngs[name]!.state = words }
        restoreGuard?()
        return weights.metadata
    }

    private static func list<T: BinaryInteger>(_ v: [T]) -> String { v.map { "\($0)" }.joined(separator: ",") }
}
