import Tensor
import XCTest

/// Running a test once per kernel family. A test whose results must hold with every FP32 family wraps
/// its body in `KernelFamilies.each(self) { … }`: the body runs once per FP32 family this machine
/// runs, that family forced in-process (`Kernels.force`) whatever the default or JOULE_KERNELS would
/// pick, with the test case's setUp run again before each family after the first (a test may change
/// its model's weights). Families this CPU or build cannot run are skipped, with their reason, by
/// `KernelFamilyTests` (one test each) and named on stdout here once.
public enum KernelFamilies {
    /// The FP32 families that run here (openblas, portable, and panel on an AVX-512 build).
    public static var fp32: [KernelFamily] { Kernels.available.filter(\.isFP32) }

    /// The family forced for the body running now (nil outside `each`).
    nonisolated(unsafe) public private(set) static var current: String?

    /// A failure's description with the family it happened under, for `recordFailure` overrides.
    public static func label(_ description: String) -> String {
        current.map { "[kernel family \($0)] \(description)" } ?? description
    }

    public static func each(_ testCase: XCTestCase, _ body: () throws -> Void) rethrows {
        if !reported {
            reported = true
            print("kernel families: \(Kernels.availability); FP32 families each test runs: \(fp32.map(\.name).joined(separator: ", "))")
        }
        defer { current = nil; try? Kernels.force(nil) }
        for (i, family) in fp32.enumerated() {
            do {
                try Kernels.force(family.name)
                if i > 0 { try testCase.setUpWithError(); testCase.setUp() }
            } catch {
                XCTFail("kernel family \(family.name): \(error)")
                continue
            }
            current = family.name
            try body()
        }
    }

    nonisolated(unsafe) private static var reported = false
}
