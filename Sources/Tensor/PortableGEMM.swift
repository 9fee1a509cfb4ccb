/// C = op(A) · op(B) [+ C] in plain Swift: correct on any CPU the build targets, with no library and
/// no instruction set assumed — what runs where no better kernel does, and a reference for the others.
///
/// Blocked for the cache, not tuned: op(B) is taken a block of `kBlock` rows × `nBlock` columns at a
/// time (128 KB, within any L2), and every row of C adds `a(i, p) · row p of the block` into its
/// `nBlock`-float segment (1 KB, in L1 while the block's rows go by). That inner step is an axpy on
/// contiguous floats, written with SIMD8 so that it vectorises on any x86-64 or ARM target. Rows of
/// B lie contiguous as stored; Bᵀ's block is copied into rows first. Each element of C sums its
/// products in order of p, without fused multiply-adds (Swift fuses none), so the same inputs give
/// the same bits on every CPU.
public enum PortableGEMM {
    static let kBlock = 128, nBlock = 256

    /// Floats of the scratch `multiply` needs (it uses it for a transposed B).
    public static var scratchCount: Int { kBlock * nBlock }

    public static func multiply(_ g: GEMM, scratch: UnsafeMutablePointer<Float>) {
        let (m, n, k) = (g.m, g.n, g.k)
        if !g.accumulate { g.c.update(repeating: 0, count: m * n) }
        guard m > 0, n > 0, k > 0 else { return }
        var p0 = 0
        while p0 < k {
            let kb = Swift.min(kBlock, k - p0)
            var j0 = 0
            while j0 < n {
                let nb = Swift.min(nBlock, n - j0)
                let block: UnsafePointer<Float>, ldb: Int
                if g.transB {
                    // Bᵀ stored (n × k): op(B)'s element (p, j) is b[j·k + p].
                    for j in 0..<nb {
                        let column = g.b + (j0 + j) * k + p0
                        for p in 0..<kb { scratch[p * nb + j] = column[p] }
                    }
                    block = UnsafePointer(scratch); ldb = nb
                } else {
                    block = g.b + p0 * n + j0; ldb = n
                }
                for i in 0..<m {
                    let row = g.c + i * n + j0
                    for p in 0..<kb {
                        // Aᵀ stored (k × m): op(A)'s element (i, p) is a[p·m + i].
                        let s = g.transA ? g.a[(p0 + p) * m + i] : g.a[i * k + p0 + p]
                        axpy(row, s, block + p * ldb, nb)
                    }
                }
                j0 += nb
            }
            p0 += kb
        }
    }

    /// y[0..<count] += s · x[0..<count].
    @inline(__always)
    private static func axpy(_ y: UnsafeMutablePointer<Float>, _ s: Float, _ x: UnsafePointer<Float>, _ count: Int) {
        typealias V = SIMD8<Float>
        let sv = V(repeating: s)
        var j = 0
        while j + 8 <= count {
            let v = UnsafeRawPointer(y + j).loadUnaligned(as: V.self) + sv * UnsafeRawPointer(x + j).loadUnaligned(as: V.self)
            UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: V.self)
            j += 8
        }
        while j < count { y[j] += s * x[j]; j += 1 }
    }
}

/// The portable loops for every GEMM, convolutions' included: runs wherever Joule builds.
public final class PortableKernels: KernelFamily {
    public let name = "portable"
    public var unavailableReason: String? { nil }
    public var isFP32: Bool { true }
    private let scratch = ScratchPool<Float>()

    public func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs? {
        GEMMConvolution(outChannels: outChannels, patch: patch, family: self)
    }

    public func serves(_ gemm: GEMM) -> Bool { true }

    public func multiply(_ g: GEMM) {
        scratch.with(count: PortableGEMM.scratchCount) { PortableGEMM.multiply(g, scratch: $0) }
    }
}
