import Formats
import EBM
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// Checkpoints, exact resume, Ctrl-C, the added metrics, and the scripts in scripts/ end to end.
final class TrainingTests: LuaTestCase {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts")

    // MARK: engine: stop, save, restore

    /// A tiny trainer on 16×16 images; `seed` varies every generator and the initial weights.
    func trainer(seed: UInt64) throws -> (jem: JEM, shuffle: RNG, other: RNG) {
        let model = try ShallowCNN(hidden: 3, classes: 3, rng: RNG(seed: seed))
        var sc = SGLDSampler.Config()
        sc.steps = 3; sc.imageShape = [1, 16, 16]; sc.bufferPerClass = 8; sc.freshFraction = 0.3
        let sampler = try SGLDSampler(model: model, config: sc, rng: RNG(seed: seed + 1))
        var c = JEM.Config()
        c.lr = 1e-3; c.lrStep = 1; c.lrGamma = 0.5
        return (try JEM(model: model, sampler: sampler, config: c), RNG(seed: seed + 2), RNG(seed: seed + 3))
    }

    func data() -> (Tensor, [Int]) {
        let x = Tensor(shape: [40, 1, 16, 16])
        RNG(seed: 7).fillUniform(x, -1, 1)
        return (x, (0..<40).map { $0 % 3 })
    }

    func bits(_ t: Tensor) -> [UInt32] { t.array.map(\.bitPattern) }
    func bits(_ s: [JEM.StepStats]) -> [UInt32] {
        s.flatMap { [$0.terms.total, $0.terms.px, $0.terms.pyx, $0.gradNorm, $0.accuracy, $0.energySampled].map(\.bitPattern) }
    }

    func testStoppedMidEpochAndRestoredEqualsUninterrupted() throws {
        let (x, y) = data()
        let a = try trainer(seed: 1)
        var straight: [[JEM.StepStats]] = []
        for _ in 0..<3 { straight.append(try a.jem.fitEpoch(x, labels: y, batchSize: 8, rng: a.shuffle)) }
        _ = a.other.next()

        let b = try trainer(seed: 1)
        let first = try b.jem.fitEpoch(x, labels: y, batchSize: 8, rng: b.shuffle)
        var calls = 0
        let partial = try b.jem.fitEpoch(x, labels: y, batchSize: 8, rng: b.shuffle, shouldStop: { calls += 1; return calls == 2 })
        XCTAssertEqual(partial.count, 2)
        XCTAssertEqual(b.jem.epoch, 1)
        XCTAssertNotNil(b.jem.epochInProgress)
        _ = b.other.next()
        let dir = directory.appendingPathComponent("ckpt").path
        try TrainingCheckpoint.save(b.jem, rngs: ["shuffle": b.shuffle, "other": b.other], to: dir, metadata: ["note": "x"])

        // Everything differs in a fresh trainer until the checkpoint is restored.
        let c = try trainer(seed: 50)
        let meta = try TrainingCheckpoint.restore(c.jem, rngs: ["shuffle": c.shuffle, "other": c.other], from: dir)
        XCTAssertEqual(meta["note"], "x")
        XCTAssertEqual(meta["step"], "7")
        XCTAssertEqual(meta["hidden"], "3")
        XCTAssertEqual(c.jem.epoch, 1)
        XCTAssertEqual(c.jem.step, 7)
        let rest = try c.jem.fitEpoch(x, labels: y, batchSize: 8, rng: c.shuffle)
        let last = try c.jem.fitEpoch(x, labels: y, batchSize: 8, rng: c.shuffle)

        XCTAssertEqual(bits(first), bits(straight[0]))
        XCTAssertEqual(rest.count, 5, "the continued epoch reports all of its batches")
        XCTAssertEqual(bits(rest), bits(straight[1]))
        XCTAssertEqual(bits(last), bits(straight[2]))
        for (p, q) in zip(a.jem.model.parameters, c.jem.model.parameters) { XCTAssertEqual(bits(p.value), bits(q.value)) }
        for (p, q) in zip(a.jem.optimizer.m + a.jem.optimizer.v, c.jem.optimizer.m + c.jem.optimizer.v) { XCTAssertEqual(bits(p), bits(q)) }
        XCTAssertEqual(a.jem.sampler.buffer.counts, c.jem.sampler.buffer.counts)
        XCTAssertEqual(a.jem.sampler.buffer.heads, c.jem.sampler.buffer.heads)
        for (p, q) in zip(a.jem.sampler.buffer.storage, c.jem.sampler.buffer.storage) { XCTAssertEqual(bits(p), bits(q)) }
        XCTAssertEqual(a.jem.sampler.rng.state, c.jem.sampler.rng.state)
        XCTAssertEqual(a.shuffle.state, c.shuffle.state)
        XCTAssertEqual(a.other.state, c.other.state)
        XCTAssertEqual(a.jem.step, c.jem.step)
        XCTAssertEqual(a.jem.optimizer.step, c.jem.optimizer.step)
    }

