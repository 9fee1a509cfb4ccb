import Tensor

/// Flatten (start_dim 1): images become vectors in PyTorch's order, (N, C, H, W) → (N, C·H·W), so
/// a Linear layer after it takes PyTorch's weights. Images arrive channels-last (N, H, W, C), so
/// this is where the layout turns: value (h, w, c) goes to feature c·H·W + h·W + w (the same
/// bytes when H = W = 1, after global pooling). Vectors (N, D) pass through.
public final class Flatten: Module {
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

    public init() {}
    public static let layer = LayerType("Flatten", signature: "joule.nn.Flatten() → Model",
                                        documentation: "(N, C, H, W) → (N, C·H·W) in PyTorch's order, for a Linear layer after it.",
                                        make: { _, _ in Flatten() })
    public func workload(after input: Workload) -> Workload {
        // A count past 2^50 would overflow as an Int shape; it is far past the bounds anyway.
        guard input.count <= 0x1p50 else { var w = input; w.floats = .infinity; return w }
        return input.then([input.shape.reduce(1, *)], operations: 0)
    }
    public func replica() -> Module { Flatten() }
    public var architecture: JSON { .object(["type": .string("Flatten")]) }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 2 || input.rank == 4 else { throw JouleError("expected (N, C, H, W) or (N, D), got shape \(input.shapeText)") }
        inputShape = input.shape
        let n = input.shape[0]
        try output.resize([n, input.itemSize])
        permute(input.data, output.data, toPyTorch: true)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "Flatten backward")
        try gradInput.resize(inputShape)
        permute(gradOutput.data, gradInput.data, toPyTorch: false)
        return gradInput
    }

    // MARK: Second order (see `SecondOrder.swift`): a permutation, so the tangents take the same one.

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let y = try forward(input)
        try requireSameShape(tangent, input, "Flatten tangent")
        try outputTangent.resize(y.shape)
        permute(tangent.data, outputTangent.data, toPyTorch: true)
        return (y, outputTangent)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        try requireSameShape(tangent, output, "Flatten backward tangent")
        try gradInputTangent.resize(inputShape)
        permute(tangent.data, gradInputTangent.data, toPyTorch: false)
        return (try backwardInput(gradOutput), gradInputTangent)
    }

    private func permute(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, toPyTorch: Bool) {
        guard inputShape.count == 4, inputShape[1] * inputShape[2] > 1, inputShape[3] > 1 else {
            dst.update(from: src, count: inputShape.reduce(1, *))
            return
        }
        let (n, hw, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        for b in 0..<n {
            let base = b * hw * c
            for p in 0..<hw {
                for ch in 0..<c {
                    let last = base + p * c + ch, first = base + ch * hw + p
                    if toPyTorch { dst[first] = src[last] } else { dst[last] = src[first] }
                }
            }
        }
    }
}
