import CPNG
import Foundation
import Tensor

/// PNG encoding and decoding through libpng's "simplified" API, which reports errors by return
/// value instead of longjmp (which Swift cannot survive).
public enum PNG {
    /// Encodes a canvas. A canvas whose pixels are all grey (r = g = b) is stored as 8-bit
    /// greyscale, a third of the size, and decodes to the same RGB values. No time or text chunks
    /// are written, so the same pixels always give the same bytes.
    public static func encode(_ canvas: Canvas) throws -> Data {
        var grey = true
        canvas.pixels.withUnsafeBufferPointer { p in
            var i = 0
            while i < p.count { if p[i] != p[i + 1] || p[i] != p[i + 2] { grey = false; break }; i += 3 }
        }
        var samples: [UInt8]
        if grey {
            samples = [UInt8](repeating: 0, count: canvas.width * canvas.height)
            for i in samples.indices { samples[i] = canvas.pixels[3 * i] }
        } else {
            samples = canvas.pixels
        }
        var image = blankImage()
        image.width = png_uint_32(canvas.width)
        image.height = png_uint_32(canvas.height)
        image.format = grey ? formatGray : formatRGB
        let stride = Int32(canvas.width * (grey ? 1 : 3))
        return try samples.withUnsafeBytes { raw -> Data in
            var size: png_alloc_size_t = 0
            // First call measures, second writes.
            guard png_image_write_to_memory(&image, nil, &size, 0, raw.baseAddress, stride, nil) != 0 else {
                throw JouleError("PNG encoding failed: \(message(&image))")
            }
            var out = Data(count: Int(size))
            let ok = out.withUnsafeMutableBytes { dst in
                png_image_write_to_memory(&image, dst.baseAddress, &size, 0, raw.baseAddress, stride, nil)
            }
            guard ok != 0 else { throw JouleError("PNG encoding failed: \(message(&image))") }
            out.count = Int(size)
            return out
        }
    }

    /// PNG_FORMAT_GRAY and PNG_FORMAT_RGB (= PNG_FORMAT_FLAG_COLOR); macros built from other
    /// macros do not reach Swift.
    static let formatGray: png_uint_32 = 0
    static let formatRGB: png_uint_32 = 2

    /// A zeroed control structure (libpng requires `opaque` NULL), with the version set.
    fileprivate static func blankImage() -> png_image {
        let p = UnsafeMutablePointer<png_image>.allocate(capacity: 1)
        defer { p.deallocate() }
        memset(p, 0, MemoryLayout<png_image>.size)
        p.pointee.version = png_uint_32(PNG_IMAGE_VERSION)
        return p.pointee
    }

    fileprivate static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
    }
}

/// A decoded PNG as RGB8, for tests and for checking what a figure wrote.
public struct PNGImage {
    public let width: Int
    public let height: Int
    /// Row-major RGB triples.
    public let pixels: [UInt8]

    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JouleError("\(path): cannot read")
        }
        do { try self.init(data: data) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
    }

    public init(data: Data) throws {
        var image = PNG.blankImage()
        let begun = data.withUnsafeBytes { raw in
            png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count)
        }
        guard begun != 0 else { throw JouleError("not a readable PNG: \(PNG.message(&image))") }
        image.format = PNG.formatRGB
        let w = Int(image.width), h = Int(image.height)
        var buffer = [UInt8](repeating: 0, count: w * h * 3)
        let finished = buffer.withUnsafeMutableBytes { dst in
            png_image_finish_read(&image, nil, dst.baseAddress, Int32(w * 3), nil)
        }
        guard finished != 0 else { throw JouleError("PNG decoding failed: \(PNG.message(&image))") }
        width = w; height = h; pixels = buffer
    }

    public subscript(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    /// Pixels in `rect` whose colour differs from `color`.
    public func count(in rect: PixelRect, otherThan color: RGB) -> Int {
        let r = rect.intersection(PixelRect(x: 0, y: 0, width: width, height: height))
        guard !r.isEmpty else { return 0 }
        var n = 0
        for y in r.y..<r.maxY { for x in r.x..<r.maxX where self[x, y] != color { n += 1 } }
        return n
    }

    /// Pixels in `rect` within `tolerance` (RGB distance) of `color`.
    public func count(in rect: PixelRect, near color: RGB, tolerance: Int = 0) -> Int {
        let r = rect.intersection(PixelRect(x: 0, y: 0, width: width, height: height))
        guard !r.isEmpty else { return 0 }
        var n = 0
        for y in r.y..<r.maxY { for x in r.x..<r.maxX where self[x, y].distance2(color) <= tolerance * tolerance { n += 1 } }
        return n
    }
}
