import Tensor

/// y = x · σ(x). Keeps σ(x) from the forward pass, so the backward pass,
/// dy/dx = σ + y · (1 − σ), computes no exponentials of its own.
///
/// In place (Torch7's `inplace`), the output overwrites the input and the input gradient overwrites
/// the output gradient: a network saves two activations' worth of memory per Swish, for callers
/// that no longer need those tensors (as a convolution's output and input gradient are not).
public final class Swish: Module {
    public let inPlace: Bool
    private let sigmoid = Tensor(shape: [0])
    private var output = Tensor(shape: [0])
    private var gradInput = Tensor(shape: [0])

    public init(inPlace: Bool = false) { self.inPlace = inPlace }
    public func replica() -> Module { Swish(inPlace: inPlace) }

    public func forward(_ input: Tensor) throws -> Tensor {
        sigmoid.resize(input.shape)
        if inPlace { output = input } else { output.resize(input.shape) }
        let (x, s, y) = (input.data, sigmoid.data, output.data)
        Parallel.chunks(input.count, minChunk: 16384) { r in
            FastMath.sigmoid(x + r.lowerBound, s + r.lowerBound, count: r.count)
            for i in r { y[i] = x[i] * s[i] }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, sigmoid, "Swish backward")
        if inPlace { gradInput = gradOutput } else { gradInput.resize(gradOutput.shape) }
        let (g, s, y, dx) = (gradOutput.data, sigmoid.data, output.data, gradInput.data)
        Parallel.chunks(gradOutput.count, minChunk: 16384) { r in
            for i in r { dx[i] = g[i] * (s[i] + y[i] * (1 - s[i])) }
        }
        return gradInput
    }
}
