import EBM
import Formats
import Foundation
import NN
import Tensor

/// A training state's counters against the trainer that resumes it: the guard's (rollbacks, in a
/// row, added SGLD steps, learning-rate scale, gap window, good state) and the trainer's (epoch,
/// step, optimizer step, the unfinished epoch). The input is a JSON object of metadata values that
/// replace those of a valid state saved mid-training by a small guarded trainer; the result is
/// restored, then trained for one epoch. Refusals are fine; a crash, a hang (libFuzzer's timeout)
/// or a resumed trainer past its configuration is a finding.
struct Trainer {
    let jem: JEM
    let shuffle: RNG
    static let data = Tensor(shape: [16, 4], repeating: 0.25)
    static let labels = (0..<16).map { $0 % 2 }
    static let guardConfig: DivergenceGuard.Config = {
        var g = DivergenceGuard.Config(); g.every = 2; g.extraSteps = 3; g.maxRollbacks = 2; g.window = 4
        return g
    }()

    init() throws {
        let rng = RNG(seed: 1)
        let model = try EnergyNet(Sequential([Linear(4, 6, rng: rng), Swish(), Linear(6, 2, rng: rng)]))
        var s = SGLDSampler.Config(); s.steps = 2; s.imageShape = [4]; s.bufferPerClass = 4
        let sampler = try SGLDSampler(model: model, config: s, rng: RNG(seed: 2))
        jem = try JEM(model: model, sampler: sampler, config: JEM.Config())
        jem.divergenceGuard = try DivergenceGuard(config: Self.guardConfig)
        shuffle = RNG(seed: 3)
    }
}

let folder = NSTemporaryDirectory() + "joule-fuzz-guardstate-\(getpid())"
let valid: SafeTensors = {
    let t = try! Trainer()
    // Two batches of an epoch of four: a state with an unfinished epoch and a good state kept.
    _ = try! t.jem.fitEpoch(Trainer.data, labels: Trainer.labels, batchSize: 4, maxBatches: 2, rng: t.shuffle)
    try! TrainingCheckpoint.save(t.jem, rngs: ["shuffle": t.shuffle], to: folder)
    return try! SafeTensors.read(folder + "/" + TrainingCheckpoint.stateFile)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let edits = (try? JSON.parse(Array(UnsafeBufferPointer(start: data, count: size))))?.object else { return 0 }
    var state = valid
    for (k, v) in edits {
        if let s = v.string { state.metadata[k] = s } else if v == .null { state.metadata[k] = nil }
    }
    try! state.write(to: folder + "/" + TrainingCheckpoint.stateFile)
    let t = try! Trainer()
    guard (try? TrainingCheckpoint.restore(t.jem, rngs: ["shuffle": t.shuffle], from: folder)) != nil else { return 0 }
    let g = t.jem.divergenceGuard!
    precondition(g.inARow <= Trainer.guardConfig.maxRollbacks, "resumed with \(g.inARow) rollbacks in a row")
    precondition(g.stepsAdded <= g.rollbacks * Trainer.guardConfig.extraSteps, "resumed with \(g.stepsAdded) added steps after \(g.rollbacks) rollbacks")
    precondition(t.jem.sampler.steps == 2 + g.stepsAdded, "resumed with \(t.jem.sampler.steps) SGLD steps")
    // The rest of the epoch (or a new one) runs, and ends.
    _ = try? t.jem.fitEpoch(Trainer.data, labels: Trainer.labels, batchSize: 4, rng: t.shuffle)
    return 0
}
