import Tensor

/// Global average pooling, AdaptiveAvgPool2d(1): channels-last (N, H, W, C) → (N, 1, 1, C), which
/// `Flatten` turns into (N, C) for a Linear layer, as in PyTorch.
public final class AdaptiveAvgPool2d: Module {
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

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
        try output.resize([input.shape[0], 1, 1, input.shape[3]])
        average(input.data, into: output.data)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "AdaptiveAvgPool2d backward")
        try gradInput.resize(inputShape)
        spread(gradOutput.data, into: gradInput.data)
        return gradInput
    }

    /// Per image and channel, the mean over positions (the forward map, and its tangent's).
    private func average(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        y.update(repeating: 0, count: n * c)
        for i in 0..<n {
            let out = y + i * c
            for p in 0..<hw {
                let src = x + (i * hw + p) * c
                for ch in 0..<c { out[ch] += src[ch] }
            }
            for ch in 0..<c { out[ch] /= Float(hw) }
        }
    }

    /// Its transpose: each gradient spread evenly over the positions.
    private func spread(_ g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        for i in 0..<n {
            let gi = g + i * c
            for p in 0..<hw {
                let dst = dx + (i * hw + p) * c
                for ch in 0..<c { dst[ch] = gi[ch] / Float(hw) }
            }
        }
    }

    // MARK: Second order (see `SecondOrder.swift`): linear, so the tangents take the same maps.

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let y = try forward(input)
        try requireSameShape(tangent, input, "AdaptiveAvgPool2d tangent")
        try outputTangent.resize(y.shape)
        average(tangent.data, into: outputTangent.data)
        return (y, outputTangent)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        try requireSameShape(tangent, output, "AdaptiveAvgPool2d backward tangent")
        try gradInputTangent.resize(inputShape)
        spread(tangent.data, into: gradInputTangent.data)
        return (try backwardInput(gradOutput), gradInputTangent)
    }
}
