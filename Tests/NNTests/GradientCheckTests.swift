import ArchitectureFiles
import NN
import Tensor
import TestSupport
import XCTest

/// Finite-difference checks of every module's two backward passes, on the loss L = Σ r ⊙ forward(x)
/// with fixed random r. Central differences in Float32 with a step of 1e-2.
/// Each test runs once per FP32 kernel family this machine runs (`KernelFamilies.each`).
final class GradientCheckTests: XCTestCase {
    /// Failures name the kernel family forced when they happened (see `KernelFamilies.each`).
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    let rng = RNG(seed: 7)

    private func loss(_ m: Module, _ x: Tensor, _ r: Tensor) throws -> Double {
        let y = try m.forward(x)
        var s = 0.0
        for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
        return s
    }

    private func check(_ m: Module, input shape: [Int], file: StaticString = #filePath, line: UInt = #line) throws {
        let x = Tensor(shape: shape)
        rng.fillNormal(x)
        let r = Tensor(shape: try m.forward(x).shape)
        rng.fillNormal(r)
        m.zeroGradients()
        _ = try m.forward(x)
        try m.accumulateWeightGradients(r)
        let gx = try m.backwardInput(r).copy()
        let h: Float = 1e-2

        // Values change through the subscript, which marks the tensor changed (caches rebuild).
        func compare(_ analytic: Float, _ t: Tensor, _ i: Int, _ what: String) throws {
            let saved = t[i]
            t[i] = saved + h
            let up = try loss(m, x, r)
            t[i] = saved - h
            let down = try loss(m, x, r)
            t[i] = saved
            let numeric = Float((up - down) / Double(2 * h))
            let tol = 2e-2 * max(abs(numeric), abs(analytic)) + 2e-3
            XCTAssertEqual(analytic, numeric, accuracy: tol, what, file: file, line: line)
        }
        for _ in 0..<12 {
            let i = rng.int(x.count)
            try compare(gx[i], x, i, "∂L/∂x[\(i)] of \(type(of: m))")
        }
        for (name, p) in m.namedParameters {
            for _ in 0..<8 {
                let i = rng.int(p.value.count)
                try compare(p.grad[i], p.value, i, "∂L/∂\(name)[\(i)] of \(type(of: m))")
            }
        }
    }

