import Tensor

/// Global average pooling, AdaptiveAvgPool2d(1): channels-last (N, H, W, C) → (N, 1, 1, C), which
/// `Flatten` turns into (N, C) for a Linear layer, as in PyTorch.
public final class AdaptiveAvgPool2d: Module {
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}
    public static let layer = LayerType(
        "AdaptiveAvgPool2d", arguments: [.init("output_size", .integer(1...1), position: 1, default: .integer(1))],
        signature: "joule.nn.AdaptiveAvgPool2d(1) → Model", documentation: "Global average pooling to (N, C, 1, 1); follow it with Flatten().",
        make: { _, _ in AdaptiveAvgPool2d() })
    public func workload(after input: Workload) -> Workload {
        guard input.shape.count == 3 else { return input.unfit }
        return input.then([1, 1, input.shape[2]], operations: input.count)
    }
    public func replica() -> Module { AdaptiveAvgPool2d() }
    public var architecture: JSON { .object(["type": .string("AdaptiveAvgPool2d"), "output_size": .int(1)]) }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else { throw JouleError("expected images (N, C, H, W), got shape \(input.shapeText)") }
        inputShape = input.shape
        let (n, hw, c) = (input.shape[0], input.shape[1] * input.shape[2], input.shape[3])
        try output.resize([n, 1, 1, c])
        output.zero()
        for i in 0..<n {
            let out = output.data + i * c
            for p in 0..<hw {
                let src = input.data + (i * hw + p) * c
                for ch in 0..<c { out[ch] += src[ch] }
            }
            for ch in 0..<c { out[ch] /= Float(hw) }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "AdaptiveAvgPool2d backward")
        let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        try gradInput.resize(inputShape)
        for i in 0..<n {
            let g = gradOutput.data + i * c
            for p in 0..<hw {
                let dst = gradInput.data + (i * hw + p) * c
                for ch in 0..<c { dst[ch] = g[ch] / Float(hw) }
            }
        }
        return gradInput
    }
}
