import CBF16

/// What this binary was compiled for: the building CPU (`native`, the default) or the CPU or level
/// named by JOULE_TARGET_CPU at build time (e.g. `x86-64-v3`, an AVX2 build). Package.swift decides
/// it and passes it on through CBF16 (joule_build_target.h); everything that depends on the target
/// asks here. A build for a target without AVX-512 runs no AVX-512 code of its own, whatever the
/// running CPU has: each kernel choice is a function of the CPU and this.
public struct BuildTarget: Sendable, Equatable {
    /// "native", or the CPU or level the build was asked for.
    public let cpu: String
    /// The widest vectors the target allows ("AVX2", "AVX-512", …); nil for a native build.
    public let vectors: String?
    /// Whether this build's code may use AVX-512 where the running CPU has it.
    public let allowsAVX512: Bool

    public init(cpu: String, vectors: String?, allowsAVX512: Bool) {
        self.cpu = cpu; self.vectors = vectors; self.allowsAVX512 = allowsAVX512
    }

    public static let native = BuildTarget(cpu: "native", vectors: nil, allowsAVX512: true)

    /// This binary's target.
    public static let current: BuildTarget = {
        let cpu = String(cString: joule_build_target_cpu())
        let vectors = String(cString: joule_build_target_vectors())
        return BuildTarget(cpu: cpu, vectors: cpu == "native" ? nil : vectors, allowsAVX512: joule_build_target_avx512() != 0)
    }()

    public var isNative: Bool { cpu == "native" }

    /// "native" or, e.g., "x86-64-v3 (AVX2)", for `joule version` and `joule bench`.
    public var description: String { vectors.map { "\(cpu) (\($0))" } ?? cpu }

    /// Why AVX-512 code does not run in this build; nil where it may (the CPU permitting).
    public var avx512Refusal: String? { allowsAVX512 ? nil : "this build targets \(description)" }
}
