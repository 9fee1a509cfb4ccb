import EBM
import Foundation
import JouleCore
import NN
import Tensor
import TestSupport
import XCTest

/// `precision = "auto"`: per convolution shape the faster of FP32 and bf16, measured once and kept
/// in a file. The choices are checked with a measurement function of the test's own (timings on a
/// shared 2-core machine cannot be asserted), the real measurement for what it returns, and the
/// file for what a crafted one can and cannot do.
final class PrecisionAutoTests: XCTestCase {
    var folder: URL!
    var file: String { folder.appendingPathComponent("precision.json").path }
    /// Shapes the fake measurement was asked for, in order.
    var measured: [PrecisionTuning.Shape] = []
    let realMeasure = PrecisionTuning.measure

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("joule-precision-\(UUID().uuidString)")
        PrecisionTuning.reset(cacheFile: file)
        measured = []
    }

    override func tearDown() {
        PrecisionTuning.measure = realMeasure
        PrecisionTuning.reset(cacheFile: PrecisionTuning.defaultCacheFile())
        try? Kernels.force(nil)
        try? FileManager.default.removeItem(at: folder)
    }

    /// bf16 twice as fast on layers of ≥ 128 output channels, slower on the others.
    func fakeMeasure(_ s: PrecisionTuning.Shape) throws -> PrecisionTuning.Measurement {
        measured.append(s)
        return s.outChannels >= 128 ? .init(fp32: 2e-3, bf16: 1e-3) : .init(fp32: 1e-3, bf16: 1.5e-3)
    }

    /// The course network at hidden 32: 1→32 (one channel: FP32 always), 32→64, 64→128, 128→128 twice.
    func courseModel() throws -> ShallowCNN { try ShallowCNN(hidden: 32, classes: 5, rng: RNG(seed: 1)) }

    func convolutions(_ m: EnergyModel) -> [Conv2d] { (m as! EnergyNet).root.allModules.compactMap { $0 as? Conv2d } }

    func testEachConvolutionGetsTheFasterArithmeticOfItsShape() throws {
        try XCTSkipUnless(Precision.bf16Unavailable == nil, "bf16 does not run here: \(Precision.bf16Unavailable ?? "")")
        PrecisionTuning.measure = fakeMeasure
        let model = try courseModel()
        let fast = model.sampling(in: .auto)
        XCTAssertFalse(fast === model, "a replica, the trained model stays FP32")
        XCTAssertEqual(convolutions(fast).map(\.precision), [.fp32, .fp32, .bf16, .bf16, .bf16])
        XCTAssertEqual(convolutions(model).map(\.precision), [.fp32, .fp32, .fp32, .fp32, .fp32])
        XCTAssertEqual(fast.arithmetic, "bf16 in 3 of 5 convolutions (fp32 in the rest)")
        // The first layer (one input channel) is not measured: bf16 does not serve it.
        XCTAssertEqual(measured.map(\.inChannels), [32, 64, 128, 128])
        XCTAssertEqual(measured.map { [$0.height, $0.width] }, [[30, 30], [15, 15], [8, 8], [4, 4]])
        // All slower: auto is the model itself.
        PrecisionTuning.reset(cacheFile: nil)
        PrecisionTuning.measure = { _ in .init(fp32: 1e-3, bf16: 2e-3) }
        XCTAssertTrue(model.sampling(in: .auto) === model)
    }

    func testTiesStayFP32() {
        XCTAssertEqual(PrecisionTuning.Measurement(fp32: 1, bf16: 0.96).choice, .fp32, "within the margin")
        XCTAssertEqual(PrecisionTuning.Measurement(fp32: 1, bf16: 1.2).choice, .fp32)
        XCTAssertEqual(PrecisionTuning.Measurement(fp32: 1, bf16: 0.9).choice, .bf16)
    }

    /// Where bf16 cannot run (here: an FP32 family forced, as on a CPU without AVX512-BF16) auto is
    /// FP32 without measuring anything.
    func testAutoIsFP32WhereBF16CannotRun() throws {
        PrecisionTuning.measure = fakeMeasure
        try Kernels.force("panel")
        let model = try courseModel()
        XCTAssertTrue(model.sampling(in: .auto) === model)
        XCTAssertEqual(measured, [])
        XCTAssertTrue(PrecisionTuning.summary.hasPrefix("auto runs FP32 here (bf16: the FP32 kernel family panel is forced)"),
                      PrecisionTuning.summary)
    }

    func testShapesAreMeasuredOnceAndKeptInTheFile() throws {
        try XCTSkipUnless(Precision.bf16Unavailable == nil, "bf16 does not run here")
        PrecisionTuning.measure = fakeMeasure
        let model = try courseModel()
        _ = model.sampling(in: .auto)
        _ = try courseModel().sampling(in: .auto)
        XCTAssertEqual(measured.count, 4, "a second model of the same shapes is not measured again")
        let json = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: file)))
        XCTAssertEqual(json["format"]?.string, "joule precision cache 1")
        XCTAssertEqual(json["kernels"]?.int, PrecisionTuning.kernelRevision)
        XCTAssertEqual(json["shapes"]?["64>128 k3 s2 p1 15x15"]?["choice"]?.string, "bf16")
        XCTAssertEqual(json["shapes"]?["32>64 k3 s2 p1 30x30"]?["choice"]?.string, "fp32")
        XCTAssertEqual(json["shapes"]?["32>64 k3 s2 p1 30x30"]?["fp32_s"]?.double, 1e-3)
        // Another process (here: memory forgotten) reads the file and measures nothing.
        PrecisionTuning.reset(cacheFile: file)
        let again = try courseModel().sampling(in: .auto)
        XCTAssertEqual(measured.count, 4)
        XCTAssertEqual(again.arithmetic, "bf16 in 3 of 5 convolutions (fp32 in the rest)")
        XCTAssertTrue(PrecisionTuning.summary.contains("4 shapes measured, in \(file)"), PrecisionTuning.summary)
    }

    /// A file Joule did not write (not JSON, wrong types, negative or infinite times, another format,
    /// too large) is ignored and replaced; another CPU's file is measured again. Nothing crashes.
    func testAFileJouleDidNotWriteIsIgnoredAndReplaced() throws {
        try XCTSkipUnless(Precision.bf16Unavailable == nil, "bf16 does not run here")
        PrecisionTuning.measure = fakeMeasure
        let shape = "\"64>128 k3 s2 p1 15x15\""
        let crafted = [
            "not json {",
            "[1, 2]",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": \(PrecisionTuning.kernelRevision), \"shapes\": [1]}",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": \(PrecisionTuning.kernelRevision), \"shapes\": {\(shape): {\"fp32_s\": -1, \"bf16_s\": 1}}}",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": \(PrecisionTuning.kernelRevision), \"shapes\": {\(shape): {\"fp32_s\": 1e999, \"bf16_s\": 1}}}",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": \(PrecisionTuning.kernelRevision), \"shapes\": {\(shape): {\"fp32_s\": \"fast\", \"bf16_s\": 1}}}",
            "{\"format\": \"joule precision cache 9\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": \(PrecisionTuning.kernelRevision), \"shapes\": {}}",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \"another CPU\", \"shapes\": {\(shape): {\"fp32_s\": 1, \"bf16_s\": 0.001}}}",
            "{\"format\": \"joule precision cache 1\", \"cpu\": \(JSON.quoted(cpu())), \"kernels\": 1, \"shapes\": {\(shape): {\"fp32_s\": 1, \"bf16_s\": 0.001}}}",
            String(repeating: " ", count: PrecisionTuning.maxFileBytes + 1) + "{}",
        ]
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for text in crafted {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            PrecisionTuning.reset(cacheFile: file)
            measured = []
            let fast = try courseModel().sampling(in: .auto)
            XCTAssertEqual(measured.count, 4, "measured again after \(text.prefix(60))")
            XCTAssertEqual(fast.arithmetic, "bf16 in 3 of 5 convolutions (fp32 in the rest)")
            let json = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: file)))
            XCTAssertEqual(json["shapes"]?.object?.count, 4, "replaced by a file of this CPU's measurements")
        }
        // A file that cannot be written (its folder is a file) leaves auto working in memory.
        let blocked = folder.appendingPathComponent("blocked").path
        try Data().write(to: URL(fileURLWithPath: blocked))
        PrecisionTuning.reset(cacheFile: blocked + "/precision.json")
        measured = []
        XCTAssertEqual(try courseModel().sampling(in: .auto).arithmetic, "bf16 in 3 of 5 convolutions (fp32 in the rest)")
        XCTAssertEqual(measured.count, 4)
    }

    /// The real measurement: positive, finite seconds for each arithmetic, and a choice whichever
    /// it is; the replica's energies then agree with FP32 within bf16's bound (BF16SamplingTests).
    func testTheRealMeasurementRunsBothArithmetics() throws {
        try XCTSkipUnless(Precision.bf16Unavailable == nil, "bf16 does not run here")
        let shape = PrecisionTuning.Shape(inChannels: 32, outChannels: 64, kernel: 3, stride: 1, padding: 1, height: 12, width: 12)
        let m = try realMeasure(shape)
        for t in [m.fp32, m.bf16] { XCTAssertTrue(t.isFinite && t > 0 && t < 1, "\(m)") }
        let model = try courseModel()
        let fast = model.sampling(in: .auto)
        let x = Tensor(shape: [8, 1, 56, 56]); RNG(seed: 4).fillUniform(x, -1, 1)
        assertClose(try fast.energy(x), try model.energy(x), relative: 1e-2, "auto's energies")
    }

    /// The sampler states what auto chose, and a training checkpoint records it.
    func testTheSamplerStatesWhatRuns() throws {
        PrecisionTuning.measure = fakeMeasure
        var c = SGLDSampler.Config(); c.steps = 1; c.conditional = false
        XCTAssertEqual(c.precision, .auto, "auto is the default")
        let s = try SGLDSampler(model: try courseModel(), config: c, rng: RNG(seed: 1))
        let expected = Precision.bf16Unavailable == nil ? "bf16 in 3 of 5 convolutions (fp32 in the rest)" : "fp32"
        XCTAssertEqual(s.runningPrecision, expected)
        XCTAssertEqual(s.hyperparameters["sgld.precision"], "auto")
        XCTAssertEqual(s.hyperparameters["sgld.running_precision"], expected)
        var m = MALASampler.Config(); m.chains.steps = 1
        let mala = try MALASampler(model: try courseModel(), config: m, rng: RNG(seed: 1))
        XCTAssertEqual(mala.hyperparameters["mala.running_precision"], expected)
    }

    func cpu() -> String { PrecisionTuning.cpu }
}
