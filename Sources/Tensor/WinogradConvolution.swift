import Foundation

/// Stride-1, padding-1 3×3 convolutions by Winograd's F(2×2, 3×3): each 2×2 block of output
/// pixels from the 4×4 block of input around it with 16 multiplications per (input, output)
/// channel pair instead of 36, so 2.25× fewer multiply-adds than the unfolded GEMM.
///
/// For a 4×4 input block d of one channel and a 3×3 kernel g, the 2×2 output is Aᵀ [(G g Gᵀ) ⊙
/// (Bᵀ d B)] A, with
///
///     Bᵀ = [1  0 −1  0]     G = [1    0   0]     Aᵀ = [1 1  1  0]
///          [0  1  1  0]         [½    ½   ½]          [0 1 −1 −1]
///          [0 −1  1  0]         [½   −½   ½]
///          [0  1  0 −1]         [0    0   1]
///
/// Summed over input channels, the elementwise product is, for each of the 16 positions ξ of the
/// 4×4 transform, one GEMM: M_ξ (tiles × O) = V_ξ (tiles × C) · U_ξᵀ, U_ξ (O × C) the transformed
/// weights. Those 16 GEMMs run in whatever kernels `Kernels.convolution` picks for a (C → O)
/// convolution of patch C — a `ConvolutionGEMMs` per ξ, its weights packed once per weight version.
/// Activations stay channels-last, so a block's 16 pixels are 16 contiguous runs of C floats and
/// the transforms run 16 channels to a vector.
///
/// The input gradient of such a layer is again one: gx = conv(gy, w′) with w′[c][o] the kernel
/// w[o][c] turned by 180°. G·(g reversed) = P·G·g where P swaps rows 0 and 3 of G (rows 1 and 2
/// are symmetric), so the transformed turned kernel is U_{(p i, p j)} at position (i, j), p = (3, 1,
/// 2, 0): the same weights, read at the mirrored position and as (O × C) instead of (C × O) — which
/// is the input-gradient GEMM a `ConvolutionGEMMs` already offers. No col2im.
///
/// ## Error bound
/// With u = 2⁻²⁴ and γₙ = n·u / (1 − n·u) (Higham's notation), each output computed here satisfies
///
///     |ŷ − y| ≤ γ_{K+8} · (Σ_c Σ_{a,b} |g_{c,ab}| Σ_{i,j} κ[y_r][a][i] κ[y_s][b][j] |d_{c,ij}| + |bias|)
///
/// where y is the exact convolution, K the channels summed (C forward, O for the input gradient)
/// and κ[r][a][i] = Σ_ξ |Aᵀ_{rξ}| |G_{ξa}| |Bᵀ_{ξi}| the magnitudes the transforms carry (below).
/// Where it comes from: every row of Bᵀ has two entries ±1, so each stage of Bᵀ d B is one
/// addition (γ₂ for both); U = G g Gᵀ is computed in Float64 and rounded once (u); the GEMM over K
/// channels rounds each product and K − 1 sums in any order (γ_K); both stages of Aᵀ m A add three
/// terms (γ₄); the bias is one more addition (u). 2 + 1 + K + 4 + 1 = K + 8.
///
///     κ[0] = [[1 1 2 0]    κ[1] = [[0 1 1 0]
///             [0 1 1 0]            [0 1 1 0]
///             [0 1 1 0]]           [0 2 1 1]]
///
/// Each row of κ sums to at most 4, so with ‖d‖ the largest input magnitude under a tile the bound
/// is at most 16·γ_{K+8}·(Σ|g| ‖d‖ + |bias|), against the direct (unfolded) sum's γ_{9K+1}·(Σ|g||d| +
/// |bias|) ≤ γ_{9K+1}·(Σ|g| ‖d‖ + |bias|): a factor 16(K + 8)/(9K + 1) — 2.0 at K = 64 (16/9 for
/// K → ∞), 2.6 at K = 16, 6.3 at K = 3, 14 at K = 1 — because the transforms add values that cancel
/// in exact arithmetic.
/// `WinogradTests` checks every output of random shapes against this bound, computed in Float64.
///
/// In bf16 (a sampler's replica, `precision`): the products' two factors, V and U, are rounded to
/// bfloat16 (round to nearest even, u_b = 2⁻⁹) before `vdpbf16ps` multiplies them exactly and adds
/// in FP32 (the pair's sum one more rounding): the bound becomes (γ_{K+9} + 2u_b + u_b²)·(the same sum), about
/// 2⁻⁸ of the magnitudes whatever K — the error bf16's unfolded GEMMs have, and the reason bf16 is
/// for sampling only. Where bf16 multiplies, Winograd's 2.25× fewer products and bf16's two
/// products per lane compound.
public final class WinogradConvolution {
    public let inChannels, outChannels: Int
    /// The transformed weights, (16, O, C): U_ξ (O × C) for each of the 16 positions ξ.
    private let transformed: Tensor
    /// Who multiplies each position's GEMMs (the same kernels for all 16).
    private let gemms: [ConvolutionGEMMs]

