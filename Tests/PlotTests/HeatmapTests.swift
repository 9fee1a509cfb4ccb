import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class HeatmapTests: PlotTestCase {
    /// E(x, y) = x² + y² on a grid: the darkest colour sits in the middle of the plot, the lightest in
    /// the corners, row 0 at the bottom; points are white dots at their coordinates.
    func testBowlWithPoints() throws {
        let g = 40
        var v: [Float] = []
        for r in 0..<g { for c in 0..<g {
            let x = -1 + 2 * (Float(c) + 0.5) / Float(g), y = -1 + 2 * (Float(r) + 0.5) / Float(g)
            v.append(x * x + y * y + (y > 0.5 ? 0.5 : 0))   // the top band is lighter: row 0 must be at the bottom
        } }
        var o = HeatmapOptions()
        o.chart.width = 400; o.chart.height = 400
        let plain = try decoded(try Figure.heatmap(try Tensor(shape: [g, g], values: v), options: o), "heatmap")
        o.points = [(0.5, -0.5)]
        let dotted = try decoded(try Figure.heatmap(try Tensor(shape: [g, g], values: v), options: o), "heatmap_points")
        // The plot area: pixels that differ from white inside the frame. Find its centre by the darkest pixel.
        var darkest = (x: 0, y: 0, d: Int.max)
        for y in 0..<plain.height { for x in 0..<plain.width {
            let d = plain[x, y].distance2(Palette.viridis(0))
            if d < darkest.d { darkest = (x, y, d) }
        } }
        XCTAssertLessThan(darkest.d, 30)
        XCTAssertEqual(Double(darkest.x), Double(plain.width) / 2, accuracy: 40)
        XCTAssertEqual(Double(darkest.y), Double(plain.height) / 2, accuracy: 40)
        // The lighter band is above the centre (smaller pixel rows), not below.
        let above = plain[darkest.x, darkest.y - 120], below = plain[darkest.x, darkest.y + 120]
        XCTAssertGreaterThan(above.distance2(Palette.viridis(0)), below.distance2(Palette.viridis(0)))
        // One dot in the lower right quadrant; nothing else changed.
        let changed = (0..<plain.height).flatMap { y in (0..<plain.width).filter { plain[$0, y] != dotted[$0, y] }.map { ($0, y) } }
        XCTAssertFalse(changed.isEmpty)
        XCTAssertTrue(changed.allSatisfy { $0.0 > darkest.x + 40 && $0.1 > darkest.y + 40 }, "the dot is at (0.5, -0.5)")
        try assertDeterministic("heatmap") { try Figure.heatmap(try Tensor(shape: [g, g], values: v), options: o) }
        assertThrowsMessage("(rows, columns)") { _ = try Figure.heatmap(Tensor(shape: [3])) }
    }
}
