import Tensor

/// 2-D convolution as one GEMM over the whole batch.
///
/// Activations are (C, N, H, W) — channel-major across the batch, see `Convolution` — and so is
/// the output (O, N, Ho, Wo). Weights are PyTorch's (O, C, k, k), so checkpoints move unchanged.
public final class Conv2d: Module {
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let weight: Parameter
    public let bias: Parameter

    private var geometry: ConvGeometry?
    /// The unfolded input of the latest forward, kept for the weight gradient.
    private let col = Tensor(shape: [0])
    private let dcol = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, rng: RNG) {
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding
        let fanIn = inChannels * kernel * kernel
        weight = Parameter(Init.kaimingUniform(shape: [outChannels, inChannels, kernel, kernel], fanIn: fanIn, rng: rng))
        bias = Parameter(Init.biasUniform(count: outChannels, fanIn: fanIn, rng: rng))
    }

    private init(sharing other: Conv2d) {
        inChannels = other.inChannels; outChannels = other.outChannels
        kernel = other.kernel; stride = other.stride; padding = other.padding
        weight = other.weight; bias = other.bias
    }

    public func replica() -> Module { Conv2d(sharing: self) }

    public var namedParameters: [(name: String, parameter: Parameter)] { [("weight", weight), ("bias", bias)] }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4, input.shape[0] == inChannels else {
            throw JouleError("Conv2d(\(inChannels)→\(outChannels)): expected input (C=\(inChannels), N, H, W), got \(input.shape)")
        }
        let g = ConvGeometry(channels: inChannels, batch: input.shape[1], height: input.shape[2], width: input.shape[3],
                             kernel: kernel, stride: stride, padding: padding)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw JouleError("Conv2d: input \(input.shape[2])×\(input.shape[3]) too small for kernel \(kernel)")
        }
        geometry = g
        col.resize([g.colRows, g.colColumns])
        Convolution.im2col(g, input: input.data, col: col.data)
        output.resize([outChannels, g.batch, g.outHeight, g.outWidth])
        let columns = g.colColumns
        // Start from the bias, then accumulate W · col on top of it (beta = 1).
        for o in 0..<outChannels { (output.data + o * columns).update(repeating: bias.value.data[o], count: columns) }
        BLAS.gemm(m: outChannels, n: columns, k: g.colRows, a: weight.value.data, b: col.data, beta: 1, c: output.data)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        let g = try checkedGeometry(gradOutput)
        dcol.resize([g.colRows, g.colColumns])
        BLAS.gemm(transA: true, m: g.colRows, n: g.colColumns, k: outChannels, a: weight.value.data, b: gradOutput.data, c: dcol.data)
        gradInput.resize([inChannels, g.batch, g.height, g.width])
        Convolution.col2im(g, col: dcol.data, input: gradInput.data)
        return gradInput
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        let g = try checkedGeometry(gradOutput)
        let columns = g.colColumns
        BLAS.gemm(transB: true, m: outChannels, n: g.colRows, k: columns, a: gradOutput.data, b: col.data, beta: 1, c: weight.grad.data)
        for o in 0..<outChannels {
            var s: Float = 0
            let row = gradOutput.data + o * columns
            for j in 0..<columns { s += row[j] }
            bias.grad.data[o] += s
        }
    }

    private func checkedGeometry(_ gradOutput: Tensor) throws -> ConvGeometry {
        guard let g = geometry else { throw JouleError("Conv2d: backward before forward") }
        guard gradOutput.shape == [outChannels, g.batch, g.outHeight, g.outWidth] else {
            throw JouleError("Conv2d: gradient shape \(gradOutput.shape) does not match output \(output.shape)")
        }
        return g
    }
}
