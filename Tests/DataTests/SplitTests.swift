import Formats
import Data
import Foundation
import Tensor
import TestSupport
import XCTest

final class SplitTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("joule-split-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func file(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    /// The loaded images must equal the transform applied to the file's raw images.
    func checkFixture(_ name: String) throws {
        let arrays = try Npy.read(Fixtures.path(name))
        let split = try loadSplit(Fixtures.path(name))
        XCTAssertEqual(split.count, arrays[0].shape[0])
        XCTAssertEqual(split.images.shape, [arrays[0].shape[0], 1, 56, 56])
        XCTAssertEqual(split.labels, try arrays[1].ints())
        XCTAssertEqual(split.images.array, try CourseTransform.apply(arrays[0]).array)
        XCTAssertGreaterThanOrEqual(split.images.buffer.min()!, -1)
        XCTAssertLessThanOrEqual(split.images.buffer.max()!, 1)
    }

    func testLoadsUInt8Fixture() throws { try checkFixture("split_uint8.npy") }
    func testLoadsFloat64Fixture() throws { try checkFixture("split_float64.npy") }

    func testImagesWithoutLabels() throws {
        let path = file("ood.npy")
        try Npy.write([NpyArray(uint8: (0..<(3 * 20 * 24)).map { UInt8($0 % 251) }, shape: [3, 20, 24])], to: path)
        let split = try loadSplit(path)
        XCTAssertNil(split.labels)
        XCTAssertEqual(split.images.shape, [3, 1, 56, 56])
    }

    func testMismatchedCounts() throws {
        let path = file("bad.npy")
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 1, count: 2 * 8 * 8), shape: [2, 8, 8]),
                       NpyArray(ints: [0, 1, 2])], to: path)
        assertThrowsMessage("2 images but 3 labels") { _ = try loadSplit(path) }
        assertThrowsMessage("bad.npy") { _ = try loadSplit(path) }
    }

    func testWrongDtypes() throws {
        let labelsAsFloat = file("floatlabels.npy")
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 1, count: 2 * 8 * 8), shape: [2, 8, 8]),
                       NpyArray(Tensor(shape: [2]))], to: labelsAsFloat)
        assertThrowsMessage("labels must be int64") { _ = try loadSplit(labelsAsFloat) }

        let intImages = file("intimages.npy")
        try Npy.write([NpyArray(ints: [Int](repeating: 0, count: 2 * 8 * 8), shape: [2, 8, 8])], to: intImages)
        assertThrowsMessage("images must be uint8, float32 or float64") { _ = try loadSplit(intImages) }

        let unsupported = file("f2.npy")
        var bytes = Npy.encode(NpyArray(uint8: [UInt8](repeating: 0, count: 8), shape: [1, 2, 2]))
        let at = bytes.range(of: Data("'|u1'".utf8))!
        bytes.replaceSubrange(at, with: Data("'<f2'".utf8))
        try bytes.write(to: URL(fileURLWithPath: unsupported))
        assertThrowsMessage("unsupported dtype '<f2'") { _ = try loadSplit(unsupported) }
    }

    /// (N, H, W, C) uint8 and (N, C, H, W) float load as C-channel images in [-1, 1], not resized.
    func testChannelImages() throws {
        let hwc = file("hwc.npy")
        // Two 2×3 images of 3 channels; pixel p of image i, channel c holds 10·i + 3·p + c (×4 for range).
        var values: [UInt8] = []
        for i in 0..<2 { for p in 0..<6 { for c in 0..<3 { values.append(UInt8(4 * (10 * i + 3 * p + c))) } } }
        try Npy.write([NpyArray(uint8: values, shape: [2, 2, 3, 3]), NpyArray(ints: [1, 0])], to: hwc)
        let split = try loadSplit(hwc)
        XCTAssertEqual(split.images.shape, [2, 3, 2, 3])
        XCTAssertEqual(split.labels, [1, 0])
        for i in 0..<2 { for c in 0..<3 { for p in 0..<6 {
            let stored = Float(4 * (10 * i + 3 * p + c))
            XCTAssertEqual(split.images[(i * 3 + c) * 6 + p], stored / 127.5 - 1)
        } } }
        let chw = file("chw.npy")
        let t = try Tensor(shape: [2, 3, 4, 5], values: (0..<120).map { Float($0) / 60 - 1 })
        try Npy.write([NpyArray(t)], to: chw)
        XCTAssertEqual(try loadSplit(chw).images.array, t.array)
        let outside = file("outside.npy")
        try Npy.write([NpyArray(try Tensor(shape: [1, 2, 1, 1], values: [0, 255]))], to: outside)
        assertThrowsMessage("must lie in [-1, 1]") { _ = try loadSplit(outside) }
    }

    func testWrongRank() throws {
        let path = file("rank2.npy")
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 1, count: 64), shape: [8, 8])], to: path)
        assertThrowsMessage("(N, H, W)") { _ = try loadSplit(path) }
    }

    func testTruncatedAndMalformed() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("split_uint8.npy")))
        let truncated = file("truncated.npy")
        try good.prefix(good.count - 100).write(to: URL(fileURLWithPath: truncated))
        assertThrowsMessage("truncated") { _ = try loadSplit(truncated) }

        let garbage = file("garbage.npy")
        try Data("this is not numpy".utf8).write(to: URL(fileURLWithPath: garbage))
        assertThrowsMessage("bad magic") { _ = try loadSplit(garbage) }

        assertThrowsMessage("missing") { _ = try loadSplit(self.file("nothing.npy")) }
    }

    func testCourseFolderNamesMissingFiles() throws {
        try FileManager.default.copyItem(atPath: Fixtures.path("split_uint8.npy"), toPath: file("train.npy"))
        assertThrowsMessage("missing val.npy, test.npy, ood_ta.npy, ood_tb.npy") {
            _ = try CourseData(directory: self.tmp.path)
        }
        assertThrowsMessage("no such data folder") { _ = try CourseData(directory: self.file("absent")) }
    }

    func testCourseFolderLoads() throws {
        for name in ["train", "val", "test", "ood_tb"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("split_uint8.npy"), toPath: file(name + ".npy"))
        }
        let raw = try Npy.read(Fixtures.path("split_float64.npy"))[0]
        try Npy.write([raw], to: file("ood_ta.npy"))
        let data = try CourseData(directory: tmp.path)
        XCTAssertEqual(data.train.count, 5)
        XCTAssertNil(data.oodTA.labels)
        XCTAssertNotNil(data["ood_tb"]?.labels)
    }

    func testBatchesAreSeededAndCoverEveryItem() throws {
        let a = try Batches(count: 103, batchSize: 10, shuffle: RNG(seed: 7))
        let b = try Batches(count: 103, batchSize: 10, shuffle: RNG(seed: 7))
        let c = try Batches(count: 103, batchSize: 10, shuffle: RNG(seed: 8))
        XCTAssertEqual(a.batches, b.batches)
        XCTAssertNotEqual(a.batches, c.batches)
        XCTAssertEqual(a.count, 11)
        XCTAssertEqual(a.batches.last?.count, 3)
        XCTAssertEqual(a.batches.flatMap { $0 }.sorted(), Array(0..<103))

        let dropped = try Batches(count: 103, batchSize: 10, shuffle: RNG(seed: 7), dropLast: true)
        XCTAssertEqual(dropped.count, 10)
        XCTAssertTrue(dropped.allSatisfy { $0.count == 10 })
        XCTAssertEqual(try Batches(count: 5, batchSize: 2, shuffle: nil).batches, [[0, 1], [2, 3], [4]])
        assertThrowsMessage("batch size must be positive") { _ = try Batches(count: 5, batchSize: 0, shuffle: nil) }
    }

    func testBatchGathersImagesAndLabels() throws {
        let split = try loadSplit(Fixtures.path("split_uint8.npy"))
        let (x, y) = try split.batch([3, 1])
        XCTAssertEqual(x.shape, [2, 1, 56, 56])
        XCTAssertEqual(y, [split.labels![3], split.labels![1]])
        XCTAssertEqual(Array(x.buffer.prefix(56 * 56)), Array(split.images.buffer[(3 * 3136)..<(4 * 3136)]))
    }
}
