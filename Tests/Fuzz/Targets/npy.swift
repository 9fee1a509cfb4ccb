import Formats
import Foundation

/// .npy bytes (one array or several appended, as split files are): parsed, and each array's
/// elements read, as loadSplit reads them. Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let arrays = try? Npy.parse(Data(bytes: data, count: size)) else { return 0 }
    for a in arrays {
        _ = a.tensor()
        _ = try? a.ints()
    }
    return 0
}
