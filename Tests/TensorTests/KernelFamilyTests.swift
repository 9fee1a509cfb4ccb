import Tensor
import TestSupport
import XCTest

/// Every registered kernel family, one test each: skipped, with the reason, where this CPU or build
/// cannot run it; otherwise its single GEMMs (every transpose, with and without accumulation) and a
/// convolution's three GEMMs against Float64 products. Then the seam itself: forcing, refusing, and
/// layers choosing again.
final class KernelFamilyTests: XCTestCase {
    override func tearDown() { try? Kernels.force(nil) }

    func testOpenBLAS() throws { try checkFP32Family("openblas") }
    func testPanel() throws { try checkFP32Family("panel") }
    func testPortable() throws { try checkFP32Family("portable") }

    func testBF16() throws {
        let f = try runnable("bf16")
        XCTAssertFalse(f.isFP32)
        // Sampling replicas only: a bf16 convolution of several channels, nothing in FP32.
        XCTAssertNil(f.convolution(inChannels: 32, outChannels: 64, patch: 288, precision: .fp32))
        XCTAssertNil(f.convolution(inChannels: 1, outChannels: 32, patch: 25, precision: .bf16))
        let conv = try XCTUnwrap(f.convolution(inChannels: 32, outChannels: 64, patch: 288, precision: .bf16))
        // bf16 inputs are off by 2⁻⁹ relative: a 288-term sum of products of U(−1, 1) values is
        // within 1 % of the largest magnitude (see BF16GEMM).
        try checkConvolution(conv, rows: 37, outChannels: 64, patch: 288, transposed: false, relative: 1e-2, "bf16",
                             weightGradient: false)
        let a = Tensor(shape: [1]), b = Tensor(shape: [32]), c = Tensor(shape: [32])
        XCTAssertFalse(f.serves(GEMM(m: 1, n: 32, k: 1, a: a.data, b: b.data, c: c.data)), "no single GEMM runs in bf16")
    }

    func testUnknownAndUnavailableFamiliesAreRefusedWithTheirReason() throws {
        assertThrowsMessage("unknown kernel family 'mkl'") { try Kernels.force("mkl") }
        for f in Kernels.families {
            if let why = f.unavailableReason {
                let before = Kernels.forced
                assertThrowsMessage(why) { try Kernels.force(f.name) }
                XCTAssertTrue(Kernels.forced === before, "a refused family leaves the choice as it was")
            } else {
                try Kernels.force(f.name)
                XCTAssertEqual(Kernels.forced?.name, f.name)
            }
        }
        try Kernels.force(nil)
        XCTAssertNil(Kernels.forced)
        XCTAssertTrue(Kernels.description.hasPrefix("default"), Kernels.description)
    }

