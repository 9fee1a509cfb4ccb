import CImageCodecs
import Foundation
import JouleCore

/// PNG, JPEG and TIFF files decoded through libpng, libjpeg-turbo and libtiff (see CImageCodecs).
/// The bytes are outside input: the format is told by the content, not the name; sizes are checked
/// against `maxPixels` before anything is decoded; every failure is one `JouleError`.
public enum ImageFile {
    public enum Format: String, Sendable {
        case png = "PNG", jpeg = "JPEG", tiff = "TIFF"

        /// File name extensions (lower case) that name this format.
        public var extensions: [String] {
            switch self {
            case .png: ["png"]
            case .jpeg: ["jpg", "jpeg", "jpe", "jfif"]
            case .tiff: ["tif", "tiff"]
            }
        }
    }

    /// 50 megapixels: an A4 page scanned at 600 dpi is 35. A header declaring more is refused.
    public static let defaultMaxPixels = 50_000_000
    /// Files larger than this are not read (a compressed image of the largest allowed size is far smaller).
    public static let maxFileBytes = 512 << 20
    /// Pages read from one TIFF.
    public static let maxPages = 1000

    /// The format the bytes start with, or nil.
    public static func format(of bytes: Data) -> Format? {
        let b = [UInt8](bytes.prefix(8))
        if b.count >= 8 && b == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] { return .png }
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return .jpeg }
        if b.count >= 4 && ((b[0] == 0x49 && b[1] == 0x49 && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
                            (b[0] == 0x4D && b[1] == 0x4D && b[2] == 0 && (b[3] == 42 || b[3] == 43))) { return .tiff }
        return nil
    }

    /// The format a file name's extension names, or nil.
    public static func format(ofName name: String) -> Format? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        let ext = name[name.index(after: dot)...].lowercased()
        return [Format.png, .jpeg, .tiff].first { $0.extensions.contains(ext) }
    }

    /// Every image in `bytes` (one, or one per page of a TIFF).
    public static func decode(_ bytes: Data, maxPixels: Int = defaultMaxPixels) throws -> [RasterImage] {
        try decodePages(bytes, maxPixels: maxPixels).images
    }

    /// The images of `bytes`, and whether a TIFF had more than `maxPages` pages (the rest left out).
    public static func decodePages(_ bytes: Data, maxPixels: Int = defaultMaxPixels) throws -> (images: [RasterImage], morePages: Bool) {
        guard let format = format(of: bytes) else {
            let start = bytes.isEmpty ? "the file is empty"
                : otherFormat(bytes).map { "a \($0) file: convert it" }
                ?? "it starts with " + bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")
            throw JouleError("not a PNG, JPEG or TIFF file (\(start))")
        }
        let cap = UInt64(max(0, maxPixels))
        return try bytes.withUnsafeBytes { raw -> ([RasterImage], Bool) in
            let p = raw.bindMemory(to: UInt8.self).baseAddress!
            var image = jl_image()
            switch format {
            case .png:
                try check(jl_png_decode(p, raw.count, cap, &image), &image, format)
                return ([take(&image)], false)
            case .jpeg:
                try check(jl_jpeg_decode(p, raw.count, cap, &image), &image, format)
                return ([take(&image)], false)
            case .tiff:
                // libtiff refuses a 0×0 page with a message about strips: say what it is.
                if let (w, h) = firstTIFFSize([UInt8](bytes.prefix(1 << 16))), w == 0 || h == 0 {
                    throw JouleError("empty image: the image has no pixels (\(h)×\(w), height × width)")
                }
                let counted = jl_tiff_pages(p, raw.count, Int32(maxPages + 1), &image)
                guard counted > 0 else { throw JouleError("corrupt TIFF: \(message(&image))") }
                let pages = min(counted, Int32(maxPages))
                var out: [RasterImage] = []
                for page in 0..<Int(pages) {
                    do {
                        try check(jl_tiff_decode(p, raw.count, Int32(page), cap, &image), &image, format)
                    } catch let e as JouleError where pages > 1 {
                        throw JouleError("page \(page + 1) of \(pages): " + e.message)
                    }
                    out.append(take(&image))
                }
                return (out, counted > pages)
            }
        }
    }

    /// Image formats people may have in a folder of scans that are not read here, by their signatures.
    static func otherFormat(_ bytes: Data) -> String? {
        let b = [UInt8](bytes.prefix(12))
        func starts(_ s: String, at offset: Int = 0) -> Bool {
            let t = Array(s.utf8)
            return b.count >= offset + t.count && Array(b[offset..<offset + t.count]) == t
        }
        if starts("GIF87a") || starts("GIF89a") { return "GIF" }
        if starts("BM") && b.count >= 10 && b[6...9].allSatisfy({ $0 == 0 }) { return "BMP" }   // reserved bytes zero
        if starts("RIFF") && starts("WEBP", at: 8) { return "WebP" }
        if starts("%PDF") { return "PDF" }
        if starts("ftyp", at: 4) && (starts("heic", at: 8) || starts("heix", at: 8) || starts("mif1", at: 8)) { return "HEIF" }
        if starts("ftyp", at: 4) && starts("avif", at: 8) { return "AVIF" }
        if b.count >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0x0C && starts("jP", at: 4) { return "JPEG 2000" }
        if starts("P", at: 0) && b.count >= 2 && (0x31...0x36).contains(b[1]) { return "PNM (PBM/PGM/PPM)" }
        return nil
    }

    /// Width and height in the first directory of a classic TIFF, when it lies in `b`.
    static func firstTIFFSize(_ b: [UInt8]) -> (Int, Int)? {
        guard b.count >= 8, b[2] == 42 || b[3] == 42 else { return nil }
        let little = b[0] == 0x49
        func u16(_ o: Int) -> Int? {
            guard o >= 0, o + 2 <= b.count else { return nil }
            return little ? Int(b[o]) | Int(b[o + 1]) << 8 : Int(b[o]) << 8 | Int(b[o + 1])
        }
        func u32(_ o: Int) -> Int? {
            guard let a = u16(o), let c = u16(o + 2) else { return nil }
            return little ? a | c << 16 : a << 16 | c
        }
        guard let ifd = u32(4), let n = u16(ifd) else { return nil }
        var w: Int?, h: Int?
        for k in 0..<n {
            let e = ifd + 2 + 12 * k
            guard let tag = u16(e), let type = u16(e + 2) else { return nil }
            guard tag == 256 || tag == 257 else { continue }
            let value = type == 3 ? u16(e + 8) : type == 4 ? u32(e + 8) : nil
            if tag == 256 { w = value } else { h = value }
        }
        guard let w, let h else { return nil }
        return (w, h)
    }

    private static func message(_ image: inout jl_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    private static func check(_ status: Int32, _ image: inout jl_image, _ format: Format) throws {
        switch Int(status) {
        case Int(JL_OK): return
        case Int(JL_TOO_LARGE): throw JouleError("too large: " + message(&image))
        case Int(JL_EMPTY): throw JouleError("empty image: " + message(&image))
        default: throw JouleError("corrupt \(format.rawValue): " + message(&image))
        }
    }

    /// Copies the C image's samples into a RasterImage and frees them.
    private static func take(_ image: inout jl_image) -> RasterImage {
        defer { jl_image_free(&image) }
        let w = Int(image.width), h = Int(image.height), c = Int(image.channels), depth = Int(image.depth)
        let n = w * h * c
        var samples = [UInt16](repeating: 0, count: n)
        if depth == 16 {
            let src = image.pixels.bindMemory(to: UInt16.self, capacity: n)
            for i in 0..<n { samples[i] = src[i] }
        } else {
            let src = image.pixels.bindMemory(to: UInt8.self, capacity: n)
            for i in 0..<n { samples[i] = UInt16(src[i]) }
        }
        let kind: RasterImage.Kind = c == 1 ? .grey : c == 3 ? .rgb : .cmyk
        return RasterImage(width: w, height: h, kind: kind, depth: depth, fileDepth: Int(image.file_depth), samples: samples)
    }
}
