import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class PNGTests: PlotTestCase {
    func testColourCanvasRoundTrips() throws {
        let c = try Canvas(width: 7, height: 5)
        c[0, 0] = RGB(255, 0, 0)
        c[6, 4] = RGB(1, 2, 3)
        c.fill(PixelRect(x: 2, y: 1, width: 3, height: 2), RGB(0, 114, 178))
        let image = try PNGImage(data: try Figure(canvas: c).pngData())
        XCTAssertEqual(image.width, 7)
        XCTAssertEqual(image.height, 5)
        XCTAssertEqual(image[0, 0], RGB(255, 0, 0))
        XCTAssertEqual(image[6, 4], RGB(1, 2, 3))
        XCTAssertEqual(image[3, 2], RGB(0, 114, 178))
        XCTAssertEqual(image[1, 1], .white)
        XCTAssertEqual(image.pixels, c.pixels)
    }

    func testGreyCanvasIsStoredAsGreyAndReadsBackTheSame() throws {
        let grey = try Canvas(width: 64, height: 64)
        for y in 0..<64 { for x in 0..<64 { let v = UInt8((x * 4 + y) & 255); grey[x, y] = RGB(v, v, v) } }
        let colour = try Canvas(width: 64, height: 64)
        for y in 0..<64 { for x in 0..<64 { colour[x, y] = grey[x, y] } }
        colour[5, 5] = RGB(10, 20, 30)
        let g = try Figure(canvas: grey).pngData(), c = try Figure(canvas: colour).pngData()
        // IHDR colour type byte (offset 25): 0 grey, 2 RGB.
        XCTAssertEqual(g[25], 0)
        XCTAssertEqual(c[25], 2)
        XCTAssertLessThan(g.count, c.count)
        XCTAssertEqual(try PNGImage(data: g).pixels, grey.pixels)
    }

    func testSaveIsAtomicAndCreatesFolders() throws {
        let dir = try temporaryDirectory()
        let c = try Canvas(width: 10, height: 10, background: RGB(1, 2, 3))
        let path = dir + "/a/b/c.png"
        try Figure(canvas: c).save(to: path)
        XCTAssertEqual(try PNGImage(contentsOf: path)[9, 9], RGB(1, 2, 3))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir + "/a/b").filter { $0 != "c.png" }
        XCTAssertEqual(leftovers, [])
    }

    func testRejectsGarbageAndBadSizes() throws {
        assertThrowsMessage("not a readable PNG") { _ = try PNGImage(data: Data("hello".utf8)) }
        assertThrowsMessage("cannot read") { _ = try PNGImage(contentsOf: "/nonexistent/x.png") }
        assertThrowsMessage("out of range") { _ = try Canvas(width: 0, height: 10) }
        assertThrowsMessage("out of range") { _ = try Canvas(width: 100_000, height: 10) }
    }

    func testStrokesIgnoreNonFiniteAndFarAwayPoints() throws {
        let c = try Canvas(width: 50, height: 50)
        c.strokePolyline([Point(5, 5), Point(.nan, 3), Point(1e300, -1e300), Point(45, 45)], width: 2, .black)
        c.strokeLine(Point(-1e12, 25), Point(1e12, 25), width: 2, .black, dash: [4, 4])
        c.fillPolygon([Point(.infinity, 0), Point(0, 0), Point(10, 10)], .black)
        // The horizontal dashed-but-huge line is drawn solid across the canvas.
        XCTAssertTrue((0..<50).allSatisfy { c[$0, 25] != .white })
    }
}
