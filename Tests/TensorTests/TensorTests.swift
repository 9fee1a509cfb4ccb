import Foundation
import Tensor
import TestSupport
import XCTest

/// Matmul goes through `Kernels`: its test runs once per FP32 kernel family.
final class TensorTests: XCTestCase {
    /// Failures name the kernel family forced when they happened (see `KernelFamilies.each`).
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    func testSameSeedSameNumbers() {
        let a = RNG(seed: 42), b = RNG(seed: 42), c = RNG(seed: 43)
        let xa = (0..<100).map { _ in a.normal() }, xb = (0..<100).map { _ in b.normal() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, (0..<100).map { _ in c.normal() })
    }

    func testRNGStateRestoresTheStream() {
        let a = RNG(seed: 9)
        _ = a.normal()   // leaves a spare normal in the state
        let saved = a.state
        let next = (0..<5).map { _ in a.normal() }
        let b = RNG(seed: 0)
        b.state = saved
        XCTAssertEqual((0..<5).map { _ in b.normal() }, next)
    }

    func testNormalAndUniformMoments() {
        let rng = RNG(seed: 1)
        let t = Tensor(shape: [200_000])
        rng.fillNormal(t)
        XCTAssertEqual(t.mean(), 0, accuracy: 0.01)
        XCTAssertEqual(Float((t.sumOfSquares() / 200_000).squareRoot()), 1, accuracy: 0.01)
        rng.fillUniform(t, -1, 1)
        XCTAssertGreaterThanOrEqual(t.min(), -1)
        XCTAssertLessThan(t.max(), 1)
        XCTAssertEqual(t.mean(), 0, accuracy: 0.01)
    }

    func testFastExpAgreesWithLibm() {
        var worst: Float = 0
        for i in 0..<20_000 {
            let x = Float(i) / 20_000 * 170 - 85
            let v = FastMath.exp(x)
            worst = max(worst, abs(v - Foundation.exp(x)) / Foundation.exp(x))
        }
        XCTAssertLessThan(worst, 3e-7)
    }

    func testFastSquareRoot() {
        XCTAssertEqual(FastMath.sqrt(0), 0)
        var worst: Float = 0
        for i in 0..<100_000 {
            let v = Float(i) * 4e-4 * (i % 3 == 0 ? 1e-6 : 1)
            worst = max(worst, abs(FastMath.sqrt(v) - v.squareRoot()) / max(v.squareRoot(), .leastNormalMagnitude))
        }
        XCTAssertLessThan(worst, 2.5e-7)   // 2 ulp
    }

    func testFastLogAndSinCos() {
        var worst: Float = 0
        for i in 1...50_000 {
            let x = Float(i) / 50_000 * (i % 2 == 0 ? 1 : 1e-6)
            worst = max(worst, abs(FastMath.log(x) - Foundation.log(x)) / max(1, abs(Foundation.log(x))))
        }
        XCTAssertLessThan(worst, 5e-7)
        for i in 0..<10_000 {
            let u = Float(i) / 10_000
            let (s, c) = FastMath.sinCosTurns(u)
            XCTAssertEqual(s, sin(2 * Float.pi * u), accuracy: 2e-6)
            XCTAssertEqual(c, cos(2 * Float.pi * u), accuracy: 2e-6)
        }
    }

    func testBulkNormalsAreStandardNormal() {
        let t = Tensor(shape: [400_001])
        RNG(seed: 5).fillNormal(t)
        XCTAssertEqual(t.mean(), 0, accuracy: 0.005)
        XCTAssertEqual(Float((t.sumOfSquares() / Double(t.count)).squareRoot()), 1, accuracy: 0.005)
        // Tail mass beyond 2σ is 4.55 %.
        XCTAssertEqual(Float(t.buffer.filter { abs($0) > 2 }.count) / Float(t.count), 0.0455, accuracy: 0.002)
        XCTAssertTrue(t.buffer.allSatisfy { $0.isFinite })
    }

