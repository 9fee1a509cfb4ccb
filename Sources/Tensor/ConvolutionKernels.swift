/// The three GEMMs of a convolution layer, behind one interface, and the one place that chooses
/// who runs them. A layer packs its weights (O × patch, row-major, patch = k·k·C in unfolding
/// order) whenever they change, then multiplies tiles of unfolded patches (see `Convolution`):
///
/// - forward: out (rows × O) = patches · Wᵀ + bias;
/// - input gradient: patch gradients = gradOut (rows × O) · W, as rows (patches × rows-major) or,
///   for one-channel input, transposed (patch × rows);
/// - weight gradient: gW (O × patch) += gradOutᵀ · patches.
///
/// Patches lie as rows (positions × patch) or, for a one-channel image, as columns (patch ×
/// positions, `transposed`). A new kernel family (bfloat16, a GPU) is a new conforming type and a
/// line in `ConvolutionKernels.make`; the layers do not change.
public protocol ConvolutionGEMMs: AnyObject {
    /// Takes the layer's weights, packed as the unfolding orders a patch.
    func prepare(weights: UnsafePointer<Float>)
    func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>)
    func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>)
    func accumulateWeightGradient(rows: Int, gradOutput: UnsafePointer<Float>, patches: UnsafePointer<Float>, transposed: Bool,
                                  into grad: UnsafeMutablePointer<Float>)
}

public enum ConvolutionKernels {
    /// The kernels for a layer of `inChannels` → `outChannels` with `patch` values per patch:
    /// `PanelGEMM` for the GEMMs it serves on this CPU, OpenBLAS for the rest; in bf16 (where the
    /// CPU has it and the layer's shape suits it) `BF16Convolution`.
    public static func make(inChannels: Int, outChannels: Int, patch: Int, precision: Precision = .fp32) -> ConvolutionGEMMs {
        if precision.available == .bf16, BF16Convolution.serves(inChannels: inChannels, outChannels: outChannels) {
            return BF16Convolution(inChannels: inChannels, outChannels: outChannels, patch: patch)
        }
        let w = PanelGEMM.width
        // One-channel input folds transposed patch gradients: BLAS serves that GEMM.
        let forward = PanelGEMM.isAvailable && outChannels % w == 0
        let backward = PanelGEMM.isAvailable && inChannels > 1 && patch % w == 0
        if forward || backward { return PanelConvolution(outChannels: outChannels, patch: patch, forward: forward, backward: backward) }
        return BLASConvolution(outChannels: outChannels, patch: patch)
    }
}

/// Every GEMM in OpenBLAS.
public class BLASConvolution: ConvolutionGEMMs {
    public let outChannels, patch: Int
    /// The packed weights (O × patch), as `prepare` got them.
    var weights: UnsafePointer<Float>?

    public init(outChannels: Int, patch: Int) { self.outChannels = outChannels; self.patch = patch }

    public func prepare(weights: UnsafePointer<Float>) { self.weights = weights }

    public func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                        output: UnsafeMutablePointer<Float>) {
        let o = outChannels
        // Start from the bias, then accumulate patches · Wᵀ on top of it (beta = 1).
        if let bias { for r in 0..<rows { Runs.copy(output + r * o, from: bias, count: o) } }
        BLAS.gemm(transA: transposed, transB: true, m: rows, n: o, k: patch, a: patches, b: weights!,
                  beta: bias == nil ? 0 : 1, c: output)
    }

    public func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>) {
        if transposed {
            BLAS.gemm(transA: true, transB: true, m: patch, n: rows, k: outChannels, a: weights!, b: gradOutput, c: patches)
        } else {
            BLAS.gemm(m: rows, n: patch, k: outChannels, a: gradOutput, b: weights!, c: patches)
        }
    }

    public func accumulateWeightGradient(rows: Int, gradOutput: UnsafePointer<Float>, patches: UnsafePointer<Float>, transposed: Bool,
                                         into grad: UnsafeMutablePointer<Float>) {
        BLAS.gemm(transA: true, transB: transposed, m: outChannels, n: patch, k: rows, a: gradOutput, b: patches, beta: 1, c: grad)
    }
}

/// The forward GEMM and, where it applies, the input gradient's in `PanelGEMM` with the weights
/// packed once per change; the rest in OpenBLAS.
public final class PanelConvolution: BLASConvolution {
    private let forwardPanels: Tensor?, backwardPanels: Tensor?

    public init(outChannels: Int, patch: Int, forward: Bool, backward: Bool) {
        forwardPanels = forward ? Tensor(shape: [PanelGEMM.packedCount(k: patch, n: outChannels)]) : nil
        backwardPanels = backward ? Tensor(shape: [PanelGEMM.packedCount(k: outChannels, n: patch)]) : nil
        super.init(outChannels: outChannels, patch: patch)
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
