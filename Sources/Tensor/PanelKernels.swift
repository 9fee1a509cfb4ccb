/// `PanelGEMM` where it is compiled and the CPU runs it (AVX-512), for every GEMM whose N is a
/// multiple of 16 (its narrow panels' width); OpenBLAS for the rest (a one-channel layer's transposed
/// input gradient, a convolution's weight gradient, N of other sizes).
public final class PanelKernels: KernelFamily {
    public let name = "panel"
    public var unavailableReason: String? { PanelGEMM.unavailableReason }
    public var isFP32: Bool { true }
    /// op(B) packed into panels for a single GEMM, one buffer per thread multiplying at once.
    private let scratch = ScratchPool<Float>()

    /// FP32 in any precision: a bf16 layer reaching here runs FP32 (see `Kernels`).
    public func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs? {
        // One-channel input folds transposed patch gradients: BLAS serves that GEMM.
        let forward = PanelGEMM.panelWidth(n: outChannels) != nil
        let backward = inChannels > 1 && PanelGEMM.panelWidth(n: patch) != nil
        guard forward || backward else { return nil }
        return PanelConvolution(outChannels: outChannels, patch: patch, forward: forward, backward: backward)
    }

    public func serves(_ g: GEMM) -> Bool { PanelGEMM.panelWidth(n: g.n) != nil }

    /// Packs op(B) on every call (a single GEMM has no weights to keep packed), then multiplies.
    public func multiply(_ g: GEMM) {
        scratch.with(count: PanelGEMM.packedCount(k: g.k, n: g.n)) { panels in
            // op(B)'s element (row p, column j) is b[j·k + p] when B is stored transposed, else b[p·n + j].
            PanelGEMM.pack(g.b, k: g.k, n: g.n, rowStride: g.transB ? 1 : g.n, columnStride: g.transB ? g.k : 1, into: panels)
            // Aᵀ stored (k × m) is A in column-major order, a column of m values per p.
            PanelGEMM.multiply(m: g.m, n: g.n, k: g.k, a: g.a, lda: g.transA ? g.m : g.k, layout: g.transA ? .columnMajor : .rowMajor,
                               panels: panels, c: g.c, ldc: g.n, accumulate: g.accumulate)
        }
    }
}

/// The forward GEMM and, where it applies, the input gradient's in `PanelGEMM` with the weights
/// packed once per change; the rest in OpenBLAS.
public final class PanelConvolution: GEMMConvolution {
    private let forwardPanels: Tensor?, backwardPanels: Tensor?

    public init(outChannels: Int, patch: Int, forward: Bool, backward: Bool) {
        forwardPanels = forward ? Tensor(shape: [PanelGEMM.packedCount(k: patch, n: outChannels)]) : nil
        backwardPanels = backward ? Tensor(shape: [PanelGEMM.packedCount(k: outChannels, n: patch)]) : nil
        super.init(outChannels: outChannels, patch: patch, family: OpenBLASKernels.shared)
    }

    public override func prepare(weights: UnsafePointer<Float>) {
        super.prepare(weights: weights)
        // Wᵀ for the forward pass, W for the input gradient.
        if let f = forwardPanels {
            PanelGEMM.pack(weights, k: patch, n: outChannels, rowStride: 1, columnStride: patch, into: f.data)
        }
        if let b = backwardPanels {
            PanelGEMM.pack(weights, k: outChannels, n: patch, rowStride: patch, columnStride: 1, into: b.data)
        }
    }

    public override func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                                 output: UnsafeMutablePointer<Float>) {
        guard let f = forwardPanels else { return super.forward(rows: rows, patches: patches, transposed: transposed, bias: bias, output: output) }
        // One-channel patches lie transposed: a column per position.
        PanelGEMM.multiply(m: rows, n: outChannels, k: patch, a: patches, lda: transposed ? rows : patch,
                           layout: transposed ? .columnMajor : .rowMajor, panels: f.data,
                           bias: bias, c: output, ldc: outChannels, accumulate: false)
    }

    public override func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>) {
        guard let b = backwardPanels, !transposed else {
            return super.inputGradient(rows: rows, gradOutput: gradOutput, transposed: transposed, patches: patches)
        }
        PanelGEMM.multiply(m: rows, n: patch, k: outChannels, a: gradOutput, lda: outChannels,
                           panels: b.data, c: patches, ldc: patch, accumulate: false)
    }
}