    func testMatmulAndConvolutionUnfold() throws { try KernelFamilies.each(self) {
        let a = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        let b = try Tensor(shape: [3, 2], values: [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(try a.matmul(b).array, [58, 64, 139, 154])
        assertThrowsMessage("do not chain") { _ = try a.matmul(a) }
        // 1 channel, 1 image 3×3, kernel 2, stride 1, no padding: four 2×2 windows.
        let g = ConvGeometry(channels: 1, batch: 1, height: 3, width: 3, kernel: 2, stride: 1, padding: 0)
        let img = try Tensor(shape: [1, 1, 3, 3], values: (1...9).map(Float.init))
        let col = Tensor(shape: [g.positions, g.patchSize])
        Convolution.im2col(g, input: img.data, rows: 0..<g.positions, col: col.data)
        XCTAssertEqual(col.array, [1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9])
        // Folding back counts how many windows cover each pixel.
        let ones = Tensor(shape: col.shape, repeating: 1)
        let folded = Tensor(shape: img.shape)
        Convolution.col2imAdding(g, col: ones.data, rows: 0..<g.positions, input: folded.data)
        XCTAssertEqual(folded.array, [1, 2, 1, 2, 4, 2, 1, 2, 1])
    } }

    func testPanelGEMMMatchesTheProduct() throws {
        let rng = RNG(seed: 11)
        // The last three in 16-wide panels (N not a multiple of 32).
        for (m, n, k) in [(1, 32, 1), (7, 32, 5), (8, 64, 33), (13, 32, 17), (21, 96, 40), (1, 16, 3), (17, 16, 16), (9, 48, 20)] {
            let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n]), c0 = Tensor(shape: [m, n])
            rng.fillNormal(a); rng.fillNormal(b); rng.fillNormal(c0)
            var expected = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += Double(a[i * k + p]) * Double(b[p * n + j]) } } }
            // Panels from B itself, and from Bᵀ stored row-major (the convolution's two uses).
            let bt = Tensor(shape: [n, k])
            for p in 0..<k { for j in 0..<n { bt[j * k + p] = b[p * n + j] } }
            let panels = Tensor(shape: [PanelGEMM.packedCount(k: k, n: n)]), fromT = Tensor(shape: panels.shape)
            PanelGEMM.pack(b.data, k: k, n: n, rowStride: n, columnStride: 1, into: panels.data)
            PanelGEMM.pack(bt.data, k: k, n: n, rowStride: 1, columnStride: k, into: fromT.data)
            XCTAssertEqual(panels.array, fromT.array)

            let c = Tensor(shape: [m, n])
            PanelGEMM.multiply(m: m, n: n, k: k, a: a.data, lda: k, panels: panels.data, c: c.data, ldc: n, accumulate: false)
            assertClose(c, try Tensor(shape: [m, n], values: expected.map(Float.init)), relative: 1e-5, "A·B, \(m)×\(n)×\(k)")
            let sum = c0.copy()
            PanelGEMM.multiply(m: m, n: n, k: k, a: a.data, lda: k, panels: panels.data, c: sum.data, ldc: n, accumulate: true)
            assertClose(sum, try c0.adding(c), relative: 1e-5, "C + A·B, \(m)×\(n)×\(k)")
            let bias = Tensor(shape: [n]); rng.fillNormal(bias)
            let biased = Tensor(shape: [m, n])
            PanelGEMM.multiply(m: m, n: n, k: k, a: a.data, lda: k, panels: panels.data, bias: bias.data, c: biased.data,
                               ldc: n, accumulate: false)
            for i in 0..<m { for j in 0..<n { expected[i * n + j] += Double(bias[j]) } }
            assertClose(biased, try Tensor(shape: [m, n], values: expected.map(Float.init)), relative: 1e-5, "bias + A·B, \(m)×\(n)×\(k)")
            // A stored column-major (Aᵀ row-major), as a one-channel convolution's transposed patches are.
            let at = Tensor(shape: [k, m])
            for i in 0..<m { for p in 0..<k { at[p * m + i] = a[i * k + p] } }
            let fromColumns = Tensor(shape: [m, n])
            PanelGEMM.multiply(m: m, n: n, k: k, a: at.data, lda: m, layout: .columnMajor, panels: panels.data, bias: bias.data,
                               c: fromColumns.data, ldc: n, accumulate: false)
            XCTAssertEqual(fromColumns.array, biased.array, "column-major A, \(m)×\(n)×\(k)")
        }
    }

    func testKernelChoiceFollowsCPUFlags() {
        let avx512: Set = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
        XCTAssertEqual(BLASKernel.preferredCoreType(cpuFlags: avx512, target: .native), "SkylakeX")
        XCTAssertEqual(BLASKernel.preferredCoreType(cpuFlags: ["avx2", "fma", "avx512f"], target: .native), "Haswell")
        XCTAssertNil(BLASKernel.preferredCoreType(cpuFlags: ["sse4_2", "avx"], target: .native))
        XCTAssertTrue(BLASKernel.selfCheck(), "the loaded kernel (\(BLAS.coreName)) multiplies correctly")
    }

    func testShapeErrors() throws {
        assertThrowsMessage("holds 6 values, got 5") { _ = try Tensor(shape: [2, 3], values: [1, 2, 3, 4, 5]) }
        assertThrowsMessage("shapes [2] and [3] do not broadcast") { _ = try Tensor(shape: [2]).adding(Tensor(shape: [3])) }
        assertThrowsMessage("cannot reshape") { try Tensor(shape: [2, 3]).reshape([4]) }
        assertThrowsMessage("out of bounds") { _ = try Tensor(shape: [2, 3]).gather([2]) }
        assertThrowsMessage("cannot concatenate") { _ = try Tensor.concatenate([Tensor(shape: [2, 3]), Tensor(shape: [2, 2])]) }
    }
}