    /// Whether F(2×2, 3×3) computes this geometry: 3×3, stride 1, padding 1 (output size = input size).
    public static func serves(kernel: Int, stride: Int, padding: Int) -> Bool { kernel == 3 && stride == 1 && padding == 1 }

    /// The mirrored position of the input gradient's transformed (turned) kernel, see above.
    static let mirror = [3, 1, 2, 0]

    /// The arithmetic of the 16 products: FP32, or bf16 (a sampling replica's layer whose channels
    /// the bf16 GEMMs serve) — the transforms stay FP32 either way.
    public let precision: Precision

    public init(inChannels: Int, outChannels: Int, precision: Precision = .fp32) {
        self.inChannels = inChannels; self.outChannels = outChannels; self.precision = precision
        transformed = Tensor(shape: [16, outChannels, inChannels])
        gemms = (0..<16).map { _ in
            Kernels.convolution(inChannels: inChannels, outChannels: outChannels, patch: inChannels, precision: precision)
        }
    }

    /// Takes the layer's weights packed as (O, 3, 3, C) (`Conv2d`'s unfolding order) and transforms
    /// them: U = G g Gᵀ per (output, input) channel pair, in Float64, rounded once.
    public func prepare(weights: UnsafePointer<Float>) {
        let (c, o) = (inChannels, outChannels)
        let u = transformed.data
        // G applied to three values (a column or a row of the kernel): four values.
        @inline(__always) func gt(_ g0: Double, _ g1: Double, _ g2: Double) -> SIMD4<Double> {
            SIMD4(g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
        }
        for oc in 0..<o {
            for ch in 0..<c {
                @inline(__always) func g(_ t: Int) -> Double { Double(weights[(oc * 9 + t) * c + ch]) }
                // G g: the columns of the 4 × 3 result; then each of its rows times Gᵀ.
                let k0 = gt(g(0), g(3), g(6)), k1 = gt(g(1), g(4), g(7)), k2 = gt(g(2), g(5), g(8))
                for i in 0..<4 {
                    let row = gt(k0[i], k1[i], k2[i])
                    for j in 0..<4 { u[((i * 4 + j) * o + oc) * c + ch] = Float(row[j]) }
                }
            }
        }
        for xi in 0..<16 { gemms[xi].prepare(weights: u + xi * o * c) }
    }

    // MARK: Passes

    /// Tiles (2×2 output blocks) in one block of work: the block's transformed inputs and products
    /// (16 × tiles × (C + O) floats) fill part of L2 between the transforms and the GEMMs.
    public func tilesPerBlock(targetFloats: Int = 64 * 1024) -> Int {
        Swift.max(32, targetFloats / (16 * (inChannels + outChannels)))
    }

    /// Floats of workspace `forward` and `inputGradient` need for blocks of `tiles` tiles.
    public func workspaceFloats(tiles: Int) -> Int {
        16 * (Self.spread(tiles * inChannels) + Self.spread(tiles * outChannels)) + Swift.max(inChannels, outChannels)
    }

    /// Floats between the 16 positions' matrices of V or M: their size plus 16 floats, so that the
    /// 16 runs a tile's transform reads or writes fall in different sets of the L1 cache (at a
    /// power-of-two distance, 8 KB for 128 tiles of 16 channels, all 16 would share one set of 8 ways).
    static func spread(_ floats: Int) -> Int { floats + 16 }

    /// out (N, H, W, O) = conv(x (N, H, W, C)) + bias, for the images `images` of a batch of
    /// `height` × `width` images; `workspace` holds `workspaceFloats(tiles:)`.
    public func forward(height: Int, width: Int, images: Range<Int>, input x: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                        output: UnsafeMutablePointer<Float>, tiles: Int, workspace: UnsafeMutablePointer<Float>) {
        run(height: height, width: width, images: images, input: x, from: inChannels, to: outChannels, bias: bias, output: output,
            tiles: tiles, workspace: workspace) { xi, rows, v, m in
            gemms[xi].forward(rows: rows, patches: v, transposed: false, bias: nil, output: m)
        }
    }

    /// gx (N, H, W, C) = convᵀ(gy (N, H, W, O)) for the images `images`: the convolution of gy
    /// with the turned kernel (see above), writing every pixel of those images.
    public func inputGradient(height: Int, width: Int, images: Range<Int>, gradOutput gy: UnsafePointer<Float>,
                              gradInput gx: UnsafeMutablePointer<Float>, tiles: Int, workspace: UnsafeMutablePointer<Float>) {
        let p = Self.mirror
        run(height: height, width: width, images: images, input: gy, from: outChannels, to: inChannels, bias: nil, output: gx,
            tiles: tiles, workspace: workspace) { xi, rows, v, m in
            gemms[p[xi / 4] * 4 + p[xi % 4]].inputGradient(rows: rows, gradOutput: v, transposed: false, patches: m)
        }
    }

    /// A Winograd pass from `from` channels to `to`: over the tiles of the images, a block at a time,
    /// the input transform into V (16, tiles, from), `multiply(ξ, tiles, V_ξ, M_ξ)` for each ξ, and the
    /// output transform of M (16, tiles, to) into `output`.
    private func run(height: Int, width: Int, images: Range<Int>, input: UnsafePointer<Float>, from: Int, to: Int,
                     bias: UnsafePointer<Float>?, output: UnsafeMutablePointer<Float>, tiles: Int,
                     workspace: UnsafeMutablePointer<Float>,
                     multiply: (Int, Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
        let (th, tw) = ((height + 1) / 2, (width + 1) / 2)
        let perImage = th * tw
        let (sv, sm) = (Self.spread(tiles * from), Self.spread(tiles * to))
        let v = workspace, m = workspace + 16 * sv
        let zeros = m + 16 * sm
        zeros.update(repeating: 0, count: Swift.max(from, to))
        // The tiles' (image, tile row, tile column), walked in order without a division per tile.
        var start = images.lowerBound * perImage
        let end = images.upperBound * perImage
        var next = (n: images.lowerBound, ty: 0, tx: 0)
        while start < end {
            let count = Swift.min(tiles, end - start)
            let first = next
            for t in 0..<count {
                Self.inputTransform(input, image: next.n, height: height, width: width, channels: from, y0: 2 * next.ty - 1,
                                    x0: 2 * next.tx - 1, zeros: zeros, into: v + t * from, stride: sv)
                Self.advance(&next, th, tw)
            }
            for xi in 0..<16 { multiply(xi, count, v + xi * sv, m + xi * sm) }
            next = first
            for t in 0..<count {
                Self.outputTransform(m + t * to, stride: sm, channels: to, bias: bias, into: output, image: next.n,
                                     height: height, width: width, y0: 2 * next.ty, x0: 2 * next.tx)
                Self.advance(&next, th, tw)
            }
            start += count
        }
    }

    @inline(__always) private static func advance(_ p: inout (n: Int, ty: Int, tx: Int), _ th: Int, _ tw: Int) {
        p.tx += 1
        if p.tx == tw {
            p.tx = 0; p.ty += 1
            if p.ty == th { p.ty = 0; p.n += 1 }
        }
    }

    // MARK: Transforms, 16 channels to a vector

    private typealias V = SIMD16<Float>

    /// How a transform reads and writes a vector of channels: all 16 lanes (`Whole`), or the first n
    /// of them (`Part`, the last vector of a channel count that is not a multiple of 16). Two types,
    /// so that each transform is compiled twice and the whole vectors' code has no per-lane path.
    private protocol Lanes {
        static func load(_ p: UnsafePointer<Float>, _ n: Int) -> V
        static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int)
    }

    private enum Whole: Lanes {
        @inline(__always) static func load(_ p: UnsafePointer<Float>, _ n: Int) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
        }
    }