    func testUnfinishedEpochContinuesOnlyWithTheSameBatches() throws {
        let (x, y) = data()
        let t = try trainer(seed: 3)
        _ = try t.jem.fitEpoch(x, labels: y, batchSize: 8, rng: t.shuffle, shouldStop: { true })
        XCTAssertThrowsError(try t.jem.fitEpoch(x, labels: y, batchSize: 4, rng: t.shuffle)) { e in
            XCTAssertTrue("\(e)".contains("continue it with the same split and batch size"), "\(e)")
        }
        let n = try t.jem.fitEpoch(x, labels: y, batchSize: 8, maxBatches: 2, rng: t.shuffle)
        XCTAssertEqual(n.count, 5, "an unfinished epoch keeps its own number of batches")
        XCTAssertEqual(try t.jem.fitEpoch(x, labels: y, batchSize: 8, maxBatches: 2, rng: t.shuffle).count, 2)
        XCTAssertThrowsError(try t.jem.fitEpoch(x, labels: y, batchSize: 8, maxBatches: 0, rng: t.shuffle))
    }

    func testWeightsAndStateFromDifferentSavesAreRefused() throws {
        let (x, y) = data()
        let t = try trainer(seed: 4)
        let dir = directory.appendingPathComponent("c").path
        _ = try t.jem.step(try x.items(0..<8), labels: Array(y[0..<8]))
        try TrainingCheckpoint.save(t.jem, rngs: [:], to: dir)
        let old = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
        _ = try t.jem.step(try x.items(0..<8), labels: Array(y[0..<8]))
        try TrainingCheckpoint.save(t.jem, rngs: [:], to: dir)
        try old.write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        let u = try trainer(seed: 9)
        let before = bits(u.jem.model.parameters[0].value)
        XCTAssertThrowsError(try TrainingCheckpoint.restore(u.jem, rngs: [:], from: dir)) { e in
            XCTAssertTrue("\(e)".contains("do not belong together"), "\(e)")
        }
        XCTAssertEqual(bits(u.jem.model.parameters[0].value), before, "a refused checkpoint changes nothing")
        XCTAssertThrowsError(try TrainingCheckpoint.save(t.jem, rngs: ["sampler": RNG(seed: 1)], to: dir))
    }

    // MARK: Lua: checkpoints

    /// Trains from Lua: `epochs` epochs straight, or `split` epochs, a checkpoint, new objects that
    /// load it, and the rest. Returns the per-epoch losses and leaves the final checkpoint in DIR/name.
    /// `options` are more of joule.ebm.JEM's (an objective).
    func luaTraining(epochs: Int, split: Int?, name: String, options: String = "",
                     model: String = "joule.nn.ShallowCNN{ hidden = 3, classes = 3 }", hidden: String = "3") throws -> String {
        try lua("""
            joule.seed(3)
            local x = joule.tensor.rand(40, 1, 16, 16) * 2 - 1
            local function trainer()
              local m = \(model)
              local s = joule.ebm.SGLD{ model = m, steps = 3, image_size = 16, buffer_per_class = 8, fresh_fraction = 0.3 }
              return joule.ebm.JEM{ model = m, sampler = s, lr = 1e-3, lr_step = 1, lr_gamma = 0.5, \(options) }
            end
            local y = {}
            for i = 1, 40 do y[i] = (i - 1) % 3 end
            local train = { images = x, labels = y }
            local jem, losses = trainer(), {}
            for epoch = 1, \(epochs) do
              if epoch == \(split.map { $0 + 1 } ?? -1) then
                jem:save_checkpoint(DIR .. '/half', { note = 'half', best = 0.25 })
                joule.tensor.rand(5)  -- draws that the checkpoint's generator state undoes
                jem = trainer()
                local info = jem:load_checkpoint(DIR .. '/half')
                assert(info.note == 'half' and info.best == 0.25 and info.epoch == \(split ?? 0) and info.hidden == \(hidden), 'metadata')
                assert(jem:epoch() == \(split ?? 0), 'epoch restored')
              end
              local s = jem:fit_epoch(train, { batch_size = 8, progress = false })
              local v = jem:evaluate(train, { samples = 4 })
              losses[#losses + 1] = string.format('%.9g/%.9g/%.9g', s.loss, v.energy_sampled, joule.tensor.rand(1):item())
            end
            jem:save_checkpoint(DIR .. '/\(name)')
            return table.concat(losses, ' ')
            """)[0]
    }

    /// Objectives other than maximum likelihood draw their noise and directions from the sampler's
    /// generator, which checkpoints save: resumed runs are the uninterrupted ones, bit for bit, and
    /// the objective's settings go into the checkpoint, so resuming with others is refused.
    func testResumeWithOtherObjectivesEqualsAnUninterruptedRun() throws {
        for (k, options) in ["objective = 'dsm', sigma = { 0.3, 0.1 }, gp = 0.1", "objective = 'ssm', eps = 0.05, projections = 2",
                             "gp = 0.2, gp_sampled = true", "objective = 'nce', nce_data = x, ratio = 2"].enumerated() {
            let straight = try luaTraining(epochs: 3, split: nil, name: "straight\(k)", options: options)
            let resumed = try luaTraining(epochs: 3, split: 1, name: "resumed\(k)", options: options)
            XCTAssertEqual(resumed, straight, options)
            for file in ["model.safetensors", "state.safetensors"] {
                let a = try Data(contentsOf: directory.appendingPathComponent("straight\(k)/\(file)"))
                let b = try Data(contentsOf: directory.appendingPathComponent("resumed\(k)/\(file)"))
                XCTAssertTrue(a == b, "\(options): \(file) differs between the straight and the resumed run")
            }
        }
        let meta = try SafeTensors.read(directory.appendingPathComponent("straight0/model.safetensors").path).metadata
        XCTAssertEqual([meta["objective"], meta["sigma"], meta["gp"]], ["dsm", "0.3,0.1", "0.1"])
        let message = luaError("""
            local m = joule.nn.ShallowCNN{ hidden = 3, classes = 3 }
            local s = joule.ebm.SGLD{ model = m, steps = 3, image_size = 16, buffer_per_class = 8 }
            joule.ebm.JEM{ model = m, sampler = s, objective = 'ssm' }:load_checkpoint('\(directory.path)/straight0')
            """)
        XCTAssertTrue(message.contains("trained with objective = dsm, this trainer has objective = ssm"), message)
        XCTAssertTrue(luaError("""
            local m = joule.nn.ShallowCNN{ hidden = 3, classes = 3 }
            joule.ebm.JEM{ model = m, sampler = joule.ebm.SGLD{ model = m }, objective = 'nce2' }
            """).contains("field 'objective': 'ml', 'dsm', 'ssm' or 'nce' expected, got 'nce2'"))
    }

