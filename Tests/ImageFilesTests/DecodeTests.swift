import Formats
import Foundation
import ImageFiles
import Tensor
import TestSupport
import XCTest

/// The decoders against files Pillow wrote (Tests/Fixtures/images, made by make_images.py): each
/// file's grey and RGB samples must equal, sample for sample, what its `.expected.npy` holds —
/// Pillow's own decoding and conversion, or the source array where Pillow cannot read the kind.
final class DecodeTests: XCTestCase {
    static let folder = Fixtures.path("images")

    static func fixture(_ name: String) -> String { folder + "/" + name }

    /// Every decodable fixture: the files with an expected-samples file.
    static var goodFiles: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { $0.hasSuffix(".expected.npy") }
            .map { String($0.dropLast(".expected.npy".count)) }
            .sorted()
    }

    func testFixturesCoverEveryKind() {
        let names = Self.goodFiles
        // PNG of every bit depth and colour type, interlaced; JPEG baseline, progressive, grey, RGB,
        // CMYK; TIFF 8 and 16 bit (both byte orders), grey and RGB with and without alpha, compressed
        // (LZW, deflate, JPEG in RGB and YCbCr), bilevel, palette, CMYK, multi-page.
        for expected in ["png_grey1", "png_grey2", "png_grey4", "png_grey8", "png_grey16", "png_grey_alpha8",
                         "png_grey_alpha16", "png_rgb8", "png_rgba8", "png_rgb16", "png_palette1", "png_palette4",
                         "png_palette8", "png_palette_transparent", "png_interlaced_grey8", "png_interlaced_rgb8",
                         "png_interlaced_grey16", "jpeg_grey", "jpeg_rgb", "jpeg_rgb444", "jpeg_progressive",
                         "jpeg_progressive_grey", "jpeg_cmyk", "tiff_grey8", "tiff_grey16", "tiff_rgb8",
                         "tiff_rgb16", "tiff_rgb8_lzw", "tiff_grey8_deflate", "tiff_bilevel", "tiff_palette",
                         "tiff_multipage", "tiff_rgba8", "tiff_grey_alpha8", "tiff_cmyk", "tiff_jpeg", "tiff_ycbcr_jpeg",
                         "tiff_grey16_bigendian"] {
            XCTAssertTrue(names.contains { $0.hasPrefix(expected + ".") }, "no fixture \(expected)")
        }
    }

    func testEveryFixtureDecodesToPillowsSamples() throws {
        for name in Self.goodFiles {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.fixture(name)))
            let pages: [RasterImage]
            do { pages = try ImageFile.decode(bytes) } catch { XCTFail("\(name): \(error)"); continue }
            let expected = try Npy.read(Self.fixture(name + ".expected.npy"))
            XCTAssertEqual(pages.count * 2, expected.count, "\(name): pages")
            for (k, page) in pages.enumerated() where 2 * k + 1 < expected.count {
                let grey = expected[2 * k], rgb = expected[2 * k + 1]
                XCTAssertEqual(grey.shape, [page.height, page.width], "\(name) page \(k + 1): size")
                XCTAssertEqual(page.grey().map(Int.init), try grey.ints(), "\(name) page \(k + 1): grey samples")
                XCTAssertEqual(page.rgb().map(Int.init), try rgb.ints(), "\(name) page \(k + 1): RGB samples")
            }
        }
    }

    func testBitDepthsAreKept() throws {
        func page(_ name: String) throws -> RasterImage {
            try ImageFile.decode(try Data(contentsOf: URL(fileURLWithPath: Self.fixture(name))))[0]
        }
        for name in ["png_grey16.png", "png_rgb16.png", "tiff_grey16.tif", "tiff_rgb16.tif", "png_interlaced_grey16.png"] {
            let p = try page(name)
            XCTAssertEqual(p.depth, 16, name)
            XCTAssertGreaterThan(p.samples.max()!, 255, "\(name): 16-bit values")
        }
        XCTAssertEqual(try page("png_grey1.png").fileDepth, 1)
        XCTAssertEqual(try page("jpeg_cmyk.jpg").kind, .cmyk)
        XCTAssertEqual(try page("jpeg_grey.jpg").kind, .grey)
        XCTAssertEqual(try page("png_palette4.png").kind, .rgb)
    }

    /// Hostile files: one clear error each, never a crash; the 60000×60000 headers are refused
    /// before anything is decoded (the test would otherwise allocate 3.6 GB per image).
    func testHostileFilesGiveOneClearError() throws {
        let cases: [(String, String)] = [
            ("bad_truncated.png", "corrupt PNG"),
            ("bad_truncated.jpg", "corrupt JPEG"),
            ("bad_truncated.tif", "corrupt TIFF"),
            ("bad_corrupt.png", "corrupt PNG"),
            ("bad_corrupt.jpg", "corrupt JPEG"),
            ("bad_bomb.png", "too large: declares 60000×60000 pixels"),
            ("bad_bomb.tif", "too large: declares 60000×60000 pixels"),
            ("bad_bomb.jpg", "too large: declares 60000×60000 pixels"),
            ("bad_wide.png", "too large: declares 100×2000000 pixels"),
            ("bad_zero.png", "empty image: the image has no pixels (0×0"),
            ("bad_zero.tif", "empty image: the image has no pixels (0×0"),
            ("bad_text.png", "not a PNG, JPEG or TIFF file"),
            ("bad_empty.jpg", "not a PNG, JPEG or TIFF file (the file is empty)"),
        ]
        for (name, fragment) in cases {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.fixture(name)))
            do {
                let pages = try ImageFile.decode(bytes)
                XCTFail("\(name): decoded \(pages.count) image(s)")
            } catch let e as JouleError {
                XCTAssertTrue(e.message.contains(fragment), "\(name): \(e.message)")
                XCTAssertFalse(e.message.contains("\n"), "\(name): one line: \(e.message)")
            }
        }
    }

    /// Other image formats are named, so the card says what to convert.
    func testOtherFormatsAreNamed() {
        for (bytes, name) in [(Array("GIF89a\u{1}\u{0}".utf8), "GIF"), ([0x42, 0x4D, 0x36, 0x10, 0, 0, 0, 0, 0, 0, 0x36, 0], "BMP"),
                              (Array("RIFF\u{0}\u{0}\u{0}\u{0}WEBPVP8 ".utf8), "WebP"), (Array("%PDF-1.7".utf8), "PDF"),
                              (Array("P5\n3 2\n255\n".utf8), "PNM (PBM/PGM/PPM)")] {
            assertThrowsMessage("not a PNG, JPEG or TIFF file (a \(name) file: convert it)") { _ = try ImageFile.decode(Data(bytes)) }
        }
    }

    /// The cap is a parameter: a small one refuses an ordinary file by its header.
    func testPixelCapRefusesBeforeDecoding() throws {
        for name in ["png_rgb8.png", "jpeg_rgb.jpg", "tiff_rgb8.tif"] {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.fixture(name)))
            assertThrowsMessage("declares 19×23 pixels (height × width), over the cap of 100") { _ = try ImageFile.decode(bytes, maxPixels: 100) }
        }
    }

    /// Every prefix of a file (each truncation point) and bytes flipped all over it: errors or
    /// images, never a crash or a hang.
    func testEveryTruncationAndManyCorruptions() throws {
        for name in ["png_interlaced_rgb8.png", "jpeg_progressive.jpg", "tiff_multipage.tif", "png_palette4.png", "tiff_bilevel.tif"] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.fixture(name))))
            for n in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
                _ = try? ImageFile.decode(Data(bytes[..<n]))
            }
            let rng = RNG(seed: 26)
            for _ in 0..<300 {
                var b = bytes
                for _ in 0..<1 + rng.int(4) { b[rng.int(b.count)] = UInt8(rng.int(256)) }
                _ = try? ImageFile.decode(Data(b), maxPixels: 1 << 22)
            }
        }
    }
}
