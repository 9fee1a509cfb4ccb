import Foundation
import Notebook
import Plot
import Tensor
import XCTest

/// The parts of the kernel that need no sockets: header dates (for aborting queued requests),
/// inspect data, the kernelspec's logos. The protocol itself is tested in scripts/kernel-tests.
final class KernelPartsTests: XCTestCase {
    func testHeaderDatesAsJupyterClientsWriteThem() throws {
        // 2024-05-01T12:00:00Z is 1714564800 s after 1970.
        let micro = try XCTUnwrap(JupyterKernel.headerDate("2024-05-01T12:00:00.123456Z"))
        XCTAssertEqual(micro.timeIntervalSince1970, 1714564800.123456, accuracy: 1e-6)
        let milli = try XCTUnwrap(JupyterKernel.headerDate("2024-05-01T12:00:00.250Z"))  // JupyterLab
        XCTAssertEqual(milli.timeIntervalSince1970, 1714564800.25, accuracy: 1e-6)
        let offset = try XCTUnwrap(JupyterKernel.headerDate("2024-05-01T14:00:00.5+02:00"))
        XCTAssertEqual(offset.timeIntervalSince1970, 1714564800.5, accuracy: 1e-6)
        let bare = try XCTUnwrap(JupyterKernel.headerDate("2024-05-01T12:00:00"))
        XCTAssertEqual(bare.timeIntervalSince1970, 1714564800, accuracy: 1e-6)
        XCTAssertNil(JupyterKernel.headerDate("yesterday"))
        XCTAssertNil(JupyterKernel.headerDate("2024-05-01T12:00:0xZ and more"))
        XCTAssertNil(JupyterKernel.headerDate(""))
    }

    func testInspectDataRendersTheSignatureAsLuaCode() {
        let data = JupyterKernel.inspectData("f(x) → y\n\nTakes `x`.")
        XCTAssertEqual(data["text/plain"]?.string, "f(x) → y\n\nTakes `x`.")
        XCTAssertEqual(data["text/markdown"]?.string, "```lua\nf(x) → y\n```\n\nTakes `x`.")
    }

    func testInstallWritesTheSpecAndBothLogos() throws {
        let dir = NSTemporaryDirectory() + "joule-kernelspec-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = try KernelSpec.install(in: dir, executable: "/opt/joule")
        let spec = try JSON.parse(try XCTUnwrap(FileManager.default.contents(atPath: path)))
        XCTAssertEqual(spec["argv"]?.array?.first?.string, "/opt/joule")
        let png = try PNGImage(contentsOf: dir + "/logo-64x64.png")
        XCTAssertEqual([png.width, png.height], [64, 64])
        // The background in a corner, the curve's light stroke and the orange sample inside.
        XCTAssertEqual(png[0, 0], RGB(hex: 0x23466E))
        XCTAssertGreaterThan(png.count(in: PixelRect(x: 0, y: 0, width: 64, height: 64), near: RGB(hex: 0xF2F2F2), tolerance: 8), 60)
        XCTAssertGreaterThan(png.count(in: PixelRect(x: 0, y: 0, width: 64, height: 64), near: RGB(hex: 0xF5A623), tolerance: 8), 40)
        let svg = try String(contentsOfFile: dir + "/logo-svg.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        XCTAssertTrue(svg.contains("<polyline") && svg.contains("<circle"))
    }
}
