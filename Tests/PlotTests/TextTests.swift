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
        XCTAssertEqual(Ticks.nice(0...1, target: 6).map(\.label), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        XCTAssertEqual(Ticks.nice(-12...37, target: 6).map(\.value), [-10, 0, 10, 20, 30])
        XCTAssertEqual(Ticks.nice(-12...37, target: 6).first?.label, "−10")
        XCTAssertEqual(Ticks.nice(0...2e7, target: 5).map(\.label), ["0", "5e+06", "1e+07", "1.5e+07", "2e+07"])
        let tiny = Ticks.nice(0.0001...0.0005, target: 5)
        XCTAssertGreaterThanOrEqual(tiny.count, 3)
        XCTAssertNil(Ticks.dataRange([Double.nan, .infinity]))
        let flat = try XCTUnwrap(Ticks.dataRange([2, 2, .nan]))
        XCTAssertLessThan(flat.lowerBound, 2); XCTAssertGreaterThan(flat.upperBound, 2)
        XCTAssertEqual(Ticks.format(-0.0, step: 1), "0")
        // Whole-number data (epochs 1…3) never get ticks between the numbers.
        XCTAssertEqual(Ticks.nice(0.96...3.04, target: 9, integer: true).map(\.label), ["1", "2", "3"])
        XCTAssertEqual(Ticks.nice(0.96...3.04, target: 9).map(\.label).count, 9)
    }
}
