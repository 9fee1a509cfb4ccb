import Formats
import EBM
import NN
import Tensor
import TestSupport
import XCTest

final class SamplerTests: XCTestCase {
    private func sampler(classes: Int = 3, conditional: Bool = true, buffer: Int = 4, seed: UInt64 = 5) throws -> SGLDSampler {
        let model = try ShallowCNN(hidden: 4, classes: classes, rng: RNG(seed: 1))
        var c = SGLDSampler.Config()
        c.steps = 3; c.conditional = conditional; c.bufferPerClass = buffer; c.imageShape = [1, 16, 16]
        return try SGLDSampler(model: model, config: c, rng: RNG(seed: seed))
    }

    func testBufferNeverGrowsPastItsBound() throws {
        let s = try sampler(buffer: 4)
        for round in 0..<6 {
            _ = try s.sampleFromBuffer(count: 5, labels: [0, 1, 2, 0, round % 3])
            XCTAssertTrue(s.buffer.counts.allSatisfy { $0 <= 4 }, "counts \(s.buffer.counts)")
        }
        XCTAssertEqual(s.buffer.counts, [4, 4, 4], "pools fill up to their bound")
        let single = try sampler(conditional: false, buffer: 3)
        for _ in 0..<4 { _ = try single.sampleFromBuffer(count: 2, labels: nil) }
        XCTAssertEqual(single.buffer.counts, [3])
    }

    func testPerClassPoolsHandBackChainsOfTheirClass() throws {
        let buffer = try ReplayBuffer(pools: 3, capacity: 2, imageSize: 4)
        let rng = RNG(seed: 2)
        let stored = try Tensor(shape: [3, 4], values: [0, 0, 0, 0, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.2])
        try buffer.store(stored, pools: [0, 1, 2])
        let x = Tensor(shape: [6, 4])
        buffer.draw(into: x, pools: [2, 1, 2, 0, 1, 2], freshFraction: 0, initial: .uniform, rng: rng)
        for (row, pool) in [2, 1, 2, 0, 1, 2].enumerated() {
            XCTAssertEqual(Array(x.array[(row * 4)..<(row * 4 + 4)]), Array(repeating: Float(pool) / 10, count: 4))
        }
        // All fresh: nothing is read from the pools.
        buffer.draw(into: x, pools: [2, 2, 2, 2, 2, 2], freshFraction: 1, initial: .gaussian(std: 0.01), rng: rng)
        XCTAssertLessThan(x.buffer.map(abs).max()!, 0.1)
        // A full pool replaces its oldest image first.
        let newer = Tensor(shape: [3, 4], repeating: 0.5)
        try buffer.store(newer, pools: [0, 0, 0])
        XCTAssertEqual(buffer.counts, [2, 1, 1])
        buffer.draw(into: x, pools: [0, 0, 0, 0, 0, 0], freshFraction: 0, initial: .uniform, rng: rng)
        XCTAssertEqual(Set(x.array), [0.5], "the first image of pool 0 has been pushed out")
    }

    func testSameSeedSameSamples() throws {
        let a = try sampler(seed: 11).sample(count: 3, labels: [0, 1, 2], keepEvery: 1)
        let b = try sampler(seed: 11).sample(count: 3, labels: [0, 1, 2], keepEvery: 1)
        let c = try sampler(seed: 12).sample(count: 3, labels: [0, 1, 2], keepEvery: 1)
        XCTAssertEqual(a.final.array, b.final.array)
        XCTAssertNotEqual(a.final.array, c.final.array)
        XCTAssertEqual(a.frames?.shape, [4, 3, 1, 16, 16], "start and each of 3 steps")
        XCTAssertEqual(Array(a.frames!.array.suffix(3 * 256)), a.final.array, "the last frame is the result")
    }

    func testStepSizeDecays() throws {
        // With zero noise and a decaying step, later steps move the chain less.
        let s = try sampler(conditional: false)
        s.config.noise = 0; s.config.stepDecay = 0.5; s.config.gradClip = 1e9
        let x = Tensor(shape: [2, 1, 16, 16]); RNG(seed: 3).fillUniform(x, -0.5, 0.5)
        let frames = try s.run(x, labels: nil, steps: 3, keepEvery: 1)!
        let d = frames.itemSize
        func move(_ k: Int) -> Float { (0..<d).reduce(0) { $0 + abs(frames[(k + 1) * d + $1] - frames[k * d + $1]) } }
        XCTAssertGreaterThan(move(0), 1.5 * move(1))
        XCTAssertGreaterThan(move(1), 1.5 * move(2))
    }

    func testBadArgumentsAreRejected() throws {
        let s = try sampler()
        assertThrowsMessage("one label per chain") { _ = try s.sampleFromBuffer(count: 2, labels: nil) }
        assertThrowsMessage("labels must lie") { _ = try s.sample(count: 1, labels: [3]) }
        assertThrowsMessage("n must be") { _ = try s.sample(count: 0, labels: nil) }
        assertThrowsMessage("keep_every") { _ = try s.sample(count: 1, labels: [0], keepEvery: 0) }
        var c = SGLDSampler.Config(); c.stepSize = -1
        assertThrowsMessage("step_size") { _ = try SGLDSampler(model: s.model, config: c, rng: RNG(seed: 0)) }
        assertThrowsMessage("expected images of shape (N, 1, H, W)") { _ = try s.model.energy(Tensor(shape: [2, 3, 16, 16])) }
    }

    func testCheckpointErrors() throws {
        let model = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 1))
        var dict = model.stateDict()
        dict["extra.weight"] = Tensor(shape: [1])
        assertThrowsMessage("unknown weight 'extra.weight'") { try model.load(stateDict: dict) }
        dict = model.stateDict(); dict.removeValue(forKey: "fc_layers.1.bias")
        assertThrowsMessage("missing weight 'fc_layers.1.bias'") { try model.load(stateDict: dict) }
        dict = model.stateDict(); dict["fc_layers.1.bias"] = Tensor(shape: [4])
        assertThrowsMessage("has shape [4], the model needs [3]") { try model.load(stateDict: dict) }
        assertThrowsMessage("missing or unreadable") { _ = try ShallowCNN.load(from: "/nonexistent/model.safetensors") }
    }

    func testCheckpointRoundTrip() throws {
        let model = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 1))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("joule-\(getpid())-m.safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try model.save(to: path, metadata: ["epoch": "2"])
        let back = try ShallowCNN.load(from: path)
        XCTAssertEqual(back.hidden, 4)
        XCTAssertEqual(back.classes, 3)
        let x = Tensor(shape: [2, 1, 16, 16]); RNG(seed: 4).fillUniform(x, -1, 1)
        XCTAssertEqual(try back.logits(x).array, try model.logits(x).array)
        XCTAssertEqual(try SafeTensors.read(path).metadata["epoch"], "2")
    }
}
