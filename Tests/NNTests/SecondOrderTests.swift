import NN
import Tensor
import TestSupport
import XCTest

/// Finite-difference checks of every module's second-order passes (see NN's `SecondOrder.swift`).
/// With L = Σ r ⊙ y + ½ Σ q ⊙ y² (so g = ∂L/∂y = r + q ⊙ y depends on the output and R{g} = q ⊙ R{y}
/// is not zero), the tangents along the input direction v must be the central differences, along
/// v, of the first-order passes: R{y} of the output, R{∂L/∂x} of the input gradient and R{∂L/∂θ}
/// of the weight gradient. Float32 with step h: truncation O(h²), rounding O(ε/h), both far below
/// the tolerance of 5e-3 of the largest magnitude.
final class SecondOrderTests: XCTestCase {
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    let rng = RNG(seed: 11)

    /// (y, ∂L/∂x, ∂L/∂θ for every parameter) at x, copied.
    private func firstOrder(_ m: Module, _ x: Tensor, _ r: Tensor, _ q: Tensor) throws -> [Tensor] {
        let y = try m.forward(x).copy()
        let g = Tensor(shape: y.shape)
        for i in 0..<y.count { g[i] = r[i] + q[i] * y[i] }
        m.zeroGradients()
        let gx = try m.backward(g, needInputGradient: true)!.copy()
        return [y, gx] + m.parameters.map { $0.grad.copy() }
    }

    /// Checks the tangents of `m` at x (given, or normal) along v (given, or normal).
    private func check(_ m: Module, input shape: [Int], x given: Tensor? = nil, direction: Tensor? = nil, h: Float = 1e-2,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let x = given ?? Tensor(shape: shape)
        if given == nil { rng.fillNormal(x) }
        let v = direction ?? Tensor(shape: shape)
        if direction == nil { rng.fillNormal(v) }
        let outShape = try m.forward(x).shape
        let r = Tensor(shape: outShape), q = Tensor(shape: outShape)
        rng.fillNormal(r); rng.fillNormal(q)

        // Analytic tangents.
        let (y, ry) = try m.forward(x, tangent: v)
        let g = Tensor(shape: y.shape), rg = Tensor(shape: y.shape)
        for i in 0..<y.count { g[i] = r[i] + q[i] * y[i]; rg[i] = q[i] * ry[i] }
        let ryCopy = ry.copy()
        m.zeroGradients()
        let back = try m.backward(g, tangent: rg, weights: true, needInputGradient: true)!
        let analytic = [ryCopy, back.tangent.copy()] + m.parameters.map { $0.grad.copy() }

        // Central differences of the first-order passes along v.
        let step = { (s: Float) -> Tensor in
            let t = Tensor(shape: shape)
            for i in 0..<t.count { t[i] = x[i] + s * v[i] }
            return t
        }
        let up = try firstOrder(m, step(h), r, q), down = try firstOrder(m, step(-h), r, q)
        let names = ["R{y}", "R{∂L/∂x}"] + m.namedParameters.map { "R{∂L/∂\($0.name)}" }
        for (k, a) in analytic.enumerated() {
            // Rounding: each first-order value Q carries an error of a few ulps of the largest
            // |Q| it sums (64 allowed), divided by the step: a floor for tensors whose tangents are
            // far smaller than the values they differ.
            let q = max(up[k].buffer.map(abs).max() ?? 0, down[k].buffer.map(abs).max() ?? 0)
            let floor = 64 * Float.ulpOfOne / 2 * q / h
            var numericScale: Float = 0, worst: Float = 0, at = 0
            for i in 0..<a.count {
                let numeric = (up[k][i] - down[k][i]) / (2 * h)
                numericScale = max(numericScale, abs(numeric))
                if abs(numeric - a[i]) > worst { worst = abs(numeric - a[i]); at = i }
            }
            XCTAssertLessThanOrEqual(worst, 5e-3 * numericScale + floor,
                                     "\(names[k]) of \(m.summary): worst difference at \(at), analytic \(a.count > 0 ? a[at] : 0)",
                                     file: file, line: line)
        }
    }

    func testLinear() throws { try KernelFamilies.each(self) {
        try check(Linear(5, 3, rng: rng), input: [4, 5])
        try check(Linear(6, 2, bias: false, rng: rng), input: [3, 6])
    } }

