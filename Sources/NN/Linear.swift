import Tensor

/// y = x · Wᵀ + b for x of shape (N, in); W is PyTorch's (out, in).
public final class Linear: Module {
    public let inFeatures, outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init(_ inFeatures: Int, _ outFeatures: Int, rng: RNG) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(Init.kaimingUniform(shape: [outFeatures, inFeatures], fanIn: inFeatures, rng: rng))
        bias = Parameter(Init.biasUniform(count: outFeatures, fanIn: inFeatures, rng: rng))
    }

    private init(sharing other: Linear) {
        inFeatures = other.inFeatures; outFeatures = other.outFeatures
        weight = other.weight; bias = other.bias
    }

    public func replica() -> Module { Linear(sharing: self) }

    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 2, input.shape[1] == inFeatures else {
            throw JouleError("Linear(\(inFeatures)→\(outFeatures)): expected input (N, \(inFeatures)), got \(input.shape)")
        }
        self.input = input
        let n = input.shape[0]
        output.resize([n, outFeatures])
        for i in 0..<n { (output.data + i * outFeatures).update(from: bias.value.data, count: outFeatures) }
        BLAS.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: input.data, b: weight.value.data, beta: 1, c: output.data)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        let n = try checkedBatch(gradOutput)
        gradInput.resize([n, inFeatures])
        BLAS.gemm(m: n, n: inFeatures, k: outFeatures, a: gradOutput.data, b: weight.value.data, c: gradInput.data)
        return gradInput
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        let n = try checkedBatch(gradOutput)
        BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: gradOutput.data, b: input!.data, beta: 1, c: weight.grad.data)
        for i in 0..<n { for o in 0..<outFeatures { bias.grad.data[o] += gradOutput.data[i * outFeatures + o] } }
    }

    private func checkedBatch(_ gradOutput: Tensor) throws -> Int {
        guard let input else { throw JouleError("Linear: backward before forward") }
        guard gradOutput.shape == [input.shape[0], outFeatures] else {
            throw JouleError("Linear: gradient shape \(gradOutput.shape), expected \([input.shape[0], outFeatures])")
        }
        return input.shape[0]
    }
}
