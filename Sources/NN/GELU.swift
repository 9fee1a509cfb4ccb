import Foundation
import Tensor

/// PyTorch's GELU (approximate = "none"): y = x·Φ(x), Φ the standard normal CDF, Φ(x) = ½(1 +
/// erf(x/√2)); dy/dx = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π). Computed in Double and rounded
/// once, so y and its slope are within an ulp of PyTorch's float32 for every input. A layer added
/// as one file: its module here and its `LayerType`, listed in `LayerType.all`.
public final class GELU: Module {
    private let slope = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private let tangents = PointwiseTangents()

    public init() {}
    public func replica() -> Module { GELU() }
    public var architecture: JSON { .object(["type": .string("GELU")]) }

    public static let layer = LayerType("GELU", signature: "joule.nn.GELU() → Model",
                                        documentation: "x·Φ(x), Φ the standard normal CDF (torch.nn.GELU, exact form).",
                                        make: { _, _ in GELU() })

    public func forward(_ input: Tensor) throws -> Tensor {
        try slope.resize(input.shape)
        tangents.current = false   // until a tangent forward
        try output.resize(input.shape)
        let (x, d, y) = (input.data, slope.data, output.data)
        Parallel.chunks(input.count, minChunk: 16384) { r in
            for i in r {
                let v = Double(x[i])
                let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
                let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
                y[i] = Float(v * cdf)
                d[i] = Float(cdf + v * pdf)
            }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, slope, "GELU backward")
        try gradInput.resize(gradOutput.shape)
        let (g, d, dx) = (gradOutput.data, slope.data, gradInput.data)
        Parallel.chunks(gradOutput.count, minChunk: 16384) { r in for i in r { dx[i] = g[i] * d[i] } }
        return gradInput
    }

    // MARK: Second order (see `SecondOrder.swift`)

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let ry = try tangents.forward(input, tangent: tangent, "GELU") { x in
            // f' = Φ + xφ; f'' = φ(2 − x²). In Double as the forward pass.
            let v = Double(x)
            let cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
            let pdf = Foundation.exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            return (Float(cdf + v * pdf), Float(pdf * (2 - v * v)))
        }
        let y = try forward(input)
        tangents.current = true
        return (y, ry)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        let rgx = try tangents.backward(gradOutput, tangent: tangent, slope: slope, "GELU")
        return (try backwardInput(gradOutput), rgx)
    }
}
