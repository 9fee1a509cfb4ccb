import Foundation
import Notebook

/// .ipynb bytes: parsed as a notebook (nbformat 4, cells checked) and written back. Any outcome but
/// a crash is fine.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let nb = try? NotebookFile.parse(Data(bytes: data, count: size), name: "fuzz.ipynb") else { return 0 }
    _ = nb.serialized()
    return 0
}