    func testForcingChangesWhatEveryGEMMRunsOn() throws {
        let before = Kernels.generation
        try Kernels.force("portable")
        XCTAssertGreaterThan(Kernels.generation, before)
        XCTAssertEqual(Kernels.description, "portable (forced in-process)")
        let conv = Kernels.convolution(inChannels: 1, outChannels: 32, patch: 25, precision: .fp32)
        XCTAssertEqual((conv as? GEMMConvolution)?.family.name, "portable")
        // Matmul goes through the seam too: same product, any family.
        let a = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [3, 2], values: [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(try a.matmul(b).array, [58, 64, 139, 154])
    }

    // MARK: Checks

    private func runnable(_ name: String) throws -> KernelFamily {
        let f = try XCTUnwrap(Kernels.families.first { $0.name == name }, "\(name) is registered")
        if let why = f.unavailableReason { throw XCTSkip("kernel family \(name) does not run here: \(why)") }
        return f
    }

    private func checkFP32Family(_ name: String) throws {
        let f = try runnable(name)
        XCTAssertTrue(f.isFP32)
        let rng = RNG(seed: 5)
        // Odd sizes (tails of every block), a multiple of 32 (PanelGEMM's width), K past a block.
        // N of 16 and 48: PanelGEMM's narrow panels.
        for (m, n, k) in [(1, 1, 1), (7, 5, 3), (9, 32, 17), (13, 64, 300), (40, 96, 129), (3, 300, 2), (19, 16, 16), (10, 48, 27)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    for accumulate in [false, true] {
                        let a = Tensor(shape: [m * k]), b = Tensor(shape: [k * n]), c = Tensor(shape: [m * n])
                        rng.fillUniform(a, -1, 1); rng.fillUniform(b, -1, 1); rng.fillUniform(c, -1, 1)
                        let g = GEMM(transA: transA, transB: transB, m: m, n: n, k: k, a: a.data, b: b.data, c: c.data,
                                     accumulate: accumulate)
                        guard f.serves(g) else {
                            XCTAssertEqual(name, "panel", "only PanelGEMM leaves shapes to others")
                            XCTAssertNil(PanelGEMM.panelWidth(n: n))
                            continue
                        }
                        var expected = [Double](repeating: 0, count: m * n)
                        for i in 0..<m {
                            for j in 0..<n {
                                var s = accumulate ? Double(c[i * n + j]) : 0
                                for p in 0..<k {
                                    s += Double(transA ? a[p * m + i] : a[i * k + p]) * Double(transB ? b[j * k + p] : b[p * n + j])
                                }
                                expected[i * n + j] = s
                            }
                        }
                        f.multiply(g)
                        assertClose(c, try Tensor(shape: [m * n], values: expected.map(Float.init)), relative: 1e-5,
                                    "\(name): \(transA ? "Aᵀ" : "A")·\(transB ? "Bᵀ" : "B")\(accumulate ? " + C" : ""), \(m)×\(n)×\(k)")
                    }
                }
            }
        }
        for (c, o, patch, transposed) in [(1, 32, 25, true), (3, 5, 27, false), (32, 64, 288, false), (4, 64, 36, false),
                                          (16, 16, 144, false), (1, 16, 9, true), (16, 48, 16, false)] {
            guard let conv = f.convolution(inChannels: c, outChannels: o, patch: patch, precision: .fp32) else {
                XCTAssertEqual(name, "panel"); continue
            }
            try checkConvolution(conv, rows: 45, outChannels: o, patch: patch, transposed: transposed, relative: 1e-5, name)
        }
    }

    /// forward = patches · Wᵀ + bias, input gradient = gradOut · W, weight gradient += gradOutᵀ · patches.
    private func checkConvolution(_ conv: ConvolutionGEMMs, rows: Int, outChannels o: Int, patch: Int, transposed: Bool,
                                  relative: Float, _ name: String, weightGradient: Bool = true) throws {
        let rng = RNG(seed: 9)
        let w = Tensor(shape: [o * patch]), bias = Tensor(shape: [o]), x = Tensor(shape: [rows * patch]), gy = Tensor(shape: [rows * o])
        for t in [w, bias, x, gy] { rng.fillUniform(t, -1, 1) }
        conv.prepare(weights: w.data)
        // Patch (r, p) lies at x[r·patch + p], or at x[p·rows + r] transposed.
        func patchValue(_ r: Int, _ p: Int) -> Double { Double(transposed ? x[p * rows + r] : x[r * patch + p]) }
        let out = Tensor(shape: [rows * o])
        conv.forward(rows: rows, patches: x.data, transposed: transposed, bias: bias.data, output: out.data)
        var expected = [Float](repeating: 0, count: rows * o)
        for r in 0..<rows {
            for j in 0..<o {
                var s = 0.0
                for p in 0..<patch { s += patchValue(r, p) * Double(w[j * patch + p]) }
                expected[r * o + j] = Float(s + Double(bias[j]))
            }
        }
        assertClose(out, try Tensor(shape: [rows * o], values: expected), relative: relative, "\(name): convolution forward")

        let dx = Tensor(shape: [rows * patch])
        conv.inputGradient(rows: rows, gradOutput: gy.data, transposed: transposed, patches: dx.data)
        expected = [Float](repeating: 0, count: rows * patch)
        for r in 0..<rows {
            for p in 0..<patch {
                var s = 0.0
                for j in 0..<o { s += Double(gy[r * o + j]) * Double(w[j * patch + p]) }
                expected[transposed ? p * rows + r : r * patch + p] = Float(s)
            }
        }
        assertClose(dx, try Tensor(shape: [rows * patch], values: expected), relative: relative, "\(name): convolution input gradient")

        guard weightGradient else { return }
        let gw = Tensor(shape: [o * patch]); rng.fillUniform(gw, -1, 1)
        let start = gw.array
        conv.accumulateWeightGradient(rows: rows, gradOutput: gy.data, patches: x.data, transposed: transposed, into: gw.data)
        expected = (0..<(o * patch)).map { i in
            let (j, p) = (i / patch, i % patch)
            var s = Double(start[i])
            for r in 0..<rows { s += Double(gy[r * o + j]) * patchValue(r, p) }
            return Float(s)
        }
        assertClose(gw, try Tensor(shape: [o * patch], values: expected), relative: relative, "\(name): convolution weight gradient")
    }
}
