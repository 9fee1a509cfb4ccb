import Foundation
import ImageFiles

/// PNG, JPEG and TIFF bytes through the importer's decoders (libpng, libjpeg-turbo and libtiff behind
/// the C shim's error handlers) and the grey and RGB conversions. Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    // A small pixel cap keeps each input quick: the decoders' checks are what is fuzzed, not their speed.
    guard let pages = try? ImageFile.decode(Data(bytes: data, count: size), maxPixels: 1 << 20) else { return 0 }
    for p in pages {
        _ = p.grey()
        _ = p.rgb()
    }
    return 0
}
