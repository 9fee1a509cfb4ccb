import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class TextTests: PlotTestCase {
    func testTextRendersInkWhereAsked() throws {
        let font = try Font.standard()
        let c = try Canvas(width: 200, height: 60)
        let box = c.drawText("Energy ā", font: font, size: 16, at: 10, 10, v: .top)
        XCTAssertEqual(box.x, 10); XCTAssertEqual(box.y, 10)
        XCTAssertEqual(box.width, font.width("Energy ā", size: 16))
        XCTAssertTrue(c.hasPixels(in: box, otherThan: .white))
        XCTAssertFalse(c.hasPixels(in: PixelRect(x: box.maxX + 1, y: 0, width: 200, height: 60), otherThan: .white))
        // Rotated text is taller than wide.
        let r = c.drawText("label", font: font, size: 13, at: 150, 30, v: .middle, rotated: true)
        XCTAssertGreaterThan(r.height, r.width)
        XCTAssertTrue(c.hasPixels(in: r, otherThan: .white))
    }

    func testFittingShortensWithAnEllipsis() throws {
        let font = try Font.standard()
        let long = String(repeating: "very long title ", count: 20)
        let short = font.fitting(long, maxWidth: 200, size: 16)
        XCTAssertTrue(short.hasSuffix("…"))
        XCTAssertLessThanOrEqual(font.width(short, size: 16), 200)
        XCTAssertEqual(font.fitting("ok", maxWidth: 200, size: 16), "ok")
    }

    /// The one-pass fitting gives what measuring every shorter candidate gives (the definition),
    /// spaces and all, and a 100,000-character title is laid out (it took minutes when quadratic).
    func testFittingIsTheLongestTrimmedPrefixThatFits() throws {
        let font = try Font.standard()
        func reference(_ text: String, _ maxWidth: Int) -> String {
            if font.width(text, size: 16) <= maxWidth { return text }
            var chars = Array(text)
            while !chars.isEmpty {
                chars.removeLast()
                let candidate = String(chars).trimmingCharacters(in: .whitespaces) + "…"
                if font.width(candidate, size: 16) <= maxWidth { return candidate }
            }
            return ""
        }
        for text in ["  spaced   words  at the  ends  ", "a\tb\nc  d", "ā é 字 x", "        ", "x", "Energy of samples vs steps"] {
            for maxWidth in [0, 3, 8, 20, 45, 80, 200] {
                XCTAssertEqual(font.fitting(text, maxWidth: maxWidth, size: 16), reference(text, maxWidth), "\(text) in \(maxWidth)")
            }
        }
        var o = LineOptions()
        o.chart.title = String(repeating: "long title ", count: 10_000)
        _ = try Figure.lines([Series("s", y: [1, 2])], options: o).pngData()
    }

    func testAxisTextIsPresentAndNeverClipped() throws {
        var o = LineOptions()
        o.chart.title = String(repeating: "A very long title that cannot fit ", count: 6)
        o.chart.xLabel = "epoch"
        o.chart.yLabel = "loss"
        let img = try decoded(try Figure.lines([Series("loss with a name", y: [1e6, 3e6, 2.5e6])], options: o), "text_axes")
        // Title band, x label at the bottom centre, y label at the left edge.
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: 640, height: 26), otherThan: .white), 100)
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 250, y: 455, width: 200, height: 25), otherThan: .white), 20)
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 150, width: 24, height: 200), otherThan: .white), 20)
        // Nothing touches the outer 2-pixel border: no text runs off the picture.
        for x in 0..<640 { for y in [0, 1, 478, 479] { XCTAssertEqual(img[x, y], .white, "(\(x), \(y))") } }
        for y in 0..<480 { for x in [0, 1, 638, 639] { XCTAssertEqual(img[x, y], .white, "(\(x), \(y))") } }
        let none = try decoded(try Figure.lines([Series("s", y: [1, 2])]), "text_none")
        XCTAssertEqual(none.count(in: PixelRect(x: 0, y: 0, width: 640, height: 5), otherThan: .white), 0)
    }

    func testTicksAreNiceNumbers() throws {
        XCTAssertEqual(Ticks.nice(0...1, target: 6).labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(Ticks.nice(-12...37, target: 6).ticks.map(\.value), [-10, 0, 10, 20, 30])
        XCTAssertEqual(Ticks.nice(-12...37, target: 6).labels.first, "−10")
        XCTAssertEqual(Ticks.nice(0...2e7, target: 5).labels, ["0", "5e+06", "1e+07", "1.5e+07", "2e+07"])
        let tiny = Ticks.nice(0.0001...0.0005, target: 5)
        XCTAssertGreaterThanOrEqual(tiny.ticks.count, 3)
        XCTAssertNil(Ticks.dataRange([Double.nan, .infinity]))
        let flat = try XCTUnwrap(Ticks.dataRange([2, 2, .nan]))
        XCTAssertLessThan(flat.lowerBound, 2); XCTAssertGreaterThan(flat.upperBound, 2)
        XCTAssertEqual(Ticks.format(-0.0, step: 1), "0")
        // Whole-number data (epochs 1…3) never get ticks between the numbers.
        XCTAssertEqual(Ticks.nice(0.96...3.04, target: 9, integer: true).labels, ["1", "2", "3"])
        XCTAssertEqual(Ticks.nice(0.96...3.04, target: 9).labels.count, 9)
    }

    /// Close values (energies in [−3.7605, −3.7595]) get labels with just enough digits to tell
    /// them apart, all exact; none of them reads "−3.76".
    func testNarrowRangesGetDistinctShortestLabels() {
        for target in 3...9 {
            let set = Ticks.nice(-3.7605 ... -3.7595, target: target)
            XCTAssertNil(set.offset)
            XCTAssertEqual(Set(set.labels).count, set.ticks.count, "\(set.labels)")
            for t in set.ticks {
                // Exact: the label reads back as the value (a proper minus sign aside)...
                let back = Double(t.label.replacingOccurrences(of: "−", with: "-"))
                XCTAssertEqual(back ?? .nan, t.value, accuracy: 1e-12, "\(t)")
                // ...and one decimal fewer would merge neighbours (shortest): the step is below it.
                let decimals = t.label.split(separator: ".").last.map(\.count) ?? 0
                XCTAssertLessThan(set.ticks[1].value - set.ticks[0].value, pow(10, Double(-decimals + 1)) - 1e-12)
            }
        }
        XCTAssertEqual(Ticks.nice(-3.7605 ... -3.7595, target: 6).labels, ["−3.7604", "−3.7602", "−3.7600", "−3.7598", "−3.7596"])
        // A step of 5e-5 (it printed every label as "−3.76" in %.3g).
        XCTAssertEqual(Ticks.nice(-3.76021 ... -3.75989, target: 8).labels,
                       ["−3.76020", "−3.76015", "−3.76010", "−3.76005", "−3.76000", "−3.75995", "−3.75990"])
        XCTAssertEqual(Ticks.format(0.953, step: 0.001), "0.953")
        XCTAssertEqual(Ticks.format(2e-5, step: 1e-5), "2e−05")
    }

    /// Large values a small step apart: labels relative to a round offset that the axis shows.
    func testLargeValuesGetAnOffset() throws {
        let set = Ticks.nice(1_000_000.1 ... 1_000_000.5, target: 5)
        XCTAssertEqual(set.offset, "+1e+06")
        XCTAssertEqual(set.labels, ["0.1", "0.2", "0.3", "0.4", "0.5"])
        let negative = Ticks.nice(-123_456_789.5 ... -123_456_789.1, target: 5)
        XCTAssertEqual(negative.offset, "−123456790")
        XCTAssertEqual(negative.labels, ["0.5", "0.6", "0.7", "0.8", "0.9"])
        // Seven digits still fit without one; whole large numbers keep their compact form.
        XCTAssertNil(Ticks.nice(1_000_000...1_000_010, target: 6).offset)
        XCTAssertEqual(Ticks.nice(1_000_000...1_000_010, target: 6).labels.first, "1000000")
        XCTAssertNil(Ticks.nice(0...2e7, target: 5).offset)
        // Drawn: the offset text above the y axis, where a plot without one has nothing (its frame
        // starts at row 11).
        let img = try decoded(try Figure.lines([Series("big", y: [1_000_000.1, 1_000_000.3, 1_000_000.2])]), "text_offset")
        let plain = try decoded(try Figure.lines([Series("small", y: [0.1, 0.3, 0.2])]), "text_no_offset")
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: 200, height: 16), otherThan: .white), 15)
        XCTAssertEqual(plain.count(in: PixelRect(x: 0, y: 0, width: 640, height: 10), otherThan: .white), 0)
    }

    /// A y-only series sits at x = 1, 2, 3 (a Lua list's indices): epochs counted from 1 start the
    /// axis at 1, not 0.
    func testListsArePlottedAtTheirIndices() {
        XCTAssertEqual(Series("loss", y: [3, 2, 1]).x, [1, 2, 3])
    }
}
