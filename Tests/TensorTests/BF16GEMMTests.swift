import Tensor
import XCTest

/// The bfloat16 kernel against a Float64 product of the same bf16-rounded inputs (which it must
/// match to FP32 accumulation error), and against the unrounded FP32 product within the error bf16
/// rounding implies. Skipped where the CPU has no AVX512-BF16 or the build targets a CPU without AVX-512.
final class BF16GEMMTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(BF16GEMM.isAvailable, BF16GEMM.unavailableReason ?? "")
    }

    func testRoundingIsToNearestEven() {
        XCTAssertEqual(BF16GEMM.rounded(1), 1)
        XCTAssertEqual(BF16GEMM.rounded(-3.5), -3.5)
        // 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷: ties go to the even mantissa (1).
        XCTAssertEqual(BF16GEMM.rounded(1 + 0x1p-8), 1)
        XCTAssertEqual(BF16GEMM.rounded(1 + 3 * 0x1p-8), 1 + 0x1p-6)
        XCTAssertEqual(BF16GEMM.rounded(1 + 0x1p-8 + 0x1p-20), 1 + 0x1p-7)
        XCTAssertTrue(BF16GEMM.rounded(.nan).isNaN)
        XCTAssertEqual(BF16GEMM.rounded(.infinity), .infinity)
    }

    /// Odd M and K (the tail row loop, the zero pair after the last row of B), several panels, a
    /// last panel of 16 columns (N = 16, 48: both row blocks and the tail rows),
    /// both layouts of A, bias and accumulation.
    func testMatchesTheProductOfRoundedInputs() {
        for (m, n, k) in [(19, 64, 37), (8, 32, 1), (33, 96, 288), (29, 16, 37), (13, 48, 144), (1, 16, 2)] {
            for layout in [PanelGEMM.Layout.rowMajor, .columnMajor] {
                for accumulate in [false, true] {
                    check(m: m, n: n, k: k, layout: layout, accumulate: accumulate)
                }
            }
        }
    }

    func check(m: Int, n: Int, k: Int, layout: PanelGEMM.Layout, accumulate: Bool) {
        let rng = RNG(seed: UInt64(m * 1000 + k))
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n]), bias = Tensor(shape: [n]), c = Tensor(shape: [m, n])
        rng.fillUniform(a, -1, 1); rng.fillUniform(b, -1, 1); rng.fillUniform(bias, -1, 1); rng.fillUniform(c, -1, 1)
        let c0 = c.array
        // Column-major A: the same matrix stored transposed.
        let stored = Tensor(shape: [m * k])
        for i in 0..<m { for p in 0..<k { stored.data[layout == .rowMajor ? i * k + p : p * m + i] = a.data[i * k + p] } }
        var panels = [UInt16](repeating: 0xFFFF, count: BF16GEMM.packedCount(k: k, n: n))
        var scratch = [UInt16](repeating: 0xFFFF, count: BF16GEMM.rowsCount(m: m, k: k))
        BF16GEMM.pack(b.data, k: k, n: n, rowStride: n, columnStride: 1, into: &panels)
        BF16GEMM.multiply(m: m, n: n, k: k, a: stored.data, lda: layout == .rowMajor ? k : m, layout: layout,
                          panels: panels, bias: bias.data, c: c.data, ldc: n, accumulate: accumulate, scratch: &scratch)
        var worstRounded = 0.0, worstExact = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var rounded = 0.0, exact = 0.0, magnitude = 0.0
                for p in 0..<k {
                    let (x, y) = (a.data[i * k + p], b.data[p * n + j])
                    rounded += Double(BF16GEMM.rounded(x)) * Double(BF16GEMM.rounded(y))
                    exact += Double(x) * Double(y)
                    magnitude += abs(Double(x) * Double(y))
                }
                let base = Double(bias.data[j]) + (accumulate ? Double(c0[i * n + j]) : 0)
                let got = Double(c.data[i * n + j])
                // FP32 accumulation of k products of magnitude ≤ 1: a few ulps of the running sum.
                worstRounded = max(worstRounded, abs(got - rounded - base) / (magnitude + 1))
                // Each input within 2⁻⁹ relative: each product within 2⁻⁸, the sum within 2⁻⁸ of Σ|aᵢbᵢ|.
                worstExact = max(worstExact, abs(got - exact - base) / (magnitude + 1))
            }
        }
        XCTAssertLessThan(worstRounded, 1e-6, "m \(m) n \(n) k \(k) \(layout) accumulate \(accumulate)")
        XCTAssertLessThan(worstExact, 0x1p-8, "m \(m) n \(n) k \(k) \(layout) accumulate \(accumulate)")
        XCTAssertGreaterThan(worstExact, worstRounded, "the inputs were rounded to bf16")
    }
}
