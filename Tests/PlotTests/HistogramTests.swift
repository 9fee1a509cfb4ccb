import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class HistogramTests: PlotTestCase {
    func fill(_ k: Int) -> RGB { Palette.color(k).over(.white, alpha: 0.35) }

    func testBarsLandInTheirBinsWithTheFillColour() throws {
        // Set 0 all in the first of 10 bins over [0, 10], set 1 all in the last.
        var o = HistogramOptions(bins: 10)
        o.chart.xRange = 0...10
        o.chart.grid = false
        o.chart.legend = .none
        let fig = try Figure.histogram([NamedValues("left", Array(repeating: 0.5, count: 50)),
                                        NamedValues("right", Array(repeating: 9.7, count: 200))], options: o)
        let img = try decoded(fig, "hist_bins")
        let left = columns(img, near: fill(0)), right = columns(img, near: fill(1))
        XCTAssertFalse(left.isEmpty); XCTAssertFalse(right.isEmpty)
        // The frame's columns bound the plot area: find the frame from the y axis line.
        let frameCols = columns(img, near: RGB.mutedInk).filter { x in (0..<img.height).filter { img[x, $0] == .mutedInk }.count > 200 }
        let plotLeft = try XCTUnwrap(frameCols.first), plotRight = try XCTUnwrap(frameCols.last)
        let bin = Double(plotRight - plotLeft) / 10
        XCTAssertEqual(Double(left.count), bin, accuracy: 3)
        XCTAssertEqual(Double(right.count), bin, accuracy: 3)
        XCTAssertEqual(Double(left.first! - plotLeft), 0, accuracy: 3)
        XCTAssertEqual(Double(plotRight - right.last!), 0, accuracy: 3)
        // Densities: both sets have all their mass in one bin of width 1, so both bars are equally
        // tall although the sets differ in size.
        let leftTop = try XCTUnwrap(rows(img, near: fill(0)).first), rightTop = try XCTUnwrap(rows(img, near: fill(1)).first)
        XCTAssertEqual(Double(leftTop), Double(rightTop), accuracy: 2)
        // Counts: the larger set's bar is four times as tall.
        o.density = false
        let counts = try decoded(try Figure.histogram([NamedValues("left", Array(repeating: 0.5, count: 50)),
                                                       NamedValues("right", Array(repeating: 9.7, count: 200))], options: o), "hist_counts")
        let base = try XCTUnwrap(rows(counts, near: fill(1)).last)
        let hl = base - rows(counts, near: fill(0)).first!, hr = base - rows(counts, near: fill(1)).first!
        XCTAssertEqual(Double(hr) / Double(hl), 4, accuracy: 0.15)
    }

    func testOverlappingSetsMixTheirColours() throws {
        var o = HistogramOptions(bins: 5)
        o.chart.grid = false
        o.chart.legend = .none
        let a = NamedValues("a", [1, 2, 3, 4, 5]), b = NamedValues("b", [1, 2, 3, 4, 5])
        let img = try decoded(try Figure.histogram([a, b], options: o), "hist_overlap")
        let mixed = Palette.color(1).over(fill(0), alpha: 0.35)
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: img.height), near: mixed, tolerance: 2), 1000)
    }

    func testEnergiesFigureWithLegendIsDeterministic() throws {
        let sets = [NamedValues("test", normal(2426, mean: -8, sd: 1.5, seed: 1)),
                    NamedValues("ood_ta", normal(2400, mean: -6, sd: 2, seed: 2)),
                    NamedValues("ood_tb", normal(2400, mean: -3, sd: 1.5, seed: 3)),
                    NamedValues("noise", normal(1000, mean: 4, sd: 0.6, seed: 4))]
        var o = HistogramOptions()
        o.chart.title = "Energy of in- and out-of-distribution images"
        o.chart.xLabel = "energy E(x)"
        let img = try decoded(try Figure.histogram(sets, options: o), "hist_ood")
        XCTAssertEqual(img.width, 640); XCTAssertEqual(img.height, 480)
        for k in 0..<4 { XCTAssertFalse(columns(img, near: Palette.color(k)).isEmpty, "set \(k) outline") }
        try assertDeterministic("histogram") { try Figure.histogram(sets, options: o) }
        o.style = .outline
        _ = try decoded(try Figure.histogram(sets, options: o), "hist_outline")
    }

    func testBadInputs() throws {
        assertThrowsMessage("no data sets") { _ = try Figure.histogram([]) }
        assertThrowsMessage("'e' is empty") { _ = try Figure.histogram([NamedValues("e", [])]) }
        assertThrowsMessage("'n' has no finite values") { _ = try Figure.histogram([NamedValues("n", [.nan, .infinity])]) }
        assertThrowsMessage("bins") { _ = try Figure.histogram([NamedValues("a", [1])], options: HistogramOptions(bins: 0)) }
        var o = HistogramOptions()
        o.chart.width = 10
        assertThrowsMessage("figure size") { _ = try Figure.histogram([NamedValues("a", [1])], options: o) }
    }

    func testNonFiniteValuesAreLeftOutAndAConstantSetStillDraws() throws {
        var o = HistogramOptions(bins: 10)
        o.chart.grid = false
        let withNaN = try decoded(try Figure.histogram([NamedValues("a", [1, 2, .nan, 3, -.infinity])], options: o), "hist_nan")
        let clean = try decoded(try Figure.histogram([NamedValues("a", [1, 2, 3])], options: o), "hist_clean")
        // Same bars; only the legend text differs (it counts what was left out).
        let all = PixelRect(x: 0, y: 0, width: 640, height: 480)
        XCTAssertEqual(Double(withNaN.count(in: all, near: fill(0))), Double(clean.count(in: all, near: fill(0))), accuracy: 400)
        XCTAssertNotEqual(withNaN.pixels, clean.pixels)
        // All values equal: the range is widened around them and one bar shows.
        let flat = try decoded(try Figure.histogram([NamedValues("flat", Array(repeating: 2, count: 10))], options: o), "hist_flat")
        XCTAssertGreaterThan(flat.count(in: PixelRect(x: 0, y: 0, width: 640, height: 480), near: fill(0)), 200)
    }
}
