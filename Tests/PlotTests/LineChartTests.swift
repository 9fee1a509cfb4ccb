import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class LineChartTests: PlotTestCase {
    func testSeriesGetDistinctColoursAndALegend() throws {
        let x = (0..<50).map(Double.init)
        let loss = Series("loss", x: x, y: x.map { 2 * exp(-$0 / 10) + 0.1 })
        let acc = Series("val_acc", x: x, y: x.map { 1 - exp(-$0 / 15) })
        var o = LineOptions()
        o.chart.title = "Training"; o.chart.xLabel = "epoch"; o.chart.yLabel = "value"
        let img = try decoded(try Figure.lines([loss, acc], options: o), "lines")
        XCTAssertGreaterThan(columns(img, near: Palette.color(0)).count, 300)
        XCTAssertGreaterThan(columns(img, near: Palette.color(1)).count, 300)
        XCTAssertNotEqual(Palette.color(0), Palette.color(1))
        try assertDeterministic("lines") { try Figure.lines([loss, acc], options: o) }
    }

    /// Rollback marks: one dashed vertical line per mark, in the mark colour, across the plot's height,
    /// the x range widened to show a mark before the first point, and one legend entry.
    func testMarksAreVerticalLinesInsideTheRange() throws {
        let x = (1...6).map(Double.init)
        var o = LineOptions(markers: false)
        o.chart.grid = false
        o.chart.legend = .none
        let plain = try decoded(try Figure.lines([Series("loss", x: x, y: x.map { 1 / $0 })], options: o), "lines_unmarked")
        XCTAssertTrue(columns(plain, near: Palette.mark).isEmpty)
        o.marks = [0.5, 3.25]
        let marked = try decoded(try Figure.lines([Series("loss", x: x, y: x.map { 1 / $0 })], options: o), "lines_marked")
        let cols = columns(marked, near: Palette.mark)
        let groups = cols.reduce(into: [[Int]]()) { g, c in if let l = g.last?.last, c - l <= 1 { g[g.count - 1].append(c) } else { g.append([c]) } }
        XCTAssertEqual(groups.count, 2, "\(cols)")
        let curve = columns(marked, near: Palette.color(0))
        XCTAssertLessThan(groups[0].last!, curve.first!, "the mark before the first point widens the x range")
        XCTAssertGreaterThan(rows(marked, near: Palette.mark).count, 200, "dashed, across the plot's height")
        o.chart.legend = .auto
        o.markLabel = "guard rollback"
        try assertDeterministic("lines_marked_legend") { try Figure.lines([Series("loss", x: x, y: x.map { 1 / $0 })], options: o) }
    }

    func testNaNBreaksTheLineAndInfinitiesDoNotStretchTheAxes() throws {
        let x = (0..<100).map(Double.init)
        var y = x.map { $0 / 100 }
        for i in 40..<60 { y[i] = .nan }
        y[10] = .infinity
        var o = LineOptions(markers: false)
        o.chart.legend = .none
        o.chart.grid = false
        let gap = try decoded(try Figure.lines([Series("s", x: x, y: y)], options: o), "lines_gap")
        let cols = columns(gap, near: Palette.color(0))
        let missing = (cols.first!...cols.last!).filter { !cols.contains($0) }
        // 19 of 99 intervals are missing; the plot is ~600 px wide, so ~110 blank columns in the middle.
        XCTAssertGreaterThan(missing.count, 80)
        XCTAssertLessThan(missing.count, 140)
        // The finite points span the plot height (the infinity is not part of the range).
        let rowsUsed = rows(gap, near: Palette.color(0))
        XCTAssertGreaterThan(rowsUsed.last! - rowsUsed.first!, 300)
    }

    func testConstantAndSinglePointSeriesStillDraw() throws {
        let flat = try decoded(try Figure.lines([Series("flat", y: [3, 3, 3])]), "lines_flat")
        XCTAssertFalse(columns(flat, near: Palette.color(0)).isEmpty)
        let one = try decoded(try Figure.lines([Series("one", y: [0.5])]), "lines_one")
        XCTAssertFalse(columns(one, near: Palette.color(0)).isEmpty)
    }

    func testBadInputs() throws {
        assertThrowsMessage("no series") { _ = try Figure.lines([]) }
        assertThrowsMessage("'e' is empty") { _ = try Figure.lines([Series("e", y: [])]) }
        assertThrowsMessage("2 x values but 3 y values") { _ = try Figure.lines([Series("m", x: [1, 2], y: [1, 2, 3])]) }
        assertThrowsMessage("no point has finite x and y") { _ = try Figure.lines([Series("n", y: [.nan, .infinity])]) }
        var o = LineOptions()
        o.chart.yRange = 1...1
        assertThrowsMessage("range") { _ = try Figure.lines([Series("a", y: [1, 2])], options: o) }
    }

    func testRunLogSeries() throws {
        let dir = try temporaryDirectory()
        let path = dir + "/log.jsonl"
        let lines = [
            #"{"epoch":1,"loss":2.5,"val_acc":0.1,"done":false,"tag":"a"}"#,
            #"{"epoch":2,"loss":null,"val_acc":0.4}"#,
            "",
            #"{"epoch":3,"loss":1.0,"val_acc":0.7,"lr":0.001}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let log = try RunLogSeries.read(path)
        XCTAssertEqual(log.xName, "epoch")
        XCTAssertEqual(log.series.map(\.name), ["loss", "val_acc", "lr"])
        XCTAssertEqual(log.series[0].x, [1, 2, 3])
        XCTAssertEqual(log.series[0].y[0], 2.5)
        XCTAssertTrue(log.series[0].y[1].isNaN)
        XCTAssertEqual(log.series[2].x, [3])
        let only = try RunLogSeries.read(path, keys: ["val_acc"], x: "epoch")
        XCTAssertEqual(only.series.map(\.name), ["val_acc"])
        XCTAssertEqual(only.series[0].y, [0.1, 0.4, 0.7])
        let fig = try Figure.runLog(path, keys: ["val_acc"])
        _ = try decoded(fig, "runlog")

        assertThrowsMessage("no numeric key 'acc'") { _ = try RunLogSeries.read(path, keys: ["acc"]) }
        assertThrowsMessage("no numeric key 'time'") { _ = try RunLogSeries.read(path, x: "time") }
        try "{\"a\":1}\nnot json\n".write(toFile: path, atomically: true, encoding: .utf8)
        assertThrowsMessage("log.jsonl:2: not a JSON object") { _ = try RunLogSeries.read(path) }
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        assertThrowsMessage("empty") { _ = try RunLogSeries.read(path) }
        assertThrowsMessage("cannot read") { _ = try RunLogSeries.read(dir + "/missing.jsonl") }
    }
}
