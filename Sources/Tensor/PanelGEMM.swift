/// C = [C +] A · B for the convolutions' GEMMs, with B packed once into panels of 32 columns.
///
/// OpenBLAS packs both operands on every call: for a convolution that means its weights again for
/// every tile, and the unfolded patches once more after unfolding wrote them. Here the weights are
/// packed when they change (`pack`), the patches are read where the unfolding left them, and an
/// 8 × 32 block of C stays in sixteen 16-float registers over the whole K loop, each step one
/// broadcast of A per row and two fused multiply-adds per row. That needs AVX-512 (32 vector
/// registers of 16 floats) and a build for it; elsewhere `isAvailable` is false and callers use BLAS.
///
/// N of 16 channels (or 48, 80, …), the narrow layers, goes in panels of 16 columns: an 8 × 16 block
/// of C in eight registers, one load of B and eight broadcasts of A per eight multiply-adds. Half
/// the multiply-adds per broadcast of the 32-wide block, but on Zen 4 a 512-bit FMA issues once a
/// cycle (two 256-bit halves) and the broadcasts go to the load ports beside it, and OpenBLAS, the
/// alternative, packs both operands on every call for products of K = 16 (a Winograd position's).
public enum PanelGEMM {
    public static let width = 32
    /// The panels' width for N that is not a multiple of `width`.
    public static let narrowWidth = 16

    /// The panel width for N columns: 32, else 16; nil when N is a multiple of neither.
    public static func panelWidth(n: Int) -> Int? { n % width == 0 ? width : n % narrowWidth == 0 ? narrowWidth : nil }

    /// Compiled for the building CPU (a native build, `BuildTarget`) and running on one with AVX-512.
    public static var isAvailable: Bool { unavailableReason == nil }

    /// Why not, where it is not available: the CPU's missing flags, or a build for another CPU.
    public static let unavailableReason: String? = unavailableReason(cpuFlags: BLASKernel.readCPUFlags(), target: .current)

    /// Why PanelGEMM would not run on a CPU with these flags in a build for `target`. Its blocks
    /// need AVX-512's 32 registers, and a build for a named target (even an AVX-512 one) does not
    /// compile them for the CPU that runs them, so they are left to native builds.
    public static func unavailableReason(cpuFlags: Set<String>, target: BuildTarget) -> String? {
        guard target.isNative else {
            return "this build targets \(target.description), not the building CPU: PanelGEMM is left to AVX-512 builds for the native CPU"
        }
        let missing = ["avx512f", "avx512vl"].filter { !cpuFlags.contains($0) }
        return missing.isEmpty ? nil : "this CPU has no \(missing.joined(separator: ", "))"
    }

    /// Floats of the panels of a K × N matrix (N a multiple of 16).
    public static func packedCount(k: Int, n: Int) -> Int { k * n }

    /// Packs B (K × N) into panels: panel j holds, for each of the K rows, columns wj ..< wj + w
    /// (w = `panelWidth(n:)`).
    /// B's element (row, column) is read at b[row · rowStride + column · columnStride], so either
    /// B or Bᵀ can be packed from a row-major array.
    public static func pack(_ b: UnsafePointer<Float>, k: Int, n: Int, rowStride: Int, columnStride: Int,
                            into panels: UnsafeMutablePointer<Float>) {
        guard let w = panelWidth(n: n) else { return require(false, "PanelGEMM: N = \(n) is not a multiple of \(narrowWidth)") }
        for j in 0..<(n / w) {
            for row in 0..<k {
                let dst = panels + (j * k + row) * w
                for c in 0..<w { dst[c] = b[row * rowStride + (j * w + c) * columnStride] }
            }
        }
    }

    /// How A's elements lie: row-major (each row's K values contiguous, stride `lda` between rows) or
    /// column-major (each of the K columns' M values contiguous, stride `lda` between columns — the
    /// transposed patches of a one-channel convolution).
    public enum Layout { case rowMajor, columnMajor }

