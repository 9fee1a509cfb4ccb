import Tensor

/// Modules applied in order; parameter names are the module's index, as in PyTorch ("0.weight").
public final class Sequential: Module {
    public let modules: [Module]
    public init(_ modules: [Module]) { self.modules = modules }
    public func replica() -> Module { Sequential(modules.map { $0.replica() }) }

    public func forward(_ input: Tensor) throws -> Tensor {
        var x = input
        for m in modules { x = try m.forward(x) }
        return x
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        var g = gradOutput
        for m in modules.reversed() { g = try m.backwardInput(g) }
        return g
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        _ = try backward(gradOutput, needInputGradient: false)
    }

    /// Weight gradients of every module and, when asked, the gradient to the input, in one sweep.
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor? {
        var g = gradOutput
        for (i, m) in modules.enumerated().reversed() {
            try m.accumulateWeightGradients(g)
            if i > 0 || needInputGradient { g = try m.backwardInput(g) }
        }
        return needInputGradient ? g : nil
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        modules.enumerated().flatMap { i, m in m.namedParameters.map { ("\(i).\($0.name)", $0.parameter) } }
    }
}
