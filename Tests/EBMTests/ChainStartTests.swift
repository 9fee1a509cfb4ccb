import EBM
import Foundation
import Tensor
import TestSupport
import XCTest

/// Chain starts (replay, noise, CD, PCD) for every sampler, and exact resume of training with each.
final class ChainStartTests: XCTestCase {
    var directory: URL!
    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("joule-starts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    enum Kind: String, CaseIterable { case sgld, mala, hmc, annealed }

    /// A sampler of `kind` for a tiny ShallowCNN on 16×16 images (the shape TrainingTests use).
    func sampler(_ kind: Kind, start: ChainStart, model: EnergyModel, seed: UInt64, adapt: Int = 0) throws -> ChainSampler {
        var c = ChainSettings()
        c.steps = 3; c.shape = [1, 16, 16]; c.bufferPerClass = 8; c.freshFraction = 0.3; c.start = start
        switch kind {
        case .sgld:
            var s = SGLDSampler.Config()
            s.steps = 3; s.imageShape = [1, 16, 16]; s.bufferPerClass = 8; s.freshFraction = 0.3; s.start = start
            return try SGLDSampler(model: model, config: s, rng: RNG(seed: seed))
        case .mala:
            var m = MALASampler.Config()
            m.stepSize = 1e-3; m.adaptSteps = adapt; m.chains = c
            return try MALASampler(model: model, config: m, rng: RNG(seed: seed))
        case .hmc:
            var h = HMCSampler.Config()
            h.stepSize = 0.01; h.leapfrog = 3; h.chains = c
            return try HMCSampler(model: model, config: h, rng: RNG(seed: seed))
        case .annealed:
            var a = AnnealedLangevinSampler.Config()
            a.stepSize = 1e-3; a.t0 = 5; a.chains = c
            return try AnnealedLangevinSampler(model: model, config: a, rng: RNG(seed: seed))
        }
    }

    func trainer(_ kind: Kind, start: ChainStart, seed: UInt64, adapt: Int = 5) throws -> (jem: JEM, shuffle: RNG) {
        let model = try ShallowCNN(hidden: 3, classes: 3, rng: RNG(seed: seed))
        let s = try sampler(kind, start: start, model: model, seed: seed + 1, adapt: kind == .mala ? adapt : 0)
        var c = JEM.Config()
        c.lr = 1e-3; c.lrStep = 1; c.lrGamma = 0.5
        let jem = try JEM(model: model, sampler: s, config: c)
        jem.divergenceGuard = try DivergenceGuard()
        return (jem, RNG(seed: seed + 2))
    }

    func data() -> (Tensor, [Int]) {
        let x = Tensor(shape: [40, 1, 16, 16])
        RNG(seed: 7).fillUniform(x, -1, 1)
        return (x, (0..<40).map { $0 % 3 })
    }

    func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }

    /// PCD: the chains a step starts from are exactly the chains the previous step ended with (rerun
    /// by hand from them with the same generator state, they give the step's result), and their labels stay.
    func testPersistentChainsAreTheSameChainsAcrossSteps() throws {
        for kind in Kind.allCases {
            let model = try ShallowCNN(hidden: 3, classes: 3, rng: RNG(seed: 1))
            let s = try sampler(kind, start: .pcd, model: model, seed: 2)
            let real = Tensor(shape: [4, 1, 16, 16])
            let first = try s.sampleForTraining(real: real, labels: [0, 1, 2, 0])
            var previous = first
            for step in 0..<3 {
                let state = s.rng.state
                let next = try s.sampleForTraining(real: real, labels: [2, 2, 1, 1])
                // The same step by hand: from the previous chains, with the labels of the first step.
                s.rng.state = state
                let x = previous.copy()
                if let m = s as? MarkovSampler { try m.run(x, labels: [0, 1, 2, 0]) } else { try (s as! SGLDSampler).run(x, labels: [0, 1, 2, 0]) }
                XCTAssertEqual(bits(x), bits(next), "\(kind) step \(step): a persistent chain continues where it stopped")
                XCTAssertNotEqual(bits(next), bits(previous), "\(kind): the chains moved")
                previous = next
            }
            XCTAssertThrowsError(try s.sampleForTraining(real: Tensor(shape: [5, 1, 16, 16]), labels: [0, 0, 0, 0, 0])) { e in
                XCTAssertTrue("\(e)".contains("keep the batch size"), "\(e)")
            }
        }
    }

