import CBF16

/// C = [C +] A · B in bfloat16 with FP32 accumulation, for SGLD's forward and input-gradient passes
/// when sampling runs in bf16 (the parameter update never does).
///
/// Why bfloat16 is enough there: it keeps FP32's exponent and 8 bits of mantissa, so each input is
/// off by at most 2⁻⁹ relative (round to nearest even) and a K-term dot product of such inputs is
/// off by about 2⁻⁹·√K·mean|aᵢbᵢ| — for the ShallowCNN's layers (K ≤ 1152) under 1 % of the sum. The
/// sums themselves are FP32. An SGLD step adds noise of σ = 0.005 per pixel and clamps the gradient
/// to ±0.03: errors of that size in its energies and gradients are far below its own noise.
///
/// The kernel (CBF16) multiplies an 8 × 32 block of C (12 × 16 in a last panel of 16 columns) with AVX512-BF16's `vdpbf16ps`, two products
/// per FP32 lane per instruction: twice FP32 FMA's multiply-adds. B is packed once per change of the
/// weights (K in pairs, as the instruction reads them); A is converted to bf16 rows first.
public enum BF16GEMM {
    /// The kernels run here: the build allows AVX-512 and the CPU and OS run AVX512-BF16 (checked
    /// once, with cpuid and xgetbv).
    public static var isAvailable: Bool { unavailableReason == nil }

    /// Why bf16 does not run here; nil where it does.
    public static let unavailableReason: String? = unavailableReason(cpuHasBF16: joule_bf16_supported() != 0,
                                                                       target: .current)

    /// Why bf16 would not run on a CPU with or without AVX512-BF16 in a build for `target`: a build
    /// for a target without AVX-512 never runs it (its kernels are left out), whatever the CPU has.
    public static func unavailableReason(cpuHasBF16: Bool, target: BuildTarget) -> String? {
        if let why = target.avx512Refusal { return why }
        return cpuHasBF16 ? nil : "this CPU has no AVX512-BF16"
    }

    /// N must be a multiple of this: panels are 32 columns wide, the last one 16 when N is an odd
    /// multiple of 16 (the 16-channel layers of small networks).
    public static let width = 16

    /// bfloat16 values for the panels of a K × N matrix (N a multiple of `width`).
    public static func packedCount(k: Int, n: Int) -> Int { 2 * ((k + 1) / 2) * n }

    /// bfloat16 values for M rows of K once converted by `multiply`'s first step.
    public static func rowsCount(m: Int, k: Int) -> Int { m * ((k + 1) & ~1) }

    /// Packs B (K × N): element (row, column) read at b[row · rowStride + column · columnStride].
    public static func pack(_ b: UnsafePointer<Float>, k: Int, n: Int, rowStride: Int, columnStride: Int,
                            into panels: UnsafeMutablePointer<UInt16>) {
        require(n % width == 0, "BF16GEMM: N = \(n) is not a multiple of \(width)")
        joule_bf16_pack_b(b, k, n, rowStride, columnStride, panels)
    }

    /// C (M × N, row stride ldc) = A (M × K, FP32, as in PanelGEMM: row- or column-major with stride
    /// lda) · B (packed), plus `bias` on every row, added to C when `accumulate`. `scratch` holds
    /// A in bf16 (`rowsCount(m:k:)` values).
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                layout: PanelGEMM.Layout = .rowMajor, panels: UnsafePointer<UInt16>,
                                bias: UnsafePointer<Float>? = nil, c: UnsafeMutablePointer<Float>, ldc: Int,
                                accumulate: Bool, scratch: UnsafeMutablePointer<UInt16>) {
        require(isAvailable, "BF16GEMM: \(unavailableReason ?? "")")
        require(n % width == 0, "BF16GEMM: N = \(n) is not a multiple of \(width)")
        joule_bf16_pack_a(a, m, k, lda, layout == .columnMajor ? 1 : 0, scratch)
        joule_bf16_gemm(m, n, k, scratch, panels, bias, c, ldc, accumulate ? 1 : 0)
    }

    /// The bfloat16 nearest to `x` (ties to even), back as a Float: what the kernel multiplies.
    public static func rounded(_ x: Float) -> Float {
        Float(bitPattern: UInt32(joule_bf16_from_float(x)) << 16)
    }
}
