import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class PanelsTests: PlotTestCase {
    /// Two figures in one row: the picture is both cells and the padding wide, each figure's pixels
    /// sit at its cell's corner, the gaps are white; too many pixels is an error, not an allocation.
    func testSideBySide() throws {
        var o = HeatmapOptions()
        o.chart.width = 200; o.chart.height = 150
        o.marks = [(0, 0)]
        let a = try Figure.heatmap(try Tensor(shape: [2, 2], values: [0, 1, 2, 3]), options: o)
        o.chart.width = 160
        let b = try Figure.heatmap(try Tensor(shape: [2, 2], values: [3, 2, 1, 0]), options: o)
        let p = try decoded(try Figure.panels([a, b], padding: 6), "panels")
        XCTAssertEqual(p.width, 2 * (200 + 6) + 6)
        XCTAssertEqual(p.height, 150 + 2 * 6)
        let (ia, ib) = (try PNGImage(data: try a.pngData()), try PNGImage(data: try b.pngData()))
        for y in 0..<150 {
            for x in 0..<200 { XCTAssertEqual(p[6 + x, 6 + y], ia[x, y]) }
            for x in 0..<160 { XCTAssertEqual(p[212 + x, 6 + y], ib[x, y]) }
            XCTAssertEqual(p[212 + 180, 6 + y], .white, "right of the narrower figure")
        }
        XCTAssertEqual(p[3, 75], .white)
        try assertDeterministic("panels") { try Figure.panels([a, b, a], columns: 2) }
        assertThrowsMessage("panels: no figures") { _ = try Figure.panels([]) }
        assertThrowsMessage("out of range") { _ = try Figure.panels(Array(repeating: a, count: 200)) }
    }
}
