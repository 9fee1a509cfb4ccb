import Formats
import Data
import Foundation
import Tensor
import TestSupport
import XCTest

final class GlyphCorpusTests: XCTestCase {
    static let count = 420
    /// One corpus shared by the read-only checks, made once.
    nonisolated(unsafe) static var shared: URL?

    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("joule-glyphs-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    override class func tearDown() {
        if let dir = shared { try? FileManager.default.removeItem(at: dir) }
    }

    func corpus() throws -> URL {
        if let dir = Self.shared { return dir }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joule-glyphs-shared-\(UUID().uuidString)")
        try GlyphCorpus.make(into: dir.path, options: GlyphCorpus.Options(seed: 3, count: Self.count))
        Self.shared = dir
        return dir
    }

    func arrays(_ dir: URL, _ name: String) throws -> (images: NpyArray, labels: [Int]) {
        let a = try Npy.read(dir.appendingPathComponent(name + ".npy").path)
        XCTAssertEqual(a.count, 2, "\(name): images then labels")
        return (a[0], try a[1].ints())
    }

    func testSplitSizesAndStratification() throws {
        let dir = try corpus()
        let held = Int((Double(Self.count) * 0.15).rounded())
        let expected = ["train": Self.count - 2 * held, "val": held, "test": held, "ood_ta": held, "ood_tb": held]
        var perClass: [String: [Int]] = [:]
        for (name, n) in expected {
            let (images, labels) = try arrays(dir, name)
            XCTAssertEqual(images.shape, [n, GlyphCorpus.imageHeight, GlyphCorpus.imageWidth], name)
            XCTAssertEqual(images.dtype, .uint8, name)
            XCTAssertEqual(labels.count, n, name)
            var h = [Int](repeating: 0, count: GlyphClasses.classes.count)
            for l in labels where l < h.count { h[l] += 1 }
            perClass[name] = h
        }
        // Each class keeps its 15% share in val and test (to within one image), and every class
        // appears in every split.
        for k in GlyphClasses.classes.indices {
            let total = perClass["train"]![k] + perClass["val"]![k] + perClass["test"]![k]
            for name in ["val", "test"] {
                XCTAssertLessThanOrEqual(abs(Double(perClass[name]![k]) - 0.15 * Double(total)), 1.0, "class \(k) in \(name)")
            }
            XCTAssertGreaterThan(perClass["train"]![k], 0)
        }
        // Uneven like text: the commonest class has several times the examples of the rarest.
        let train = perClass["train"]!
        XCTAssertGreaterThan(Double(train.max()!), 4 * Double(train.min()!))
    }

    func testFullSizeSplitArithmetic() {
        let counts = GlyphClasses.counts(total: GlyphCorpus.defaultCount)
        XCTAssertEqual(counts.reduce(0, +), 16_171)
        let parts = Stratify.split(counts)
        XCTAssertEqual(parts.map(\.train).reduce(0, +), 11_319)
        XCTAssertEqual(parts.map(\.val).reduce(0, +), 2_426)
        XCTAssertEqual(parts.map(\.test).reduce(0, +), 2_426)
    }

