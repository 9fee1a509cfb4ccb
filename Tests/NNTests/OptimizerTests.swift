import NN
import Tensor
import TestSupport
import XCTest

final class OptimizerTests: XCTestCase {
    func testInitialisationBoundsFollowPyTorch() {
        let rng = RNG(seed: 3)
        let conv = Conv2d(4, 8, kernel: 3, rng: rng)   // fan_in 36: bound 1/6
        XCTAssertLessThanOrEqual(conv.weight.value.buffer.map(abs).max()!, 1 / 6)
        XCTAssertGreaterThan(conv.weight.value.buffer.map(abs).max()!, 0.9 / 6, "weights fill the range")
        XCTAssertLessThanOrEqual(conv.bias.value.buffer.map(abs).max()!, 1 / 6)
    }

    func testAdamFirstStepMovesByLearningRate() {
        // With bias correction, Adam's first step is lr · sign(g) (up to eps).
        let p = Parameter(try! Tensor(shape: [3], values: [1, 2, 3]))
        try! p.grad.add(try! Tensor(shape: [3], values: [0.5, -2, 1e-3]))
        let adam = Adam(parameters: [p], lr: 0.1)
        adam.update()
        XCTAssertEqual(p.value.array[0], 0.9, accuracy: 1e-5)
        XCTAssertEqual(p.value.array[1], 2.1, accuracy: 1e-5)
        XCTAssertEqual(p.value.array[2], 2.9, accuracy: 1e-4)
    }

    func testStepLR() {
        let s = StepLR(baseLR: 1e-4, stepSize: 2, gamma: 0.97)
        XCTAssertEqual(s.lr(epoch: 0), 1e-4)
        XCTAssertEqual(s.lr(epoch: 1), 1e-4)
        XCTAssertEqual(s.lr(epoch: 2), 0.97e-4, accuracy: 1e-10)
        XCTAssertEqual(s.lr(epoch: 5), 1e-4 * 0.97 * 0.97, accuracy: 1e-10)
    }

    func testClippingScalesOnlyAboveTheBound() {
        let a = Parameter(Tensor(shape: [2])), b = Parameter(Tensor(shape: [1]))
        a.grad[0] = 3; b.grad[0] = 4
        XCTAssertEqual(GradientClipping.clipGlobalNorm([a, b], maxNorm: 10), 5)
        XCTAssertEqual(a.grad[0], 3)
        XCTAssertEqual(GradientClipping.clipGlobalNorm([a, b], maxNorm: 1), 5)
        XCTAssertEqual(a.grad[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad[0], 0.8, accuracy: 1e-6)
    }
}
