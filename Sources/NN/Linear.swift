import Tensor

/// y = x · Wᵀ + b for x of shape (N, in); W is PyTorch's (out, in). Its three GEMMs go through
/// `Kernels`, which chooses who runs them.
public final class Linear: Module {
    public let inFeatures, outFeatures: Int
    public let weight: Parameter
    /// An empty tensor when the layer has no bias (`bias = false`, as PyTorch's option).
    public let bias: Parameter
    public var hasBias: Bool { bias.value.count > 0 }
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    // Second order: the latest tangent forward's input tangent, and the tangents' workspaces.
    private var inputTangent: Tensor?
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: RNG) {
        require(inFeatures > 0 && outFeatures > 0, "Linear: feature counts must be positive")
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(Init.kaimingUniform(shape: [outFeatures, inFeatures], fanIn: inFeatures, rng: rng))
        self.bias = Parameter(bias ? Init.biasUniform(count: outFeatures, fanIn: inFeatures, rng: rng) : Tensor(shape: [0]))
    }

    private init(sharing other: Linear) {
        inFeatures = other.inFeatures; outFeatures = other.outFeatures
        weight = other.weight; bias = other.bias
    }

    public func replica() -> Module { Linear(sharing: self) }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        hasBias ? [("weight", weight), ("bias", bias)] : [("weight", weight)]
    }
    public var summary: String { "Linear \(inFeatures)→\(outFeatures)" }
    public static let layer = LayerType(
        "Linear",
        arguments: [.init("in", .integer(1...(1 << 20)), position: 1), .init("out", .integer(1...(1 << 20)), position: 2),
                    .init("bias", .boolean, default: .boolean(true))],
        signature: "joule.nn.Linear(in, out [, { bias = true, seed }]) → Model",
        documentation: "y = x·Wᵀ + b for (N, in) inputs, as torch.nn.Linear; weight (out, in).",
        parameters: { a in [[a.integer("out")!, a.integer("in")!]] + (a.boolean("bias")! ? [[a.integer("out")!]] : []) },
        make: { a, rng in Linear(a.integer("in")!, a.integer("out")!, bias: a.boolean("bias")!, rng: rng) })
    public func workload(after input: Workload) -> Workload {
        guard input.shape == [inFeatures] else { return input.unfit }
        return input.then([outFeatures], operations: Double(inFeatures) * Double(outFeatures))
    }
    public var architecture: JSON {
        .object(["type": .string("Linear"), "in": .int(inFeatures), "out": .int(outFeatures), "bias": .bool(hasBias)])
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 2, input.shape[1] == inFeatures else {
            throw JouleError("expected input (N, \(inFeatures)), got \(input.shapeText)"
                             + (input.rank == 4 ? " (images: put Flatten() before a Linear layer)" : ""))
        }
        self.input = input
        inputTangent = nil   // set again by a tangent forward
        let n = input.shape[0]
        try output.resize([n, outFeatures])
        if hasBias {
            for i in 0..<n { (output.data + i * outFeatures).update(from: bias.value.data, count: outFeatures) }
        }
        Kernels.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: input.data, b: weight.value.data,
                     accumulate: hasBias, c: output.data)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        let n = try checkedBatch(gradOutput)
        try gradInput.resize([n, inFeatures])
        Kernels.gemm(m: n, n: inFeatures, k: outFeatures, a: gradOutput.data, b: weight.value.data, c: gradInput.data)
        return gradInput
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        let n = try checkedBatch(gradOutput)
        Kernels.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: gradOutput.data, b: input!.data, accumulate: true,
                     c: weight.grad.data)
        guard hasBias else { return }
        for i in 0..<n { for o in 0..<outFeatures { bias.grad.data[o] += gradOutput.data[i * outFeatures + o] } }
    }

    private func checkedBatch(_ gradOutput: Tensor) throws -> Int {
        guard let input else { throw JouleError("Linear: backward before forward") }
        guard gradOutput.shape == [input.shape[0], outFeatures] else {
            throw JouleError("Linear: gradient shape \(gradOutput.shape), expected \([input.shape[0], outFeatures])")
        }
        return input.shape[0]
    }

    // MARK: Second order (see `SecondOrder.swift`)

    /// R{y} = R{x}·Wᵀ (no bias: R{θ} = 0).
    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let y = try forward(input)
        try requireSameShape(tangent, input, "Linear tangent")
        inputTangent = tangent
        let n = input.shape[0]
        try outputTangent.resize([n, outFeatures])
        Kernels.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: tangent.data, b: weight.value.data, c: outputTangent.data)
        return (y, outputTangent)
    }

    /// R{∂L/∂x} = R{g}·W; R{∂L/∂W} = R{g}ᵀ·x + gᵀ·R{x}, R{∂L/∂b} = Σ R{g}.
    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        let n = try checkedBatch(gradOutput)
        try requireSameShape(tangent, gradOutput, "Linear backward tangent")
        guard let input, let inputTangent, inputTangent.shape == input.shape else {
            throw JouleError("Linear: second-order backward before a tangent forward")
        }
        if weights {
            Kernels.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: tangent.data, b: input.data, accumulate: true,
                         c: weight.grad.data)
            Kernels.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: gradOutput.data, b: inputTangent.data,
                         accumulate: true, c: weight.grad.data)
            if hasBias {
                for i in 0..<n { for o in 0..<outFeatures { bias.grad.data[o] += tangent.data[i * outFeatures + o] } }
            }
        }
        guard needInputGradient else { return nil }
        try gradInputTangent.resize([n, inFeatures])
        Kernels.gemm(m: n, n: inFeatures, k: outFeatures, a: tangent.data, b: weight.value.data, c: gradInputTangent.data)
        return (try backwardInput(gradOutput), gradInputTangent)
    }
}