    /// CD: the chains start at the real batch; noise: at fresh noise, nothing kept.
    func testContrastiveDivergenceStartsAtTheRealBatch() throws {
        for kind in Kind.allCases {
            let model = try ShallowCNN(hidden: 3, classes: 3, rng: RNG(seed: 1))
            let s = try sampler(kind, start: .cd, model: model, seed: 3)
            let real = Tensor(shape: [4, 1, 16, 16])
            RNG(seed: 9).fillUniform(real, -1, 1)
            let state = s.rng.state
            let out = try s.sampleForTraining(real: real, labels: [0, 1, 2, 0])
            s.rng.state = state
            let x = real.copy()
            if let m = s as? MarkovSampler { try m.run(x, labels: [0, 1, 2, 0]) } else { try (s as! SGLDSampler).run(x, labels: [0, 1, 2, 0]) }
            XCTAssertEqual(bits(x), bits(out), "\(kind): CD runs the chains from the real images")
            XCTAssertEqual(s.buffer.totalCount, 0, "\(kind): CD keeps nothing")
        }
    }

    /// Stopped mid-epoch, checkpointed and restored into a fresh trainer, training with every sampler
    /// and start ends bit for bit as the uninterrupted run: weights, buffer, persistent chains, the
    /// adapted step size, generators.
    func testResumeIsBitIdenticalWithEverySamplerAndStart() throws {
        let (x, y) = data()
        for kind in Kind.allCases {
            for start in ChainStart.allCases {
                let a = try trainer(kind, start: start, seed: 1)
                for _ in 0..<2 { _ = try a.jem.fitEpoch(x, labels: y, batchSize: 8, rng: a.shuffle) }

                let b = try trainer(kind, start: start, seed: 1)
                var calls = 0
                _ = try b.jem.fitEpoch(x, labels: y, batchSize: 8, rng: b.shuffle, shouldStop: { calls += 1; return calls == 3 })
                let dir = directory.appendingPathComponent("\(kind)-\(start)").path
                try TrainingCheckpoint.save(b.jem, rngs: ["shuffle": b.shuffle], to: dir)

                let c = try trainer(kind, start: start, seed: 50)
                try TrainingCheckpoint.restore(c.jem, rngs: ["shuffle": c.shuffle], from: dir)
                _ = try c.jem.fitEpoch(x, labels: y, batchSize: 8, rng: c.shuffle)
                _ = try c.jem.fitEpoch(x, labels: y, batchSize: 8, rng: c.shuffle)
                let what = "\(kind) start \(start)"
                for (p, q) in zip(a.jem.model.parameters, c.jem.model.parameters) { XCTAssertEqual(bits(p.value), bits(q.value), what) }
                for (p, q) in zip(a.jem.sampler.buffer.storage, c.jem.sampler.buffer.storage) { XCTAssertEqual(bits(p), bits(q), what) }
                XCTAssertEqual(a.jem.sampler.rng.state, c.jem.sampler.rng.state, what)
                var sa: (t: [String: Tensor], m: [String: String]) = ([:], [:]), sc = sa
                a.jem.sampler.saveState(prefix: "", into: &sa.t, &sa.m)
                c.jem.sampler.saveState(prefix: "", into: &sc.t, &sc.m)
                XCTAssertEqual(sa.m, sc.m, what)
                XCTAssertEqual(Set(sa.t.keys), Set(sc.t.keys), what)
                for (k, t) in sa.t { XCTAssertEqual(bits(t), bits(sc.t[k]!), "\(what): \(k)") }
                if start == .pcd { XCTAssertNotNil(sa.t["persistent"], "\(what): the persistent chains are saved") }
                if kind == .mala {
                    XCTAssertEqual(sa.m["mala.adapted"], "5", "\(what): the warm-up is over and its step size saved")
                    XCTAssertNotEqual((a.jem.sampler as! MALASampler).stepSize, 1e-3, what)
                }
                XCTAssertTrue(a.jem.model.parameters.allSatisfy { $0.value.buffer.allSatisfy(\.isFinite) }, what)
            }
        }
    }

    /// The divergence guard's rollback puts the persistent chains and the adapted step size back too:
    /// a guard that fires at every step (energy_max tiny) rolls back to the epoch's start, then gives up.
    func testGuardRollbackRestoresTheSamplersState() throws {
        let (x, y) = data()
        let t = try trainer(.mala, start: .pcd, seed: 4, adapt: 1000)
        t.jem.divergenceGuard = nil
        _ = try t.jem.fitEpoch(x, labels: y, batchSize: 8, maxBatches: 1, rng: t.shuffle)
        let mala = t.jem.sampler as! MALASampler
        let chains = mala.persistent.chains!.copy(), h = mala.stepSize
        var g = DivergenceGuard.Config()
        g.energyMax = 1e-9; g.maxRollbacks = 1
        t.jem.divergenceGuard = try DivergenceGuard(config: g)
        XCTAssertThrowsError(try t.jem.fitEpoch(x, labels: y, batchSize: 8, maxBatches: 1, rng: t.shuffle)) { e in
            XCTAssertTrue("\(e)".contains("training diverged"), "\(e)")
        }
        XCTAssertEqual(bits(mala.persistent.chains!), bits(chains), "the chains are the good state's")
        XCTAssertEqual(mala.stepSize, h, "the step size is the good state's")
        XCTAssertEqual(mala.adapted, 3)
    }