    func testConv2dStridesAndPaddings() throws { try KernelFamilies.each(self) {
        try check(Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng), input: [3, 7, 6, 2])
        try check(Conv2d(1, 4, kernel: 5, stride: 2, padding: 4, rng: rng), input: [2, 9, 9, 1])
        try check(Conv2d(3, 2, kernel: 1, bias: false, rng: rng), input: [2, 4, 4, 3])
        // Strides that leave the last rows and columns unread, and padding of the kernel's width or more.
        try check(Conv2d(2, 3, kernel: 2, stride: 3, rng: rng), input: [2, 8, 8, 2])
        try check(Conv2d(1, 3, kernel: 3, stride: 3, padding: 1, rng: rng), input: [2, 8, 9, 1])
        try check(Conv2d(2, 3, kernel: 3, stride: 4, padding: 5, rng: rng), input: [2, 6, 7, 2])
    } }

    func testConv2dInSmallTiles() throws { try KernelFamilies.each(self) {
        for (c, k, p) in [(3, 3, 1), (1, 5, 4)] {
            let conv = Conv2d(c, 4, kernel: k, stride: 2, padding: p, rng: rng)
            conv.tileFloats = 1
            conv.minTileRows = 7
            try check(conv, input: [3, 7, 8, c])
        }
    } }

    func testSmoothActivations() throws { try KernelFamilies.each(self) {
        try check(Swish(), input: [2, 5, 5, 3])
        try check(GELU(), input: [3, 7])
        for f in [Activation.Function.tanh, .sigmoid] { try check(Activation(f), input: [2, 4, 3, 2]) }
    } }

    /// Activations with a kink at 0 (of f' or, for ELU, of f''), away from it: the step moves no
    /// input across.
    func testActivationsWithAKink() throws { try KernelFamilies.each(self) {
        for f in [Activation.Function.relu, .leakyReLU(slope: 0.2), .elu(alpha: 1), .elu(alpha: 0.5)] {
            let x = Tensor(shape: [3, 10]); rng.fillNormal(x)
            for i in 0..<x.count where abs(x[i]) < 0.2 { x[i] = x[i] < 0 ? -0.2 : 0.2 }
            try check(Activation(f), input: x.shape, x: x)
        }
    } }

    /// At 0 ReLU's slope is 0, as in the first-order pass and PyTorch's double backward: the
    /// tangents there are 0 whatever the direction, and elsewhere those of the identity or of 0.
    func testReLUAtZero() throws { try KernelFamilies.each(self) {
        let relu = Activation(.relu)
        let x = try Tensor(shape: [1, 4], values: [0, 1, -1, 0])
        let v = try Tensor(shape: [1, 4], values: [2, 3, 4, -5])
        XCTAssertEqual(try relu.forward(x, tangent: v).tangent.array, [0, 3, 0, 0])
        let g = try Tensor(shape: [1, 4], values: [1, 1, 1, 1]), rg = try Tensor(shape: [1, 4], values: [6, 7, 8, 9])
        let back = try relu.backward(g, tangent: rg, weights: false, needInputGradient: true)!
        XCTAssertEqual(back.tangent.array, [0, 7, 0, 0])
        XCTAssertEqual(back.value.array, [0, 1, 0, 0])
    } }

    func testActivationsInPlace() throws { try KernelFamilies.each(self) {
        let s = Swish(inPlace: true), a = Activation(.tanh, inPlace: true)
        for m in [s, a] as [Module] {
            let plain: Module = m is Swish ? Swish() : Activation(.tanh)
            let x = Tensor(shape: [2, 6]), v = Tensor(shape: [2, 6]), g = Tensor(shape: [2, 6]), rg = Tensor(shape: [2, 6])
            for t in [x, v, g, rg] { rng.fillNormal(t) }
            let want = try plain.forward(x, tangent: v)
            let (wy, wry) = (want.value.copy(), want.tangent.copy())
            let wb = try plain.backward(g, tangent: rg, weights: false, needInputGradient: true)!
            let (wgx, wrgx) = (wb.value.copy(), wb.tangent.copy())
            let got = try m.forward(x.copy(), tangent: v)
            XCTAssertEqual(got.value.array, wy.array, m.summary)
            XCTAssertEqual(got.tangent.array, wry.array, m.summary)
            let gb = try m.backward(g.copy(), tangent: rg, weights: false, needInputGradient: true)!
            XCTAssertEqual(gb.value.array, wgx.array, m.summary)
            XCTAssertEqual(gb.tangent.array, wrgx.array, m.summary)
        }
    } }

    /// Distinct values at least 0.1 apart: a step of 1e-3 along a normal direction moves no
    /// window's maximum.
    private func separated(_ shape: [Int]) -> Tensor {
        let t = Tensor(shape: shape)
        var values = (0..<t.count).map { Float($0) * 0.1 - Float(t.count) * 0.05 }
        for i in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(i, rng.int(i + 1)) }
        for i in 0..<t.count { t[i] = values[i] }
        return t
    }

    func testPooling() throws { try KernelFamilies.each(self) {
        // Odd sizes: rows and columns past the last window are read by none.
        try check(Pool2d(.average, kernel: 2), input: [2, 5, 7, 3])
        try check(Pool2d(.average, kernel: 3, stride: 2), input: [2, 8, 7, 2])
        try check(Pool2d(.max, kernel: 2), input: [2, 5, 7, 3], x: separated([2, 5, 7, 3]), h: 1e-3)
        try check(Pool2d(.max, kernel: 2, stride: 3), input: [2, 8, 9, 2], x: separated([2, 8, 9, 2]), h: 1e-3)
        try check(AdaptiveAvgPool2d(), input: [2, 3, 4, 3])
        try check(Flatten(), input: [2, 3, 2, 4])
        try check(Flatten(), input: [3, 5])
    } }

    /// A window of equal values: the gradient goes to the first of them (as PyTorch's), and so do
    /// the tangents, whatever the direction; along a direction that keeps the tie (equal within
    /// the window) they are the finite differences.
    func testMaxPoolTies() throws { try KernelFamilies.each(self) {
        let pool = Pool2d(.max, kernel: 2)
        let x = try Tensor(shape: [1, 2, 2, 1], values: [4, 4, 4, -2])
        let v = try Tensor(shape: [1, 2, 2, 1], values: [1, 5, 3, 2])
        XCTAssertEqual(try pool.forward(x, tangent: v).tangent.array, [1])
        let back = try pool.backward(try Tensor(shape: [1, 1, 1, 1], values: [3]), tangent: try Tensor(shape: [1, 1, 1, 1], values: [7]),
                                     weights: false, needInputGradient: true)!
        XCTAssertEqual(back.value.array, [3, 0, 0, 0])
        XCTAssertEqual(back.tangent.array, [7, 0, 0, 0])

        // Every window tied: x and v constant on each 2×2 window.
        let (n, hw, c) = (2, 4, 3)
        let tied = Tensor(shape: [n, hw, hw, c]), along = Tensor(shape: [n, hw, hw, c])
        let base = Tensor(shape: [n, hw / 2, hw / 2, c]), dir = Tensor(shape: base.shape)
        rng.fillNormal(base); rng.fillNormal(dir)
        for b in 0..<n { for i in 0..<hw { for j in 0..<hw { for ch in 0..<c {
            let w = ((b * hw / 2 + i / 2) * hw / 2 + j / 2) * c + ch, at = ((b * hw + i) * hw + j) * c + ch
            tied[at] = base[w]; along[at] = dir[w]
        } } } }
        try check(Pool2d(.max, kernel: 2), input: tied.shape, x: tied, direction: along)
    } }

    func testContainers() throws { try KernelFamilies.each(self) {
        let block = Residual(Sequential([Conv2d(3, 3, kernel: 3, padding: 1, rng: rng), Swish(), Conv2d(3, 3, kernel: 3, padding: 1, rng: rng)]))
        try check(block, input: [2, 5, 4, 3])
        try check(Sequential([Linear(4, 4, rng: rng), Residual(Sequential([Linear(4, 4, rng: rng), Activation(.tanh), Linear(4, 4, rng: rng)])),
                              Activation(.elu(alpha: 1)), Linear(4, 2, rng: rng)]), input: [3, 4])
        // A small network of every kind of layer with smooth activations (in place after the
        // convolutions, as `Sequential` chooses), average pooling, global pooling and a head.
        let net = Sequential([
            Sequential([Conv2d(2, 4, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(), Conv2d(4, 4, kernel: 2, rng: rng), GELU(),
                        Pool2d(.average, kernel: 2), Conv2d(4, 6, kernel: 1, rng: rng), Activation(.sigmoid), AdaptiveAvgPool2d()]),
            Sequential([Flatten(), Linear(6, 5, rng: rng), Activation(.elu(alpha: 1)), Linear(5, 3, rng: rng)]),
        ], names: ["features", "head"])
        try check(net, input: [3, 11, 10, 2])
    } }

    /// Without `needInputGradient` a container returns nil and still accumulates the weights' tangents.
    func testWeightsOnly() throws { try KernelFamilies.each(self) {
        let net = Sequential([Conv2d(1, 3, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(), AdaptiveAvgPool2d(), Flatten(),
                              Linear(3, 2, rng: rng)])
        let x = Tensor(shape: [2, 6, 6, 1]), v = Tensor(shape: x.shape)
        rng.fillNormal(x); rng.fillNormal(v)
        let (y, ry) = try net.forward(x, tangent: v)
        let g = y.copy(), rg = ry.copy()
        net.zeroGradients()
        _ = try net.backward(g, tangent: rg, weights: true, needInputGradient: true)
        let full = net.parameters.map { $0.grad.copy() }
        _ = try net.forward(x, tangent: v)
        net.zeroGradients()
        XCTAssertNil(try net.backward(g, tangent: rg, weights: true, needInputGradient: false))
        for (a, b) in zip(net.parameters.map(\.grad), full) { XCTAssertEqual(a.array, b.array) }
    } }

    func testShapeErrorsAreClear() throws {
        let conv = Conv2d(2, 3, kernel: 3, rng: rng)
        assertThrowsMessage("tangent") { _ = try conv.forward(Tensor(shape: [1, 5, 5, 2]), tangent: Tensor(shape: [1, 5, 4, 2])) }
        assertThrowsMessage("before a tangent forward") {
            let c = Conv2d(1, 1, kernel: 1, rng: self.rng)
            let y = try c.forward(Tensor(shape: [1, 2, 2, 1]))
            _ = try c.backward(y, tangent: y, weights: true, needInputGradient: true)
        }
    }
}
