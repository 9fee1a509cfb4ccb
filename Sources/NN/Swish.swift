import Tensor

/// y = x · σ(x), PyTorch's SiLU (the course's Swish). The forward pass also keeps the slope dy/dx = σ + y · (1 − σ), so the backward
/// pass is one multiply and reads one tensor besides the gradient.
///
/// In place (Torch7's `inplace`), the output overwrites the input and the input gradient overwrites
/// the output gradient: a network saves two activations' worth of memory per Swish, for callers
/// that no longer need those tensors (as a convolution's output and input gradient are not);
/// `Sequential` decides that (see `Sequential.chooseInPlace`).
public final class Swish: Module {
    public var inPlace: Bool
    private let slope = Tensor(shape: [0])
    private var output = Tensor(shape: [0])
    private var gradInput = Tensor(shape: [0])
    private let tangents = PointwiseTangents()

    public init(inPlace: Bool = false) { self.inPlace = inPlace }
    public func replica() -> Module { Swish(inPlace: inPlace) }
    public static let layer = LayerType("SiLU", signature: "joule.nn.SiLU() → Model", documentation: "x·σ(x) (the course's Swish).",
                                        make: { _, _ in Swish() })
    public var architecture: JSON { .object(["type": .string("SiLU")]) }

    public func forward(_ input: Tensor) throws -> Tensor {
        try slope.resize(input.shape)
        tangents.current = false   // until a tangent forward
        if inPlace { output = input } else { try output.resize(input.shape) }
        let (x, d, y) = (input.data, slope.data, output.data)
        // In place, the loop names one pointer for input and output: the compiler would not
        // vectorise a loop through two pointers it finds overlapping.
        Parallel.chunks(input.count, minChunk: 16384) { r in
            if inPlace { for i in r { (x[i], d[i]) = Self.valueAndSlope(x[i]) } }
            else { for i in r { (y[i], d[i]) = Self.valueAndSlope(x[i]) } }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, slope, "Swish backward")
        if inPlace { gradInput = gradOutput } else { try gradInput.resize(gradOutput.shape) }
        let (g, d, dx) = (gradOutput.data, slope.data, gradInput.data)
        Parallel.chunks(gradOutput.count, minChunk: 16384) { r in
            if inPlace { for i in r { g[i] *= d[i] } } else { for i in r { dx[i] = g[i] * d[i] } }
        }
        return gradInput
    }

    @inline(__always)
    static func valueAndSlope(_ x: Float) -> (Float, Float) {
        let s = 1 / (1 + FastMath.exp(-x))
        let y = x * s
        return (y, s + y * (1 - s))
    }

    // MARK: Second order (see `SecondOrder.swift`)

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let ry = try tangents.forward(input, tangent: tangent, "SiLU") { x in
            // f' = σ + y(1 − σ); f'' = σ(1 − σ)(2 + x(1 − 2σ)).
            let s = 1 / (1 + FastMath.exp(-x)), y = x * s
            return (s + y * (1 - s), s * (1 - s) * (2 + x * (1 - 2 * s)))
        }
        let y = try forward(input)
        tangents.current = true
        return (y, ry)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        let rgx = try tangents.backward(gradOutput, tangent: tangent, slope: slope, "SiLU")
        return (try backwardInput(gradOutput), rgx)
    }
}
