import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class ConfusionMatrixTests: PlotTestCase {
    func testDiagonalIsBrightOffDiagonalDarkAndEmptyRowsGrey() throws {
        // Class 0 always right, class 1 always predicted as 2, class 2 right, class 3 never seen.
        let predictions = [0, 0, 0, 2, 2, 2, 2]
        let labels = [0, 0, 0, 1, 1, 2, 2]
        let fig = try Figure.confusionMatrix(predictions: predictions, labels: labels, classes: 4,
                                             options: ConfusionOptions(title: "Confusion", classNames: ["a", "b", "c", "d"], cellSize: 40))
        let img = try decoded(fig, "confusion")
        let bright = Palette.viridis(1), dark = Palette.viridis(0)
        // Three full cells at the top of the scale: (0,0), (1,2), (2,2). The colour bar adds one 16-px-wide strip.
        let brightCount = img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: img.height), near: bright, tolerance: 3)
        XCTAssertGreaterThanOrEqual(brightCount, 3 * 38 * 38)
        XCTAssertLessThan(brightCount, 3 * 40 * 40 + 16 * 20)
        let grey = img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: img.height), near: emptyRowColor)
        XCTAssertGreaterThanOrEqual(grey, 4 * 38 * 38)
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: img.height), near: dark, tolerance: 3), 8 * 30 * 30)
        // Cell (row 1, col 2) is bright and cell (row 1, col 1) dark: find the matrix by its first dark cell.
        var origin: (Int, Int)?
        search: for y in 0..<img.height { for x in 0..<img.width where img[x, y].distance2(dark) <= 9 { origin = (x, y); break search } }
        // The first dark pixel in reading order is cell (0, 1)'s top-left corner.
        let (x01, y0) = try XCTUnwrap(origin)
        let x0 = x01 - 40
        XCTAssertLessThanOrEqual(img[x0 + 4, y0 + 4].distance2(bright), 9, "cell (0,0)")
        XCTAssertLessThanOrEqual(img[x0 + 84, y0 + 44].distance2(bright), 9, "cell (1,2)")
        XCTAssertLessThanOrEqual(img[x0 + 44, y0 + 44].distance2(dark), 9, "cell (1,1)")
        XCTAssertEqual(img[x0 + 60, y0 + 130], emptyRowColor, "row 3 has no examples")
        // Class names left of the rows.
        XCTAssertGreaterThan(img.count(in: PixelRect(x: x0 - 20, y: y0, width: 18, height: 160), otherThan: .white), 20)
        try assertDeterministic("confusion") {
            try Figure.confusionMatrix(predictions: predictions, labels: labels, classes: 4)
        }
    }

    func testManyClassesAndCounts() throws {
        let labels = (0..<420).map { $0 % 42 }
        let predictions = labels.map { $0 % 3 == 0 ? ($0 + 1) % 42 : $0 }
        let names = (0..<42).map { String(UnicodeScalar(UInt8(65 + $0 % 26))) + ($0 >= 26 ? "ā" : "") }
        let img = try decoded(try Figure.confusionMatrix(predictions: predictions, labels: labels,
                                                         options: ConfusionOptions(classNames: names, normalize: false)), "confusion42")
        XCTAssertGreaterThan(img.width, 42 * 10)
    }

    func testBadInputs() throws {
        assertThrowsMessage("no classes") { _ = try Figure.confusionMatrix([]) }
        assertThrowsMessage("square") { _ = try Figure.confusionMatrix([[1, 2], [3]]) }
        assertThrowsMessage("negative") { _ = try Figure.confusionMatrix([[1, -2], [3, 4]]) }
        assertThrowsMessage("3 class names for 2 classes") {
            _ = try Figure.confusionMatrix([[1, 2], [3, 4]], options: ConfusionOptions(classNames: ["a", "b", "c"]))
        }
        assertThrowsMessage("class 5 is outside 0..<2") { _ = try Figure.confusionMatrix(predictions: [5], labels: [1], classes: 2) }
        assertThrowsMessage("no predictions") { _ = try Figure.confusionMatrix(predictions: [], labels: []) }
        // All-zero counts: every row is empty, drawn grey, no division by zero.
        let img = try decoded(try Figure.confusionMatrix([[0, 0], [0, 0]]), "confusion_zero")
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: img.height), near: emptyRowColor), 1000)
    }
}
