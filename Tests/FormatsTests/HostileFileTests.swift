import Formats
import Foundation
import Tensor
import TestSupport
import XCTest

/// Crafted files of every class the parsers must refuse with a message (never a trap, an
/// out-of-bounds read or an allocation of what the file merely declares).
final class HostileFileTests: XCTestCase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joule-hostile-\(getpid())")
    override func setUpWithError() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A .npy file (format 1.0) with `header` as its dict and `data` after it.
    static func npy(_ header: String, data: [UInt8] = [], major: UInt8 = 1) -> Data {
        var h = header
        h += String(repeating: " ", count: (64 - (12 + h.utf8.count + 1) % 64) % 64) + "\n"
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, major, 0])
        let n = h.utf8.count
        if major == 1 { out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)]) }
        else { out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), 0, 0]) }
        out.append(Data(h.utf8))
        out.append(contentsOf: data)
        return out
    }

    static func shapeHeader(_ shape: String, _ descr: String = "<f4") -> String {
        "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
    }

    func testNpySizesThatOverflowAreRefused() {
        // (2^62 + 1, 1, 1) float32: 4·(2^62 + 1) wraps to 4 — exactly the 4 bytes present.
        assertThrowsMessage("truncated array data") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(4611686018427387905, 1, 1)"), data: [0, 0, 0, 0])) }
        assertThrowsMessage("more than") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(4611686018427387905, 1, 1)"), data: [0, 0, 0, 0])) }
        // (2^63 − 1,) uint8 with no data: no wrap, but far more than the file.
        assertThrowsMessage("truncated array data") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(9223372036854775807,)", "|u1"))) }
        // (4, 2^62) with no data: 4·4·2^62 = 2^66.
        assertThrowsMessage("truncated array data") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(4, 4611686018427387904)"))) }
        // Labels of (2^61 + 1,) int64 after valid images: 8·(2^61 + 1) wraps to 8.
        var split = Npy.encode(NpyArray(uint8: [UInt8](repeating: 1, count: 4), shape: [1, 2, 2]))
        split.append(Self.npy(Self.shapeHeader("(2305843009213693953,)", "<i8"), data: [0, 0, 0, 0, 0, 0, 0, 0]))
        assertThrowsMessage("truncated array data") { _ = try Npy.parse(split) }
        // A dimension past Int, a negative one, too many dimensions, a huge header length.
        assertThrowsMessage("shape dimension") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(99999999999999999999,)"))) }
        assertThrowsMessage("shape dimension") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(-4,)"))) }
        assertThrowsMessage("dimensions (at most") { _ = try Npy.parse(Self.npy(Self.shapeHeader("(" + String(repeating: "1, ", count: 40) + ")"))) }
        var long = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0x7F])
        long.append(contentsOf: [UInt8](repeating: 0x20, count: 100))
        assertThrowsMessage("header of") { _ = try Npy.parse(long) }
        // Zero-sized arrays stay fine.
        XCTAssertEqual(try Npy.parse(Self.npy(Self.shapeHeader("(0, 3)")))[0].shape, [0, 3])
    }

    /// Every header digit of a valid split file changed to every other digit, and every byte of it
    /// truncated away: each parse either succeeds or throws; none traps.
    func testMutatedSplitHeadersNeverTrap() throws {
        var split = Npy.encode(NpyArray(uint8: [UInt8](repeating: 7, count: 2 * 3 * 3), shape: [2, 3, 3]))
        split.append(Npy.encode(NpyArray(ints: [0, 1])))
        let bytes = [UInt8](split)
        var parsed = 0, refused = 0
        for (i, b) in bytes.enumerated() where (0x30...0x39).contains(b) || b == 0x2C {
            for d in [UInt8](Array("0123456789,-".utf8)) where d != b {
                var m = bytes; m[i] = d
                do { _ = try Npy.parse(Data(m)); parsed += 1 } catch { refused += 1 }
            }
        }
        for n in stride(from: 0, to: bytes.count, by: 3) {
            do { _ = try Npy.parse(Data(bytes[0..<n])); parsed += 1 } catch { refused += 1 }
        }
        XCTAssertGreaterThan(refused, 100)
        XCTAssertGreaterThan(parsed, 0)
    }

    /// A safetensors file with `header` as its JSON and `data` after it.
    static func safetensors(_ header: String, data: [UInt8] = []) -> Data {
        var out = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: data)
        return out
    }

    func testSafeTensorsRangesAndShapesThatOverflowAreRefused() {
        let eight = [UInt8](repeating: 0, count: 8)
        // data_offsets near Int.max: hi − lo fits the shape, lo + start wraps.
        let big = Int.max - 7
        assertThrowsMessage("gap") { _ = try SafeTensors.parse(Self.safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[\#(big),\#(big + 4)]}}"#, data: eight)) }
        // A shape of 2^62 elements with a few bytes: 4·2^62 wraps to 0.
        assertThrowsMessage("does not fit shape") { _ = try SafeTensors.parse(Self.safetensors(#"{"w":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}"#)) }
        assertThrowsMessage("does not fit shape") { _ = try SafeTensors.parse(Self.safetensors(#"{"w":{"dtype":"F32","shape":[2147483648,2147483648,4],"data_offsets":[0,8]}}"#, data: eight)) }
        // Offsets beyond Int, fractional, negative, reversed, booleans.
        for offsets in ["[0,18446744073709551616]", "[0,4.5]", "[-4,0]", "[8,4]", "[true,4]", "[0]", "[0,4,8]"] {
            assertThrowsMessage("data_offsets") { _ = try SafeTensors.parse(Self.safetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":\#(offsets)}}"#, data: eight)) }
        }
        for shape in ["[-1]", "[1.5]", "[1e300]", "[\"2\"]", "[" + String(repeating: "1,", count: 40) + "1]"] {
            assertThrowsMessage("shape is not a list") { _ = try SafeTensors.parse(Self.safetensors(#"{"w":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0])) }
        }
        // Overlapping tensors, a gap, bytes past the last tensor, a range past the file.
        assertThrowsMessage("overlaps") { _ = try SafeTensors.parse(Self.safetensors(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight)) }
        assertThrowsMessage("gap") { _ = try SafeTensors.parse(Self.safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight)) }
        assertThrowsMessage("after the last tensor") { _ = try SafeTensors.parse(Self.safetensors(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eight)) }
        assertThrowsMessage("does not fit") { _ = try SafeTensors.parse(Self.safetensors(#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight)) }
        // Header length past the cap (the file need not be that large), and past the file.
        var huge = Data([0x00, 0xE1, 0xF5, 0x05, 0, 0, 0, 0]) // 100,000,000 + 256
        huge.append(contentsOf: [0x7B, 0x7D])
        huge[0] = 0xFF
        assertThrowsMessage("at most 100000000") { _ = try SafeTensors.parse(huge) }
        assertThrowsMessage("truncated safetensors") { _ = try SafeTensors.parse(Data([200, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D])) }
        // Metadata must be strings.
        assertThrowsMessage("is not a string") { _ = try SafeTensors.parse(Self.safetensors(#"{"__metadata__":{"a":1}}"#)) }
        // A deeply nested header is refused, not a stack overflow.
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        assertThrowsMessage("not a JSON object") { _ = try SafeTensors.parse(Self.safetensors(#"{"a":\#(deep)}"#)) }
    }

    func testSafeTensorsCheckSeesTheHeaderBeforeAnythingIsAllocated() throws {
        let path = dir.appendingPathComponent("w.safetensors").path
        try SafeTensors(tensors: ["w": Tensor(shape: [3, 2]), "b": Tensor(shape: [])]).write(to: path)
        var seen: [String: [Int]] = [:]
        assertThrowsMessage("refused here") {
            _ = try SafeTensors.read(path) { h in
                seen = h.entries.mapValues(\.shape)
                throw JouleError("refused here")
            }
        }
        XCTAssertEqual(seen, ["w": [3, 2], "b": []])
        XCTAssertEqual(try SafeTensors.read(path).tensors["b"]?.shape, [])
    }

    // MARK: Training state

    func expectation(generators: [String] = ["script"]) -> TrainingStateFile.Expectation {
        .init(parameters: [(name: "w", shape: [2, 3])], pools: 2, capacity: 4, imageSize: 3, generators: generators)
    }

    func validState() -> TrainingStateFile {
        let storage = Tensor(shape: [4, 3], repeating: 0.5)
        return TrainingStateFile(
            epoch: 3, step: 30, optimizerStep: 30,
            moments: ["w": (m: Tensor(shape: [2, 3], repeating: 1), v: Tensor(shape: [2, 3], repeating: 2))],
            buffer: .init(pools: 2, capacity: 4, imageSize: 3, counts: [4, 0], heads: [1, 0], storage: [storage, Tensor(shape: [0])]),
            generators: ["sampler": RNG(seed: 1).state, "script": RNG(seed: 2).state],
            epochInProgress: .init(order: [3, 0, 2, 1, 4], batchSize: 2, batches: 2, stats: [[Float](repeating: 0.25, count: 9)]))
    }

    /// Writes `state` with `change` applied to its metadata and tensors, and reads it back.
    func read(_ state: TrainingStateFile, expected: TrainingStateFile.Expectation? = nil,
              _ change: (inout [String: String], inout [String: Tensor]) -> Void = { _, _ in }) throws -> TrainingStateFile {
        var file = try state.safeTensors()
        change(&file.metadata, &file.tensors)
        let path = dir.appendingPathComponent("state.safetensors").path
        try file.write(to: path)
        return try TrainingStateFile.read(path, expected: expected ?? expectation())
    }

    func testTrainingStateRoundTrip() throws {
        let back = try read(validState())
        XCTAssertEqual([back.epoch, back.step, back.optimizerStep], [3, 30, 30])
        XCTAssertEqual(back.moments["w"]?.v.array, [Float](repeating: 2, count: 6))
        XCTAssertEqual(back.buffer.counts, [4, 0])
        XCTAssertEqual(back.generators["script"], RNG(seed: 2).state)
        XCTAssertEqual(back.epochInProgress?.order, [3, 0, 2, 1, 4])
        XCTAssertEqual(back.epochInProgress?.stats.count, 1)
    }

    func testTrainingStateRefusesEveryBadField() throws {
        let s = validState()
        let cases: [(String, (inout [String: String], inout [String: Tensor]) -> Void)] = [
            ("all zeros", { m, _ in m["rng.sampler"] = "0,0,0,0,0" }),
            ("all zeros", { m, _ in m["rng.script"] = "0,0,0,0,0" }),
            ("malformed", { m, _ in m["rng.script"] = "1,2,3" }),
            ("bad waiting normal", { m, _ in m["rng.script"] = "1,2,3,4,\((UInt64(1) << 32) | UInt64(Float.nan.bitPattern))" }),
            ("no generator state 'rng.script'", { m, _ in m["rng.script"] = nil }),
            ("'epoch' is 9223372036854775807", { m, _ in m["epoch"] = "\(Int.max)" }),
            ("'step' is -1", { m, _ in m["step"] = "-1" }),
            ("'optimizer.step' is -1", { m, _ in m["optimizer.step"] = "-1" }),
            ("not an integer", { m, _ in m["optimizer.step"] = "1e3" }),
            ("'epoch.batches' is 2305843009213693952", { m, _ in m["epoch.batches"] = "\(1 << 61)" }),
            ("inconsistent", { m, _ in m["epoch.batch_size"] = "3" }),
            ("'epoch.done' is 2", { m, _ in m["epoch.done"] = "2" }),
            ("not a permutation", { _, t in t["epoch.order"] = try! Tensor(shape: [5], values: [0, 0, 2, 1, 4]) }),
            ("not a permutation", { _, t in t["epoch.order"] = try! Tensor(shape: [5], values: [0, .nan, 2, 1, 4]) }),
            ("not a permutation", { _, t in t["epoch.order"] = try! Tensor(shape: [5], values: [0, 9, 2, 1, 4]) }),
            ("order has shape []", { _, t in t["epoch.order"] = Tensor(shape: []) }),
            ("order is missing", { _, t in t["epoch.order"] = nil; t["epoch.stats"] = nil }),
            ("stats have shape", { _, t in t["epoch.stats"] = Tensor(shape: [1, 3]) }),
            ("'buffer.counts' has a value outside", { m, _ in m["buffer.counts"] = "5,0" }),
            ("'buffer.counts' is not a list of 2", { m, _ in m["buffer.counts"] = "4" }),
            ("'buffer.heads' has a value outside", { m, _ in m["buffer.heads"] = "4,0" }),
            ("none are saved", { m, _ in m["buffer.counts"] = "4,2" }),
            ("pool 0 has shape [4, 2]", { _, t in t["buffer.0"] = Tensor(shape: [4, 2]) }),
            ("does not fit this sampler's", { m, _ in m["buffer.capacity"] = "5" }),
            ("optimizer moments of 'w'", { _, t in t["optimizer.exp_avg.w"] = Tensor(shape: []) }),
            ("optimizer moments of 'w'", { _, t in t["optimizer.exp_avg_sq.w"] = Tensor(shape: [64, 64]) }),
            ("unexpected tensor 'x'", { _, t in t["x"] = Tensor(shape: [1]) }),
            ("not a Joule training state", { m, _ in m["format"] = "other" }),
        ]
        for (message, change) in cases { assertThrowsMessage(message) { _ = try read(s, change) } }
        // A generator the resuming script has that the file lacks.
        assertThrowsMessage("rng.other") { _ = try read(s, expected: expectation(generators: ["script", "other"])) }
    }
}
