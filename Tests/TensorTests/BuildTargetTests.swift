import Tensor
import XCTest

/// What a build for an AVX2 target (JOULE_TARGET_CPU=x86-64-v3) chooses, checked in any build: each
/// choice is a function of the CPU's flags and the build target, so both targets are asked here, on
/// CPUs with and without the instructions.
final class BuildTargetTests: XCTestCase {
    let avx2 = BuildTarget(cpu: "x86-64-v3", vectors: "AVX2", allowsAVX512: false)
    let avx512 = BuildTarget(cpu: "x86-64-v4", vectors: "AVX-512", allowsAVX512: true)
    let zen4: Set = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"]

    func testAnAVX2BuildNeverRunsBF16EvenWhereTheCPUHasIt() {
        XCTAssertEqual(avx2.description, "x86-64-v3 (AVX2)")
        XCTAssertEqual(BF16GEMM.unavailableReason(cpuHasBF16: true, target: avx2), "this build targets x86-64-v3 (AVX2)")
        XCTAssertEqual(BF16GEMM.unavailableReason(cpuHasBF16: false, target: avx2), "this build targets x86-64-v3 (AVX2)")
        XCTAssertNil(BF16GEMM.unavailableReason(cpuHasBF16: true, target: .native))
        XCTAssertNil(BF16GEMM.unavailableReason(cpuHasBF16: true, target: avx512))
        XCTAssertEqual(BF16GEMM.unavailableReason(cpuHasBF16: false, target: .native), "this CPU has no AVX512-BF16")
    }

    func testAnAVX2BuildRunsOpenBLASsHaswellKernelsOnAnAVX512CPU() {
        XCTAssertEqual(BLASKernel.preferredCoreType(cpuFlags: zen4, target: avx2), "Haswell")
        XCTAssertEqual(BLASKernel.preferredCoreType(cpuFlags: zen4, target: avx512), "SkylakeX")
        XCTAssertEqual(BLASKernel.preferredCoreType(cpuFlags: zen4, target: .native), "SkylakeX")
        XCTAssertNil(BLASKernel.preferredCoreType(cpuFlags: ["sse4_2", "avx"], target: avx2), "no AVX2 CPU: the library's own choice")
    }

    func testPanelGEMMIsLeftToNativeBuilds() {
        XCTAssertNil(PanelGEMM.unavailableReason(cpuFlags: zen4, target: .native))
        XCTAssertEqual(PanelGEMM.unavailableReason(cpuFlags: ["avx2", "fma"], target: .native), "this CPU has no avx512f, avx512vl")
        let why = PanelGEMM.unavailableReason(cpuFlags: zen4, target: avx2)
        XCTAssertTrue(why?.hasPrefix("this build targets x86-64-v3 (AVX2)") == true, why ?? "nil")
    }

    /// This binary's own families follow its target: in an AVX2 build bf16 and PanelGEMM are refused
    /// with the target as the reason (and bf16 sampling runs FP32); in a native one they are refused
    /// only for what the CPU lacks.
    func testThisBuildsFamiliesFollowItsTarget() throws {
        let target = BuildTarget.current
        XCTAssertEqual(target.isNative, target.vectors == nil)
        let bf16 = try XCTUnwrap(Kernels.families.first { $0.name == "bf16" })
        if let refusal = target.avx512Refusal {
            XCTAssertEqual(bf16.unavailableReason, refusal)
            XCTAssertEqual(Precision.bf16.available, .fp32)
            XCTAssertTrue(Kernels.availability.contains("bf16 (\(refusal))"), Kernels.availability)
            XCTAssertNotEqual(BLASKernel.preferredCoreType(target: target), "SkylakeX")
        } else {
            XCTAssertFalse(bf16.unavailableReason?.contains("build targets") ?? false)
        }
        if !target.isNative {
            XCTAssertTrue(PanelGEMM.unavailableReason?.contains(target.description) == true, PanelGEMM.unavailableReason ?? "nil")
        }
    }
}
