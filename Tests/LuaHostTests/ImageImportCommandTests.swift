import Formats
import Foundation
import TestSupport
import XCTest

/// `joule data import` as a user runs it, then training on what it wrote, and `joule.data.load` of
/// a folder of class folders.
final class ImageImportCommandTests: LuaTestCase {
    static let images = Fixtures.path("images")
    static let trainScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("scripts/train_jem.lua").path

    /// Three classes of mixed formats and sizes, 8 files each (24: enough for progress lines).
    func makeScans(_ name: String = "scans") throws -> String {
        let kinds = ["png_grey8.png", "jpeg_rgb.jpg", "tiff_grey16.tif", "png_palette4.png", "jpeg_progressive_grey.jpg",
                     "png_interlaced_rgb8.png", "tiff_rgb8_lzw.tif", "jpeg_cmyk.jpg"]
        let root = directory.appendingPathComponent(name).path
        for cls in ["alpha", "beta", "gamma"] {
            let dir = root + "/" + cls
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (k, file) in kinds.enumerated() {
                let ext = (file as NSString).pathExtension
                try FileManager.default.copyItem(atPath: Self.images + "/" + file, toPath: dir + "/\(cls)\(k).\(ext)")
            }
        }
        return root
    }

    func testImportThenTrain() throws {
        _ = try makeScans()
        let r = try joule(["data", "import", "scans", "--out", "data/mine", "--split", "50/25/25", "--seed", "3"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("imported 3 classes from scans into data/mine: train 12, val 6, test 6"), r.stdout)
        // Not a terminal: plain progress lines.
        XCTAssertTrue(r.stderr.contains("importing 24 files: 100% 24/24"), r.stderr)
        XCTAssertFalse(r.stderr.contains("\r"), r.stderr)
        let out = directory.appendingPathComponent("data/mine").path
        for f in ["train.npy", "val.npy", "test.npy", "classes.json", "card.md", "examples.png"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/" + f), f)
        }
        let card = try String(contentsOfFile: out + "/card.md", encoding: .utf8)
        XCTAssertTrue(card.contains("| 1 | beta | 4 | 2 | 2 | 8 |"), card)
        XCTAssertTrue(card.hasSuffix("![Examples per class](examples.png)\n"), card)
        // The same inputs again: the same bytes, picture included.
        let first = try ["train.npy", "card.md", "examples.png"].map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) }
        XCTAssertEqual(try joule(["data", "import", "scans", "--out", "data/mine", "--split", "50/25/25", "--seed", "3"]).status, 0)
        XCTAssertEqual(first, try ["train.npy", "card.md", "examples.png"].map { try Data(contentsOf: URL(fileURLWithPath: out + "/" + $0)) })

        let train = try joule(["run", Self.trainScript, "-p", "data=data/mine", "-p", "epochs=1", "-p", "run=jem",
                               "-p", "hidden=3", "-p", "steps=2", "-p", "batch_size=4", "-p", "eval_samples=2",
                               "-p", "buffer_per_class=4", "-p", "progress=false"])
        XCTAssertEqual(train.status, 0, train.stdout + train.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("jem/last/model.safetensors").path))

        // joule.data.load reads the imported folder and the class folders themselves.
        let loaded = try lua("""
            local a = joule.data.load(DIR .. '/data/mine')
            local b = joule.data.load(DIR .. '/scans')
            return a.train.n, a.val.n, a.test.n, table.concat(a.train.images:shape(), 'x'),
                   b.train.n + b.val.n + b.test.n, a.ood_ta == nil
            """)
        XCTAssertEqual(loaded, ["12", "6", "6", "12x1x56x56", "24", "true"])
    }

    func testImportErrorsAreOneLine() throws {
        let root = directory.appendingPathComponent("junk/x").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.images + "/bad_bomb.png", toPath: root + "/big.png")
        let r = try joule(["data", "import", "junk", "--out", "out"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "joule data import: junk: no usable images (1 file skipped; first: x/big.png: too large: declares 60000×60000 pixels (height × width), over the cap of 50000000 (refused before decoding))\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
        let bad = try joule(["data", "import", "junk", "--out", "out", "--split", "80/30/10"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--split must be three percentages"), bad.stderr)
    }
}
