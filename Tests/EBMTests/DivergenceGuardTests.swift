import Data
import EBM
import Formats
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The divergence guard: a configuration that blows up without it (a learning rate 500 times the
/// course's, no energy regularisation) finishes with it; it never fires on a healthy run (whose
/// numbers it leaves as they are); and a run stopped and resumed across rollbacks equals one that
/// never stopped.
final class DivergenceGuardTests: XCTestCase {
    struct Run {
        let jem: JEM
        let shuffle: RNG
    }

    /// The blob problem of the learning test, with `lr` and `alpha` to make it diverge.
    /// `spectralNorm`: every layer spectrally normalised (its u, v are part of every good state).
    func trainer(lr: Float, alpha: Float, guarded: DivergenceGuard.Config?, seed: UInt64 = 42, spectralNorm: Bool = false) throws -> Run {
        let rng = RNG(seed: seed)
        let plain = try ShallowCNN(hidden: 8, classes: 2, rng: rng)
        let model: EnergyNet = spectralNorm ? try plain.spectrallyNormalised(rng: rng) : plain
        var s = SGLDSampler.Config()
        s.steps = 10; s.imageShape = [1, 16, 16]; s.bufferPerClass = 32; s.stepSize = 1; s.noise = 0.01
        // FP32 sampling on every CPU: these runs are chaotic (lr 0.2), and auto would take another
        // path where it chooses bf16.
        s.precision = .fp32
        let sampler = try SGLDSampler(model: model, config: s, rng: RNG(seed: seed + 1))
        var c = JEM.Config(); c.lr = lr; c.lrStep = 100; c.alpha = alpha
        let jem = try JEM(model: model, sampler: sampler, config: c)
        if let g = guarded { jem.divergenceGuard = try DivergenceGuard(config: g) }
        return Run(jem: jem, shuffle: RNG(seed: seed + 2))
    }

    let train = BlobProblem.make(count: 256, rng: RNG(seed: 5))
    let test = BlobProblem.make(count: 200, rng: RNG(seed: 6))

    func accuracy(_ r: Run) throws -> Double {
        try r.jem.evaluate(test.images, labels: test.labels, sampledCount: 0).accuracy
    }

    /// Good states at each epoch's start only (16 steps an epoch): a learning rate this high can
    /// kill the network's units within a few steps, long before its energies blow up, and a state
    /// taken then would be "good" but dead. The rate goes down fivefold at each rollback.
    func guardConfig() -> DivergenceGuard.Config {
        var g = DivergenceGuard.Config(); g.every = 100; g.lrFactor = 0.2; g.maxRollbacks = 6
        return g
    }

    func testADivergingRunFinishesWithTheGuard() throws {
        // Without the guard the run diverges: the guard's own checks (non-finite numbers, energies
        // past energy_max, a runaway gap), run over its steps, fire. Which check fires first and at
        // what magnitude depends on the CPU's rounding of a chaotic run; that one fires does not.
        let wild = try trainer(lr: 0.2, alpha: 0, guarded: nil)
        let observer = try DivergenceGuard(config: guardConfig())
        var fired: [String] = []
        for _ in 0..<4 {
            let stats = try wild.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: wild.shuffle)
            fired += stats.compactMap { observer.check($0)?.check }
        }
        XCTAssertFalse(fired.isEmpty, "without the guard the run diverges")

        let tamed = try trainer(lr: 0.2, alpha: 0, guarded: guardConfig())
        var events: [DivergenceGuard.Event] = []
        var goodAccuracy: [Double] = []
        for _ in 0..<4 {
            let stats = try tamed.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: tamed.shuffle,
                                               onRollback: { events.append($0) })
            XCTAssertEqual(stats.count, 16, "every batch of the epoch is in its stats, redone ones once")
            XCTAssertTrue(stats.allSatisfy { $0.terms.total.isFinite && abs($0.terms.total) < 1e4 }, "\(stats.map(\.terms.total))")
            goodAccuracy.append(try accuracy(tamed))
        }
        XCTAssertFalse(events.isEmpty, "the guard fired")
        XCTAssertTrue(events.allSatisfy { $0.rolledBackTo < $0.step && $0.lrScale.after == $0.lrScale.before * 0.2 }, "\(events)")
        XCTAssertEqual(tamed.jem.divergenceGuard?.rollbacks, events.count)
        let scale = events.reduce(Float(1)) { s, _ in s * 0.2 }
        XCTAssertEqual(tamed.jem.learningRate, tamed.jem.scheduler.lr(epoch: tamed.jem.epoch) * scale)
        XCTAssertGreaterThanOrEqual(goodAccuracy.last!, 0.9, "after its rollbacks the run learns the blobs: \(goodAccuracy)")
    }

    /// `extra_steps` lengthens the chains at each rollback, and a resumed trainer (built with the
    /// configured steps) gets the added steps back from the checkpoint.
    func testRollbacksAddSGLDStepsAndResumeKeepsThem() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = guardConfig(); g.extraSteps = 5
        let r = try trainer(lr: 0.2, alpha: 0, guarded: g)
        var events: [DivergenceGuard.Event] = []
        _ = try r.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: r.shuffle, onRollback: { events.append($0) })
        XCTAssertFalse(events.isEmpty)
        XCTAssertTrue(events.allSatisfy { $0.sgldSteps.after == $0.sgldSteps.before + 5 }, "\(events)")
        XCTAssertEqual(r.jem.sampler.steps, 10 + 5 * events.count)
        try TrainingCheckpoint.save(r.jem, rngs: ["shuffle": r.shuffle], to: dir)
        let resumed = try trainer(lr: 0.2, alpha: 0, guarded: g, seed: 7)
        XCTAssertEqual(resumed.jem.sampler.steps, 10)
        try TrainingCheckpoint.restore(resumed.jem, rngs: ["shuffle": resumed.shuffle], from: dir)
        XCTAssertEqual(resumed.jem.sampler.steps, r.jem.sampler.steps)
        XCTAssertEqual(resumed.jem.learningRate, r.jem.learningRate)
    }

    /// A guard state is checked against itself and the configuration before anything changes:
    /// rollbacks in a row past `max_rollbacks` (training would roll back forever), steps added
    /// with no rollback or more than `extra_steps` per rollback, counters past 2^40.
    func testAGuardStateThatContradictsItselfOrTheConfigurationIsRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var g = guardConfig(); g.extraSteps = 5
        let r = try trainer(lr: 0.2, alpha: 0, guarded: g)
        _ = try r.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: r.shuffle)
        let rollbacks = try XCTUnwrap(r.jem.divergenceGuard?.rollbacks)
        XCTAssertGreaterThan(rollbacks, 0)
        try TrainingCheckpoint.save(r.jem, rngs: ["shuffle": r.shuffle], to: dir)
        let state = dir + "/state.safetensors"
        let original = try SafeTensors.read(state)
        for (key, value, says) in [("guard.in_a_row", "\(Int.max - 1)", "guard.in_a_row"),
                                   ("guard.in_a_row", "\(g.maxRollbacks + 1)", "guard.in_a_row"),
                                   ("guard.rollbacks", "\(Int.max)", "guard.rollbacks"),
                                   ("guard.rollbacks", "\((1 << 40) + 1)", "guard.rollbacks"),
                                   ("guard.steps_added", "\(rollbacks * 5 + 1)", "guard.steps_added"),
                                   ("guard.steps_added", "1000000", "guard.steps_added")] {
            var meta = original.metadata
            meta[key] = value
            if key == "guard.steps_added" && value == "1000000" { meta["guard.rollbacks"] = "0"; meta["guard.in_a_row"] = "0" }
            try SafeTensors(tensors: original.tensors, metadata: meta).write(to: state)
            let resumed = try trainer(lr: 0.2, alpha: 0, guarded: g, seed: 7)
            XCTAssertThrowsError(try TrainingCheckpoint.restore(resumed.jem, rngs: ["shuffle": resumed.shuffle], from: dir),
                                 "\(key) = \(value)") { e in
                XCTAssertTrue("\(e)".contains(says), "\(key) = \(value): \(e)")
            }
            XCTAssertEqual(resumed.jem.sampler.steps, 10, "nothing changed")
            XCTAssertEqual(resumed.jem.divergenceGuard?.rollbacks, 0)
        }
    }

    func testTheGuardNeverFiresOnAHealthyRunAndChangesNothing() throws {
        let plain = try trainer(lr: 1e-3, alpha: 0.1, guarded: nil)
        let guarded = try trainer(lr: 1e-3, alpha: 0.1, guarded: DivergenceGuard.Config())
        for _ in 0..<4 {
            let a = try plain.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: plain.shuffle)
            let b = try guarded.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: guarded.shuffle,
                                             onRollback: { XCTFail("the guard fired on a healthy run: \($0)") })
            XCTAssertEqual(a.map(\.terms.total.bitPattern), b.map(\.terms.total.bitPattern))
        }
        for (p, q) in zip(plain.jem.model.parameters, guarded.jem.model.parameters) {
            XCTAssertEqual(p.value.array.map(\.bitPattern), q.value.array.map(\.bitPattern))
        }
    }

    func testGivingUpRestoresTheLastGoodStateAndSaysSo() throws {
        var g = guardConfig(); g.every = 4; g.maxRollbacks = 1; g.lrFactor = 1
        let r = try trainer(lr: 0.5, alpha: 0, guarded: g)
        XCTAssertThrowsError(try {
            for _ in 0..<4 { _ = try r.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: r.shuffle) }
        }()) { e in
            XCTAssertTrue("\(e)".contains("training diverged: 1 rollbacks in a row"), "\(e)")
        }
        XCTAssertTrue(r.jem.model.parameters.allSatisfy { $0.value.array.allSatisfy(\.isFinite) })
    }

    func testResumedAcrossRollbacksEqualsUninterrupted() throws { try resumedAcrossRollbacks(spectralNorm: false) }

    /// With spectral normalisation: rollbacks put u, v back with the weights, and the guard's good
    /// state in a checkpoint holds them (bit-identical u, v at the end).
    func testResumedAcrossRollbacksWithSpectralNormEqualsUninterrupted() throws { try resumedAcrossRollbacks(spectralNorm: true) }

    /// A mid-epoch state whose guard good state lacks one of u, v is refused, naming it, and
    /// changes nothing.
    func refuseGoodStateWithoutBuffers(_ dir: String, lr: Float) throws {
        let copy = dir + "-tampered"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        try FileManager.default.copyItem(atPath: dir, toPath: copy)
        var state = try SafeTensors.read(copy + "/" + TrainingCheckpoint.stateFile)
        let key = "guard.state.cnn_layers.2.parametrizations.weight.0._v"
        XCTAssertNotNil(state.tensors.removeValue(forKey: key), "the good state holds \(key)")
        try state.write(to: copy + "/" + TrainingCheckpoint.stateFile)
        let fresh = try trainer(lr: lr, alpha: 0, guarded: guardConfig(), seed: 99, spectralNorm: true)
        let before = fresh.jem.model.stateDict().mapValues(\.array)
        assertThrowsMessage("the guard's good state of buffer 'cnn_layers.2.parametrizations.weight.0._v' is missing") {
            try TrainingCheckpoint.restore(fresh.jem, rngs: ["shuffle": fresh.shuffle], from: copy)
        }
        XCTAssertEqual(fresh.jem.model.stateDict().mapValues(\.array), before, "a refused state changes nothing")
    }

    func resumedAcrossRollbacks(spectralNorm sn: Bool) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("guard-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let epochs = 3
        // Spectral normalisation tames a learning rate of 0.2 (and 20): it takes 200 to diverge.
        let lr: Float = sn ? 200 : 0.2
        let straight = try trainer(lr: lr, alpha: 0, guarded: guardConfig(), spectralNorm: sn)
        var straightEvents: [DivergenceGuard.Event] = []
        for _ in 0..<epochs {
            _ = try straight.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: straight.shuffle,
                                          onRollback: { straightEvents.append($0) })
        }
        XCTAssertFalse(straightEvents.isEmpty)

        // Stop after every few steps, save, and go on in a new trainer each time.
        var events: [DivergenceGuard.Event] = []
        var current = try trainer(lr: lr, alpha: 0, guarded: guardConfig(), spectralNorm: sn)
        var stops = 0
        while current.jem.epoch < epochs {
            var calls = 0
            _ = try current.jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: current.shuffle,
                                         shouldStop: { calls += 1; return calls == 3 }, onRollback: { events.append($0) })
            try TrainingCheckpoint.save(current.jem, rngs: ["shuffle": current.shuffle], to: dir)
            if sn && stops == 0 { try refuseGoodStateWithoutBuffers(dir, lr: lr) }
            current = try trainer(lr: lr, alpha: 0, guarded: guardConfig(), seed: 99, spectralNorm: sn)
            try TrainingCheckpoint.restore(current.jem, rngs: ["shuffle": current.shuffle], from: dir)
            stops += 1
        }
        XCTAssertGreaterThan(stops, epochs)
        XCTAssertEqual(events, straightEvents)
        XCTAssertEqual(current.jem.step, straight.jem.step)
        XCTAssertEqual(current.jem.learningRate, straight.jem.learningRate)
        for (p, q) in zip(straight.jem.model.parameters, current.jem.model.parameters) {
            XCTAssertEqual(p.value.array.map(\.bitPattern), q.value.array.map(\.bitPattern))
        }
        XCTAssertEqual(straight.jem.sampler.rng.state, current.jem.sampler.rng.state)
        XCTAssertEqual(straight.jem.model.namedBuffers.count, sn ? 6 * 2 : 0)
        for ((name, a), (_, b)) in zip(straight.jem.model.namedBuffers, current.jem.model.namedBuffers) {
            XCTAssertEqual(a.array.map(\.bitPattern), b.array.map(\.bitPattern), name)
        }
    }
}
