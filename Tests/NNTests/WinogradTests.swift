import NN
import Tensor
import TestSupport
import XCTest

/// Winograd F(2×2, 3×3) (`WinogradConvolution`) against the convolution's definition summed in
/// Float64, output by output within the error bound derived in WinogradConvolution.swift, and
/// against the unfolded (im2col) path within the sum of both bounds; then the seam's choice.
final class WinogradTests: XCTestCase {
    override func tearDown() { try? Kernels.force(nil) }

    let rng = RNG(seed: 27)

    /// γₙ = n·u / (1 − n·u), u = 2⁻²⁴: the relative error bound of n roundings.
    private func gamma(_ n: Int) -> Double {
        let u = 0x1p-24
        return Double(n) * u / (1 - Double(n) * u)
    }

    /// κ[r][a][i] = Σ_ξ |Aᵀ_{rξ}| |G_{ξa}| |Bᵀ_{ξi}|, computed from the matrices (not copied from the
    /// comment, so that a wrong table there shows as a failure here).
    private let kappa: [[[Double]]] = {
        let at: [[Double]] = [[1, 1, 1, 0], [0, 1, -1, -1]]
        let g: [[Double]] = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]]
        let bt: [[Double]] = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
        var kappa = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: 4), count: 3), count: 2)
        for r in 0..<2 { for a in 0..<3 { for i in 0..<4 { for xi in 0..<4 {
            let term: Double = abs(at[r][xi]) * abs(g[xi][a]) * abs(bt[xi][i])
            kappa[r][a][i] += term
        } } } }
        return kappa
    }()

    /// A stride-1 pad-1 3×3 convolution of x (N, H, W, K) with weights w(out, in, a, b), in Float64:
    /// the exact result, the direct sum's error bound γ_{9K+1}(Σ|w||x| + |bias|), Winograd's
    /// γ_{K+8}(Σ|w| Σ κκ|x| + |bias|) and the ∞-norm form 16·γ_{K+8}(Σ|w|·‖x‖ + |bias|) that the
    /// comment states Winograd's is under.
    private func reference(_ x: Tensor, n: Int, h: Int, w: Int, k: Int, outputs o: Int, weight: (Int, Int, Int, Int) -> Float,
                           bias: ((Int) -> Float)?) -> (exact: [Double], direct: [Double], winograd: [Double], infinity: [Double]) {
        var exact = [Double](repeating: 0, count: n * h * w * o)
        var direct = exact, winograd = exact, infinity = exact
        func input(_ b: Int, _ y: Int, _ xx: Int, _ c: Int) -> Double {
            y >= 0 && y < h && xx >= 0 && xx < w ? Double(x[((b * h + y) * w + xx) * k + c]) : 0
        }
        for b in 0..<n { for y in 0..<h { for xx in 0..<w { for oc in 0..<o {
            let out = ((b * h + y) * w + xx) * o + oc
            let bv = bias.map { Double($0(oc)) } ?? 0
            var s = 0.0, mag = 0.0, wmag = 0.0, imag = 0.0
            // The tile holding (y, xx): its input block starts at (2⌊y/2⌋ − 1, 2⌊x/2⌋ − 1).
            let (r, q, y0, x0) = (y % 2, xx % 2, y / 2 * 2 - 1, xx / 2 * 2 - 1)
            for c in 0..<k {
                var tileMax = 0.0
                for i in 0..<4 { for j in 0..<4 { tileMax = max(tileMax, abs(input(b, y0 + i, x0 + j, c))) } }
                for a in 0..<3 { for bb in 0..<3 {
                    let g = Double(weight(oc, c, a, bb))
                    let v = input(b, y - 1 + a, xx - 1 + bb, c)
                    s += g * v; mag += abs(g * v)
                    var carried = 0.0
                    for i in 0..<4 { for j in 0..<4 { carried += kappa[r][a][i] * kappa[q][bb][j] * abs(input(b, y0 + i, x0 + j, c)) } }
                    wmag += abs(g) * carried
                    imag += abs(g) * tileMax
                } }
            }
            exact[out] = s + bv
            direct[out] = gamma(9 * k + 1) * (mag + abs(bv))
            winograd[out] = gamma(k + 8) * (wmag + abs(bv))
            infinity[out] = 16 * gamma(k + 8) * (imag + abs(bv))
        } } } }
        return (exact, direct, winograd, infinity)
    }

    /// Forward pass and input gradient of one layer, with `family` forced; whether Winograd ran.
    private func run(_ conv: Conv2d, _ x: Tensor, _ gy: Tensor, family: String) throws -> (y: [Float], gx: [Float], winograd: Bool) {
        try Kernels.force(family)
        let y = try conv.forward(x).array
        let gx = try conv.backwardInput(gy).array
        return (y, gx, conv.winogradKernels != nil)
    }

    private func check(_ what: String, _ got: [Float], _ unfolded: [Float],
                       _ ref: (exact: [Double], direct: [Double], winograd: [Double], infinity: [Double])) {
        var failures = 0
        for i in got.indices where failures < 5 {
            let e = ref.exact[i]
            let errW = abs(Double(got[i]) - e), errI = abs(Double(unfolded[i]) - e)
            if errW > ref.winograd[i] || ref.winograd[i] > ref.infinity[i] || errI > ref.direct[i]
                || abs(Double(got[i]) - Double(unfolded[i])) > ref.winograd[i] + ref.direct[i] {
                failures += 1
                XCTFail("\(what) [\(i)]: exact \(e), Winograd \(got[i]) (error \(errW), bound \(ref.winograd[i]), ∞-form \(ref.infinity[i])), "
                        + "unfolded \(unfolded[i]) (error \(errI), bound \(ref.direct[i]))")
            }
        }
    }

    /// Random shapes: odd sizes (partial tiles), 1×1 and 1-wide maps, batch 1, and 1, 3, 16, 33
    /// channels on either side; U(−1, 1) inputs, the layer's own initialisation, a bias or none.
    func testWithinTheDerivedBoundOfTheDirectConvolution() throws {
        for (c, o, n, h, w, bias) in [(1, 1, 1, 1, 1, true), (3, 16, 2, 5, 7, true), (16, 16, 1, 8, 8, false),
                                      (33, 16, 2, 3, 1, true), (16, 33, 1, 1, 1, true), (3, 3, 1, 9, 4, false),
                                      (16, 32, 3, 7, 6, true), (33, 1, 1, 4, 5, true), (1, 33, 2, 6, 3, false)] {
            let conv = Conv2d(c, o, kernel: 3, padding: 1, bias: bias, rng: rng)
            let x = Tensor(shape: [n, h, w, c]), gy = Tensor(shape: [n, h, w, o])
            rng.fillUniform(x, -1, 1); rng.fillUniform(gy, -1, 1)
            let wino = try run(conv, x, gy, family: "winograd")
            let unfolded = try run(conv, x, gy, family: "openblas")
            XCTAssertTrue(wino.winograd, "forcing winograd runs it on a 3×3 stride-1 pad-1 layer")
            XCTAssertFalse(unfolded.winograd, "forcing another family runs the unfolded path")
            let weight = conv.weight.value, biasValue = conv.bias.value
            let what = "\(c)→\(o), \(n)×\(h)×\(w)\(bias ? "" : ", no bias")"
            check("output, " + what, wino.y, unfolded.y,
                  reference(x, n: n, h: h, w: w, k: c, outputs: o, weight: { oc, ch, a, b in weight[((oc * c + ch) * 3 + a) * 3 + b] },
                            bias: bias ? { biasValue[$0] } : nil))
            // The input gradient: gy convolved with the turned kernel, its channels swapped.
            check("input gradient, " + what, wino.gx, unfolded.gx,
                  reference(gy, n: n, h: h, w: w, k: o, outputs: c, weight: { ch, oc, a, b in weight[((oc * c + ch) * 3 + 2 - a) * 3 + 2 - b] },
                            bias: nil))
        }
    }

    /// A bf16 replica's Winograd layer (its products in bf16, see WinogradConvolution.swift): every
    /// output and input gradient within (γ_{K+9} + 2u_b + u_b²)·Σ|g|κκ|d| (+ |bias|), u_b = 2⁻⁹, of the
    /// exact convolution — and not within the FP32 bound, so that bf16 really ran.
    func testBF16ProductsWithinTheirBound() throws {
        try XCTSkipUnless(Precision.bf16Unavailable == nil, "bf16 does not run here: \(Precision.bf16Unavailable ?? "")")
        let ub = 0x1p-9
        for (c, o, n, h, w) in [(32, 32, 2, 7, 6), (64, 32, 1, 8, 8), (32, 64, 1, 5, 5), (40, 32, 1, 4, 3), (16, 16, 2, 6, 5), (16, 48, 1, 3, 4)] {
            let conv = Conv2d(c, o, kernel: 3, padding: 1, rng: rng)
            conv.run(in: .bf16)
            let x = Tensor(shape: [n, h, w, c]), gy = Tensor(shape: [n, h, w, o])
            rng.fillUniform(x, -1, 1); rng.fillUniform(gy, -1, 1)
            let y = try conv.forward(x).array, gx = try conv.backwardInput(gy).array
            XCTAssertEqual(conv.winogradKernels?.precision, .bf16)
            let weight = conv.weight.value, biasValue = conv.bias.value
            // Input gradient: K = O channels summed; its products run bf16 only where C is a multiple of 16.
            for (what, got, k, ref, bf16) in [
                ("output", y, c, reference(x, n: n, h: h, w: w, k: c, outputs: o, weight: { oc, ch, a, b in weight[((oc * c + ch) * 3 + a) * 3 + b] },
                                            bias: { biasValue[$0] }), true),
                ("input gradient", gx, o, reference(gy, n: n, h: h, w: w, k: o, outputs: c,
                                                    weight: { ch, oc, a, b in weight[((oc * c + ch) * 3 + 2 - a) * 3 + 2 - b] }, bias: nil), c % 16 == 0),
            ] {
                var worst = 0.0, failures = 0
                for i in got.indices where failures < 5 {
                    // winograd[i] = γ_{K+8}·S; S recovered to scale the bf16 bound.
                    let sum = ref.winograd[i] / gamma(k + 8)
                    let bound = (gamma(k + 9) + (bf16 ? 2 * ub + ub * ub : 0)) * sum
                    let err = abs(Double(got[i]) - ref.exact[i])
                    worst = max(worst, err / ref.winograd[i])
                    if err > bound {
                        failures += 1
                        XCTFail("\(c)→\(o) \(what) [\(i)]: exact \(ref.exact[i]), got \(got[i]), error \(err) > bound \(bound)")
                    }
                }
                if bf16 { XCTAssertGreaterThan(worst, 1, "\(c)→\(o) \(what): some error beyond FP32's bound (bf16 ran)") }
            }
        }
    }

    /// The bound is not vacuous: on a 64-channel layer it is at most 2 × the direct sum's ∞-form
    /// (16(K + 8)/(9K + 1) = 1.997) and under a thousandth of the outputs' scale, so that a wrong transform
    /// (one product missing or doubled: ≈ 1 % of an output) could not hide under it; the actual
    /// errors, Winograd's and the unfolded path's, are far below it and of the same order.
    func testTheBoundIsTight() throws {
        let (c, o, n, h, w) = (64, 32, 1, 6, 6)
        let conv = Conv2d(c, o, kernel: 3, padding: 1, rng: rng)
        let x = Tensor(shape: [n, h, w, c]), gy = Tensor(shape: [n, h, w, o])
        rng.fillUniform(x, -1, 1); rng.fillUniform(gy, -1, 1)
        let wino = try run(conv, x, gy, family: "winograd")
        let unfolded = try run(conv, x, gy, family: "openblas")
        let weight = conv.weight.value, biasValue = conv.bias.value
        let ref = reference(x, n: n, h: h, w: w, k: c, outputs: o, weight: { oc, ch, a, b in weight[((oc * c + ch) * 3 + a) * 3 + b] },
                            bias: { biasValue[$0] })
        XCTAssertLessThan(Double(16 * (c + 8)) / Double(9 * c + 1), 2)
        let scale = ref.exact.map(abs).max()!, worstBound = ref.winograd.max()!
        XCTAssertLessThan(worstBound, 1e-3 * scale)
        func rms(_ y: [Float]) -> Double { (zip(y, ref.exact).map { pow(Double($0) - $1, 2) }.reduce(0, +) / Double(y.count)).squareRoot() }
        let (errW, errI) = (rms(wino.y), rms(unfolded.y))
        print("64→32 layer: output scale \(scale), worst Winograd bound \(worstBound); RMS error Winograd \(errW), unfolded \(errI)")
        XCTAssertLessThan(errW, worstBound)
        XCTAssertLessThan(errW, 8 * errI, "Winograd's error of the unfolded path's order, as the bounds' ratio says")
    }

    /// Who runs which layer: by default Winograd for FP32 stride-1 pad-1 3×3 layers of ≥ 16 channels
    /// each side only; forced, every such layer; another family forced, none.
    func testTheSeamChoosesPerLayerShape() throws {
        try Kernels.force(nil)
        XCTAssertNotNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 1, precision: .fp32))
        XCTAssertNil(Kernels.winograd(inChannels: 3, outChannels: 16, kernel: 3, stride: 1, padding: 1, precision: .fp32),
                     "a 3-channel first layer has too little to multiply for the transforms to pay")
        XCTAssertNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 3, stride: 2, padding: 1, precision: .fp32))
        XCTAssertNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 5, stride: 1, padding: 2, precision: .fp32))
        XCTAssertNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 0, precision: .fp32))
        if Precision.bf16.available == .bf16 {
            XCTAssertEqual(Kernels.winograd(inChannels: 32, outChannels: 32, kernel: 3, stride: 1, padding: 1, precision: .bf16)?.precision,
                           .bf16, "bf16 sampling multiplies Winograd's products in bf16")
        }
        XCTAssertEqual(Kernels.winograd(inChannels: 24, outChannels: 24, kernel: 3, stride: 1, padding: 1, precision: .bf16)?.precision,
                       .fp32, "a shape the bf16 GEMMs do not serve (24 outputs) runs FP32, by Winograd")
        try Kernels.force("winograd")
        XCTAssertNotNil(Kernels.winograd(inChannels: 3, outChannels: 16, kernel: 3, stride: 1, padding: 1, precision: .fp32))
        XCTAssertNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 3, stride: 2, padding: 1, precision: .fp32))
        try Kernels.force("openblas")
        XCTAssertNil(Kernels.winograd(inChannels: 16, outChannels: 16, kernel: 3, stride: 1, padding: 1, precision: .fp32))
        // A layer follows the choice when it changes.
        let conv = Conv2d(16, 16, kernel: 3, padding: 1, rng: rng)
        let x = Tensor(shape: [1, 4, 4, 16]); rng.fillUniform(x, -1, 1)
        _ = try conv.forward(x)
        XCTAssertNil(conv.winogradKernels)
        try Kernels.force(nil)
        _ = try conv.forward(x)
        XCTAssertNotNil(conv.winogradKernels)
    }
}
