/// The arithmetic a pass runs in. FP32 everywhere by default (every parity test); SGLD's forward and
/// input-gradient passes may run their GEMMs in bfloat16 with FP32 accumulation (see `BF16GEMM`).
public enum Precision: String, Sendable, CaseIterable {
    case fp32, bf16

    /// What runs on this machine when `self` is asked for: bf16 needs AVX512-BF16.
    public var available: Precision { self == .bf16 && !BF16GEMM.isAvailable ? .fp32 : self }
}