    /// C (M × N, row stride ldc) = A (M × K) · B, plus `bias` (N) on every row when given, and added
    /// to C when `accumulate`.
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, layout: Layout = .rowMajor,
                                panels: UnsafePointer<Float>, bias: UnsafePointer<Float>? = nil,
                                c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool) {
        require(panelWidth(n: n) != nil, "PanelGEMM: N = \(n) is not a multiple of \(narrowWidth)")
        switch layout {
        case .rowMajor:
            multiply(m, n, k, RowMajor(base: a, ld: lda), panels, bias, c, ldc, accumulate)
        case .columnMajor:
            multiply(m, n, k, ColumnMajor(base: a, ld: lda), panels, bias, c, ldc, accumulate)
        }
    }

    private static func multiply<A: Operand>(_ m: Int, _ n: Int, _ k: Int, _ a: A, _ panels: UnsafePointer<Float>,
                                             _ bias: UnsafePointer<Float>?, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                             _ accumulate: Bool) {
        if n % width != 0 { return multiplyNarrow(m, n, k, a, panels, bias, c, ldc, accumulate) }
        for j in 0..<(n / width) {
            // The bias is added after the sum, as PyTorch's convolutions do: the same rounding.
            let biasRow = bias.map { (load($0 + j * width), load($0 + j * width + 16)) } ?? (V(), V())
            let panel = panels + j * k * width
            var i = 0
            while i + 8 <= m {
                block8(k, a.rows(from: i), panel, biasRow, c + i * ldc + j * width, ldc, accumulate)
                i += 8
            }
            while i < m {
                block1(k, a.rows(from: i), panel, biasRow, c + i * ldc + j * width, accumulate)
                i += 1
            }
        }
    }

    /// `multiply` in panels of 16 columns.
    private static func multiplyNarrow<A: Operand>(_ m: Int, _ n: Int, _ k: Int, _ a: A, _ panels: UnsafePointer<Float>,
                                                   _ bias: UnsafePointer<Float>?, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                                                   _ accumulate: Bool) {
        let w = narrowWidth
        for j in 0..<(n / w) {
            let biasRow = bias.map { load($0 + j * w) } ?? V()
            let panel = panels + j * k * w
            var i = 0
            while i + 8 <= m {
                narrow8(k, a.rows(from: i), panel, biasRow, c + i * ldc + j * w, ldc, accumulate)
                i += 8
            }
            while i < m {
                var c0 = V()
                let row = a.rows(from: i)
                for p in 0..<k { c0 = c0.addingProduct(V(repeating: row.at(0, p)), load(panel + p * w)) }
                put(c0 + biasRow, c + i * ldc + j * w, accumulate)
                i += 1
            }
        }
    }

    /// Eight rows of A times one 16-wide panel, the eight accumulators spelled out.
    @inline(__always)
    private static func narrow8<A: Operand>(_ k: Int, _ a: A, _ b: UnsafePointer<Float>, _ bias: V,
                                            _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c0 = V(), c1 = V(), c2 = V(), c3 = V(), c4 = V(), c5 = V(), c6 = V(), c7 = V()
        var bp = b
        for p in 0..<k {
            let b0 = load(bp)
            c0 = c0.addingProduct(V(repeating: a.at(0, p)), b0); c1 = c1.addingProduct(V(repeating: a.at(1, p)), b0)
            c2 = c2.addingProduct(V(repeating: a.at(2, p)), b0); c3 = c3.addingProduct(V(repeating: a.at(3, p)), b0)
            c4 = c4.addingProduct(V(repeating: a.at(4, p)), b0); c5 = c5.addingProduct(V(repeating: a.at(5, p)), b0)
            c6 = c6.addingProduct(V(repeating: a.at(6, p)), b0); c7 = c7.addingProduct(V(repeating: a.at(7, p)), b0)
            bp += narrowWidth
        }
        put(c0 + bias, c, accumulate); put(c1 + bias, c + ldc, accumulate)
        put(c2 + bias, c + 2 * ldc, accumulate); put(c3 + bias, c + 3 * ldc, accumulate)
        put(c4 + bias, c + 4 * ldc, accumulate); put(c5 + bias, c + 5 * ldc, accumulate)
        put(c6 + bias, c + 6 * ldc, accumulate); put(c7 + bias, c + 7 * ldc, accumulate)
    }

    private protocol Operand {
        /// Element (row, p) of A, rows counted from this view's first row.
        func at(_ row: Int, _ p: Int) -> Float
        func rows(from i: Int) -> Self
    }

    private struct RowMajor: Operand {
        let base: UnsafePointer<Float>, ld: Int
        @inline(__always) func at(_ row: Int, _ p: Int) -> Float { base[row * ld + p] }
        @inline(__always) func rows(from i: Int) -> RowMajor { RowMajor(base: base + i * ld, ld: ld) }
    }

    private struct ColumnMajor: Operand {
        let base: UnsafePointer<Float>, ld: Int
        @inline(__always) func at(_ row: Int, _ p: Int) -> Float { base[p * ld + row] }
        @inline(__always) func rows(from i: Int) -> ColumnMajor { ColumnMajor(base: base + i, ld: ld) }
    }

    private typealias V = SIMD16<Float>
    @inline(__always) private static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    @inline(__always) private static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
    }
    @inline(__always) private static func put(_ x: V, _ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        store(accumulate ? load(p) + x : x, p)
    }
    @inline(__always) private static func put(_ x0: V, _ x1: V, _ p: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        if accumulate {
            store(load(p) + x0, p); store(load(p + 16) + x1, p + 16)
        } else {
            store(x0, p); store(x1, p + 16)
        }
    }

    /// Eight rows of A times one panel; the accumulators are spelled out so that they stay in registers.
    @inline(__always)
    private static func block8<A: Operand>(_ k: Int, _ a: A, _ b: UnsafePointer<Float>, _ bias: (V, V),
                                           _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ accumulate: Bool) {
        var c00 = V(), c01 = V(), c10 = V(), c11 = V(), c20 = V(), c21 = V(), c30 = V(), c31 = V()
        var c40 = V(), c41 = V(), c50 = V(), c51 = V(), c60 = V(), c61 = V(), c70 = V(), c71 = V()
        var bp = b
        for p in 0..<k {
            let b0 = load(bp), b1 = load(bp + 16)
            var s = V(repeating: a.at(0, p)); c00 = c00.addingProduct(s, b0); c01 = c01.addingProduct(s, b1)
            s = V(repeating: a.at(1, p)); c10 = c10.addingProduct(s, b0); c11 = c11.addingProduct(s, b1)
            s = V(repeating: a.at(2, p)); c20 = c20.addingProduct(s, b0); c21 = c21.addingProduct(s, b1)
            s = V(repeating: a.at(3, p)); c30 = c30.addingProduct(s, b0); c31 = c31.addingProduct(s, b1)
            s = V(repeating: a.at(4, p)); c40 = c40.addingProduct(s, b0); c41 = c41.addingProduct(s, b1)
            s = V(repeating: a.at(5, p)); c50 = c50.addingProduct(s, b0); c51 = c51.addingProduct(s, b1)
            s = V(repeating: a.at(6, p)); c60 = c60.addingProduct(s, b0); c61 = c61.addingProduct(s, b1)
            s = V(repeating: a.at(7, p)); c70 = c70.addingProduct(s, b0); c71 = c71.addingProduct(s, b1)
            bp += width
        }
        let (s0, s1) = bias
        put(c00 + s0, c01 + s1, c, accumulate); put(c10 + s0, c11 + s1, c + ldc, accumulate)
        put(c20 + s0, c21 + s1, c + 2 * ldc, accumulate); put(c30 + s0, c31 + s1, c + 3 * ldc, accumulate)
        put(c40 + s0, c41 + s1, c + 4 * ldc, accumulate); put(c50 + s0, c51 + s1, c + 5 * ldc, accumulate)
        put(c60 + s0, c61 + s1, c + 6 * ldc, accumulate); put(c70 + s0, c71 + s1, c + 7 * ldc, accumulate)
    }

    @inline(__always)
    private static func block1<A: Operand>(_ k: Int, _ a: A, _ b: UnsafePointer<Float>, _ bias: (V, V),
                                           _ c: UnsafeMutablePointer<Float>, _ accumulate: Bool) {
        var c0 = V(), c1 = V()
        for p in 0..<k {
            let s = V(repeating: a.at(0, p))
            c0 = c0.addingProduct(s, load(b + p * width)); c1 = c1.addingProduct(s, load(b + p * width + 16))
        }
        put(c0 + bias.0, c1 + bias.1, c, accumulate)
    }
}
