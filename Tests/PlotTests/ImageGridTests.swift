import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class ImageGridTests: PlotTestCase {
    /// Image i is constant at value `values[i]`.
    func constantImages(_ values: [Float], h: Int = 4, w: Int = 5) throws -> Tensor {
        try Tensor(shape: [values.count, 1, h, w], values: values.flatMap { Array(repeating: $0, count: h * w) })
    }

    func testCellsSitWhereTheLayoutSaysWithTheRightGrey() throws {
        let x = try constantImages([-1, 0, 1, 0.5, -0.5])
        let fig = try Figure.imageGrid(x, options: GridOptions(nrow: 3, padding: 2, scale: 3))
        let image = try decoded(fig, "grid_cells")
        // 3 per row → 2 rows; cells 15×12 with 2-pixel gutters, nothing else around them.
        XCTAssertEqual(image.width, 3 * 15 + 4 * 2)
        XCTAssertEqual(image.height, 2 * 12 + 3 * 2)
        func cellCentre(_ i: Int) -> RGB { image[2 + (i % 3) * 17 + 7, 2 + (i / 3) * 14 + 6] }
        XCTAssertEqual(cellCentre(0), RGB(0, 0, 0))
        XCTAssertEqual(cellCentre(1), RGB(128, 128, 128))
        XCTAssertEqual(cellCentre(2), RGB(255, 255, 255))
        XCTAssertEqual(cellCentre(3), RGB(191, 191, 191))
        XCTAssertEqual(cellCentre(4), RGB(64, 64, 64))
        // Every pixel of a cell has its value (the upscaling covers it fully).
        XCTAssertEqual(image.count(in: PixelRect(x: 2, y: 2, width: 15, height: 12), near: .black), 15 * 12)
        // The empty sixth slot is gutter colour, not an image.
        XCTAssertEqual(image.count(in: PixelRect(x: 2 + 2 * 17, y: 2 + 14, width: 15, height: 12), near: .black), 0)
    }

    func testRanges() throws {
        let x = try constantImages([0, 10])
        let auto = try decoded(try Figure.imageGrid(x, options: GridOptions(range: .auto, nrow: 2, padding: 0, scale: 1)), "grid_auto")
        XCTAssertEqual(auto[0, 0], .black)
        XCTAssertEqual(auto[5, 0], .white)
        // A fixed range clamps: 10 is far above 1.
        let fixed = try decoded(try Figure.imageGrid(x, options: GridOptions(nrow: 2, padding: 0, scale: 1)), "grid_fixed")
        XCTAssertEqual(fixed[0, 0], RGB(128, 128, 128))
        XCTAssertEqual(fixed[5, 0], .white)
        // A constant image under auto or per-image scaling is mid-grey, not a crash or a division by zero.
        let flat = try constantImages([3, 3])
        for range in [ValueRange.auto, .perImage] {
            let img = try decoded(try Figure.imageGrid(flat, options: GridOptions(range: range, padding: 0, scale: 1)), "grid_flat")
            XCTAssertLessThanOrEqual(img[1, 1].distance2(RGB(128, 128, 128)), 3)
        }
        assertThrowsMessage("value range") { _ = try Figure.imageGrid(x, options: GridOptions(range: .fixed(1, 1))) }
        assertThrowsMessage("value range") { _ = try Figure.imageGrid(x, options: GridOptions(range: .fixed(0, .infinity))) }
    }

    func testNonFinitePixels() throws {
        let x = try Tensor(shape: [1, 1, 1, 3], values: [.nan, .infinity, -.infinity])
        let img = try decoded(try Figure.imageGrid(x, options: GridOptions(range: .auto, padding: 0, scale: 1)), "grid_nan")
        XCTAssertEqual(img[0, 0], nanPixelColor)
        XCTAssertEqual(img[1, 0], .white)
        XCTAssertEqual(img[2, 0], .black)
    }

    func testShapesAndErrors() throws {
        let three = try Tensor(shape: [2, 6, 6], values: Array(repeating: 1, count: 72))
        let img = try decoded(try Figure.imageGrid(three, options: GridOptions(padding: 1, scale: 2)), "grid_nhw")
        XCTAssertEqual(img.width, 2 * 12 + 3)
        let rgb = try Tensor(shape: [1, 3, 2, 2], values: [1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1])
        XCTAssertEqual(try decoded(try Figure.imageGrid(rgb, options: GridOptions(padding: 0, scale: 1)), "grid_rgb")[1, 1],
                       RGB(255, 0, 0))
        assertThrowsMessage("no images") { _ = try Figure.imageGrid(Tensor(shape: [0, 1, 4, 4])) }
        // Channel counts other than 1 and 3: each channel a grey tile, an image's channels side by side.
        let two = try decoded(try Figure.imageGrid(Tensor(shape: [2, 2, 4, 4]), options: GridOptions(nrow: 4, padding: 0, scale: 1)), "grid_two")
        XCTAssertEqual([two.width, two.height], [16, 4])
        assertThrowsMessage("expected images of shape") { _ = try Figure.imageGrid(Tensor(shape: [4])) }
        assertThrowsMessage("nrow") { _ = try Figure.imageGrid(three, options: GridOptions(nrow: 0)) }
        assertThrowsMessage("3 row labels for 1 rows") {
            _ = try Figure.imageGrid(three, options: GridOptions(rowLabels: ["a", "b", "c"]))
        }
        assertThrowsMessage("too large") {
            _ = try Figure.imageGrid(Tensor(shape: [1, 1, 2000, 2000]), options: GridOptions(scale: 10))
        }
    }

    func testRowLabelsAndTitleAreDrawnLeftOfAndAboveTheCells() throws {
        let x = try constantImages([1, 1, 1, 1], h: 10, w: 10)
        let plain = try decoded(try Figure.imageGrid(x, options: GridOptions(nrow: 2, scale: 2)), "grid_plain")
        let fig = try Figure.imageGrid(x, options: GridOptions(nrow: 2, scale: 2, rowLabels: ["ā", "long label"],
                                                               title: "Samples"))
        let img = try decoded(fig, "grid_labels")
        XCTAssertGreaterThan(img.width, plain.width)
        XCTAssertGreaterThan(img.height, plain.height)
        // The first cell's top-left corner: white with grey gutter to its left and above.
        let gutter = RGB(150, 150, 150)
        var corner: (x: Int, y: Int)?
        search: for y in 1..<img.height { for x in 1..<img.width
            where img[x, y] == .white && img[x - 1, y] == gutter && img[x, y - 1] == gutter { corner = (x, y); break search } }
        let (firstCellX, gridTop) = try XCTUnwrap(corner)
        for row in 0..<2 {
            let band = PixelRect(x: 0, y: gridTop + row * 22, width: firstCellX - 4, height: 20)
            XCTAssertGreaterThan(img.count(in: band, otherThan: .white), 10, "row \(row) label")
        }
        XCTAssertGreaterThan(img.count(in: PixelRect(x: 0, y: 0, width: img.width, height: gridTop - 4), otherThan: .white), 20,
                             "title")
    }

    func testChainsPutOneChainPerRowWithStepsUnderFrames() throws {
        // 3 frames of 2 chains, 4×4: chain 0 brightens over the steps, chain 1 stays dark.
        var values: [Float] = []
        for f in 0..<3 { for c in 0..<2 { values += Array(repeating: c == 0 ? Float(f) - 1 : -1, count: 16) } }
        let frames = try Tensor(shape: [3, 2, 1, 4, 4], values: values)
        let fig = try Figure.chains(frames, options: ChainOptions(steps: [0, 128, 256], padding: 2, scale: 10))
        let img = try decoded(fig, "chains")
        let cellRows = rows(img, near: .black).filter { y in (0..<img.width).filter { img[$0, y] == .black }.count >= 40 }
        XCTAssertFalse(cellRows.isEmpty)
        // Chain 1 (second row): three black frames. Chain 0 (first row): black, grey, white.
        let rowTop0 = try XCTUnwrap(cellRows.first)
        let rowTop1 = try XCTUnwrap(cellRows.first { y in (0..<img.width).filter { img[$0, y] == .black }.count >= 120 })
        XCTAssertGreaterThan(rowTop1, rowTop0 + 40)
        let blackCols1 = (0..<img.width).filter { img[$0, rowTop1] == .black }
        XCTAssertEqual(blackCols1.count, 3 * 40)
        let y0 = rowTop0 + 20
        let greys = Set((0..<img.width).map { img[$0, y0] }.filter { $0.r == $0.g && $0.g == $0.b })
        XCTAssertTrue(greys.isSuperset(of: [.black, RGB(128, 128, 128), .white]))
        // Step captions: ink between the first row's frames and the second row.
        let caption = PixelRect(x: 0, y: rowTop0 + 40, width: img.width, height: rowTop1 - rowTop0 - 40)
        XCTAssertGreaterThan(img.count(in: caption, otherThan: .white), 30)
        assertThrowsMessage("2 step numbers for 3 frames") { _ = try Figure.chains(frames, options: ChainOptions(steps: [0, 1])) }
        assertThrowsMessage("expected frames of shape") { _ = try Figure.chains(Tensor(shape: [3, 4, 4])) }
        assertThrowsMessage("no frames") { _ = try Figure.chains(Tensor(shape: [0, 2, 1, 4, 4])) }
    }

    func testImageRowsBlocksAndLevels() throws {
        let x = try constantImages([-1, 0.2, 1], h: 6, w: 6)
        // Rows of different lengths; the second row is short.
        let one = try decoded(try Figure.imageRows(x, rows: [[0, 1, 2], [2], [1, 0], [0]],
                                                   options: GridOptions(padding: 2, scale: 2)), "rows_one_block")
        XCTAssertEqual(one.width, 3 * 12 + 4 * 2)
        XCTAssertEqual(one.height, 4 * 14 + 2)
        XCTAssertEqual(one[2 + 14 + 6, 2 + 14 + 6], RGB(150, 150, 150), "missing cell is gutter")
        let two = try decoded(try Figure.imageRows(x, rows: [[0, 1, 2], [2], [1, 0], [0]],
                                                   options: GridOptions(padding: 2, scale: 2, blocks: 2)), "rows_two_blocks")
        XCTAssertEqual(two.height, 2 * 14 + 2)
        XCTAssertGreaterThan(two.width, 2 * one.width)
        // Row 2 (first of the second block) starts with image 1 (0.2 → grey 153).
        XCTAssertEqual(two[two.width - one.width + 2 + 6, 2 + 6], RGB(153, 153, 153))
        // Two levels: 0.2 is above the middle, so it turns white.
        let posterized = try decoded(try Figure.imageRows(x, rows: [[1]], options: GridOptions(padding: 0, scale: 1, levels: 2)),
                                     "rows_levels")
        XCTAssertEqual(posterized[3, 3], .white)
        assertThrowsMessage("levels") { _ = try Figure.imageRows(x, rows: [[1]], options: GridOptions(levels: 1)) }
        assertThrowsMessage("index 3 is outside 0..<3") { _ = try Figure.imageRows(x, rows: [[3]]) }
        assertThrowsMessage("no images to show") { _ = try Figure.imageRows(x, rows: [[], []]) }
        assertThrowsMessage("blocks") { _ = try Figure.imageRows(x, rows: [[1]], options: GridOptions(blocks: 0)) }
    }

    func testGridsAreDeterministic() throws {
        let x = try Tensor(shape: [6, 1, 8, 8], values: (0..<384).map { Float(sin(Double($0))) })
        try assertDeterministic("grid") { try Figure.imageGrid(x, options: GridOptions(nrow: 2, rowLabels: ["a", "b", "c"], title: "t")) }
    }
}
