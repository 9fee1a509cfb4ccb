import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class EnergyTraceTests: PlotTestCase {
    func chains(_ steps: Int, _ n: Int, start: Double, seed: UInt64) -> [[Double]] {
        let noise = normal(steps * n, mean: 0, sd: 0.3, seed: seed)
        return (0..<steps).map { s in (0..<n).map { c in start * exp(-Double(s) / 40) - 5 + Double(c % 4) * 0.5 + noise[s * n + c] } }
    }

    func testBandAndLines() throws {
        let groups = [EnergyTrace("conditional", energies: chains(256, 16, start: 10, seed: 1)),
                      EnergyTrace("unconditional", energies: chains(256, 16, start: 6, seed: 2))]
        var o = EnergyTraceOptions()
        o.chart.title = "SGLD energies"
        let band = try decoded(try Figure.energyTrace(groups, options: o), "energy_band")
        XCTAssertGreaterThan(columns(band, near: Palette.color(0)).count, 400)
        // The band is a translucent fill of the series colour.
        let shade = Palette.color(1).over(.white, alpha: 0.22)
        XCTAssertGreaterThan(band.count(in: PixelRect(x: 0, y: 0, width: 640, height: 480), near: shade, tolerance: 3), 500)
        o.style = .lines
        let lines = try decoded(try Figure.energyTrace(groups, options: o), "energy_lines")
        XCTAssertNotEqual(band.pixels, lines.pixels)
        try assertDeterministic("energy") { try Figure.energyTrace(groups, options: o) }
    }

    func testTensorInputAndNonFinite() throws {
        let t = try Tensor(shape: [4, 2], values: [1, 2, 3, .nan, .infinity, .nan, 2, 1])
        let g = try EnergyTrace("x", t, steps: [0, 10, 20, 30])
        XCTAssertEqual(g.energies.count, 4)
        var o = EnergyTraceOptions()
        o.chart.legend = .none
        let img = try decoded(try Figure.energyTrace([g], options: o), "energy_nan")
        // Step 20 has no finite energy (a gap); step 30 stands alone and still shows as a dot at the right edge.
        let cols = columns(img, near: Palette.color(0))
        XCTAssertGreaterThan(cols.last!, 560)
        assertThrowsMessage("no finite energies") {
            _ = try Figure.energyTrace([EnergyTrace("bad", energies: [[.nan], [.infinity]])])
        }
        assertThrowsMessage("no chains") { _ = try Figure.energyTrace([]) }
        assertThrowsMessage("every step needs 2") { _ = try Figure.energyTrace([EnergyTrace("r", energies: [[1, 2], [1]])]) }
        assertThrowsMessage("3 step numbers for 2 steps") {
            _ = try Figure.energyTrace([EnergyTrace("s", energies: [[1], [2]], steps: [0, 1, 2])])
        }
        assertThrowsMessage("expected a (steps, chains) tensor") { _ = try EnergyTrace("t", Tensor(shape: [2, 2, 2])) }
    }
}