    func testConv2dStrideAndPadding() throws { try KernelFamilies.each(self) {
        try check(Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng), input: [3, 7, 6, 2])
        try check(Conv2d(1, 4, kernel: 5, stride: 2, padding: 4, rng: rng), input: [2, 9, 9, 1])
        try check(Conv2d(3, 2, kernel: 1, rng: rng), input: [2, 4, 4, 3])
    } }

    /// A few positions per tile: tiles cut images apart, and each core's share runs several tiles.
    private func smallTiles(_ conv: Conv2d) -> Conv2d {
        conv.tileFloats = 1
        conv.minTileRows = 7
        return conv
    }

    func testConv2dInSmallTiles() throws { try KernelFamilies.each(self) {
        try check(smallTiles(Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng)), input: [3, 7, 6, 2])
        try check(smallTiles(Conv2d(1, 4, kernel: 5, stride: 2, padding: 4, rng: rng)), input: [2, 9, 9, 1])
    } }

    func testConv2dTilesAgreeWithWholeBatch() throws { try KernelFamilies.each(self) {
        // Three channels unfold patch by patch; one channel unfolds transposed, whole images per tile.
        for (channels, kernel, padding) in [(3, 3, 1), (1, 5, 4)] {
            let whole = Conv2d(channels, 4, kernel: kernel, stride: 2, padding: padding, rng: rng)
            let tiled = smallTiles(whole.replica() as! Conv2d)   // same parameters
            let x = Tensor(shape: [5, 7, 8, channels]); rng.fillNormal(x)
            let y = try whole.forward(x).copy()
            let r = Tensor(shape: y.shape); rng.fillNormal(r)
            let gx = try whole.backwardInput(r).copy()
            whole.zeroGradients()
            try whole.accumulateWeightGradients(r)
            let (gw, gb) = (whole.weight.grad.copy(), whole.bias.grad.copy())

            assertClose(try tiled.forward(x), y, relative: 1e-6, "output, \(channels) channels")
            assertClose(try tiled.backwardInput(r), gx, relative: 1e-6, "input gradient, \(channels) channels")
            tiled.zeroGradients()
            try tiled.accumulateWeightGradients(r)
            assertClose(tiled.weight.grad, gw, relative: 1e-6, "weight gradient, \(channels) channels")
            assertClose(tiled.bias.grad, gb, relative: 1e-6, "bias gradient, \(channels) channels")
        }
    } }

    /// Every output, input gradient and weight gradient against the convolution's definition, summed
    /// in Double, on geometries where the stride leaves the last rows and columns unread.
    func testConv2dMatchesDirectConvolution() throws { try KernelFamilies.each(self) {
        // The last three multiply through PanelGEMM where the CPU has it (32 or 64 outputs; the one-channel
        // case forward only, from transposed patches).
        for (c, o, k, s, p, h, w) in [(1, 3, 5, 2, 4, 9, 10), (1, 3, 3, 2, 0, 6, 7), (1, 3, 3, 3, 1, 8, 9), (3, 3, 3, 2, 1, 7, 6),
                                      (2, 3, 2, 3, 0, 8, 8), (32, 32, 3, 2, 1, 7, 6), (16, 64, 2, 1, 0, 4, 5), (1, 32, 5, 2, 4, 9, 10),
                                      // Padding of the kernel's width or more: outputs whose whole window is padding.
                                      (2, 4, 1, 1, 2, 7, 7), (3, 2, 2, 1, 3, 5, 4), (1, 3, 1, 2, 3, 6, 5), (2, 3, 3, 4, 5, 6, 7)] {
            let n = 3
            let conv = Conv2d(c, o, kernel: k, stride: s, padding: p, rng: rng)
            let x = Tensor(shape: [n, h, w, c]); rng.fillNormal(x)
            let y = try conv.forward(x).copy()
            let (oh, ow) = (y.shape[1], y.shape[2])
            let r = Tensor(shape: y.shape); rng.fillNormal(r)
            let gx = try conv.backwardInput(r).copy()
            conv.zeroGradients()
            try conv.accumulateWeightGradients(r)

            var yRef = [Double](repeating: 0, count: y.count), gxRef = [Double](repeating: 0, count: x.count)
            var gwRef = [Double](repeating: 0, count: conv.weight.value.count), gbRef = [Double](repeating: 0, count: o)
            for b in 0..<n { for oy in 0..<oh { for ox in 0..<ow { for oc in 0..<o {
                let out = ((b * oh + oy) * ow + ox) * o + oc
                yRef[out] = Double(conv.bias.value[oc])
                gbRef[oc] += Double(r[out])
                for ch in 0..<c { for kh in 0..<k { for kw in 0..<k {
                    let (iy, ix) = (oy * s - p + kh, ox * s - p + kw)
                    guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                    let (xi, wi) = (((b * h + iy) * w + ix) * c + ch, ((oc * c + ch) * k + kh) * k + kw)
                    yRef[out] += Double(conv.weight.value[wi]) * Double(x[xi])
                    gxRef[xi] += Double(conv.weight.value[wi]) * Double(r[out])
                    gwRef[wi] += Double(x[xi]) * Double(r[out])
                } } }
            } } } }
            let what = "c \(c), o \(o), k \(k), stride \(s), padding \(p), \(h)×\(w)"
            assertClose(y, try Tensor(shape: y.shape, values: yRef.map(Float.init)), relative: 1e-5, "output, " + what)
            assertClose(gx, try Tensor(shape: x.shape, values: gxRef.map(Float.init)), relative: 1e-5, "input gradient, " + what)
            assertClose(conv.weight.grad, try Tensor(shape: conv.weight.value.shape, values: gwRef.map(Float.init)), relative: 1e-5, "weight gradient, " + what)
            assertClose(conv.bias.grad, try Tensor(shape: [o], values: gbRef.map(Float.init)), relative: 1e-5, "bias gradient, " + what)
        }
    } }

    func testConv2dNoticesChangedWeights() throws { try KernelFamilies.each(self) {
        let conv = Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng)
        let x = Tensor(shape: [1, 5, 5, 2]); rng.fillNormal(x)
        let before = try conv.forward(x).copy()
        conv.weight.value.fill(0)
        XCTAssertNotEqual(try conv.forward(x).array, before.array)
        let biasOnly = try conv.forward(x).array
        for o in 0..<3 { XCTAssertTrue(biasOnly[o...].enumerated().allSatisfy { $0.offset % 3 != 0 || $0.element == conv.bias.value[o] }) }
        rng.fillNormal(conv.weight.value)
        try conv.weight.value.add(conv.weight.value, scaled: 1)   // doubled through Tensor's own method
        let doubled = try conv.forward(x).array
        let fresh = Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng)
        try fresh.weight.value.assign(conv.weight.value); try fresh.bias.value.assign(conv.bias.value)
        XCTAssertEqual(try fresh.forward(x).array, doubled)
    } }

    /// Layers built before a family is forced run it from their next pass on, with the same results.
    func testLayersFollowTheForcedFamily() throws {
        defer { try? Kernels.force(nil) }
        let conv = Conv2d(3, 32, kernel: 3, padding: 1, rng: rng), linear = Linear(32, 64, rng: rng)
        let x = Tensor(shape: [2, 5, 5, 3]), v = Tensor(shape: [7, 32])
        rng.fillNormal(x); rng.fillNormal(v)
        try Kernels.force("openblas")
        let (y, z) = (try conv.forward(x).copy(), try linear.forward(v).copy())
        XCTAssertEqual((conv.kernels as? GEMMConvolution)?.family.name, "openblas")
        XCTAssertFalse(conv.kernels is PanelConvolution)
        for family in KernelFamilies.fp32 {
            try Kernels.force(family.name)
            assertClose(try conv.forward(x), y, relative: 1e-5, "Conv2d on \(family.name)")
            assertClose(try linear.forward(v), z, relative: 1e-5, "Linear on \(family.name)")
            if family.name == "portable" { XCTAssertEqual((conv.kernels as? GEMMConvolution)?.family.name, "portable") }
            if family.name == "panel" { XCTAssertTrue(conv.kernels is PanelConvolution) }
        }
    }

    func testLinear() throws { try KernelFamilies.each(self) { try check(Linear(5, 3, rng: rng), input: [4, 5]) } }
    func testSwish() throws { try KernelFamilies.each(self) { try check(Swish(), input: [2, 5, 5, 3]) } }

    func testSwishInPlaceAgreesWithSwish() throws { try KernelFamilies.each(self) {
        let x = Tensor(shape: [2, 3, 3, 2]); rng.fillNormal(x)
        let g = Tensor(shape: x.shape); rng.fillNormal(g)
        let plain = Swish(), inPlace = Swish(inPlace: true)
        let y = try plain.forward(x).copy(), dx = try plain.backwardInput(g).copy()
        let x2 = x.copy(), g2 = g.copy()
        let y2 = try inPlace.forward(x2)
        XCTAssertTrue(y2 === x2, "the output is the input tensor")
        XCTAssertEqual(y2.array, y.array)
        let dx2 = try inPlace.backwardInput(g2)
        XCTAssertTrue(dx2 === g2)
        XCTAssertEqual(dx2.array, dx.array)
    } }
    func testAdaptiveAvgPool() throws { try KernelFamilies.each(self) { try check(AdaptiveAvgPool2d(), input: [2, 3, 4, 3]) } }

    func testSequential() throws { try KernelFamilies.each(self) {
        try check(Sequential([Conv2d(1, 2, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(),
                              Conv2d(2, 3, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(), AdaptiveAvgPool2d(),
                              Flatten(), Linear(3, 4, rng: rng)]), input: [3, 9, 9, 1])
        XCTAssertEqual(Sequential([Linear(2, 2, rng: rng), Swish(), Linear(2, 1, rng: rng)]).namedParameters.map(\.name),
                       ["0.weight", "0.bias", "2.weight", "2.bias"])
    } }

    func testCrossEntropyGradient() throws { try KernelFamilies.each(self) {
        let logits = Tensor(shape: [3, 4]); rng.fillNormal(logits)
        let labels = [2, 0, 3]
        let grad = Tensor(shape: [3, 4])
        _ = try Losses.crossEntropy(logits, labels: labels, grad: grad)
        for i in 0..<logits.count {
            let saved = logits[i]
            logits[i] = saved + 1e-2; let up = try Losses.crossEntropy(logits, labels: labels)
            logits[i] = saved - 1e-2; let down = try Losses.crossEntropy(logits, labels: labels)
            logits[i] = saved
            XCTAssertEqual(grad[i], (up - down) / 2e-2, accuracy: 1e-3)
        }
    } }

    func testShapeErrorsAreClear() { KernelFamilies.each(self) {
        assertThrowsMessage("expected 2 input channels, got 1") { _ = try Conv2d(2, 3, kernel: 3, rng: rng).forward(Tensor(shape: [1, 5, 5, 1])) }
        assertThrowsMessage("too small") { _ = try Conv2d(1, 1, kernel: 5, rng: rng).forward(Tensor(shape: [1, 3, 3, 1])) }
        assertThrowsMessage("expected input (N, 5)") { _ = try Linear(5, 3, rng: rng).forward(Tensor(shape: [2, 4])) }
        assertThrowsMessage("backward before forward") { _ = try Linear(5, 3, rng: rng).backwardInput(Tensor(shape: [2, 3])) }
        assertThrowsMessage("labels must lie") { _ = try Losses.crossEntropy(Tensor(shape: [1, 3]), labels: [3]) }
    } }

    // MARK: The composed modules (images channels-last, as modules see them)

    func testConv2dWithoutBias() throws { try KernelFamilies.each(self) {
        let conv = Conv2d(3, 4, kernel: 3, stride: 2, padding: 1, bias: false, rng: rng)
        XCTAssertEqual(conv.namedParameters.map(\.name), ["weight"])
        try check(conv, input: [2, 7, 6, 3])
    } }

    func testConv2dOddGeometriesLeavingPixelsUnread() throws { try KernelFamilies.each(self) {
        // Strides larger than the kernel, and windows that stop short of the last rows and columns.
        try check(Conv2d(2, 3, kernel: 4, stride: 3, padding: 1, rng: rng), input: [2, 9, 10, 2])
        try check(Conv2d(3, 2, kernel: 2, stride: 3, rng: rng), input: [2, 8, 7, 3])
        try check(Conv2d(1, 3, kernel: 7, stride: 3, padding: 2, rng: rng), input: [2, 11, 12, 1])
        try check(Conv2d(4, 5, kernel: 3, stride: 2, padding: 3, bias: false, rng: rng), input: [1, 5, 6, 4])
        // Padding past the kernel (found by the architecture fuzzer: an inverted tap range).
        try check(Conv2d(2, 3, kernel: 1, padding: 2, rng: rng), input: [2, 5, 4, 2])
        try check(Conv2d(1, 2, kernel: 2, stride: 2, padding: 3, rng: rng), input: [2, 5, 6, 1])
    } }

    func testLinearWithoutBias() throws { try KernelFamilies.each(self) {
        let l = Linear(5, 3, bias: false, rng: rng)
        XCTAssertEqual(l.namedParameters.map(\.name), ["weight"])
        try check(l, input: [4, 5])
    } }

    func testActivations() throws { try KernelFamilies.each(self) {
        for f in [Activation.Function.relu, .leakyReLU(slope: 0.2), .elu(alpha: 1.3), .tanh, .sigmoid] {
            try check(Activation(f), input: [2, 3, 4, 5])
            try check(Activation(f), input: [3, 7])
        }
    } }

    /// GELU, the layer added as one file: x·Φ(x) against the normal CDF's known values, and its gradient.
    func testGELU() throws {
        try check(GELU(), input: [2, 3, 4, 5])
        let x = try Tensor(shape: [1, 6], values: [-3, -1, -0.5, 0.5, 1, 3])
        let y = try GELU().forward(x)
        // x·Φ(x) with Φ(1) = 0.8413447461, Φ(0.5) = 0.6914624613, Φ(3) = 0.9986501020.
        let expected: [Float] = [-3 * (1 - 0.9986501020), -(1 - 0.8413447461), -0.5 * (1 - 0.6914624613), 0.5 * 0.6914624613, 0.8413447461, 3 * 0.9986501020]
        for (a, b) in zip(y.array, expected) { XCTAssertEqual(a, b, accuracy: 2e-7 * Swift.max(1, abs(b))) }
        // One architecture form, rebuilt by the loader from the registry.
        let again = try Architecture.build(GELU().architecture, rng: rng)
        XCTAssertTrue(again is GELU)
    }

    func testActivationsInPlaceAgree() throws { try KernelFamilies.each(self) {
        for f in [Activation.Function.relu, .leakyReLU(slope: 0.2), .elu(alpha: 1), .tanh, .sigmoid] {
            let x = Tensor(shape: [2, 9]); rng.fillNormal(x)
            let g = Tensor(shape: x.shape); rng.fillNormal(g)
            let plain = Activation(f), inPlace = Activation(f, inPlace: true)
            let y = try plain.forward(x).copy(), dx = try plain.backwardInput(g).copy()
            let (x2, g2) = (x.copy(), g.copy())
            XCTAssertEqual(try inPlace.forward(x2).array, y.array, "\(f)")
            XCTAssertEqual(try inPlace.backwardInput(g2).array, dx.array, "\(f)")
        }
    } }

    func testPooling() throws { try KernelFamilies.each(self) {
        // Odd sizes: the last row and column (and for stride 3 more) are read by no window.
        try check(Pool2d(.average, kernel: 2), input: [2, 5, 7, 3])
        try check(Pool2d(.average, kernel: 3, stride: 2), input: [2, 8, 7, 2])
        try check(Pool2d(.max, kernel: 2), input: [2, 5, 7, 3])
        try check(Pool2d(.max, kernel: 2, stride: 3), input: [2, 8, 9, 2])
        XCTAssertEqual(try Pool2d(.max, kernel: 2, stride: 3).forward(Tensor(shape: [1, 8, 9, 2])).shape, [1, 3, 3, 2])
    } }

    func testMaxPoolPicksTheLargestAndSendsItsGradientThere() throws { try KernelFamilies.each(self) {
        let x = try Tensor(shape: [1, 2, 2, 1], values: [1, 4, 4, -2])
        let pool = Pool2d(.max, kernel: 2)
        XCTAssertEqual(try pool.forward(x).array, [4])
        // A tie goes to the first largest, as in PyTorch.
        XCTAssertEqual(try pool.backwardInput(try Tensor(shape: [1, 1, 1, 1], values: [3])).array, [0, 3, 0, 0])
    } }

    func testFlattenUsesPyTorchsOrder() throws { try KernelFamilies.each(self) {
        // Channels-last (1, H 2, W 3, C 2) in; PyTorch's (C, H, W) order out.
        let x = try Tensor(shape: [1, 2, 3, 2], values: (0..<12).map(Float.init))
        XCTAssertEqual(try Flatten().forward(x).array, [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11])
        try check(Flatten(), input: [2, 3, 2, 4])
        try check(Flatten(), input: [3, 5])
    } }

    func testResidual() throws { try KernelFamilies.each(self) {
        let block = Residual(Sequential([Conv2d(3, 3, kernel: 3, padding: 1, rng: rng), Swish(), Conv2d(3, 3, kernel: 3, padding: 1, rng: rng)]))
        XCTAssertEqual(block.namedParameters.map(\.name), ["body.0.weight", "body.0.bias", "body.2.weight", "body.2.bias"])
        try check(block, input: [2, 5, 4, 3])
        try check(Sequential([Linear(4, 4, rng: rng), Residual(Sequential([Linear(4, 4, rng: rng), Activation(.tanh), Linear(4, 4, rng: rng)])),
                              Activation(.elu(alpha: 1)), Linear(4, 2, rng: rng)]), input: [3, 4])
    } }

    func testSequentialNamesAndArchitectureRoundTrip() throws { try KernelFamilies.each(self) {
        let net = Sequential([Sequential([Conv2d(1, 2, kernel: 3, rng: rng), Swish(), AdaptiveAvgPool2d()]),
                              Sequential([Flatten(), Linear(2, 3, bias: false, rng: rng)])], names: ["features", "head"])
        XCTAssertEqual(net.namedParameters.map(\.name), ["features.0.weight", "features.0.bias", "head.1.weight"])
        let rebuilt = try Architecture.build(try JSON.parse(net.architecture.serialized()), rng: rng)
        XCTAssertEqual(rebuilt.architecture, net.architecture)
        XCTAssertEqual(rebuilt.namedParameters.map(\.name), net.namedParameters.map(\.name))
        XCTAssertEqual(rebuilt.namedParameters.map(\.parameter.value.shape), net.namedParameters.map(\.parameter.value.shape))
        try check(net, input: [2, 6, 5, 1])
    } }
}
