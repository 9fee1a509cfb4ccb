import Tensor

/// Global average pooling, AdaptiveAvgPool2d(1) followed by flattening:
/// (C, N, H, W) → (N, C), ready for a Linear layer.
public final class AdaptiveAvgPool2d: Module {
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}
    public func replica() -> Module { AdaptiveAvgPool2d() }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else { throw JouleError("AdaptiveAvgPool2d: expected (C, N, H, W), got \(input.shape)") }
        inputShape = input.shape
        let (c, n, hw) = (input.shape[0], input.shape[1], input.shape[2] * input.shape[3])
        output.resize([n, c])
        for ch in 0..<c {
            for i in 0..<n {
                let p = input.data + (ch * n + i) * hw
                var s: Float = 0
                for j in 0..<hw { s += p[j] }
                output.data[i * c + ch] = s / Float(hw)
            }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "AdaptiveAvgPool2d backward")
        let (c, n, hw) = (inputShape[0], inputShape[1], inputShape[2] * inputShape[3])
        gradInput.resize(inputShape)
        for ch in 0..<c {
            for i in 0..<n {
                (gradInput.data + (ch * n + i) * hw).update(repeating: gradOutput.data[i * c + ch] / Float(hw), count: hw)
            }
        }
        return gradInput
    }
}
