/// C = op(A) · op(B) [+ C] in plain Swift: correct on any CPU the build targets, with no library and
/// no instruction set assumed — what runs where no better kernel does, and a reference for the others.
///
/// Blocked for the cache, not tuned: op(B) is taken a block of `kBlock` rows × `nBlock` columns at a
/// time (128 KB, within any L2), and every row of C adds `a(i, p) · row p of the block` into its
/// `nBlock`-float segment (1 KB, in L1 while the block's rows go by). That inner step is an axpy on
/// contiguous floats, written with SIMD8 so that it vectorises on any x86-64 or ARM target. Rows of
/// B lie contiguous as stored; Bᵀ's block is copied into rows first.
///
/// Accuracy: each product is added with a fused multiply-add, and a block's `kBlock` products are
/// summed apart before they go onto C, so an element of C sees about K/kBlock + kBlock roundings in
/// a row, not K. Summed plainly (one rounding more per product, K in a row) the weight gradients were
/// close enough for the 1e-4 gradient parity but two Adam steps (which divide each gradient by its
/// own magnitude, so a tiny gradient's relative error shows) missed PyTorch's weights by 1.4e-5 of the
/// largest, over the 1e-5 the other families meet. IEEE fused multiply-adds round the same on every
/// CPU, so the same inputs give the same bits everywhere.
public enum PortableGEMM {
    static let kBlock = 128, nBlock = 256

    /// Floats of the scratch `multiply` needs: a row of sums, and a block of Bᵀ when B is transposed.
    public static var scratchCount: Int { nBlock + kBlock * nBlock }

    public static func multiply(_ g: GEMM, scratch: UnsafeMutablePointer<Float>) {
        let (m, n, k) = (g.m, g.n, g.k)
        if !g.accumulate { g.c.update(repeating: 0, count: m * n) }
        guard m > 0, n > 0, k > 0 else { return }
        let sum = scratch, packed = scratch + nBlock
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
                        for p in 0..<kb { packed[p * nb + j] = column[p] }
                    }
                    block = UnsafePointer(packed); ldb = nb
                } else {
                    block = g.b + p0 * n + j0; ldb = n
                }
                for i in 0..<m {
                    // The block's sum apart, then onto C: K/kBlock + kBlock additions in a row rather than K.
                    sum.update(repeating: 0, count: nb)
                    for p in 0..<kb {
                        // Aᵀ stored (k × m): op(A)'s element (i, p) is a[p·m + i].
                        let s = g.transA ? g.a[(p0 + p) * m + i] : g.a[i * k + p0 + p]
                        axpy(sum, s, block + p * ldb, nb)
                    }
                    add(g.c + i * n + j0, sum, nb)
                }
                j0 += nb
            }
            p0 += kb
        }
    }

    private typealias V = SIMD8<Float>
    @inline(__always) private static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }

    /// y[0..<count] += s · x[0..<count], each a fused multiply-add (one rounding, as the other
    /// families' kernels; exact in software where the CPU has no FMA).
    @inline(__always)
    private static func axpy(_ y: UnsafeMutablePointer<Float>, _ s: Float, _ x: UnsafePointer<Float>, _ count: Int) {
        let sv = V(repeating: s)
        var j = 0
        while j + 8 <= count { store(load(y + j).addingProduct(sv, load(x + j)), y + j); j += 8 }
        while j < count { y[j] = y[j].addingProduct(s, x[j]); j += 1 }
    }

    /// y[0..<count] += x[0..<count].
    @inline(__always)
    private static func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) {
        var j = 0
        while j + 8 <= count { store(load(y + j) + load(x + j), y + j); j += 8 }
        while j < count { y[j] += x[j]; j += 1 }
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
