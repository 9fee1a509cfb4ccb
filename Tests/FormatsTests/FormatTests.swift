import Formats
import Foundation
import Tensor
import TestSupport
import XCTest

final class FormatTests: XCTestCase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joule-format-tests-\(getpid())")

    override func setUpWithError() throws { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testReadsPyTorchFixtures() throws {
        let x = try Fixtures.tensor("x.npy")
        XCTAssertEqual(x.shape, [4, 1, 56, 56])
        XCTAssertGreaterThanOrEqual(x.min(), -1)
        XCTAssertLessThanOrEqual(x.max(), 1)
        XCTAssertEqual(try Fixtures.ints("y.npy").count, 4)
        let w = try SafeTensors.read(Fixtures.path("shallowcnn_h32_c42.safetensors"))
        XCTAssertEqual(w.tensors["cnn_layers.0.weight"]?.shape, [32, 1, 5, 5])
        XCTAssertEqual(w.tensors["fc_layers.1.weight"]?.shape, [42, 128])
    }

    func testNpyRoundTripOfSeveralArraysInOneFile() throws {
        let images = try Tensor(shape: [2, 2, 3], values: (0..<12).map(Float.init))
        let path = dir.appendingPathComponent("split.npy").path
        try Npy.write([NpyArray(images), NpyArray(ints: [4, 7])], to: path)
        let arrays = try Npy.read(path)
        XCTAssertEqual(arrays.count, 2)
        XCTAssertEqual(arrays[0].tensor().array, images.array)
        XCTAssertEqual(arrays[0].shape, [2, 2, 3])
        XCTAssertEqual(try arrays[1].ints(), [4, 7])
        XCTAssertEqual(arrays[1].dtype, .int64)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".split.npy.\(getpid()).tmp").path))
    }

    func testNpyErrorsNameTheProblem() throws {
        let good = Npy.encode(NpyArray(try Tensor(shape: [4], values: [1, 2, 3, 4])))
        assertThrowsMessage("truncated array data") { _ = try Npy.parse(good.prefix(good.count - 3)) }
        assertThrowsMessage("bad magic") { _ = try Npy.parse(Data("not numpy at all".utf8)) }
        var bigEndian = good
        let r = bigEndian.range(of: Data("<f4".utf8))!
        bigEndian.replaceSubrange(r, with: Data(">f4".utf8))
        assertThrowsMessage("big-endian") { _ = try Npy.parse(bigEndian) }
        var complex = good
        complex.replaceSubrange(complex.range(of: Data("<f4".utf8))!, with: Data("<c8".utf8))
        assertThrowsMessage("unsupported dtype '<c8'") { _ = try Npy.parse(complex) }
        assertThrowsMessage("missing or unreadable") { _ = try Npy.read(dir.appendingPathComponent("nope.npy").path) }
        assertThrowsMessage("expected integer") { _ = try Npy.parse(good)[0].ints().count; _ = try NpyArray(try Tensor(shape: [1], values: [0.5])).ints() }
    }

    func testSafeTensorsRoundTripAndErrors() throws {
        let path = dir.appendingPathComponent("w.safetensors").path
        let t = try Tensor(shape: [2, 3], values: [1, -2, 3, 4.5, 5, 6])
        try SafeTensors(tensors: ["a.weight": t, "b": Tensor(shape: [1])], metadata: ["hidden": "8"]).write(to: path)
        let back = try SafeTensors.read(path)
        XCTAssertEqual(back.tensors["a.weight"]?.array, t.array)
        XCTAssertEqual(back.tensors["a.weight"]?.shape, [2, 3])
        XCTAssertEqual(back.metadata["hidden"], "8")

        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        assertThrowsMessage("truncated") { _ = try SafeTensors.parse(bytes.prefix(4)) }
        assertThrowsMessage("does not fit") { _ = try SafeTensors.parse(bytes.prefix(bytes.count - 4)) }
        let header = #"{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#
        var bf16 = Data(); var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { bf16.append(contentsOf: $0) }
        bf16.append(Data(header.utf8)); bf16.append(contentsOf: [0, 0])
        assertThrowsMessage("dtype BF16") { _ = try SafeTensors.parse(bf16) }
        assertThrowsMessage("not a JSON object") { _ = try SafeTensors.parse(Data([2, 0, 0, 0, 0, 0, 0, 0, 0x5b, 0x5d])) }
    }

    /// The header names the metadata first, then the tensors in the order their data lies in the file
    /// (as the reference writer does), padded with spaces to 8 bytes; offsets must be JSON integers.
    func testSafeTensorsHeaderFollowsTheData() throws {
        let file = SafeTensors(tensors: ["net.10.w": Tensor(shape: [1]), "net.2.w": Tensor(shape: [2]), "B": Tensor(shape: [1])],
                               metadata: ["path": "data/glyphs", "arch": #"{"type":"ReLU"}"#])
        let bytes = [UInt8](try file.encoded())
        let n = Int(bytes[0]) | Int(bytes[1]) << 8
        XCTAssertEqual(n % 8, 0)
        let header = String(decoding: bytes[8..<8 + n], as: UTF8.self)
        XCTAssertEqual(header.trimmingCharacters(in: .whitespaces), #"{"__metadata__":{"arch":"{\"type\":\"ReLU\"}","path":"data/glyphs"},"#
            + #""B":{"data_offsets":[0,4],"dtype":"F32","shape":[1]},"net.10.w":{"data_offsets":[4,8],"dtype":"F32","shape":[1]},"#
            + #""net.2.w":{"data_offsets":[8,16],"dtype":"F32","shape":[2]}}"#)
        XCTAssertEqual(try SafeTensors.parse(Data(bytes)).metadata, file.metadata)
        let fractional = #"{"x":{"dtype":"F32","shape":[1.0],"data_offsets":[0,4]}}"#
        var data = Data(); var count = UInt64(fractional.utf8.count).littleEndian
        withUnsafeBytes(of: &count) { data.append(contentsOf: $0) }
        data.append(Data(fractional.utf8)); data.append(contentsOf: [0, 0, 0, 0])
        assertThrowsMessage("shape is not a list") { _ = try SafeTensors.parse(data) }
    }
}