    func testLabelsInRangeAndOODDisjoint() throws {
        let dir = try corpus()
        let c = GlyphClasses.classes.count
        for name in ["train", "val", "test", "ood_tb"] {
            XCTAssertTrue(try arrays(dir, name).labels.allSatisfy { (0..<c).contains($0) }, name)
        }
        let ta = try arrays(dir, "ood_ta").labels
        XCTAssertTrue(ta.allSatisfy { $0 >= c && $0 < c + GlyphClasses.outside.count })
        let glyphs = Set(ta.map { GlyphClasses.outside[$0 - c] })
        XCTAssertTrue(glyphs.isDisjoint(with: GlyphClasses.classes))
        XCTAssertGreaterThan(glyphs.count, 10, "ood_ta draws from many glyphs")

        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("classes.json"))) as! [String: Any]
        XCTAssertEqual(manifest["classes"] as? [String], GlyphClasses.classes.map(String.init))
        XCTAssertEqual((manifest["classes"] as? [String])?.count, 42)
    }

    /// Every image shows a glyph: a real range of grey, some clearly dark ink and mostly paper.
    func testEveryImageHasInkAndBackground() throws {
        let dir = try corpus()
        for name in CourseData.splitNames {
            let images = try arrays(dir, name).images
            let size = GlyphCorpus.imageHeight * GlyphCorpus.imageWidth
            images.bytes.withUnsafeBytes { raw in
                for i in 0..<images.shape[0] {
                    let px = raw[(i * size)..<((i + 1) * size)]
                    let lo = Int(px.min()!), hi = Int(px.max()!)
                    let mid = (lo + hi) / 2
                    let dark = px.filter { Int($0) < mid }.count, bright = size - dark
                    XCTAssertGreaterThanOrEqual(hi - lo, 60, "\(name)[\(i)]: grey range \(lo)…\(hi)")
                    XCTAssertGreaterThan(Double(dark) / Double(size), 0.01, "\(name)[\(i)]: hardly any ink")
                    XCTAssertGreaterThan(Double(bright) / Double(size), 0.3, "\(name)[\(i)]: hardly any paper")
                }
            }
        }
    }

    func testLoadsThroughTheCourseLoader() throws {
        let data = try CourseData(directory: try corpus().path)
        XCTAssertEqual(data.train.images.shape, [data.train.count, 1, 56, 56])
        XCTAssertNotNil(data.oodTA.labels)
    }

    func testSameSeedSameBytes() throws {
        let a = tmp.appendingPathComponent("a"), b = tmp.appendingPathComponent("b"), c = tmp.appendingPathComponent("c")
        try GlyphCorpus.make(into: a.path, options: GlyphCorpus.Options(seed: 11, count: 150))
        try GlyphCorpus.make(into: b.path, options: GlyphCorpus.Options(seed: 11, count: 150))
        try GlyphCorpus.make(into: c.path, options: GlyphCorpus.Options(seed: 12, count: 150))
        for name in CourseData.splitNames.map({ $0 + ".npy" }) + ["classes.json", "class_counts.csv"] {
            let da = try Data(contentsOf: a.appendingPathComponent(name))
            XCTAssertEqual(fnv1a(da), fnv1a(try Data(contentsOf: b.appendingPathComponent(name))), name)
            if name.hasSuffix(".npy") {
                XCTAssertNotEqual(da, try Data(contentsOf: c.appendingPathComponent(name)), "\(name) ignores the seed")
            }
        }
    }

    func testMissingFontAndGlyphAreNamed() throws {
        assertThrowsMessage("/nowhere/Missing.otf is missing") {
            let o = try GlyphCorpus.Options(count: 30, fonts: ["/nowhere/Missing.otf"])
            try GlyphCorpus.make(into: self.tmp.path, options: o)
        }
        // Blankenburg has no macron vowels: the corpus must refuse rather than draw .notdef boxes.
        assertThrowsMessage("no font has the glyph '\u{101}' (U+0101)") {
            let o = try GlyphCorpus.Options(count: 30, fonts: [GlyphCorpus.blankenburgFont])
            try GlyphCorpus.make(into: self.tmp.path, options: o)
        }
        assertThrowsMessage("at least 3") { _ = try GlyphCorpus.Options(count: 2) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: tmp.appendingPathComponent("train.npy").path))
    }

    func testPeriodFontsLeaveOutInitials() throws {
        let fonts = try GlyphCorpus.periodFonts()
        XCTAssertFalse(fonts.contains { $0.contains("Initials") })
        XCTAssertTrue(fonts.contains(GlyphCorpus.blankenburgFont))
        XCTAssertGreaterThanOrEqual(fonts.count, 10)
    }

    private func fnv1a(_ d: Data) -> UInt64 {
        d.reduce(0xcbf2_9ce4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
