import Tensor

/// y = x · σ(x). Keeps σ(x) and y from the forward pass: the backward pass needs
/// dy/dx = σ + y · (1 − σ) and computes no exponentials of its own.
public final class Swish: Module {
    private let sigmoid = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init() {}
    public func replica() -> Module { Swish() }

    public func forward(_ input: Tensor) throws -> Tensor {
        sigmoid.resize(input.shape)
        output.resize(input.shape)
        let (x, s, y) = (input.data, sigmoid.data, output.data)
        Parallel.chunks(input.count, minChunk: 16384) { r in
            FastMath.sigmoid(x + r.lowerBound, s + r.lowerBound, count: r.count)
            for i in r { y[i] = x[i] * s[i] }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "Swish backward")
        gradInput.resize(output.shape)
        let (g, s, y, dx) = (gradOutput.data, sigmoid.data, output.data, gradInput.data)
        Parallel.chunks(output.count, minChunk: 16384) { r in
            for i in r { dx[i] = g[i] * (s[i] + y[i] * (1 - s[i])) }
        }
        return gradInput
    }
}
