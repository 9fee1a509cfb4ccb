import Foundation
import Plot
import Tensor
import XCTest

/// Helpers shared by the plot tests: every figure is checked through its PNG bytes, read back with
/// libpng, so the tests see what a user's viewer sees.
class PlotTestCase: XCTestCase {
    /// Encodes, decodes, and (when JOULE_PLOT_GALLERY names a folder) keeps a copy to look at.
    func decoded(_ figure: Figure, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> PNGImage {
        let data = try figure.pngData()
        let image = try PNGImage(data: data)
        XCTAssertEqual(image.width, figure.width, "\(name): width", file: file, line: line)
        XCTAssertEqual(image.height, figure.height, "\(name): height", file: file, line: line)
        if let dir = ProcessInfo.processInfo.environment["JOULE_PLOT_GALLERY"], !dir.isEmpty {
            try figure.save(to: dir + "/" + name + ".png")
        }
        return image
    }

    /// Renders twice and checks the bytes match.
    func assertDeterministic(_ name: String, file: StaticString = #filePath, line: UInt = #line,
                             _ render: () throws -> Figure) throws {
        let a = try render().pngData(), b = try render().pngData()
        XCTAssertEqual(a, b, "\(name): two renders differ", file: file, line: line)
    }

    func temporaryDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plot-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// Columns (x) holding at least one pixel within `tolerance` of `color`.
    func columns(_ image: PNGImage, near color: RGB, tolerance: Int = 0) -> [Int] {
        (0..<image.width).filter { x in
            (0..<image.height).contains { image[x, $0].distance2(color) <= tolerance * tolerance }
        }
    }

    func rows(_ image: PNGImage, near color: RGB, tolerance: Int = 0) -> [Int] {
        (0..<image.height).filter { y in
            (0..<image.width).contains { image[$0, y].distance2(color) <= tolerance * tolerance }
        }
    }

    /// A deterministic pseudo-random sample (no dependence on the engine's RNG).
    func normal(_ n: Int, mean: Double, sd: Double, seed: UInt64) -> [Double] {
        var s = seed &* 6364136223846793005 &+ 1442695040888963407
        func uniform() -> Double {
            s = s &* 6364136223846793005 &+ 1442695040888963407
            return (Double(s >> 11) + 0.5) / Double(1 << 53)
        }
        return (0..<n).map { _ in mean + sd * (-2 * log(uniform())).squareRoot() * cos(2 * .pi * uniform()) }
    }
}
