import Data
import Formats
import Foundation
import ImageFiles
import Plot
import Tensor
import TestSupport
import XCTest

/// `joule data import` in Swift: class folders in, the course layout out, exactly and repeatably.
final class ImportTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = FileManager.default.temporaryDirectory.appendingPathComponent("joule-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: tmp) }

    func path(_ name: String) -> String { tmp.appendingPathComponent(name).path }

    /// Copies fixture images into `folder/class/name`.
    func place(_ files: [(String, String, String)], in folder: String) throws {
        for (cls, fixture, name) in files {
            let dir = path(folder) + "/" + cls
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: DecodeTests.fixture(fixture), toPath: dir + "/" + name)
        }
    }

    func options(_ split: (Int, Int, Int) = (70, 15, 15), seed: UInt64 = 0) -> ImageImport.Options {
        var o = ImageImport.Options()
        o.split = split
        o.seed = seed
        o.progress = false
        return o
    }

    /// Classes of mixed formats, depths and sizes (a multi-page TIFF among them).
    let mixed: [(String, String, String)] = [
        ("b_second", "png_grey8.png", "1.png"), ("b_second", "tiff_multipage.tif", "2.tif"),
        ("b_second", "jpeg_cmyk.jpg", "3.jpg"),
        ("a_first", "jpeg_rgb.jpg", "x.jpg"), ("a_first", "png_grey16.png", "y.png"), ("a_first", "tiff_rgb16.tif", "z.tif"),
        ("c_third", "png_palette4.png", "p.png"), ("c_third", "png_interlaced_rgb8.png", "q.png"),
    ]

    /// Images of different sizes reach the transform exactly as each file alone would: the loaded
    /// train split (everything, 100/0/0) equals the course transform of each decoded image at its size.
    func testImportedImagesLoadAsTheTransformOfEachFile() throws {
        try place(mixed, in: "scans")
        let imported = try ImageImport.read(path("scans"), options: options((100, 0, 0)))
        try ImageImport.write(imported, to: path("out"))
        XCTAssertEqual(imported.classes, ["a_first", "b_second", "c_third"])

        var expected: [Tensor] = [], labels: [Int] = []
        for (c, cls) in ["a_first", "b_second", "c_third"].enumerated() {
            for file in mixed.filter({ $0.0 == cls }).sorted(by: { $0.2 < $1.2 }) {
                for page in try ImageFile.decode(try Data(contentsOf: URL(fileURLWithPath: DecodeTests.fixture(file.1)))) {
                    let t = Tensor(shape: [1, page.height, page.width])
                    for (k, v) in page.grey().enumerated() { t.data[k] = Float(v) }
                    expected.append(try CourseTransform.apply(t))
                    labels.append(c)
                }
            }
        }
        let arrays = try Npy.read(path("out/train.npy"))
        XCTAssertEqual(arrays.count, 3, "images, labels, sizes")
        XCTAssertEqual(arrays[2].shape, [expected.count, 2])
        let train = try loadSplit(path("out/train.npy"))
        XCTAssertEqual(train.labels, labels)
        XCTAssertEqual(train.count, expected.count)
        for (i, e) in expected.enumerated() {
            XCTAssertEqual(try train.images.gather([i]).array, e.array, "image \(i): bit for bit")
        }
        // Empty val and test files still load (and say they are empty).
        XCTAssertEqual(try loadSplit(path("out/val.npy")).count, 0)
    }

    func testSplitIsStratifiedSeededAndByteIdenticalOnASecondRun() throws {
        var files: [(String, String, String)] = []
        for c in ["cat", "dog", "eel"] {
            for k in 0..<(c == "eel" ? 7 : 20) { files.append((c, k % 2 == 0 ? "png_grey8.png" : "jpeg_grey.jpg", String(format: "%02d.img", k))) }
        }
        try place(files, in: "scans")
        for out in ["a", "b"] {
            try ImageImport.write(try ImageImport.read(path("scans"), options: options((60, 20, 20), seed: 5)), to: path(out))
        }
        for name in ["train.npy", "val.npy", "test.npy", "classes.json", "card.md"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("a/" + name))),
                           try Data(contentsOf: URL(fileURLWithPath: path("b/" + name))), name)
        }
        let parts = Stratify.split([20, 20, 7], val: 0.2, test: 0.2)
        for (k, name) in ["train", "val", "test"].enumerated() {
            let s = try loadSplit(path("a/\(name).npy"))
            let counts = (0..<3).map { c in s.labels!.filter { $0 == c }.count }
            XCTAssertEqual(counts, parts.map { [$0.train, $0.val, $0.test][k] }, name)
        }
        // Another seed draws other images into val (the same counts).
        try ImageImport.write(try ImageImport.read(path("scans"), options: options((60, 20, 20), seed: 6)), to: path("c"))
        XCTAssertNotEqual(try Data(contentsOf: URL(fileURLWithPath: path("a/val.npy"))),
                          try Data(contentsOf: URL(fileURLWithPath: path("c/val.npy"))))
        let card = try String(contentsOfFile: path("a/card.md"), encoding: .utf8)
        XCTAssertTrue(card.contains("| 2 | eel | 5 | 1 | 1 | 7 |"), card)
        XCTAssertTrue(card.contains("a JPEG file without an image extension"), card)
    }

    /// Hostile input: each file gets one line in the card, the rest imports.
    func testHostileFilesAreSkippedWithAReason() throws {
        try place([("good", "png_grey8.png", "ok.png"), ("good", "png_rgb8.png", "named.jpg")], in: "scans")
        let bad = ["bad_truncated.png", "bad_truncated.jpg", "bad_truncated.tif", "bad_corrupt.png", "bad_corrupt.jpg",
                   "bad_bomb.png", "bad_bomb.tif", "bad_bomb.jpg", "bad_wide.png", "bad_zero.png", "bad_zero.tif", "bad_text.png", "bad_empty.jpg"]
        try place(bad.map { ("bad", $0, $0) }, in: "scans")
        let good = path("scans/good")
        // A link out of the folder, a link to a folder outside, a broken link, a FIFO, a hidden file,
        // a non-UTF-8 name (a good image: imported), a file outside any class folder.
        try FileManager.default.createSymbolicLink(atPath: good + "/passwd.png", withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: good + "/etc", withDestinationPath: "/etc")
        try FileManager.default.createSymbolicLink(atPath: good + "/gone.png", withDestinationPath: good + "/absent.png")
        try FileManager.default.createSymbolicLink(atPath: good + "/inside.png", withDestinationPath: good + "/ok.png")
        XCTAssertEqual(mkfifo(good + "/pipe.png", 0o644), 0)
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: good + "/.DS_Store"))
        let latin1: [UInt8] = Array((good + "/caf").utf8) + [0xE9] + Array(".png".utf8)
        let src = try Data(contentsOf: URL(fileURLWithPath: DecodeTests.fixture("png_grey8.png")))
        let fd = open(latin1.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = src.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try Data("notes".utf8).write(to: URL(fileURLWithPath: path("scans/README.txt")))

        let imported = try ImageImport.read(path("scans"), options: options((100, 0, 0)))
        try ImageImport.write(imported, to: path("out"))
        let card = try String(contentsOfFile: path("out/card.md"), encoding: .utf8)
        func line(_ name: String, _ reason: String) {
            XCTAssertTrue(card.components(separatedBy: "\n").contains { $0.hasPrefix("- `\(name)`: ") && $0.contains(reason) },
                          "\(name): \(reason)\n\(card)")
        }
        line("bad/bad_truncated.png", "corrupt PNG")
        line("bad/bad_truncated.jpg", "corrupt JPEG")
        line("bad/bad_truncated.tif", "corrupt TIFF")
        line("bad/bad_corrupt.png", "corrupt PNG")
        line("bad/bad_corrupt.jpg", "corrupt JPEG")
        line("bad/bad_bomb.png", "declares 60000×60000 pixels")
        line("bad/bad_bomb.tif", "declares 60000×60000 pixels")
        line("bad/bad_bomb.jpg", "declares 60000×60000 pixels")
        line("bad/bad_wide.png", "declares 100×2000000 pixels")
        line("bad/bad_zero.png", "the image has no pixels")
        line("bad/bad_zero.tif", "the image has no pixels")
        line("bad/bad_text.png", "not a PNG, JPEG or TIFF file")
        line("bad/bad_empty.jpg", "the file is empty")
        line("good/passwd.png", "outside the folder")
        line("good/etc", "outside the folder")
        line("good/gone.png", "broken symbolic link")
        line("good/pipe.png", "not a regular file")
        line("good/.DS_Store", "hidden")
        line("README.txt", "not in a class folder")
        XCTAssertTrue(card.contains("| 0 | bad (no usable images) | 0 | 0 | 0 | 0 |"), card)
        XCTAssertTrue(card.contains("`good/named.jpg`: a PNG file named as JPEG; read as PNG"), card)
        // ok.png, named.jpg, inside.png (a link within the folder) and caf\xe9.png.
        XCTAssertTrue(card.contains("| 1 | good | 4 | 0 | 0 | 4 |"), card)
        XCTAssertEqual(try loadSplit(path("out/train.npy")).count, 4)
        XCTAssertTrue(card.contains("## Skipped files (19)"), card)
    }

    func testNothingUsableIsOneErrorAndNoOutput() throws {
        try place([("x", "bad_text.png", "a.png"), ("y", "bad_bomb.png", "b.png")], in: "scans")
        assertThrowsMessage("no usable images (2 files skipped; first: x/a.png: not a PNG, JPEG or TIFF file") {
            _ = try ImageImport.read(self.path("scans"), options: self.options())
        }
        try FileManager.default.createDirectory(atPath: path("empty"), withIntermediateDirectories: true)
        assertThrowsMessage("no class folders") { _ = try ImageImport.read(self.path("empty"), options: self.options()) }
        assertThrowsMessage("no such folder") { _ = try ImageImport.read(self.path("absent"), options: self.options()) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))
    }

    /// An output folder with other files in it is not replaced.
    func testRefusesToReplaceAFolderItDidNotMake() throws {
        try place([("x", "png_grey8.png", "a.png")], in: "scans")
        try FileManager.default.createDirectory(atPath: path("mine"), withIntermediateDirectories: true)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: path("mine/thesis.tex")))
        let imported = try ImageImport.read(path("scans"), options: options())
        assertThrowsMessage("was not made by joule data import") { try ImageImport.write(imported, to: self.path("mine")) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("mine/thesis.tex")))
        // A folder an import made is replaced as a whole.
        try ImageImport.write(imported, to: path("out"))
        try ImageImport.write(imported, to: path("out"))
    }

    /// The built-in corpus exported to PNG files, one folder per class, and imported back:
    /// the stored images are the corpus's pixels, byte for byte.
    func testGlyphCorpusRoundTripsThroughPNGFiles() throws {
        try GlyphCorpus.make(into: path("glyphs"), options: GlyphCorpus.Options(seed: 4, count: 120))
        let arrays = try Npy.read(path("glyphs/train.npy"))
        let (n, h, w) = (arrays[0].shape[0], arrays[0].shape[1], arrays[0].shape[2])
        let labels = try arrays[1].ints()
        let pixels = [UInt8](arrays[0].bytes)
        for i in 0..<n {
            let canvas = try Canvas(width: w, height: h)
            for y in 0..<h { for x in 0..<w { let v = pixels[i * h * w + y * w + x]; canvas[x, y] = RGB(v, v, v) } }
            let dir = path(String(format: "png/class%02d", labels[i]))
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try PNG.encode(canvas).write(to: URL(fileURLWithPath: dir + String(format: "/%05d.png", i)))
        }
        try ImageImport.write(try ImageImport.read(path("png"), options: options((100, 0, 0))), to: path("back"))
        let back = try Npy.read(path("back/train.npy"))
        XCTAssertEqual(back.count, 2, "one size: images and labels only")
        XCTAssertEqual(back[0].shape, [n, h, w])
        XCTAssertEqual(back[0].dtype, .uint8)
        // Class folders in label order (class00 < class01 …), files in corpus order within each.
        let classesPresent = Set(labels).sorted()
        let order = classesPresent.flatMap { c in (0..<n).filter { labels[$0] == c } }
        let expected = order.flatMap { pixels[$0 * h * w..<($0 + 1) * h * w] }
        XCTAssertEqual([UInt8](back[0].bytes), expected, "pixel-identical")
        XCTAssertEqual(try back[1].ints(), order.map { classesPresent.firstIndex(of: labels[$0])! })
    }

    func testOODFoldersSizeAndChannels() throws {
        try place(mixed, in: "scans")
        try place([("inner", "png_rgb8.png", "o1.png"), ("inner/deeper", "jpeg_grey.jpg", "o2.jpg")], in: "Other Set")
        var o = options()
        o.ood = [path("Other Set")]
        o.size = 32
        let imported = try ImageImport.read(path("scans"), options: o)
        try ImageImport.write(imported, to: path("out"))
        let ood = try Npy.read(path("out/ood_other_set.npy"))
        XCTAssertEqual(ood.count, 1, "OOD: images only")
        XCTAssertEqual(ood[0].shape, [2, 32, 32])
        XCTAssertEqual(try Npy.read(path("out/train.npy"))[0].shape.dropFirst(), [32, 32])
        let splits = try XCTUnwrap(try ImageImport.splits(ofFolder: path("out")))
        XCTAssertEqual(splits.map(\.0), ["train", "val", "test", "ood_other_set"])
        XCTAssertEqual(splits[3].1.images.shape, [2, 1, 56, 56])

        // NAME=DIR names the set (ood_ta for scripts/ood.lua); two sets of one name are refused.
        var named = options()
        named.ood = ["ta=" + path("Other Set")]
        try ImageImport.write(try ImageImport.read(path("scans"), options: named), to: path("named"))
        XCTAssertEqual(try Npy.read(path("named/ood_ta.npy"))[0].shape[0], 2)
        named.ood = ["ta=" + path("Other Set"), "TA=" + path("Other Set")]
        assertThrowsMessage("two --ood folders would both be ood_ta.npy") { _ = try ImageImport.read(self.path("scans"), options: named) }

        // Three channels: sizes differ, so only with --size.
        var rgb = options()
        rgb.channels = 3
        assertThrowsMessage("give --size S") { _ = try ImageImport.read(self.path("scans"), options: rgb) }
        rgb.size = 24
        try ImageImport.write(try ImageImport.read(path("scans"), options: rgb), to: path("rgb"))
        let train = try loadSplit(path("rgb/train.npy"))
        XCTAssertEqual(Array(train.images.shape.dropFirst()), [3, 24, 24])
    }

    /// Class ids follow Python's sorted() of the folder names (code points: upper case before lower,
    /// accents after ASCII); hidden folders and folders whose names are not UTF-8 are not classes.
    func testClassOrderIsPythonsSortedOrder() throws {
        let names = ["b", "Z", "ä", "a", "B", "10", "9"]
        try place(names.map { ($0, "png_grey8.png", "1.png") }, in: "scans")
        try place([(".ipynb_checkpoints", "png_grey8.png", "1.png")], in: "scans")
        let raw = Array(path("scans").utf8) + [UInt8(ascii: "/"), 0x6E, 0xE4, 0x6D]   // "n\xe4m", Latin-1
        XCTAssertEqual(mkdir(raw.map { CChar(bitPattern: $0) } + [0], 0o755), 0)
        let imported = try ImageImport.read(path("scans"), options: options((100, 0, 0)))
        // Python: sorted(["b", "Z", "ä", "a", "B", "10", "9"]) == ['10', '9', 'B', 'Z', 'a', 'b', 'ä']
        XCTAssertEqual(imported.classes, ["10", "9", "B", "Z", "a", "b", "ä"])
        XCTAssertTrue(imported.card.contains("- `.ipynb_checkpoints`: hidden; not read"), imported.card)
        XCTAssertTrue(imported.card.contains("- `n\\xe4m`: a class folder whose name is not UTF-8 (rename it)"), imported.card)
    }

    /// An import that would not fit in memory at the original size stops and says to use --size.
    func testMemoryBudgetAsksForSize() throws {
        try place((0..<6).map { ("c", "png_grey8.png", "\($0).png") }, in: "scans")
        var o = options()
        o.maxSamples = 3 * 19 * 23
        assertThrowsMessage("give --size S to store them resized") { _ = try ImageImport.read(self.path("scans"), options: o) }
        o.size = 8
        XCTAssertEqual(try ImageImport.read(path("scans"), options: o).splits.map(\.count).reduce(0, +), 6)
    }

    /// Three channels of one size keep their pixels: (N, H, W, 3) uint8, or (N, 3, H, W) float32 in
    /// [-1, 1] when a file has 16 bits (v / 127.5 − 1 for 8-bit files, as the uint8 loader scales).
    func testThreeChannelsKeepTheirPixels() throws {
        try place([("c", "png_rgb8.png", "a.png"), ("c", "png_rgb16.png", "b.png")], in: "wide")
        try place([("c", "png_rgb8.png", "a.png"), ("c", "tiff_rgb8.tif", "b.tif")], in: "narrow")
        var o = options((100, 0, 0))
        o.channels = 3
        try ImageImport.write(try ImageImport.read(path("narrow"), options: o), to: path("n"))
        let narrow = try Npy.read(path("n/train.npy"))[0]
        XCTAssertEqual(narrow.shape, [2, 19, 23, 3])
        XCTAssertEqual(narrow.dtype, .uint8)
        let rgb8 = try ImageFile.decode(try Data(contentsOf: URL(fileURLWithPath: DecodeTests.fixture("png_rgb8.png"))))[0]
        XCTAssertEqual([UInt8](narrow.bytes.prefix(19 * 23 * 3)), rgb8.rgb().map { UInt8($0) })

        try ImageImport.write(try ImageImport.read(path("wide"), options: o), to: path("w"))
        let wide = try loadSplit(path("w/train.npy"))
        XCTAssertEqual(wide.images.shape, [2, 3, 19, 23])
        let rgb16 = try ImageFile.decode(try Data(contentsOf: URL(fileURLWithPath: DecodeTests.fixture("png_rgb16.png"))))[0]
        let hw = 19 * 23
        for p in [0, 5, 200, hw - 1] {
            for c in 0..<3 {
                XCTAssertEqual(wide.images.data[c * hw + p], Float(rgb8.samples[p * 3 + c]) / 127.5 - 1)
                XCTAssertEqual(wide.images.data[(3 + c) * hw + p], Float(rgb16.samples[p * 3 + c]) / 32767.5 - 1)
            }
        }
    }

    /// A sizes array that does not fit the images (a one-hot label array where sizes would be) is
    /// one clear error.
    func testSizesThatDoNotFitAreRefused() throws {
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 7, count: 2 * 4 * 5), shape: [2, 4, 5]),
                       NpyArray(ints: [1, 0, 0, 1], shape: [2, 2])], to: path("onehot.npy"))
        assertThrowsMessage("holds their sizes (joule data import), but image 0's, 1×0, does not fit its 4×5 slot") {
            _ = try loadSplit(self.path("onehot.npy"))
        }
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 7, count: 2 * 4 * 5), shape: [2, 4, 5]), NpyArray(ints: [0, 1]),
                       NpyArray(ints: [4, 5, 2, 3], shape: [2, 2])], to: path("sized.npy"))
        XCTAssertEqual(try loadSplit(path("sized.npy")).images.shape, [2, 1, 56, 56])
    }

    /// joule.data.load's path: a folder of class folders is imported in memory.
    func testClassFolderLoadsDirectly() throws {
        try place(mixed, in: "scans")
        let splits = try XCTUnwrap(try ImageImport.splits(ofFolder: path("scans")))
        XCTAssertEqual(splits.map(\.0), ["train", "val", "test"])
        XCTAssertEqual(splits.map(\.1.count).reduce(0, +), 10)
        XCTAssertNil(try ImageImport.splits(ofFolder: path("absent")))
    }
}
