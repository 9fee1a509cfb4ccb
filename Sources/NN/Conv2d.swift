import Tensor

/// 2-D convolution as one GEMM over the whole batch.
///
/// Activations are channels-last, (N, H, W, C) in and (N, Ho, Wo, O) out — see `Convolution`.
/// Weights are PyTorch's (O, C, k, k), so checkpoints move unchanged; they are repacked to
/// (O, k, k, C), the order of the unfolded patches, whenever they change.
public final class Conv2d: Module {
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let weight: Parameter
    public let bias: Parameter

    private var geometry: ConvGeometry?
    /// The unfolded input of the latest forward, kept for the weight gradient.
    private let col = Tensor(shape: [0])
    /// Patch gradients, needed only inside `backwardInput`: the convolutions of one network that
    /// run on one thread can share this tensor (the largest of them sets its size).
    public var scratch = Tensor(shape: [0])
    private let packedWeight = Tensor(shape: [0])
    private let packedGrad = Tensor(shape: [0])
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// The weight tensor's version when it was last packed.
    private var packedVersion: UInt64?

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
        guard input.rank == 4, input.shape[3] == inChannels else {
            throw JouleError("Conv2d(\(inChannels)→\(outChannels)): expected input (N, H, W, C=\(inChannels)), got \(input.shape)")
        }
        let g = ConvGeometry(channels: inChannels, batch: input.shape[0], height: input.shape[1], width: input.shape[2],
                             kernel: kernel, stride: stride, padding: padding)
        guard g.outHeight > 0, g.outWidth > 0 else {
            throw JouleError("Conv2d: input \(g.height)×\(g.width) too small for kernel \(kernel)")
        }
        geometry = g
        col.resize([g.positions, g.patchSize])
        Convolution.im2col(g, input: input.data, col: col.data)
        if packedVersion != weight.value.version { packWeight() }
        output.resize([g.batch, g.outHeight, g.outWidth, outChannels])
        // Start from the bias, then accumulate col · Wᵀ on top of it (beta = 1).
        for p in 0..<g.positions { (output.data + p * outChannels).update(from: bias.value.data, count: outChannels) }
        BLAS.gemm(transB: true, m: g.positions, n: outChannels, k: g.patchSize, a: col.data, b: packedWeight.data,
                  beta: 1, c: output.data)
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        let g = try checkedGeometry(gradOutput)
        let dcol = scratch
        dcol.resize([g.positions, g.patchSize])
        BLAS.gemm(m: g.positions, n: g.patchSize, k: outChannels, a: gradOutput.data, b: packedWeight.data, c: dcol.data)
        gradInput.resize([g.batch, g.height, g.width, inChannels])
        Convolution.col2im(g, col: dcol.data, input: gradInput.data)
        return gradInput
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        let g = try checkedGeometry(gradOutput)
        packedGrad.resize([outChannels, g.patchSize])
        BLAS.gemm(transA: true, m: outChannels, n: g.patchSize, k: g.positions, a: gradOutput.data, b: col.data, c: packedGrad.data)
        let (c, kk) = (inChannels, kernel * kernel)
        for o in 0..<outChannels {
            for ch in 0..<c {
                for t in 0..<kk { weight.grad.data[(o * c + ch) * kk + t] += packedGrad.data[(o * kk + t) * c + ch] }
            }
        }
        for p in 0..<g.positions {
            let row = gradOutput.data + p * outChannels
            for o in 0..<outChannels { bias.grad.data[o] += row[o] }
        }
    }

    /// (O, C, k, k) → (O, k, k, C), redone only when the weights have changed.
    private func packWeight() {
        packedVersion = weight.value.version
        let (c, kk) = (inChannels, kernel * kernel)
        packedWeight.resize([outChannels, kk * c])
        for o in 0..<outChannels {
            for ch in 0..<c {
                for t in 0..<kk { packedWeight.data[(o * kk + t) * c + ch] = weight.value.data[(o * c + ch) * kk + t] }
            }
        }
    }

    private func checkedGeometry(_ gradOutput: Tensor) throws -> ConvGeometry {
        guard let g = geometry else { throw JouleError("Conv2d: backward before forward") }
        guard gradOutput.shape == [g.batch, g.outHeight, g.outWidth, outChannels] else {
            throw JouleError("Conv2d: gradient shape \(gradOutput.shape) does not match output \(output.shape)")
        }
        return g
    }
}
