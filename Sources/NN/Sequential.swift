import Tensor

/// Modules applied in order; parameter names start with the module's name, by default its index as
/// in PyTorch ("0.weight"); `names` gives others (PyTorch's OrderedDict form: "cnn_layers").
public final class Sequential: Module {
    public let modules: [Module]
    public let names: [String]

    /// `names` must obey `checkNames` (callers with names from outside check them first); names
    /// that do not are replaced by the indices, so a mistake can never make two parameters share
    /// a name or a lookup run past the list.
    public init(_ modules: [Module], names: [String]? = nil) {
        self.modules = modules
        if let names, (try? Self.checkNames(names, count: modules.count)) != nil {
            self.names = names
        } else {
            self.names = modules.indices.map(String.init)
        }
        Self.chooseInPlace(modules)
    }

    /// The one rule for the names of a container's modules, wherever they come from (a Lua script
    /// or a checkpoint's architecture): one per module, distinct, non-empty, without dots and
    /// control characters. A dot separates the levels of a parameter's name, so names with dots
    /// could give two parameters one name ("a" holding "body.w" and "a.body" holding "w"), which
    /// no state_dict can hold; control characters have no place in a name that messages print.
    public static func checkNames(_ names: [String], count: Int) throws {
        guard names.count == count else { throw JouleError("\(count) names expected, one per module, got \(names.count)") }
        guard Set(names).count == names.count else { throw JouleError("module names must be distinct") }
        for n in names {
            guard !n.isEmpty, n.utf8.count <= 256, !n.unicodeScalars.contains(where: { $0 == "." || $0.value < 0x20 || $0.value == 0x7f }) else {
                throw JouleError("module name \(n.debugDescription) is not allowed: names are 1 to 256 bytes without dots or control characters")
            }
        }
    }
    public func replica() -> Module { Sequential(modules.map { $0.replica() }, names: names) }
    public var children: [Module] { modules }
    public func workload(after input: Workload) -> Workload {
        var w = input
        for m in modules where w.fits { w = m.workload(after: w) }
        return w
    }
    public var summary: String { "Sequential" }
    public var architecture: JSON {
        var o: [String: JSON] = ["type": .string("Sequential"), "modules": .array(modules.map(\.architecture))]
        if names != modules.indices.map(String.init) { o["names"] = .array(names.map(JSON.string)) }
        return .object(o)
    }

    /// An activation right after a convolution or linear layer, with a module after it, runs in
    /// place: nothing else reads that layer's output, and the next module's input gradient is its
    /// own and no longer needed once returned. (A first or last activation may share its tensors
    /// with the container's caller, a residual block's skip path among them, so it keeps its own.)
    static func chooseInPlace(_ modules: [Module]) {
        guard modules.count > 2 else { return }
        // A spectrally normalised layer hands on its wrapped layer's output: the same case.
        func affine(_ m: Module) -> Bool { m is Conv2d || m is Linear || (m as? SpectralNorm).map { affine($0.module) } == true }
        for i in 1..<(modules.count - 1) where affine(modules[i - 1]) {
            if let s = modules[i] as? Swish { s.inPlace = true }
            if let a = modules[i] as? Activation { a.inPlace = true }
        }
    }

    public func forward(_ input: Tensor) throws -> Tensor { try forward(input, through: modules.count) }

    /// The output of the first `count` modules (a classifier's features before its head).
    public func forward(_ input: Tensor, through count: Int) throws -> Tensor {
        var x = input
        for (i, m) in modules.prefix(count).enumerated() { x = try LayerError.locate(names[i], m) { try m.forward(x) } }
        return x
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        var g = gradOutput
        for (i, m) in modules.enumerated().reversed() { g = try LayerError.locate(names[i], m) { try m.backwardInput(g) } }
        return g
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        _ = try backward(gradOutput, needInputGradient: false)
    }

    /// Weight gradients of every module and, when asked, the gradient to the input, in one sweep.
    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor? {
        var g = gradOutput
        for (i, m) in modules.enumerated().reversed() {
            let need = i > 0 || needInputGradient
            let next = try LayerError.locate(names[i], m) { try m.backward(g, needInputGradient: need) }
            if need, let next { g = next }
        }
        return needInputGradient ? g : nil
    }

    // MARK: Second order (see `SecondOrder.swift`): values and tangents travel in pairs.

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        var x = (value: input, tangent: tangent)
        for (i, m) in modules.enumerated() { x = try LayerError.locate(names[i], m) { try m.forward(x.value, tangent: x.tangent) } }
        return x
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        var g = (value: gradOutput, tangent: tangent)
        for (i, m) in modules.enumerated().reversed() {
            let need = i > 0 || needInputGradient
            guard need || weights else { break }
            let next = try LayerError.locate(names[i], m) {
                try m.backward(g.value, tangent: g.tangent, weights: weights, needInputGradient: need)
            }
            if need {
                guard let next else { throw JouleError("\(m.summary) returned no input gradient") }
                g = next
            }
        }
        return needInputGradient ? g : nil
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        modules.enumerated().flatMap { i, m in m.namedParameters.map { ("\(names[i]).\($0.name)", $0.parameter) } }
    }
    public var namedBuffers: [(name: String, tensor: Tensor)] {
        modules.enumerated().flatMap { i, m in m.namedBuffers.map { ("\(names[i]).\($0.name)", $0.tensor) } }
    }
}