    private enum Part: Lanes {
        /// Channels c ..< c + n of a pixel; the other lanes zero.
        @inline(__always) static func load(_ p: UnsafePointer<Float>, _ n: Int) -> V {
            var v = V()
            for i in 0..<n { v[i] = p[i] }
            return v
        }
        @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
            for i in 0..<n { p[i] = v[i] }
        }
    }

    /// Bᵀ applied to four values: (d0 − d2, d1 + d2, d2 − d1, d1 − d3).
    @inline(__always) private static func bt(_ d0: V, _ d1: V, _ d2: V, _ d3: V) -> (V, V, V, V) {
        (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
    }

    /// Aᵀ applied to four values: (m0 + m1 + m2, m1 − m2 − m3).
    @inline(__always) private static func at(_ m0: V, _ m1: V, _ m2: V, _ m3: V) -> (V, V) {
        (m0 + m1 + m2, m1 - m2 - m3)
    }

    /// V = Bᵀ d B for the 4×4 block of pixels from (y0, x0) of one image (outside it: zeros), all
    /// channels; position ξ = 4i + j of channel c goes to into[ξ · stride + c].
    @inline(__always)
    private static func inputTransform(_ x: UnsafePointer<Float>, image n: Int, height: Int, width: Int, channels: Int,
                                       y0: Int, x0: Int, zeros: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>, stride: Int) {
        // A tile inside the image reads its 16 pixels at fixed offsets from its first; one on the
        // border reads zeros for those outside (a table of 16 pointers).
        if y0 >= 0 && x0 >= 0 && y0 + 4 <= height && x0 + 4 <= width {
            let base = x + ((n * height + y0) * width + x0) * channels, row = width * channels
            transform(channels, into: v, stride: stride) { k, c in base + (k >> 2) * row + (k & 3) * channels + c }
            return
        }
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>.self, capacity: 16) { pixel in
            for i in 0..<4 {
                for j in 0..<4 {
                    let (y, xx) = (y0 + i, x0 + j)
                    pixel[i * 4 + j] = y >= 0 && y < height && xx >= 0 && xx < width
                        ? x + ((n * height + y) * width + xx) * channels : zeros
                }
            }
            transform(channels, into: v, stride: stride) { k, c in pixel[k] + c }
        }
    }

    /// Bᵀ d B of the pixels `d(k, c)` (k = 4i + j: row i, column j, from channel c): whole vectors
    /// of 16 channels, then the rest.
    @inline(__always)
    private static func transform(_ channels: Int, into v: UnsafeMutablePointer<Float>, stride: Int,
                                  _ d: (Int, Int) -> UnsafePointer<Float>) {
        var c = 0
        while c + 16 <= channels { transform(Whole.self, c, 16, into: v, stride: stride, d); c += 16 }
        if c < channels { transform(Part.self, c, channels - c, into: v, stride: stride, d) }
    }

    @inline(__always)
    private static func transform<L: Lanes>(_: L.Type, _ c: Int, _ w: Int, into v: UnsafeMutablePointer<Float>, stride: Int,
                                            _ pixel: (Int, Int) -> UnsafePointer<Float>) {
        @inline(__always) func d(_ k: Int) -> V { L.load(pixel(k, c), w) }
        @inline(__always) func row(_ i: Int, _ r: (V, V, V, V)) {
            let p = v + 4 * i * stride + c
            L.store(r.0, p, w); L.store(r.1, p + stride, w); L.store(r.2, p + 2 * stride, w); L.store(r.3, p + 3 * stride, w)
        }
        // Bᵀ d down each column (a…, b…, e…, f… hold columns 0…3), then · B along each row.
        let (a0, a1, a2, a3) = bt(d(0), d(4), d(8), d(12))
        let (b0, b1, b2, b3) = bt(d(1), d(5), d(9), d(13))
        let (e0, e1, e2, e3) = bt(d(2), d(6), d(10), d(14))
        let (f0, f1, f2, f3) = bt(d(3), d(7), d(11), d(15))
        row(0, bt(a0, b0, e0, f0)); row(1, bt(a1, b1, e1, f1)); row(2, bt(a2, b2, e2, f2)); row(3, bt(a3, b3, e3, f3))
    }

    /// Y = Aᵀ m A (+ bias) for one tile's products (position ξ of channel c at m[ξ · stride + c]),
    /// written to the output pixels (y0 ..< y0 + 2, x0 ..< x0 + 2) that lie inside the image.
    @inline(__always)
    private static func outputTransform(_ m: UnsafePointer<Float>, stride: Int, channels: Int, bias: UnsafePointer<Float>?,
                                        into out: UnsafeMutablePointer<Float>, image n: Int, height: Int, width: Int,
                                        y0: Int, x0: Int) {
        let rows = Swift.min(2, height - y0), columns = Swift.min(2, width - x0)
        let p = out + ((n * height + y0) * width + x0) * channels
        var c = 0
        while c + 16 <= channels {
            outputVector(Whole.self, c, 16, m, stride: stride, bias: bias, into: p, rows: rows, columns: columns, rowStride: width * channels,
                         channels: channels)
            c += 16
        }
        if c < channels {
            outputVector(Part.self, c, channels - c, m, stride: stride, bias: bias, into: p, rows: rows, columns: columns,
                         rowStride: width * channels, channels: channels)
        }
    }

    @inline(__always)
    private static func outputVector<L: Lanes>(_: L.Type, _ c: Int, _ w: Int, _ m: UnsafePointer<Float>, stride: Int,
                                               bias: UnsafePointer<Float>?, into p: UnsafeMutablePointer<Float>, rows: Int,
                                               columns: Int, rowStride: Int, channels: Int) {
        // Aᵀ m down each column (4 → 2 rows), then · A along each row (4 → 2 columns).
        @inline(__always) func mm(_ xi: Int) -> V { L.load(m + xi * stride + c, w) }
        let (s00, s10) = at(mm(0), mm(4), mm(8), mm(12))
        let (s01, s11) = at(mm(1), mm(5), mm(9), mm(13))
        let (s02, s12) = at(mm(2), mm(6), mm(10), mm(14))
        let (s03, s13) = at(mm(3), mm(7), mm(11), mm(15))
        var (y00, y01) = at(s00, s01, s02, s03)
        var (y10, y11) = at(s10, s11, s12, s13)
        // The bias is added after the sum, as the unfolded path (and PyTorch) does.
        if let bias {
            let b = L.load(bias + c, w)
            y00 += b; y01 += b; y10 += b; y11 += b
        }
        L.store(y00, p + c, w)
        if columns > 1 { L.store(y01, p + channels + c, w) }
        if rows > 1 {
            L.store(y10, p + rowStride + c, w)
            if columns > 1 { L.store(y11, p + rowStride + channels + c, w) }
        }
    }
}

/// The seam's switch for Winograd: forced (`JOULE_KERNELS=winograd`, `Kernels.force("winograd")`),
/// every stride-1 pad-1 3×3 convolution's forward pass and input gradient run `WinogradConvolution`,
/// whatever the default would choose; everything else — the weight gradient, other geometries,
/// single GEMMs, and the 16 GEMMs inside Winograd — takes the default choice. It offers no GEMM of
/// its own, so forcing another family turns Winograd off (the unfolded path in that family).
public final class WinogradKernels: KernelFamily {
    public let name = "winograd"
    public var unavailableReason: String? { nil }
    public var isFP32: Bool { true }
    public func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs? { nil }
    public func serves(_ gemm: GEMM) -> Bool { false }
    public func multiply(_ gemm: GEMM) { OpenBLASKernels.shared.multiply(gemm) }
}
