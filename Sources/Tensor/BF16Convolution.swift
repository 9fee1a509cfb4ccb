import Foundation

/// bfloat16 GEMMs with FP32 accumulation for the convolutions of sampling replicas (a layer run in
/// `Precision.bf16`), on AVX512-BF16; nothing else. Its weight gradient, and layers it does not serve
/// (one input channel, O not a multiple of 16), run FP32 elsewhere.
public final class BF16Kernels: KernelFamily {
    public let name = "bf16"
    public var unavailableReason: String? { BF16GEMM.unavailableReason }
    public var isFP32: Bool { false }

    public func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs? {
        guard precision == .bf16, BF16Convolution.serves(inChannels: inChannels, outChannels: outChannels) else { return nil }
        return BF16Convolution(inChannels: inChannels, outChannels: outChannels, patch: patch)
    }

    /// No single GEMM (Linear, matmul) runs in bf16: they belong to FP32 passes.
    public func serves(_ gemm: GEMM) -> Bool { false }
    public func multiply(_ gemm: GEMM) { OpenBLASKernels.shared.multiply(gemm) }
}

/// The convolution GEMMs of sampling in bfloat16: the forward pass and the input gradient multiply
/// bf16 patches (or output gradients) by bf16 weights, packed once per change of the weights, and
/// accumulate in FP32 (`BF16GEMM`). The weight gradient stays FP32 (training never runs here).
/// Layers on one-channel images keep their FP32 kernels: their patches lie transposed (a column
/// per position), which the conversion to bf16 would have to gather element by element, for a
/// GEMM of K = k² (25 for the ShallowCNN) that is a few percent of a pass — measured, converting
/// cost more than the faster multiply saved.
public final class BF16Convolution: GEMMConvolution {
    private var forwardPanels: [UInt16]
    private var backwardPanels: [UInt16]?
    /// bf16 copies of A, one per thread multiplying at once (tiles run on several cores).
    private let scratch = ScratchPool<UInt16>()

    public init(inChannels: Int, outChannels: Int, patch: Int) {
        require(outChannels % BF16GEMM.width == 0, "BF16Convolution: output channels must be a multiple of \(BF16GEMM.width)")
        forwardPanels = [UInt16](repeating: 0, count: BF16GEMM.packedCount(k: patch, n: outChannels))
        if patch % BF16GEMM.width == 0 {
            backwardPanels = [UInt16](repeating: 0, count: BF16GEMM.packedCount(k: outChannels, n: patch))
        }
        super.init(outChannels: outChannels, patch: patch, family: OpenBLASKernels.shared)
    }

    /// Layers this family serves (several input channels, O a multiple of 16); others keep FP32.
    public static func serves(inChannels: Int, outChannels: Int) -> Bool { inChannels > 1 && outChannels % BF16GEMM.width == 0 }

    public override func prepare(weights: UnsafePointer<Float>) {
        super.prepare(weights: weights)
        // Wᵀ (patch × O) for the forward pass, W (O × patch) for the input gradient.
        forwardPanels.withUnsafeMutableBufferPointer {
            BF16GEMM.pack(weights, k: patch, n: outChannels, rowStride: 1, columnStride: patch, into: $0.baseAddress!)
        }
        backwardPanels?.withUnsafeMutableBufferPointer {
            BF16GEMM.pack(weights, k: outChannels, n: patch, rowStride: patch, columnStride: 1, into: $0.baseAddress!)
        }
    }

    // Patches lie transposed only for one-channel layers, which this family does not serve (`serves`).
    public override func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>) {
        require(!transposed, "BF16Convolution serves layers of several input channels only")
        scratch.with(count: BF16GEMM.rowsCount(m: rows, k: patch)) { a in
            forwardPanels.withUnsafeBufferPointer { panels in
                BF16GEMM.multiply(m: rows, n: outChannels, k: patch, a: patches, lda: patch, panels: panels.baseAddress!,
                                  bias: bias, c: output, ldc: outChannels, accumulate: false, scratch: a)
            }
        }
    }

    public override func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>) {
        require(!transposed, "BF16Convolution serves layers of several input channels only")
        guard let backward = backwardPanels else {
            return super.inputGradient(rows: rows, gradOutput: gradOutput, transposed: transposed, patches: patches)
        }
        scratch.with(count: BF16GEMM.rowsCount(m: rows, k: outChannels)) { a in
            backward.withUnsafeBufferPointer { panels in
                BF16GEMM.multiply(m: rows, n: patch, k: outChannels, a: gradOutput, lda: outChannels,
                                  panels: panels.baseAddress!, c: patches, ldc: patch, accumulate: false, scratch: a)
            }
        }
    }
}