    /// Spectral normalisation's u, v are in the checkpoint: a resumed run is the uninterrupted one,
    /// bit for bit, whether the model trains in evaluation mode (as train_jem.lua keeps it) or in
    /// training mode (its evaluate passes then advance u, v too).
    func testResumeWithSpectralNormEqualsAnUninterruptedRun() throws {
        for (k, mode) in ["eval", "train"].enumerated() {
            let model = "joule.nn.spectral_norm(joule.nn.ShallowCNN{ hidden = 3, classes = 3 }):\(mode)()"
            // A wrapped ShallowCNN is a composed network: its metadata has no hidden width.
            let straight = try luaTraining(epochs: 3, split: nil, name: "sn-straight\(k)", model: model, hidden: "nil")
            let resumed = try luaTraining(epochs: 3, split: 1, name: "sn-resumed\(k)", model: model, hidden: "nil")
            XCTAssertEqual(resumed, straight, mode)
            for file in ["model.safetensors", "state.safetensors"] {
                let a = try Data(contentsOf: directory.appendingPathComponent("sn-straight\(k)/\(file)"))
                let b = try Data(contentsOf: directory.appendingPathComponent("sn-resumed\(k)/\(file)"))
                XCTAssertTrue(a == b, "\(mode): \(file) differs between the straight and the resumed run")
            }
        }
        let w = try SafeTensors.read(directory.appendingPathComponent("sn-straight0/model.safetensors").path).tensors
        XCTAssertNotNil(w["cnn_layers.0.parametrizations.weight.original"])
        XCTAssertNotNil(w["fc_layers.1.parametrizations.weight.0._u"])
    }

    func testResumeFromLuaEqualsAnUninterruptedRun() throws {
        let straight = try luaTraining(epochs: 4, split: nil, name: "straight")
        let resumed = try luaTraining(epochs: 4, split: 2, name: "resumed")
        XCTAssertEqual(resumed, straight)
        for file in ["model.safetensors", "state.safetensors"] {
            let a = try Data(contentsOf: directory.appendingPathComponent("straight/\(file)"))
            let b = try Data(contentsOf: directory.appendingPathComponent("resumed/\(file)"))
            XCTAssertTrue(a == b, "\(file) differs between the straight and the resumed run")
        }
        // The weights file is an ordinary checkpoint with the hyperparameters in its metadata.
        let w = try SafeTensors.read(directory.appendingPathComponent("straight/model.safetensors").path)
        XCTAssertEqual(w.metadata["epoch"], "4")
        XCTAssertEqual(w.metadata["sgld.steps"], "3")
        XCTAssertEqual(w.metadata["lr"], "0.001")
        XCTAssertNotNil(w.tensors["fc_layers.1.weight"])
    }

    func assertError(_ code: String, contains text: String, file: StaticString = #filePath, line: UInt = #line) {
        let message = luaError(code, file: file, line: line)
        XCTAssertTrue(message.contains(text), "\(message)\n does not contain\n\(text)", file: file, line: line)
    }

    func testGuardOptionsAreChecked() {
        let setup = "local m = joule.nn.ShallowCNN{ hidden = 2, classes = 2 }; local s = joule.ebm.SGLD{ model = m, image_size = 8 }; "
        XCTAssertTrue(luaError(setup + "joule.ebm.JEM{ model = m, sampler = s, guard = { evry = 3 } }")
            .contains("guard: unknown option 'evry' (did you mean 'every'?)"))
        XCTAssertTrue(luaError(setup + "joule.ebm.JEM{ model = m, sampler = s, guard = 3 }")
            .contains("field 'guard': options table or false expected, got 3"))
        XCTAssertTrue(luaError(setup + "joule.ebm.JEM{ model = m, sampler = s, guard = { lr_factor = 2 } }")
            .contains("guard: lr_factor must be in (0, 1], got 2.0"))
        XCTAssertTrue(luaError(setup + "joule.ebm.JEM{ model = m, sampler = s, guard = { window = 0 } }")
            .contains("field 'window': integer in 1...100000 expected, got 0"))
        XCTAssertEqual(try lua(setup + "local j = joule.ebm.JEM{ model = m, sampler = s, guard = false }; return j:rollbacks()"), ["0"])
    }

