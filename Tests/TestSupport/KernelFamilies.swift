import Tensor
import XCTest

/// Running tests once per kernel family. A test class whose results must hold with every FP32 family
/// overrides `invokeTest` with `KernelFamilies.each { super.invokeTest() }`: each of its tests then
/// runs (setUp, test, tearDown) once per FP32 family this machine runs, that family forced in-process,
/// whatever the default would pick. Families this CPU or build cannot run are skipped, with their reason,
/// by `KernelFamilyTests` (one test each) and named on stdout here.
public enum KernelFamilies {
    /// The FP32 families that run here (openblas, portable, and panel on an AVX-512 build).
    public static var fp32: [KernelFamily] { Kernels.available.filter(\.isFP32) }

    /// The family forced for the test running now (nil outside `each`), for failure messages.
    nonisolated(unsafe) public private(set) static var current: String?

    public static func each(_ run: () -> Void) {
        if !reported {
            reported = true
            print("kernel families: \(Kernels.availability); FP32 families run per test: \(fp32.map(\.name).joined(separator: ", "))")
        }
        for family in fp32 {
            do { try Kernels.force(family.name) } catch { XCTFail("\(error)"); continue }
            current = family.name
            run()
        }
        current = nil
        try? Kernels.force(nil)
    }

    nonisolated(unsafe) private static var reported = false
}
