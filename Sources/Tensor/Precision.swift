/// The arithmetic a pass runs in. FP32 everywhere by default (every parity test); SGLD's forward and
/// input-gradient passes may run their GEMMs in bfloat16 with FP32 accumulation (see `BF16GEMM`).
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16

    /// What runs on this machine when `self` is asked for: bf16 needs AVX512-BF16 and a build that
    /// allows AVX-512, and no FP32 kernel family forced (`Kernels`).
    public var available: Precision { self == .bf16 && Self.bf16Unavailable != nil ? .fp32 : self }

    /// Why bf16 runs as FP32 here; nil when it runs.
    public static var bf16Unavailable: String? {
        if let why = BF16GEMM.unavailableReason { return why }
        if let f = Kernels.forced, f.isFP32 { return "the FP32 kernel family \(f.name) is forced" }
        return nil
    }
}

/// What a sampler asks for: one arithmetic for every convolution (`fp32`, `bf16`), or `auto`, per
/// convolution shape whichever of them runs faster on this CPU, measured once and cached
/// (`PrecisionTuning` in NN). Auto is the samplers' default: bf16 sampling learns as FP32 does
/// (the README's learning table), so the faster one is the better default; where bf16 is slower
/// (a CPU whose `vdpbf16ps` has half FP32 FMA's throughput) or absent, auto is FP32.
public enum SamplingPrecision: String, Sendable, CaseIterable {
    case auto, fp32, bf16

    /// "'auto', 'fp32' or 'bf16'", for messages.
    public static let choices = "'auto', 'fp32' or 'bf16'"
}