    func testCheckpointErrors() throws {
        let setup = """
            local function trainer(hidden, buffer)
              local m = joule.nn.ShallowCNN{ hidden = hidden, classes = 3, seed = 1 }
              local s = joule.ebm.SGLD{ model = m, steps = 2, image_size = 16, buffer_per_class = buffer }
              return joule.ebm.JEM{ model = m, sampler = s }
            end
            local jem = trainer(3, 8)
            jem:save_checkpoint(DIR .. '/c')

            """
        // Lines of the code after `setup` count from 8.
        assertError(setup + "trainer(3, 8):load_checkpoint(DIR .. '/none')", contains: "snippet.lua:8: \(directory.path)/none: no training checkpoint")
        assertError(setup + "trainer(4, 8):load_checkpoint(DIR .. '/c')", contains: "weight 'cnn_layers.0.weight' missing or not of shape [4, 1, 5, 5]")
        assertError(setup + "trainer(3, 9):load_checkpoint(DIR .. '/c')", contains: "does not fit this sampler's")
        XCTAssertEqual(luaError(setup + "jem:save_checkpoint(42)"),
                       "snippet.lua:8: bad argument #1 to 'JEM:save_checkpoint' (string expected, got 42)")
        XCTAssertEqual(luaError(setup + "jem:save_checkpoint(DIR, { x = {} })"),
                       "snippet.lua:8: bad argument #2 to 'JEM:save_checkpoint' (info 'x': string, number or boolean expected, got table)")
        assertError(setup + "jem:fit_epoch({ images = joule.tensor.zeros(8, 1, 16, 16), labels = {0,0,0,0,0,0,0,0} }, { max_batches = 0 })", contains: "field 'max_batches': positive integer expected, got 0")
        assertError(setup + "jem:fit_epoch({ images = joule.tensor.zeros(8, 1, 16, 16), labels = {0,0,0,0,0,0,0,0} }, { max_batch = 1 })", contains: "unknown option 'max_batch' (did you mean 'max_batches'?)")
        assertError(setup + "io.open(DIR .. '/c/state.safetensors', 'w'):write('junk'):close(); trainer(3, 8):load_checkpoint(DIR .. '/c')", contains: "state.safetensors: truncated safetensors file")
        // A run folder stands for its last/ checkpoint; joule.nn.load takes folders too.
        XCTAssertEqual(try lua(setup + """
            jem:save_checkpoint(DIR .. '/run/last')
            trainer(3, 8):load_checkpoint(DIR .. '/run')
            return joule.nn.load(DIR .. '/run'):hidden(), joule.nn.load(DIR .. '/c'):classes()
            """), ["3", "3"])
    }

    func testRunFolderOfAResumedRun() {
        XCTAssertEqual(RunFolder.resumed("runs/a/last"), "runs/a")
        XCTAssertEqual(RunFolder.resumed("runs/a/best/"), "runs/a")
        XCTAssertEqual(RunFolder.resumed("runs/a"), "runs/a")
        XCTAssertEqual(RunFolder.resumed("last"), ".")
        XCTAssertNil(RunFolder.resumed(""))
        XCTAssertNil(RunFolder.resumed(nil))
    }

    // MARK: Lua: metrics and JSON

    func testClassificationMetrics() throws {
        let r = try lua("""
            local pred, y = {0, 1, 1, 2, 2, 2}, {0, 0, 1, 2, 2, 1}
            local m = joule.metrics.confusion_matrix(pred, y, 4)
            local rows = {}
            for i, row in ipairs(m) do rows[i] = table.concat(row, ',') end
            local pc = joule.metrics.per_class_accuracy(pred, y, 4)
            local ece = joule.metrics.calibration_error
            return table.concat(rows, ';'), string.format('%.6g,%.6g,%.6g', pc[1], pc[2], pc[3]), tostring(pc[4] ~= pc[4]),
              string.format('%.12g', ece({0.95, 0.9, 0.3, 0.55}, {0, 1, 1, 2}, {0, 0, 1, 2})),
              string.format('%.12g', ece({0.91, 0.92}, {0, 0}, {0, 1})),
              string.format('%.12g', ece({0.4, 0.35}, {1, 1}, {1, 0})),
              string.format('%.12g', ece({0.4, 0.35}, {1, 1}, {1, 0}, 2))
            """)
        XCTAssertEqual(r[0], "1,1,0,0;0,1,1,0;0,0,2,0;0,0,0,0")
        XCTAssertEqual(r[1], "0.5,0.5,1")
        XCTAssertEqual(r[2], "true", "a class without images has no accuracy (nan)")
        // Each confidence alone in its bin: the mean of |correct − confidence|.
        XCTAssertEqual(number(r[3]), (0.05 + 0.9 + 0.7 + 0.45) / 4, accuracy: 1e-12)
        XCTAssertEqual(number(r[4]), abs(0.5 - 0.915), accuracy: 1e-12)
        // 0.4 = 6/15 is the upper edge of the bin (1/3, 0.4]: it shares the bin with 0.35.
        XCTAssertEqual(number(r[5]), abs(0.5 - 0.375), accuracy: 1e-12)
        XCTAssertEqual(number(r[6]), abs(0.5 - 0.375), accuracy: 1e-12)

        assertError("joule.metrics.confusion_matrix({0, 5}, {0, 1}, 3)", contains: "class id 5 outside 0..<3")
        assertError("joule.metrics.per_class_accuracy({0}, {0, 1}, 3)", contains: "need equally many predictions and labels")
        assertError("joule.metrics.calibration_error({1.5}, {0}, {0})", contains: "confidences must lie in [0, 1]")
        assertError("joule.metrics.calibration_error({0.5}, {0}, {0}, 0)", contains: "bad argument #4 to 'joule.metrics.calibration_error'")
        assertError("joule.metrics.confusion_matrix({0}, {0}, 'x')", contains: "bad argument #3 to 'joule.metrics.confusion_matrix'")
    }

