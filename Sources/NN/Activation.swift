import Foundation
import Tensor

/// Elementwise activations besides SiLU (see `Swish`), with PyTorch's definitions:
/// ReLU, LeakyReLU(negative_slope), ELU(alpha) = x > 0 ? x : α·(eˣ − 1), Tanh, Sigmoid.
/// The forward pass keeps the slope dy/dx, so the backward pass is one multiply; in place it works
/// as `Swish` does.
public final class Activation: Module {
    public enum Function: Equatable {
        case relu
        case leakyReLU(slope: Float)
        case elu(alpha: Float)
        case tanh
        case sigmoid
    }

    public let function: Function
    public var inPlace: Bool
    private let slope = Tensor(shape: [0])
    private var output = Tensor(shape: [0])
    private var gradInput = Tensor(shape: [0])
    private let tangents = PointwiseTangents()

    public init(_ function: Function, inPlace: Bool = false) { self.function = function; self.inPlace = inPlace }
    public func replica() -> Module { Activation(function, inPlace: inPlace) }

    public static let layers = [
        LayerType("ReLU", signature: "joule.nn.ReLU() → Model", documentation: "max(x, 0).", make: { _, _ in Activation(.relu) }),
        LayerType("LeakyReLU", arguments: [.init("negative_slope", .setting, position: 1, default: .setting(0.01))],
                  signature: "joule.nn.LeakyReLU([negative_slope = 0.01]) → Model", documentation: "x for x > 0, else negative_slope·x.",
                  make: { a, _ in Activation(.leakyReLU(slope: a.setting("negative_slope")!)) }),
        LayerType("ELU", arguments: [.init("alpha", .setting, position: 1, default: .setting(1))],
                  signature: "joule.nn.ELU([alpha = 1]) → Model", documentation: "x for x > 0, else α·(eˣ − 1).",
                  make: { a, _ in Activation(.elu(alpha: a.setting("alpha")!)) }),
        LayerType("Tanh", signature: "joule.nn.Tanh() → Model", documentation: "Elementwise hyperbolic tangent.", make: { _, _ in Activation(.tanh) }),
        LayerType("Sigmoid", signature: "joule.nn.Sigmoid() → Model", documentation: "Elementwise 1 / (1 + e⁻ˣ).", make: { _, _ in Activation(.sigmoid) }),
    ]

    public var architecture: JSON {
        switch function {
        case .relu: return .object(["type": .string("ReLU")])
        case .leakyReLU(let s): return .object(["type": .string("LeakyReLU"), "negative_slope": .double(Double("\(s)") ?? Double(s))])
        case .elu(let a): return .object(["type": .string("ELU"), "alpha": .double(Double("\(a)") ?? Double(a))])
        case .tanh: return .object(["type": .string("Tanh")])
        case .sigmoid: return .object(["type": .string("Sigmoid")])
        }
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        try slope.resize(input.shape)
        tangents.current = false   // until a tangent forward
        if inPlace { output = input } else { try output.resize(input.shape) }
        switch function {
        case .relu: apply(input) { x in x > 0 ? (x, 1) : (0, 0) }
        case .leakyReLU(let a): apply(input) { x in x > 0 ? (x, 1) : (a * x, a) }
        case .elu(let a):
            apply(input) { x in
                if x > 0 { return (x, 1) }
                let y = a * Foundation.expm1(x)
                return (y, y + a)
            }
        case .tanh:
            apply(input) { x in
                let y = Foundation.tanh(x)
                return (y, 1 - y * y)
            }
        case .sigmoid:
            apply(input) { x in
                let y = 1 / (1 + Foundation.exp(-x))
                return (y, y * (1 - y))
            }
        }
        return output
    }

    @inline(__always)
    private func apply(_ input: Tensor, _ f: (Float) -> (Float, Float)) {
        let (x, d, y) = (input.data, slope.data, output.data)
        Parallel.chunks(input.count, minChunk: 16384) { r in for i in r { (y[i], d[i]) = f(x[i]) } }
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, slope, "\(summary) backward")
        if inPlace { gradInput = gradOutput } else { try gradInput.resize(gradOutput.shape) }
        let (g, d, dx) = (gradOutput.data, slope.data, gradInput.data)
        Parallel.chunks(gradOutput.count, minChunk: 16384) { r in for i in r { dx[i] = g[i] * d[i] } }
        return gradInput
    }

    // MARK: Second order (see `SecondOrder.swift`)

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let ry: Tensor
        switch function {
        // Piecewise linear: f'' = 0; the slope at the kink is the forward pass's (0 for ReLU at 0).
        case .relu: ry = try tangents.forward(input, tangent: tangent, summary) { x in (x > 0 ? 1 : 0, 0) }
        case .leakyReLU(let a): ry = try tangents.forward(input, tangent: tangent, summary) { x in (x > 0 ? 1 : a, 0) }
        case .elu(let a):
            ry = try tangents.forward(input, tangent: tangent, summary) { x in
                if x > 0 { return (1, 0) }
                let d = a * Foundation.exp(x)
                return (d, d)
            }
        case .tanh:
            ry = try tangents.forward(input, tangent: tangent, summary) { x in
                let y = Foundation.tanh(x), d = 1 - y * y
                return (d, -2 * y * d)
            }
        case .sigmoid:
            ry = try tangents.forward(input, tangent: tangent, summary) { x in
                let y = 1 / (1 + Foundation.exp(-x)), d = y * (1 - y)
                return (d, d * (1 - 2 * y))
            }
        }
        let y = try forward(input)
        tangents.current = true
        return (y, ry)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        let rgx = try tangents.backward(gradOutput, tangent: tangent, slope: slope, summary)
        return (try backwardInput(gradOutput), rgx)
    }
}
