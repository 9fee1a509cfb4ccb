import Formats
import Foundation

/// Training-state bytes for a small trainer (one 2×3 weight, two pools of four 3-value images, a
/// script generator), as a resume reads them. Any outcome but a crash is fine.
let expected = TrainingStateFile.Expectation(parameters: [(name: "w", shape: [2, 3])], pools: 2, capacity: 4,
                                             imageSize: 3, generators: ["script"], extraPrefixes: ["guard.", "sampler."])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    _ = try? TrainingStateFile.parse(Data(bytes: data, count: size), expected: expected)
    return 0
}