    func testSaveJSON() throws {
        let path = directory.appendingPathComponent("out/r.json").path
        try lua("joule.save_json('\(path)', { accuracy = 0.5, auroc = { ood_ta = { px = 0.75 } }, list = {1, 2}, name = 'x' })")
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        XCTAssertEqual(json["accuracy"] as? Double, 0.5)
        XCTAssertEqual(((json["auroc"] as? [String: Any])?["ood_ta"] as? [String: Any])?["px"] as? Double, 0.75)
        XCTAssertEqual(json["list"] as? [Int], [1, 2])
        assertError("joule.save_json(DIR .. '/f.json', { f = print })", contains: "cannot write a function value as JSON")
        assertError("joule.save_json(DIR .. '/f.json')", contains: "bad argument #2 to 'joule.save_json'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("f.json").path))
    }

    // MARK: the scripts, end to end

    /// A folder in the course layout: 3 classes of bars on 20×24 uint8 images (not yet 56×56).
    func makeCourseFolder(_ name: String = "data") throws -> String {
        let dir = directory.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rng = RNG(seed: 5)
        let (h, w) = (20, 24)
        for (split, n) in [("train", 96), ("val", 24), ("test", 24), ("ood_ta", 24), ("ood_tb", 24)] {
            var pixels: [UInt8] = []
            var labels: [Int] = []
            for i in 0..<n {
                let c = i % 3
                labels.append(c)
                for y in 0..<h {
                    for x in 0..<w {
                        var ink: Bool
                        switch split == "ood_ta" ? 3 : c {
                        case 0: ink = abs(y - h / 2) < 2
                        case 1: ink = abs(x - w / 2) < 2
                        case 2: ink = abs(x - y) < 2
                        default: ink = (x / 4 + y / 4) % 2 == 0
                        }
                        if split == "ood_tb" { ink.toggle() }
                        pixels.append(UInt8(max(0, min(255, (ink ? 30 : 220) + Int(rng.normal() * 20)))))
                    }
                }
            }
            var arrays = [NpyArray(uint8: pixels, shape: [n, h, w])]
            if !split.hasPrefix("ood") { arrays.append(NpyArray(ints: labels)) }
            try Npy.write(arrays, to: dir.appendingPathComponent("\(split).npy").path)
        }
        return dir.path
    }

    func script(_ name: String) -> String { Self.scripts.appendingPathComponent(name).path }

    static let tiny = ["-p", "hidden=3", "-p", "steps=4", "-p", "batch_size=8", "-p", "eval_samples=4",
                       "-p", "buffer_per_class=8", "-p", "progress=false"]

    /// Ctrl-C during training saves a checkpoint and exits 130; resuming it ends with exactly the
    /// log, weights and training state of a run that was never interrupted.
    func testTrainScriptInterruptedAndResumedEqualsUninterrupted() throws {
        let data = try makeCourseFolder()
        let (p, out, err) = try startJoule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=cut",
                                            "-p", "epochs=100000"] + Self.tiny, timeout: 60)
        // The script flushes its "training …" line just before the first step.
        _ = out.fileHandleForReading.availableData
        usleep(useconds_t.random(in: 100_000...600_000))
        kill(p.processIdentifier, SIGINT)
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130, rest + errors)
        XCTAssertTrue(rest.contains("interrupted after step"), rest)
        XCTAssertTrue(errors.hasSuffix("train_jem.lua: interrupted\n"), errors)

        let state = try SafeTensors.read(directory.appendingPathComponent("cut/last/state.safetensors").path)
        let epochs = Int(state.metadata["epoch"]!)! + 1
        XCTAssertGreaterThan(Int(state.metadata["step"]!)!, 0)
        let resumed = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "resume=cut", "-p", "epochs=\(epochs)"] + Self.tiny)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resumed cut: "), resumed.stdout)
        let straight = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=straight", "-p", "epochs=\(epochs)"] + Self.tiny)
        XCTAssertEqual(straight.status, 0, straight.stderr)
        for file in ["log.jsonl", "last/model.safetensors", "last/state.safetensors", "best/model.safetensors"] {
            let a = try Data(contentsOf: directory.appendingPathComponent("straight/\(file)"))
            let b = try Data(contentsOf: directory.appendingPathComponent("cut/\(file)"))
            XCTAssertTrue(a == b, "\(file) of the interrupted and resumed run differs from the uninterrupted run's")
        }
        let log = try String(contentsOf: directory.appendingPathComponent("cut/log.jsonl"), encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, epochs)
    }

    /// A class without training images still gets its logit: train_jem.lua counts the classes that
    /// the folder's classes.json declares (joule.data.classes), not only the labels it finds; a label
    /// beyond the declared classes is an error naming the folder.
    func testTrainScriptCountsDeclaredClassesWithoutImages() throws {
        let data = try makeCourseFolder()
        let names = data + "/classes.json"
        try #"{"classes": ["flat", "upright", "slant", "unseen"]}"#.write(toFile: names, atomically: true, encoding: .utf8)
        let r = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=declared", "-p", "epochs=1"] + Self.tiny)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("96 images, 4 classes"), r.stdout)
        let model = try SafeTensors.read(directory.appendingPathComponent("declared/last/model.safetensors").path)
        XCTAssertEqual(model.tensors["fc_layers.1.bias"]?.shape, [4])

        try #"{"classes": ["flat", "upright"]}"#.write(toFile: names, atomically: true, encoding: .utf8)
        let bad = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=undeclared", "-p", "epochs=1"] + Self.tiny)
        XCTAssertEqual(bad.status, 1, bad.stdout)
        XCTAssertTrue(bad.stderr.contains("a training label 2, but classes.json names 2 classes (labels 0…1)"), bad.stderr)
    }

    /// train_jem.lua -p spectral_norm=true: a run stopped after one epoch and resumed ends with the
    /// log, weights and training state of one that never stopped; the weights carry PyTorch's names.
    func testTrainScriptWithSpectralNormResumesExactly() throws {
        let data = try makeCourseFolder()
        let sn = ["-p", "spectral_norm=true", "-p", "data=\(data)"] + Self.tiny
        let straight = try joule(["run", script("train_jem.lua"), "-p", "run=sn-straight", "-p", "epochs=2"] + sn)
        XCTAssertEqual(straight.status, 0, straight.stderr)
        let first = try joule(["run", script("train_jem.lua"), "-p", "run=sn-cut", "-p", "epochs=1"] + sn)
        XCTAssertEqual(first.status, 0, first.stderr)
        let resumed = try joule(["run", script("train_jem.lua"), "-p", "resume=sn-cut", "-p", "epochs=2"] + sn)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for file in ["log.jsonl", "last/model.safetensors", "last/state.safetensors", "best/model.safetensors"] {
            let a = try Data(contentsOf: directory.appendingPathComponent("sn-straight/\(file)"))
            let b = try Data(contentsOf: directory.appendingPathComponent("sn-cut/\(file)"))
            XCTAssertTrue(a == b, "\(file) of the resumed run differs from the uninterrupted run's")
        }
        let w = try SafeTensors.read(directory.appendingPathComponent("sn-straight/last/model.safetensors").path).tensors
        XCTAssertEqual(w["cnn_layers.2.parametrizations.weight.0._v"]?.shape, [27])
        XCTAssertNil(w["cnn_layers.0.weight"])
    }

    /// A learning rate 5000 times the course's and no energy regularisation: without the guard the
    /// loss explodes; with it train_jem.lua rolls back, logs each rollback, and ends with finite losses.
    func testTrainScriptSurvivesDivergenceWithTheGuard() throws {
        let data = try makeCourseFolder()
        let wild = ["-p", "data=\(data)", "-p", "epochs=4", "-p", "lr=0.5", "-p", "alpha=0.0", "-p", "hidden=8",
                    "-p", "steps=4", "-p", "batch_size=8", "-p", "eval_samples=4", "-p", "buffer_per_class=8",
                    "-p", "progress=false"]
        func losses(_ run: String) throws -> (epochs: [Double], events: [[String: Any]]) {
            let text = try String(contentsOf: directory.appendingPathComponent("\(run)/log.jsonl"), encoding: .utf8)
            let lines = try text.split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
            return (lines.compactMap { $0["event"] == nil ? (($0["loss"] as? Double) ?? .nan) : nil },
                    lines.filter { $0["event"] as? String == "rollback" })
        }
        let off = try joule(["run", script("train_jem.lua"), "-p", "run=off", "-p", "guard=false"] + wild)
        XCTAssertEqual(off.status, 0, off.stderr)
        let unguarded = try losses("off")
        XCTAssertTrue(unguarded.events.isEmpty)
        XCTAssertTrue(unguarded.epochs.contains { !$0.isFinite || abs($0) > 1000 }, "without the guard the loss explodes: \(unguarded.epochs)")

        let on = try joule(["run", script("train_jem.lua"), "-p", "run=on", "-p", "guard_every=1000", "-p", "guard_lr_factor=0.2"] + wild)
        XCTAssertEqual(on.status, 0, on.stderr)
        let guarded = try losses("on")
        XCTAssertEqual(guarded.epochs.count, 4)
        XCTAssertTrue(guarded.epochs.allSatisfy { $0.isFinite && abs($0) < 1000 }, "\(guarded.epochs)")
        XCTAssertFalse(guarded.events.isEmpty, on.stdout)
        for e in guarded.events {
            XCTAssertNotNil(e["check"] as? String)
            XCTAssertLessThan(e["rolled_back_to"] as! Int, e["step"] as! Int)
            XCTAssertEqual(e["lr_after"] as! Double, (e["lr_before"] as! Double) * 0.2, accuracy: 1e-6 * (e["lr_before"] as! Double), "Float32 rates")
        }
        let printed = on.stdout.split(separator: "\n").filter { $0.hasPrefix("guard: step ") }
        XCTAssertEqual(printed.count, guarded.events.count, on.stdout)
    }

    /// train_jem.lua with each objective (and a gradient penalty): it trains, logs finite losses,
    /// and its checkpoint samples.
    func testTrainScriptWithEachObjective() throws {
        let data = try makeCourseFolder()
        for (k, options) in [["objective=dsm", "sigma=0.2"], ["objective=ssm", "projections=2"], ["objective=nce", "nce_ratio=2"],
                             ["gp=0.1", "gp_sampled=true"]].enumerated() {
            let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=o\(k)", "-p", "epochs=1",
                                   "-p", "max_batches=2"] + options.flatMap { ["-p", $0] } + Self.tiny)
            XCTAssertEqual(train.status, 0, "\(options): \(train.stderr)")
            let log = try String(contentsOf: directory.appendingPathComponent("o\(k)/log.jsonl"), encoding: .utf8)
            XCTAssertTrue(log.hasPrefix("{\"epoch\":1,\"step\":2,"), "\(options): \(log)")
            XCTAssertFalse(log.contains("null"), "\(options): a non-finite value in \(log)")
            let sample = try joule(["run", script("sample.lua"), "-p", "checkpoint=o\(k)", "-p", "run=s\(k)", "-p", "n=2", "-p", "steps=3"])
            XCTAssertEqual(sample.status, 0, "\(options): \(sample.stderr)")
        }
    }

    func testScriptsEndToEnd() throws {
        let data = try makeCourseFolder()
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=jem", "-p", "epochs=2",
                               "-p", "max_batches=3"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("3 classes"), train.stdout)
        let log = try String(contentsOf: directory.appendingPathComponent("jem/log.jsonl"), encoding: .utf8)
        XCTAssertTrue(log.hasPrefix("{\"epoch\":1,\"step\":3,"), log)
        XCTAssertTrue(log.contains("{\"epoch\":2,\"step\":6,"), log)

        // sample.lua: the sampler's settings come from -p, no rebuild.
        let sample = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem", "-p", "run=s", "-p", "n=5",
                                "-p", "steps=6", "-p", "keep_every=4", "-p", "step_size=5"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertTrue(sample.stdout.contains("SGLD(steps 6, step_size 5.0"), sample.stdout)
        XCTAssertTrue(sample.stdout.contains("classes in turn"), sample.stdout)
        let samples = try Npy.read(directory.appendingPathComponent("s/samples.npy").path)[0]
        XCTAssertEqual(samples.shape, [5, 1, 56, 56])
        XCTAssertEqual(try Npy.read(directory.appendingPathComponent("s/chain.npy").path)[0].shape, [3, 5, 1, 56, 56])
        XCTAssertEqual(try Npy.read(directory.appendingPathComponent("s/labels.npy").path)[0].tensor().array, [0, 1, 2, 0, 1])
        let other = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem/last/model.safetensors", "-p", "run=s2",
                               "-p", "n=5", "-p", "steps=6", "-p", "keep_every=0", "-p", "conditional=false"])
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertTrue(other.stdout.contains("unconditional"), other.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("s2/chain.npy").path))
        XCTAssertNotEqual(try Npy.read(directory.appendingPathComponent("s2/samples.npy").path)[0].tensor().array,
                          samples.tensor().array)

        let evaluate = try joule(["run", script("evaluate.lua"), "-p", "checkpoint=jem", "-p", "data=\(data)", "-p", "run=e"])
        XCTAssertEqual(evaluate.status, 0, evaluate.stderr)
        XCTAssertTrue(evaluate.stdout.contains("metrics: e/evaluate.json"), evaluate.stdout)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("e/evaluate.json"))) as! [String: Any]
        XCTAssertNotNil(metrics["accuracy"] as? Double)
        XCTAssertEqual((metrics["per_class_accuracy"] as? [Any])?.count, 3)
        XCTAssertEqual((metrics["confusion_matrix"] as? [[Int]])?.joined().reduce(0, +), 24)
        XCTAssertNotNil(metrics["calibration_error"] as? Double)

        let ood = try joule(["run", script("ood.lua"), "-p", "checkpoint=jem", "-p", "data=\(data)", "-p", "out=o/ood.json"])
        XCTAssertEqual(ood.status, 0, ood.stderr)
        XCTAssertTrue(ood.stdout.contains("metrics: o/ood.json"), ood.stdout)
        let o = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("o/ood.json"))) as! [String: Any]
        for key in ["auroc", "auprc"] {
            let sets = o[key] as! [String: [String: Double]]
            XCTAssertEqual(Set(sets.keys), ["ood_ta", "ood_tb", "noise"])
            for (_, scores) in sets {
                XCTAssertEqual(Set(scores.keys), ["px", "py", "mass"])
                XCTAssertTrue(scores.values.allSatisfy { (0...1).contains($0) })
            }
        }

        // Mistakes give one clear line and a non-zero status.
        let typo = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem", "-p", "stepsize=5"])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stderr.contains("unknown parameter 'stepsize' (did you mean 'step_size'?)"), typo.stderr)
        let missing = try joule(["run", script("evaluate.lua"), "-p", "checkpoint=jem", "-p", "data=nowhere"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nowhere/test.npy"), missing.stderr)
        let noCheckpoint = try joule(["run", script("ood.lua"), "-p", "data=\(data)"])
        XCTAssertEqual(noCheckpoint.status, 1)
        XCTAssertTrue(noCheckpoint.stderr.contains("-p checkpoint=FILE"), noCheckpoint.stderr)
    }

    /// A network from a Lua file trains, samples, scores OOD and reports through the same scripts.
    func testScriptsWithAComposedModel() throws {
        let data = try makeCourseFolder()
        let model = Self.scripts.appendingPathComponent("models/residual_ebm.lua").path
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=res", "-p", "epochs=1",
                               "-p", "max_batches=2", "-p", "model=\(model)"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("Sequential"), train.stdout)
        let w = try SafeTensors.read(directory.appendingPathComponent("res/last/model.safetensors").path)
        XCTAssertNotNil(w.tensors["2.body.0.weight"])
        XCTAssertNotNil(w.metadata["architecture"])
        // The checkpoint rebuilds its network; -p model= builds it from the file instead.
        let sample = try joule(["run", script("sample.lua"), "-p", "checkpoint=res", "-p", "run=s", "-p", "n=3", "-p", "steps=3"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertEqual(try Npy.read(directory.appendingPathComponent("s/samples.npy").path)[0].shape, [3, 1, 56, 56])
        let ood = try joule(["run", script("ood.lua"), "-p", "checkpoint=res", "-p", "data=\(data)", "-p", "out=o.json",
                             "-p", "model=\(model)", "-p", "max_images=8"])
        XCTAssertEqual(ood.status, 0, ood.stderr)
        let wrong = try joule(["run", script("evaluate.lua"), "-p", "checkpoint=res", "-p", "data=\(data)",
                               "-p", "model=\(Self.scripts.appendingPathComponent("models/shallow_cnn.lua").path)"])
        XCTAssertEqual(wrong.status, 1)
        XCTAssertTrue(wrong.stderr.contains("missing weight 'cnn_layers.0.weight'"), wrong.stderr)
    }

    /// Colour images as NumPy stores them, (N, H, W, 3) uint8, train a network that reads 3 channels.
    func testThreeChannelImagesTrainAComposedModel() throws {
        let dir = directory.appendingPathComponent("rgb")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rng = RNG(seed: 3)
        for (split, n) in [("train", 32), ("val", 8), ("test", 8), ("ood_ta", 8), ("ood_tb", 8)] {
            let pixels = (0..<(n * 12 * 12 * 3)).map { _ in UInt8(rng.int(256)) }
            var arrays = [NpyArray(uint8: pixels, shape: [n, 12, 12, 3])]
            if !split.hasPrefix("ood") { arrays.append(NpyArray(ints: (0..<n).map { $0 % 2 })) }
            try Npy.write(arrays, to: dir.appendingPathComponent("\(split).npy").path)
        }
        let model = Self.scripts.appendingPathComponent("models/residual_ebm.lua").path
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(dir.path)", "-p", "run=rgb-run", "-p", "epochs=1",
                               "-p", "model=\(model)"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        let w = try SafeTensors.read(directory.appendingPathComponent("rgb-run/last/model.safetensors").path)
        XCTAssertEqual(w.tensors["0.weight"]?.shape, [3, 3, 3, 3])
        let preset = try joule(["run", script("train_jem.lua"), "-p", "data=\(dir.path)", "-p", "epochs=1"] + Self.tiny)
        XCTAssertEqual(preset.status, 1)
        XCTAssertTrue(preset.stderr.contains("images of 3 channels; the ShallowCNN reads one"), preset.stderr)
    }

    func testPlainEBMWithOneClass() throws {
        let data = try makeCourseFolder()
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=ebm", "-p", "epochs=1",
                               "-p", "classes=1", "-p", "max_batches=2"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertTrue(train.stdout.contains("training an EBM"), train.stdout)
        let w = try SafeTensors.read(directory.appendingPathComponent("ebm/last/model.safetensors").path)
        XCTAssertEqual(w.tensors["fc_layers.1.weight"]?.shape, [1, 12])
        XCTAssertEqual(w.metadata["lambda"], "0.0")
        XCTAssertEqual(w.metadata["sgld.conditional"], "false")
        let sample = try joule(["run", script("sample.lua"), "-p", "checkpoint=ebm", "-p", "run=s", "-p", "n=2", "-p", "steps=2"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertTrue(sample.stdout.contains("unconditional"), sample.stdout)
    }

    /// A process killed while it rewrites a checkpoint leaves complete files under the real names.
    func testKilledCheckpointWriterLeavesCompleteFiles() throws {
        let s = directory.appendingPathComponent("saver.lua").path
        try """
            local m = joule.nn.ShallowCNN{ hidden = 8, classes = 3, seed = 1 }
            local jem = joule.ebm.JEM{ model = m, sampler = joule.ebm.SGLD{ model = m, steps = 1, image_size = 16 } }
            jem:save_checkpoint('ck')
            io.stdout:write('first\\n'); io.stdout:flush()
            while true do jem:save_checkpoint('ck') end
            """.write(toFile: s, atomically: true, encoding: .utf8)
        let (p, out, _) = try startJoule(["run", s])
        _ = out.fileHandleForReading.availableData
        usleep(useconds_t.random(in: 20_000...200_000))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(try SafeTensors.read(directory.appendingPathComponent("ck/model.safetensors").path).tensors.count, 12)
        XCTAssertEqual(try SafeTensors.read(directory.appendingPathComponent("ck/state.safetensors").path).metadata["step"], "0")
        XCTAssertEqual(try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 8, classes = 3 }
            local jem = joule.ebm.JEM{ model = m, sampler = joule.ebm.SGLD{ model = m, steps = 1, image_size = 16 } }
            return jem:load_checkpoint(DIR .. '/ck').step
            """), ["0"])
    }

    /// A newcomer who trains before making the built-in corpus is told how to make it.
    func testMissingBuiltInCorpusSaysHowToMakeIt() throws {
        let r = try joule(["run", script("train_jem.lua"), "-p", "epochs=1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        // The line of the script that raises it (the message must carry the script's own line).
        let lines = try String(contentsOfFile: script("train_jem.lua"), encoding: .utf8).components(separatedBy: "\n")
        let line = try XCTUnwrap(lines.firstIndex { $0.contains("error(\"data/glyphs/train.npy is missing") }) + 1
        XCTAssertTrue(r.stderr.contains("train_jem.lua:\(line): data/glyphs/train.npy is missing: make the built-in corpus with `joule data glyphs`"), r.stderr)
    }
}