/// x + body(x), a residual block; the body's parameters are named under "body." as in PyTorch.
public final class Residual: Module {
    public let body: Module
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

    public init(_ body: Module) { self.body = body }
    public static let layer = LayerType(
        "Residual", wrapping: "body", signature: "joule.nn.Residual(m) → Model",
        documentation: "x + m(x), a residual block; m's parameters are named body.*, as in PyTorch.",
        wrap: { _, body, _ in Residual(body) })
    public func replica() -> Module { Residual(body.replica()) }
    public var children: [Module] { [body] }
    public func workload(after input: Workload) -> Workload {
        let b = body.workload(after: input)
        guard b.fits, b.shape == input.shape else { return b.unfit }
        return b.then(input.shape, operations: input.count)
    }
    public var summary: String { "Residual" }
    public var architecture: JSON { .object(["type": .string("Residual"), "body": body.architecture]) }
    public var namedParameters: [(name: String, parameter: Parameter)] {
        body.namedParameters.map { ("body.\($0.name)", $0.parameter) }
    }
    public var namedBuffers: [(name: String, tensor: Tensor)] { body.namedBuffers.map { ("body.\($0.name)", $0.tensor) } }

    public func forward(_ input: Tensor) throws -> Tensor {
        let y = try LayerError.locate("body", body) { try body.forward(input) }
        try add(input, y, into: output)
        return output
    }

    /// out = x + body's y, the same shape.
    private func add(_ x: Tensor, _ y: Tensor, into out: Tensor) throws {
        guard y.shape == x.shape else {
            throw JouleError("the body maps \(x.shapeText) to \(y.shapeText); a residual block needs the same shape")
        }
        try out.resize(x.shape)
        let (a, b, o) = (x.data, y.data, out.data)
        for i in 0..<x.count { o[i] = a[i] + b[i] }
    }

    // MARK: Second order (see `SecondOrder.swift`): the skip path carries tangents unchanged.

    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        try requireSameShape(tangent, input, "Residual tangent")
        let y = try LayerError.locate("body", body) { try body.forward(input, tangent: tangent) }
        try add(input, y.value, into: output)
        try add(tangent, y.tangent, into: outputTangent)
        return (output, outputTangent)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        try requireSameShape(gradOutput, output, "Residual backward")
        try requireSameShape(tangent, output, "Residual backward tangent")
        guard needInputGradient else {
            _ = try LayerError.locate("body", body) {
                try body.backward(gradOutput, tangent: tangent, weights: weights, needInputGradient: false)
            }
            return nil
        }
        // Copied out first, as in the first-order pass: the body need not keep its arguments.
        try gradInput.assign(gradOutput)
        try gradInputTangent.assign(tangent)
        guard let gb = try LayerError.locate("body", body, {
            try body.backward(gradOutput, tangent: tangent, weights: weights, needInputGradient: true)
        }) else { throw JouleError("the body returned no input gradient") }
        let (g, d, rg, rd) = (gradInput.data, gb.value.data, gradInputTangent.data, gb.tangent.data)
        for i in 0..<gradInput.count { g[i] += d[i]; rg[i] += rd[i] }
        return (gradInput, gradInputTangent)
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try backward(gradOutput, weights: false)
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        _ = try LayerError.locate("body", body) { try body.backward(gradOutput, needInputGradient: false) }
    }

    public func backward(_ gradOutput: Tensor, needInputGradient: Bool) throws -> Tensor? {
        guard needInputGradient else { try accumulateWeightGradients(gradOutput); return nil }
        return try backward(gradOutput, weights: true)
    }

    private func backward(_ gradOutput: Tensor, weights: Bool) throws -> Tensor {
        try requireSameShape(gradOutput, output, "Residual backward")
        // The skip path's gradient is gradOutput itself: it is copied out before the body runs,
        // whose modules may not change their gradient arguments but need not keep them.
        try gradInput.assign(gradOutput)
        let gb = try LayerError.locate("body", body) {
            weights ? try body.backward(gradOutput, needInputGradient: true)! : try body.backwardInput(gradOutput)
        }
        let (g, d) = (gradInput.data, gb.data)
        for i in 0..<gradInput.count { g[i] += d[i] }
        return gradInput
    }
}

/// An error inside a container, with the path of the layer that raised it: messages read
/// "layer 4 (Conv2d 16→32): expected 16 input channels, got 8" (nested: "layer 2.body.0 (…)").
public struct LayerError: Error, CustomStringConvertible {
    public var path: [String]
    public let layer: String
    public let message: String
    public var description: String { "layer \(path.joined(separator: ".")) (\(layer)): \(message)" }

    /// Runs `body` for the child `name`, adding the child to the path of any error it throws.
    @inline(__always)
    static func locate<T>(_ name: String, _ module: Module, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var e as LayerError {
            e.path.insert(name, at: 0)
            throw e
        } catch let e as JouleError {
            throw LayerError(path: [name], layer: module.summary, message: e.message)
        }
    }
}
