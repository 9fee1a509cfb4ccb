import Formats
import Data
import Tensor
import TestSupport
import XCTest

final class TransformTests: XCTestCase {
    /// All six PyTorch fixtures: downscaling, upscaling, the identity size, a very wide image
    /// (long side 280) and a tall one whose crop offset is a half that Python rounds to even.
    func testMatchesTorchvisionFixtures() throws {
        for k in 0..<6 {
            let raw = try Npy.read(Fixtures.path("transform_raw_\(k).npy"))[0]
            let expected = try Fixtures.tensor("transform_out_\(k).npy")
            let raw3 = NpyArray(shape: [1] + raw.shape, dtype: raw.dtype, bytes: raw.bytes)
            let out = try CourseTransform.apply(raw3)
            XCTAssertEqual(out.shape, [1, 1, 56, 56])
            try out.reshape([1, 56, 56])
            assertClose(out, expected, absolute: 5e-5, "transform_\(k) \(raw.shape)")
        }
    }

    func testFloatTensorInputMatchesBytes() throws {
        let raw = try Npy.read(Fixtures.path("transform_raw_2.npy"))[0]
        let fromBytes = try CourseTransform.apply(NpyArray(shape: [1] + raw.shape, dtype: raw.dtype, bytes: raw.bytes))
        let t = raw.tensor()
        try t.reshape([1, 1] + raw.shape)
        let fromTensor = try CourseTransform.apply(t)
        XCTAssertEqual(fromBytes.array, fromTensor.array)
    }

    func testResizedSizeTruncatesLongSide() {
        XCTAssertEqual(CourseTransform.resizedSize(height: 97, width: 120).width, 69)   // 69.28
        XCTAssertEqual(CourseTransform.resizedSize(height: 150, width: 61).height, 137) // 137.70
        XCTAssertEqual(CourseTransform.resizedSize(height: 20, width: 100).width, 280)
    }

    func testConstantImageDoesNotProduceNaN() throws {
        let flat = try CourseTransform.apply(Tensor(shape: [2, 30, 40], repeating: 7))
        XCTAssertTrue(flat.buffer.allSatisfy { $0 == -1 })
    }

    func testRejectsWrongRankAndDtype() {
        assertThrowsMessage("(N, H, W)") { _ = try CourseTransform.apply(Tensor(shape: [4, 4])) }
        assertThrowsMessage("int64") {
            _ = try CourseTransform.apply(NpyArray(ints: [1, 2, 3, 4], shape: [1, 2, 2]))
        }
    }
}
