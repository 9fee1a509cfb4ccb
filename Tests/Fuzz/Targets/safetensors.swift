import Formats
import Foundation

/// safetensors bytes: the header validated, then every tensor read. Any outcome but a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? SafeTensors.parse(Data(bytes: data, count: size))
    return 0
}