    func testSamplerStateOfAnotherSamplerIsRefused() throws {
        let model = try ShallowCNN(hidden: 3, classes: 3, rng: RNG(seed: 1))
        let m = try sampler(.mala, start: .replay, model: model, seed: 1)
        XCTAssertThrowsError(try m.stateRestorer(prefix: "sampler.", tensors: [:], meta: ["sampler.hmc.x": "1"]))
        XCTAssertThrowsError(try m.stateRestorer(prefix: "", tensors: ["persistent": Tensor(shape: [2, 1, 8, 8])], meta: ["persistent.labels": "0,1"]))
        XCTAssertThrowsError(try m.stateRestorer(prefix: "", tensors: ["persistent": Tensor(shape: [2, 1, 16, 16])], meta: ["persistent.labels": "0,7"]))
        XCTAssertThrowsError(try m.stateRestorer(prefix: "", tensors: [:], meta: ["mala.step_size": "\(Double.nan.bitPattern)", "mala.adapted": "1"]))
        XCTAssertNoThrow(try m.stateRestorer(prefix: "", tensors: ["persistent": Tensor(shape: [2, 1, 16, 16])], meta: ["persistent.labels": "0,2"]))
    }

    func testBadSettingsAreRefused() throws {
        let g = GaussianEnergy.correlated(dimension: 3, smallest: 1, largest: 2, seed: 1)
        func message(_ f: () throws -> Any) -> String { do { _ = try f(); return "" } catch { return "\(error)" } }
        var c = ChainSettings(); c.conditional = false
        var m = MALASampler.Config(); m.chains = c
        m.stepSize = 0
        XCTAssertTrue(message { try MALASampler(model: g, config: m, rng: RNG(seed: 1)) }.contains("step_size must be a positive number"))
        m.stepSize = -1
        XCTAssertTrue(message { try MALASampler(model: g, config: m, rng: RNG(seed: 1)) }.contains("step_size"))
        m.stepSize = 0.1; m.chains.steps = 0
        XCTAssertTrue(message { try MALASampler(model: g, config: m, rng: RNG(seed: 1)) }.contains("steps must be in 1..."))
        var h = HMCSampler.Config(); h.chains = c
        h.mass = [-1]
        XCTAssertTrue(message { try HMCSampler(model: g, config: h, rng: RNG(seed: 1)) }.contains("mass must be positive"))
        h.mass = [1, 2]
        XCTAssertTrue(message { try HMCSampler(model: g, config: h, rng: RNG(seed: 1)) }.contains("one per coordinate"))
        h.mass = [1]; h.leapfrog = 0
        XCTAssertTrue(message { try HMCSampler(model: g, config: h, rng: RNG(seed: 1)) }.contains("leapfrog must be in 1..."))
        h.leapfrog = 3; h.stepSize = .nan
        XCTAssertTrue(message { try HMCSampler(model: g, config: h, rng: RNG(seed: 1)) }.contains("step_size"))
        var a = AnnealedLangevinSampler.Config(); a.chains = c; a.t0 = 0.5
        XCTAssertTrue(message { try AnnealedLangevinSampler(model: g, config: a, rng: RNG(seed: 1)) }.contains("t0 must be"))
        // Vectors are not clamped by default; images are.
        XCTAssertNil(try MALASampler(model: g, config: MALASampler.Config(stepSize: 0.1, chains: c), rng: RNG(seed: 1)).space.clamp)
    }

    /// A NaN energy names its chain.
    func testNaNEnergyNamesTheChain() throws {
        let g = GaussianEnergy.correlated(dimension: 2, smallest: 1, largest: 2, seed: 1)
        var c = ChainSettings(); c.conditional = false
        for s: MarkovSampler in [try MALASampler(model: g, config: MALASampler.Config(stepSize: 0.1, chains: c), rng: RNG(seed: 1)),
                                 try HMCSampler(model: g, config: { var h = HMCSampler.Config(); h.chains = c; return h }(), rng: RNG(seed: 1))] {
            let x = try Tensor(shape: [3, 2], values: [0, 0, .nan, 0, 1, 1])
            XCTAssertThrowsError(try s.run(x, labels: nil, steps: 2)) { e in
                XCTAssertTrue("\(e)".contains("energy of chain 2 of 3 is NaN"), "\(e)")
            }
        }
    }
}
