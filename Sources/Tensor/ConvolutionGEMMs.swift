/// The three GEMMs of a convolution layer, behind one interface. A layer packs its weights
/// (O × patch, row-major, patch = k·k·C in unfolding order) whenever they change, then multiplies
/// tiles of unfolded patches (see `Convolution`):
///
/// - forward: out (rows × O) = patches · Wᵀ + bias;
/// - input gradient: patch gradients = gradOut (rows × O) · W, as rows (patches × rows-major) or,
///   for one-channel input, transposed (patch × rows);
/// - weight gradient: gW (O × patch) += gradOutᵀ · patches.
///
/// Patches lie as rows (positions × patch) or, for a one-channel image, as columns (patch ×
/// positions, `transposed`). Who runs them is chosen in one place, `Kernels.convolution`; a kernel
/// family offers its own conforming type there (see `KernelFamily`), and the layers do not change.
public protocol ConvolutionGEMMs: AnyObject {
    /// Takes the layer's weights, packed as the unfolding orders a patch.
    func prepare(weights: UnsafePointer<Float>)
    func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                 output: UnsafeMutablePointer<Float>)
    func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>)
    func accumulateWeightGradient(rows: Int, gradOutput: UnsafePointer<Float>, patches: UnsafePointer<Float>, transposed: Bool,
                                  into grad: UnsafeMutablePointer<Float>)
}

/// A convolution's three GEMMs as plain GEMMs of one family (OpenBLAS, the portable loops); the
/// families with kernels of their own (PanelGEMM, bf16) subclass it for the GEMMs they serve.
public class GEMMConvolution: ConvolutionGEMMs {
    public let outChannels, patch: Int
    /// Who multiplies what this class does not override.
    public let family: KernelFamily
    /// The packed weights (O × patch), as `prepare` got them.
    var weights: UnsafePointer<Float>?

    public init(outChannels: Int, patch: Int, family: KernelFamily) {
        self.outChannels = outChannels; self.patch = patch; self.family = family
    }

    public func prepare(weights: UnsafePointer<Float>) { self.weights = weights }

    public func forward(rows: Int, patches: UnsafePointer<Float>, transposed: Bool, bias: UnsafePointer<Float>?,
                        output: UnsafeMutablePointer<Float>) {
        let o = outChannels
        // Start from the bias, then accumulate patches · Wᵀ on top of it.
        if let bias { for r in 0..<rows { Runs.copy(output + r * o, from: bias, count: o) } }
        family.multiply(GEMM(transA: transposed, transB: true, m: rows, n: o, k: patch, a: patches, b: weights!,
                             c: output, accumulate: bias != nil))
    }

    public func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>) {
        if transposed {
            family.multiply(GEMM(transA: true, transB: true, m: patch, n: rows, k: outChannels, a: weights!, b: gradOutput, c: patches))
        } else {
            family.multiply(GEMM(m: rows, n: patch, k: outChannels, a: gradOutput, b: weights!, c: patches))
        }
    }

    public func accumulateWeightGradient(rows: Int, gradOutput: UnsafePointer<Float>, patches: UnsafePointer<Float>, transposed: Bool,
                                         into grad: UnsafeMutablePointer<Float>) {
        family.multiply(GEMM(transA: true, transB: transposed, m: outChannels, n: patch, k: rows, a: gradOutput, b: patches,
                             c: grad, accumulate: true))
    }
}
