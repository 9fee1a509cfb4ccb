import Formats
import Data
import EBM
import Foundation
import LuaHost
import Tensor
import XCTest

/// The engine through Lua gives what the engine gives from Swift.
final class EngineBindingTests: LuaTestCase {
    func testModelEnergiesMatchTheEngine() throws {
        let model = try ShallowCNN(hidden: 4, classes: 5, rng: RNG(seed: 11))
        let x = Tensor(shape: [3, 1, 56, 56])
        RNG(seed: 2).fillUniform(x, -1, 1)
        let path = directory.appendingPathComponent("x.npy").path
        try Npy.write([NpyArray(x)], to: path)
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 5, seed = 11 }
            local x = joule.load_npy('\(path)')
            local e, g = m:energy_grad(x, {1, 4, 0})
            local function flat(t)
              local out = {}
              for i, v in ipairs(t:reshape(-1):totable()) do out[i] = string.format('%.9g', v) end
              return table.concat(out, ',')
            end
            return flat(m:energy(x)), flat(e), g:sum(), flat(m:logits(x)), table.concat(m:predict(x), ','), m:num_parameters()
            """)
        // Nine significant digits identify a Float32 exactly.
        func flat(_ t: Tensor) -> String { t.array.map { String(format: "%.9g", Double($0)) }.joined(separator: ",") }
        XCTAssertEqual(r[0], flat(try model.energy(x)))
        XCTAssertEqual(r[1], flat(try model.energy(x, labels: [1, 4, 0])))
        let g = try model.energyGradient(x, labels: [1, 4, 0], energy: Tensor(shape: [0]))
        XCTAssertEqual(number(r[2]), g.sumDouble(), accuracy: 1e-9 + abs(g.sumDouble()) * 1e-6)
        XCTAssertEqual(r[3], flat(try model.logits(x)))
        XCTAssertEqual(r[4], try model.logits(x).argmaxRows().map(String.init).joined(separator: ","))
        XCTAssertEqual(Int(r[5]), model.parameters.reduce(0) { $0 + $1.value.count })
    }

    func testEnergyGradientIsACopy() throws {
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 1 }
            joule.seed(5)
            local a, b = joule.tensor.rand(2, 1, 56, 56), joule.tensor.rand(2, 1, 56, 56)
            local _, g1 = m:energy_grad(a)
            local s = g1:sum()
            local _, g2 = m:energy_grad(b)
            return s == g1:sum(), s ~= g2:sum()
            """)
        XCTAssertEqual(r, ["true", "true"])
    }

    func testCheckpointRoundTripAndErrors() throws {
        let path = directory.appendingPathComponent("m.safetensors").path
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 1 }
            m:save('\(path)', { epoch = 3, note = 'x' })
            local x = joule.tensor.rand(2, 1, 56, 56)
            local m2 = joule.nn.load('\(path)')
            local m3 = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 2 }
            local before = (m3:energy(x) - m:energy(x)):abs():max()
            m3:load('\(path)')
            return (m2:energy(x) - m:energy(x)):abs():max(), before > 0, (m3:energy(x) - m:energy(x)):abs():max(), m2:hidden(), m2:classes()
            """)
        XCTAssertEqual(r, ["0.0", "true", "0.0", "4", "3"])
        let file = try SafeTensors.read(path)
        XCTAssertEqual(file.metadata["epoch"], "3")
        XCTAssertEqual(file.metadata["hidden"], "4")
        XCTAssertTrue(luaError("joule.nn.ShallowCNN{ hidden = 8, classes = 3 }:load('\(path)')").contains("has shape"))
        XCTAssertTrue(luaError("joule.nn.load(DIR .. '/none.safetensors')").contains("none.safetensors"))
        XCTAssertTrue(luaError("joule.nn.ShallowCNN{ hiden = 8 }").contains("unknown option 'hiden' (did you mean 'hidden'?)"))
        XCTAssertTrue(luaError("joule.nn.ShallowCNN{ hidden = -8 }").contains("field 'hidden': integer in 1...4096 expected, got -8"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; m:energy(joule.tensor.zeros(2, 3))").contains("expected images of shape (N, 1, H, W)"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; m:energy(joule.tensor.zeros(2, 1, 8, 8), {0, 7})").contains("label 7 out of range"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; m:energy(joule.tensor.zeros(2, 1, 8, 8), {0, -1})").contains("bad argument #2 to 'ShallowCNN:energy'"))
    }

    func testSamplerAndJEMFromLua() throws {
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 1 }
            local s = joule.ebm.SGLD{ model = m, steps = 3, buffer_per_class = 4, seed = 9 }
            local final, frames = s:sample{ labels = {0, 1, 2, 0}, steps = 4, keep_every = 2 }
            local inside = final:min() >= -1 and final:max() <= 1
            local j = joule.ebm.JEM{ model = m, sampler = s, lr = 1e-3, seed = 4 }
            joule.seed(3)
            local x = joule.tensor.rand(4, 1, 56, 56) * 2 - 1
            local stats = j:fit_epoch({ images = x, labels = {0, 1, 2, 1} }, { batch_size = 2, progress = false })
            local ev = j:evaluate({ images = x, labels = {0, 1, 2, 1} }, { samples = 0 })
            return table.concat(final:shape(), 'x'), table.concat(frames:shape(), 'x'), inside, stats.batches, j:epoch(),
                   s:buffer_size(), stats.loss == stats.loss, ev.accuracy >= 0 and ev.accuracy <= 1, #ev.predictions
            """)
        XCTAssertEqual(r, ["4x1x56x56", "3x4x1x56x56", "true", "2", "1", "4", "true", "true", "4"])
        XCTAssertTrue(luaError("joule.ebm.SGLD{ steps = 3 }").contains("field 'model': Model or Energy expected, got nil"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ebm.SGLD{ model = m, stepsize = 3 }").contains("did you mean 'step_size'?"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ebm.SGLD{ model = m, noise = 'big' }").contains("field 'noise': number expected, got string"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ebm.SGLD{ model = m, grad_clip = -1 }").contains("grad_clip must be positive"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ebm.SGLD{ model = m, init = 'zeros' }").contains("'uniform' or 'gaussian'"))
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ebm.JEM{ model = m, sampler = m }").contains("field 'sampler': SGLD expected, got ShallowCNN"))
    }

    func testSamplingRepeatsWithTheSameSeed() throws {
        let code = """
            joule.seed(21)
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3 }
            local s = joule.ebm.SGLD{ model = m, steps = 2 }
            return s:sample{ n = 2, labels = {1, 2} }:sum()
            """
        let a = try lua(code), b = try lua(code)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, try lua(code.replacingOccurrences(of: "seed(21)", with: "seed(22)")))
    }

    func testDataFolderSplitsAndBatches() throws {
        // A course-layout folder in miniature: uint8 images of another size, int64 labels appended.
        let rng = RNG(seed: 1)
        for (name, n) in [("train", 10), ("val", 4), ("test", 4), ("ood_ta", 3), ("ood_tb", 3)] {
            let pixels = (0..<(n * 28 * 28)).map { _ in UInt8(rng.int(256)) }
            var arrays = [NpyArray(uint8: pixels, shape: [n, 28, 28])]
            if !name.hasPrefix("ood") { arrays.append(NpyArray(ints: (0..<n).map { $0 % 3 })) }
            try Npy.write(arrays, to: directory.appendingPathComponent("\(name).npy").path)
        }
        let expected = try loadSplit(directory.appendingPathComponent("train.npy").path)
        let r = try lua("""
            local ds = joule.data.load(DIR)
            local seen, count = {}, 0
            for x, y, i in joule.data.batches(ds.train, 4, { seed = 1 }) do
              count = count + x:size(1)
              for _, v in ipairs(y) do seen[#seen + 1] = v end
            end
            table.sort(seen)
            local dropped = 0
            for x in joule.data.batches(ds.train, 4, { drop_last = true, shuffle = false }) do dropped = dropped + 1 end
            return table.concat(ds.train.images:shape(), 'x'), ds.train.images:sum(), count, table.concat(seen, ','),
                   ds.ood_ta.labels == nil, ds.val.n, dropped, #joule.data.batches(ds.train, 3)
            """)
        XCTAssertEqual(r[0], "10x1x56x56")
        XCTAssertEqual(number(r[1]), expected.images.sumDouble(), accuracy: 1e-6)
        XCTAssertEqual(r[2], "10")
        XCTAssertEqual(r[3], expected.labels!.sorted().map(String.init).joined(separator: ","))
        XCTAssertEqual(Array(r[4...]), ["true", "4", "2", "4"])
        XCTAssertTrue(luaError("joule.data.load(DIR .. '/nowhere')").contains("no such data folder"))
        try FileManager.default.removeItem(at: directory.appendingPathComponent("val.npy"))
        XCTAssertTrue(luaError("joule.data.load(DIR)").contains("missing val.npy"))
        XCTAssertTrue(luaError("joule.data.batches({ images = 3 }, 4)").contains("field 'images': Tensor expected, got 3"))
        XCTAssertTrue(luaError("joule.data.batches({ labels = {} }, 4)").contains("split table needs 'images'"))
    }

    func testMetricsAndOOD() throws {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4], labels = [0, 0, 1, 1, 1]
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 1 }
            joule.seed(2)
            local x = joule.tensor.rand(3, 1, 56, 56)
            local px, py, mass = joule.ood.scores(m, x, 'px'), joule.ood.scores(m, x, 'py'), joule.ood.scores(m, x, 'mass')
            local e = m:energy(x)
            local auroc, auprc = joule.ood.separation({3, 4}, {1, 2})
            return joule.metrics.auroc({0.1, 0.4, 0.35, 0.8, 0.4}, {0, 0, 1, 1, 1}),
                   joule.metrics.auprc({0.1, 0.4, 0.35, 0.8, 0.4}, {0, 0, 1, 1, 1}),
                   joule.metrics.accuracy({1, 2, 3}, {1, 0, 3}),
                   math.abs(px[2] + e[2]) < 1e-5, py[1] > 0 and py[1] <= 1, mass[3] <= 0, auroc, auprc
            """)
        XCTAssertEqual(number(r[0]), try Metrics.auroc(scores: scores, labels: labels), accuracy: 1e-12)
        XCTAssertEqual(number(r[1]), try Metrics.auprc(scores: scores, labels: labels), accuracy: 1e-12)
        XCTAssertEqual(number(r[2]), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(Array(r[3...]), ["true", "true", "true", "1.0", "1.0"])
        XCTAssertTrue(luaError("local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; joule.ood.scores(m, joule.tensor.rand(1, 1, 8, 8), 'energy')").contains("bad argument #3 to 'joule.ood.scores' ('px', 'py' or 'mass' expected, got 'energy')"))
        XCTAssertTrue(luaError("joule.metrics.auroc({1, 'a'}, {0, 1})").contains("element 2: number expected, got string"))
        XCTAssertTrue(luaError("joule.metrics.auroc({1, 2}, {0, 0})").contains("AUROC needs both positive and negative labels"))
    }

    /// `precision = "bf16"` reaches the sampler (and what runs is bf16 only where the CPU has it;
    /// the first layer, of one input channel, always FP32); auto is the default; a misspelt
    /// precision is an error naming the choices.
    func testSamplerPrecisionOption() throws {
        let setup = "local m = joule.nn.ShallowCNN{ hidden = 16, classes = 3 }; "
        let out = try lua(setup + "local s = joule.ebm.SGLD{ model = m, image_size = 16, precision = 'bf16' }; local c = s:config(); return c.precision, c.running_precision, tostring(s)")
        XCTAssertEqual(out[0], "bf16")
        XCTAssertEqual(out[1], Precision.bf16Unavailable == nil ? "bf16 in 4 of 5 convolutions (fp32 in the rest)" : "fp32")
        XCTAssertTrue(out[2].hasSuffix(", bf16)"), out[2])
        XCTAssertEqual(try lua(setup + "return joule.ebm.SGLD{ model = m, image_size = 16 }:config().precision"), ["auto"])
        XCTAssertEqual(try lua(setup + "return joule.ebm.SGLD{ model = m, image_size = 16, precision = 'fp32' }:config().running_precision"), ["fp32"])
        XCTAssertTrue(luaError(setup + "joule.ebm.SGLD{ model = m, image_size = 16, precision = 'bf8' }")
            .contains("field 'precision': 'auto', 'fp32' or 'bf16' expected, got 'bf8' (did you mean 'bf16'?)"))
        XCTAssertTrue(luaError(setup + "joule.ebm.MALA{ model = m, image_size = 16, precision = 'Auto' }")
            .contains("field 'precision': 'auto', 'fp32' or 'bf16' expected, got 'Auto'"))
    }
}
