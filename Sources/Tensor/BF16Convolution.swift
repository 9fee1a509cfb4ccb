import Foundation

/// The convolution GEMMs of sampling in bfloat16: the forward pass and the input gradient multiply
/// bf16 patches (or output gradients) by bf16 weights, packed once per change of the weights, and
/// accumulate in FP32 (`BF16GEMM`). The weight gradient stays FP32 (training never runs here).
/// Layers on one-channel images keep their FP32 kernels: their patches lie transposed (a column
/// per position), which the conversion to bf16 would have to gather element by element, for a
/// GEMM of K = k² (25 for the ShallowCNN) that is a few percent of a pass — measured, converting
/// cost more than the faster multiply saved.
public final class BF16Convolution: BLASConvolution {
    private var forwardPanels: [UInt16]
    private var backwardPanels: [UInt16]?
    /// bf16 copies of A, one per thread multiplying at once (tiles run on several cores).
    private let scratch = ScratchPool()

    public init(inChannels: Int, outChannels: Int, patch: Int) {
        precondition(outChannels % BF16GEMM.width == 0)
        forwardPanels = [UInt16](repeating: 0, count: BF16GEMM.packedCount(k: patch, n: outChannels))
        if patch % BF16GEMM.width == 0 {
            backwardPanels = [UInt16](repeating: 0, count: BF16GEMM.packedCount(k: outChannels, n: patch))
        }
        super.init(outChannels: outChannels, patch: patch)
    }

    /// Layers this family serves (several input channels, O a multiple of 32); others keep FP32.
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
        precondition(!transposed, "BF16Convolution serves layers of several input channels only")
        scratch.with(count: BF16GEMM.rowsCount(m: rows, k: patch)) { a in
            forwardPanels.withUnsafeBufferPointer { panels in
                BF16GEMM.multiply(m: rows, n: outChannels, k: patch, a: patches, lda: patch, panels: panels.baseAddress!,
                                  bias: bias, c: output, ldc: outChannels, accumulate: false, scratch: a)
            }
        }
    }

    public override func inputGradient(rows: Int, gradOutput: UnsafePointer<Float>, transposed: Bool, patches: UnsafeMutablePointer<Float>) {
        precondition(!transposed, "BF16Convolution serves layers of several input channels only")
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

/// Buffers lent to one caller at a time, grown to the largest size asked: a tile's bf16 copy of A
/// without an allocation per tile (128 KB at a time would go to mmap and back on every call).
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [(pointer: UnsafeMutablePointer<UInt16>, count: Int)] = []

    func with<R>(count: Int, _ body: (UnsafeMutablePointer<UInt16>) throws -> R) rethrows -> R {
        lock.lock()
        var buffer = free.popLast()
        lock.unlock()
        if let b = buffer, b.count < count { b.pointer.deallocate(); buffer = nil }
        let b = buffer ?? (UnsafeMutablePointer<UInt16>.allocate(capacity: count), count)
        defer { lock.lock(); free.append(b); lock.unlock() }
        return try body(b.pointer)
    }

    deinit { for b in free { b.pointer.deallocate() } }
}
