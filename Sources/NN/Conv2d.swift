import Tensor

/// 2-D convolution as GEMMs over unfolded patches, a cache-sized tile of output positions at a time.
///
/// Activations are channels-last, (N, H, W, C) in and (N, Ho, Wo, O) out — see `Convolution`.
/// Weights are PyTorch's (O, C, k, k), so checkpoints move unchanged; they are repacked to
/// (O, k, k, C), the order of the unfolded patches, whenever they change.
///
/// Unfolding a whole batch would write a matrix several times the size of the input (4 MB per 16
/// images for the second layer) that the GEMM then reads back from memory; a tile's patches stay
/// in the core's L2 cache between the unfolding, the GEMM and the folding. The weight gradient
/// unfolds its tiles again from the forward pass's input instead of keeping every patch.
public final class Conv2d: Module {
    public let inChannels, outChannels, kernel, stride, padding: Int
    public let weight: Parameter
    /// An empty tensor when the layer has no bias (`bias = false`, as PyTorch's option).
    public let bias: Parameter
    public var hasBias: Bool { bias.value.count > 0 }

    /// Unfolded positions per tile: enough floats to fill a good part of L2, and never so few rows
    /// that packing the weights for each tile's GEMM costs more than the tile's multiply-adds.
    public var tileFloats = 64 * 1024
    public var minTileRows = 256

    /// Tile buffers, one per core. The convolutions of one network use them only inside a call,
    /// so they can share one workspace.
    public var workspace = ConvolutionWorkspace()

    private var geometry: ConvGeometry?
    /// The input of the latest forward, for the weight gradient (see `Module`).
    private var input: Tensor?
    private let packedWeight = Tensor(shape: [0])
    /// Who multiplies: chosen for this layer's shape and precision in one place (`Kernels`), again
    /// when that choice changes (`Kernels.generation`, e.g. a test forcing another family).
    private var gemms: ConvolutionGEMMs
    private var kernelGeneration: Int
    /// Winograd F(2×2, 3×3) for the forward pass and input gradient, where the seam chooses it for
    /// this geometry (stride-1 pad-1 3×3); the weight gradient stays on `gemms`.
    private var winograd: WinogradConvolution?
    /// The size of the latest forward pass's input maps, nil before one (what `PrecisionTuning` measures at).
    public var inputSize: (height: Int, width: Int)? { geometry.map { ($0.height, $0.width) } }
    /// The Winograd kernels this layer runs now, nil when it runs unfolded.
    public var winogradKernels: WinogradConvolution? { winograd }
    /// The kernels this layer runs now.
    public var kernels: ConvolutionGEMMs { gemms }
    /// The arithmetic of its GEMMs; a replica that samples may run bf16 (see `run(in:)`).
    public private(set) var precision: Precision = .fp32
    private var packedGrads: [Tensor] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// The weight tensor's version when it was last packed.
    private var packedVersion: UInt64?
    // Second order: the latest tangent forward's input tangent, and the tangents' workspaces.
    private var inputTangent: Tensor?
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true,
                rng: RNG) {
        require(inChannels > 0 && outChannels > 0 && kernel > 0 && stride > 0 && padding >= 0, "Conv2d: bad geometry")
        self.inChannels = inChannels; self.outChannels = outChannels
        self.kernel = kernel; self.stride = stride; self.padding = padding
        let fanIn = inChannels * kernel * kernel
        weight = Parameter(Init.kaimingUniform(shape: [outChannels, inChannels, kernel, kernel], fanIn: fanIn, rng: rng))
        self.bias = Parameter(bias ? Init.biasUniform(count: outChannels, fanIn: fanIn, rng: rng) : Tensor(shape: [0]))
        kernelGeneration = Kernels.generation
        gemms = Kernels.convolution(inChannels: inChannels, outChannels: outChannels, patch: fanIn, precision: .fp32)
        winograd = Kernels.winograd(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                    padding: padding, precision: .fp32)
    }

    private init(sharing other: Conv2d) {
        inChannels = other.inChannels; outChannels = other.outChannels
        kernel = other.kernel; stride = other.stride; padding = other.padding
        weight = other.weight; bias = other.bias
        tileFloats = other.tileFloats; minTileRows = other.minTileRows
        precision = other.precision
        kernelGeneration = Kernels.generation
        gemms = Kernels.convolution(inChannels: inChannels, outChannels: outChannels, patch: inChannels * kernel * kernel,
                                    precision: precision)
        winograd = Kernels.winograd(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                    padding: padding, precision: precision)
    }

    public func replica() -> Module { Conv2d(sharing: self) }

    public static let layer = LayerType(
        "Conv2d",
        arguments: [.init("in", .integer(1...(1 << 20)), position: 1), .init("out", .integer(1...(1 << 20)), position: 2),
                    .init("kernel", .integer(1...1024), position: 3), .init("stride", .integer(1...1024), default: .integer(1)),
                    .init("padding", .integer(0...1024), default: .integer(0)), .init("bias", .boolean, default: .boolean(true))],
        signature: "joule.nn.Conv2d(in, out, kernel [, { stride = 1, padding = 0, bias = true, seed }]) → Model",
        documentation: "2-D convolution of (N, in, H, W) images to (N, out, Ho, Wo), as torch.nn.Conv2d with a square kernel; weights (out, in, k, k) and bias, initialised as PyTorch does (from joule.seed's generator unless `seed` is given).",
        parameters: { a in [[a.integer("out")!, a.integer("in")!, a.integer("kernel")!, a.integer("kernel")!]] + (a.boolean("bias")! ? [[a.integer("out")!]] : []) },
        make: { a, rng in
            Conv2d(a.integer("in")!, a.integer("out")!, kernel: a.integer("kernel")!, stride: a.integer("stride")!,
                   padding: a.integer("padding")!, bias: a.boolean("bias")!, rng: rng)
        })

    public func workload(after input: Workload) -> Workload {
        guard input.shape.count == 3, input.shape[2] == inChannels,
              let oh = Workload.windows(input.shape[0], kernel: kernel, stride: stride, padding: padding),
              let ow = Workload.windows(input.shape[1], kernel: kernel, stride: stride, padding: padding) else { return input.unfit }
        let positions = Double(oh) * Double(ow), patch = Double(inChannels * kernel * kernel)
        // Each output position reads one patch of k·k·C values per output channel. The unfolded
        // patches live in tiles of `tileFloats` (shared by the network's convolutions), not counted
        // per input.
        return input.then([oh, ow, outChannels], operations: positions * patch * Double(outChannels))
    }

    /// Runs this layer's GEMMs in `precision` from now on (its weights are packed again for them).
    public func run(in precision: Precision) {
        guard precision != self.precision else { return }
        self.precision = precision
        chooseKernels()
    }

    /// Asks `Kernels` for this layer's GEMMs (its weights are packed again for them).
    private func chooseKernels() {
        kernelGeneration = Kernels.generation
        gemms = Kernels.convolution(inChannels: inChannels, outChannels: outChannels, patch: inChannels * kernel * kernel,
                                    precision: precision)
        winograd = Kernels.winograd(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                    padding: padding, precision: precision)
        packedVersion = nil
    }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        hasBias ? [("weight", weight), ("bias", bias)] : [("weight", weight)]
    }
    public var summary: String { "Conv2d \(inChannels)→\(outChannels)" }
    public var architecture: JSON {
        .object(["type": .string("Conv2d"), "in": .int(inChannels), "out": .int(outChannels), "kernel": .int(kernel),
                 "stride": .int(stride), "padding": .int(padding), "bias": .bool(hasBias)])
    }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else { throw JouleError("expected images (N, C, H, W), got shape \(input.shapeText)") }
        guard input.shape[3] == inChannels else {
            throw JouleError("expected \(inChannels) input channels, got \(input.shape[3])")
        }
        let g = ConvGeometry(channels: inChannels, batch: input.shape[0], height: input.shape[1], width: input.shape[2],
                             kernel: kernel, stride: stride, padding: padding)
        guard g.height + 2 * padding >= kernel, g.width + 2 * padding >= kernel, g.batch > 0 else {
            throw JouleError("input \(g.height)×\(g.width) too small for kernel \(kernel) with padding \(padding)")
        }
        geometry = g
        self.input = input
        inputTangent = nil   // set again by a tangent forward
        if kernelGeneration != Kernels.generation { chooseKernels() }
        if packedVersion != weight.value.version { try packWeight() }
        try output.resize([g.batch, g.outHeight, g.outWidth, outChannels])
        try convolve(g, input.data, bias: hasBias ? bias.value.data : nil, into: output.data)
        return output
    }

    /// out = conv(x) (+ bias): the forward pass's GEMMs, also those of its tangent.
    private func convolve(_ g: ConvGeometry, _ x: UnsafePointer<Float>, bias b: UnsafePointer<Float>?,
                          into out: UnsafeMutablePointer<Float>) throws {
        if let winograd {
            return try forEachWinogradPiece(g, winograd) { images, tiles, workspace in
                winograd.forward(height: g.height, width: g.width, images: images, input: x, bias: b, output: out, tiles: tiles,
                                 workspace: workspace)
            }
        }
        let o = outChannels
        try forEachTile(g, balanced: true) { _, rows, col, phases in
            Self.unfold(g, x, rows, into: col, phases: phases)
            gemms.forward(rows: rows.count, patches: col, transposed: phases != nil, bias: b, output: out + rows.lowerBound * o)
        }
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        let g = try checkedGeometry(gradOutput)
        try gradInput.resize([g.batch, g.height, g.width, inChannels])
        try transposedConvolve(g, gradOutput.data, into: gradInput.data)
        return gradInput
    }

    /// gx = convᵀ(gy): the input gradient's GEMMs and folding, also those of its tangent.
    private func transposedConvolve(_ g: ConvGeometry, _ gy: UnsafePointer<Float>, into gx: UnsafeMutablePointer<Float>) throws {
        if let winograd {
            // The turned kernel's convolution: no patch gradients, no folding.
            return try forEachWinogradPiece(g, winograd) { images, tiles, workspace in
                winograd.inputGradient(height: g.height, width: g.width, images: images, gradOutput: gy, gradInput: gx,
                                       tiles: tiles, workspace: workspace)
            }
        }
        let o = outChannels
        let perImage = g.outHeight * g.outWidth, imageSize = g.height * g.width * inChannels
        try forEachTile(g, balanced: true) { _, rows, dcol, phases in
            gemms.inputGradient(rows: rows.count, gradOutput: gy + rows.lowerBound * o, transposed: phases != nil, patches: dcol)
            if let phases {
                Convolution.col2imSingleChannel(g, colT: dcol, rows: rows, phases: phases, input: gx)
                return
            }
            // Zero the images that start in this tile; earlier tiles of this part zeroed the rest.
            let first = (rows.lowerBound + perImage - 1) / perImage, end = (rows.upperBound + perImage - 1) / perImage
            if first < end { (gx + first * imageSize).update(repeating: 0, count: (end - first) * imageSize) }
            Convolution.col2imAdding(g, col: dcol, rows: rows, input: gx)
        }
    }

    public func accumulateWeightGradients(_ gradOutput: Tensor) throws {
        let g = try checkedGeometry(gradOutput)
        guard let input else { throw JouleError("Conv2d: backward before forward") }
        try accumulateWeightGradients(g, (gradOutput.data, input.data), nil, biasGradient: gradOutput.data)
    }

    /// Adds gyᵀ·unfold(x) for the pair (gy, x), and for the second pair when given, to the weight
    /// gradient, and Σ `biasGradient` over positions to the bias's: one pair for the gradient, two
    /// for its tangent.
    private func accumulateWeightGradients(_ g: ConvGeometry, _ first: (gy: UnsafeMutablePointer<Float>, x: UnsafeMutablePointer<Float>),
                                           _ second: (gy: UnsafeMutablePointer<Float>, x: UnsafeMutablePointer<Float>)?,
                                           biasGradient gb: UnsafePointer<Float>) throws {
        let o = outChannels
        while packedGrads.count < Parallel.cores { packedGrads.append(Tensor(shape: [0])) }
        for p in packedGrads { try p.resize([o, g.patchSize]); p.zero() }
        try forEachTile(g) { part, rows, col, phases in
            Self.unfold(g, first.x, rows, into: col, phases: phases)
            gemms.accumulateWeightGradient(rows: rows.count, gradOutput: first.gy + rows.lowerBound * o, patches: col,
                                           transposed: phases != nil, into: packedGrads[part].data)
            guard let second else { return }
            Self.unfold(g, second.x, rows, into: col, phases: phases)
            gemms.accumulateWeightGradient(rows: rows.count, gradOutput: second.gy + rows.lowerBound * o, patches: col,
                                           transposed: phases != nil, into: packedGrads[part].data)
        }
        let (c, kk) = (inChannels, kernel * kernel)
        for partial in packedGrads {
            for oc in 0..<o {
                for ch in 0..<c {
                    for t in 0..<kk { weight.grad.data[(oc * c + ch) * kk + t] += partial.data[(oc * kk + t) * c + ch] }
                }
            }
        }
        for p in 0..<g.positions where hasBias {
            let row = gb + p * o
            for oc in 0..<o { bias.grad.data[oc] += row[oc] }
        }
    }

    // MARK: Second order (see `SecondOrder.swift`)

    /// R{y} = conv(R{x}), without the bias (R{θ} = 0).
    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let y = try forward(input)
        try requireSameShape(tangent, input, "Conv2d tangent")
        inputTangent = tangent
        try outputTangent.resize(y.shape)
        try convolve(geometry!, tangent.data, bias: nil, into: outputTangent.data)
        return (y, outputTangent)
    }

    /// R{∂L/∂x} = convᵀ(R{g}); R{∂L/∂W} = R{g}ᵀ·unfold(x) + gᵀ·unfold(R{x}), R{∂L/∂b} = Σ R{g}.
    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        let g = try checkedGeometry(gradOutput)
        try requireSameShape(tangent, gradOutput, "Conv2d backward tangent")
        guard let input, let inputTangent, inputTangent.shape == input.shape else {
            throw JouleError("Conv2d: second-order backward before a tangent forward")
        }
        if weights {
            try accumulateWeightGradients(g, (tangent.data, input.data), (gradOutput.data, inputTangent.data),
                                          biasGradient: tangent.data)
        }
        guard needInputGradient else { return nil }
        try gradInputTangent.resize(input.shape)
        try transposedConvolve(g, tangent.data, into: gradInputTangent.data)
        return (try backwardInput(gradOutput), gradInputTangent)
    }

    /// Calls `body(part, rows, tile, phases)` over the batch's output positions, a tile of rows at a
    /// time, with `tile` room for the rows' patches. Images are shared out over the cores (a part
    /// holds whole images, so folding never races); within a part, tiles run in order. One-channel
    /// input unfolds transposed (see `Convolution.im2colSingleChannel`): its tiles hold whole images
    /// and `phases` is room for one image's column phases; otherwise `phases` is nil.
    ///
    /// With `balanced`, the images go out in several pieces per core, each to the next core that is
    /// free (`Parallel.pieces`), so that a core shared with another process does less of the work;
    /// `part` then names the worker, not a fixed share. The pieces are fixed ranges, so passes whose
    /// pieces write disjoint outputs (forward, input gradient) give the same bits; the weight
    /// gradient, summed per part, keeps fixed parts so that its order of summation never changes.
    private func forEachTile(_ g: ConvGeometry, balanced: Bool = false,
                             _ body: (Int, Range<Int>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?) -> Void) throws {
        let perImage = g.outHeight * g.outWidth
        let singleChannel = inChannels == 1
        let rowsPerTile = singleChannel ? perImage * Swift.max(1, tileFloats / (perImage * g.patchSize))
                                        : Swift.max(minTileRows, tileFloats / g.patchSize)
        let tileFloats = Swift.min(rowsPerTile, g.positions) * g.patchSize
        let phaseFloats = singleChannel ? Convolution.phaseFloats(g) : 0
        let parts = Swift.min(Parallel.cores, g.batch)
        let buffers = try workspace.buffers(parts, floats: tileFloats + phaseFloats)
        func each(_ part: Int, _ images: Range<Int>) {
            var start = images.lowerBound * perImage
            let end = images.upperBound * perImage
            let tile = buffers[part].data
            while start < end {
                let rows = start..<Swift.min(start + rowsPerTile, end)
                body(part, rows, tile, singleChannel ? tile + tileFloats : nil)
                start = rows.upperBound
            }
        }
        if balanced {
            Parallel.pieces(g.batch, pieces: parts * Self.piecesPerCore, workers: parts, each)
        } else {
            Parallel.split(g.batch, parts: parts, each)
        }
    }

    /// Calls `body(images, tiles, workspace)` over the batch in pieces of whole images handed out as
    /// cores free up (as `forEachTile`'s balanced passes), with workspace for Winograd blocks of
    /// `tiles` tiles. Pieces write disjoint images, so the result does not depend on who ran which.
    private func forEachWinogradPiece(_ g: ConvGeometry, _ winograd: WinogradConvolution,
                                      _ body: (Range<Int>, Int, UnsafeMutablePointer<Float>) -> Void) throws {
        let tiles = winograd.tilesPerBlock(targetFloats: tileFloats)
        let parts = Swift.min(Parallel.cores, g.batch)
        let buffers = try workspace.buffers(parts, floats: winograd.workspaceFloats(tiles: tiles))
        Parallel.pieces(g.batch, pieces: parts * Self.piecesPerCore, workers: parts) { part, images in
            body(images, tiles, buffers[part].data)
        }
    }

    /// Pieces of a batch per core in balanced passes (see `forEachTile`).
    static let piecesPerCore = 4

    /// The tile's patches as rows (positions × patch), or with `phases` (one-channel input) as
    /// columns (patch × positions).
    private static func unfold(_ g: ConvGeometry, _ x: UnsafePointer<Float>, _ rows: Range<Int>,
                               into col: UnsafeMutablePointer<Float>, phases: UnsafeMutablePointer<Float>?) {
        if let phases {
            Convolution.im2colSingleChannel(g, input: x, rows: rows, phases: phases, colT: col)
        } else {
            Convolution.im2col(g, input: x, rows: rows, col: col)
        }
    }

    /// (O, C, k, k) → (O, k, k, C), handed to the kernels, redone only when the weights have changed.
    private func packWeight() throws {
        packedVersion = weight.value.version
        let (c, kk) = (inChannels, kernel * kernel)
        let patch = kk * c
        try packedWeight.resize([outChannels, patch])
        for o in 0..<outChannels {
            for ch in 0..<c {
                for t in 0..<kk { packedWeight.data[(o * kk + t) * c + ch] = weight.value.data[(o * c + ch) * kk + t] }
            }
        }
        gemms.prepare(weights: packedWeight.data)
        winograd?.prepare(weights: packedWeight.data)
    }

    private func checkedGeometry(_ gradOutput: Tensor) throws -> ConvGeometry {
        guard let g = geometry else { throw JouleError("Conv2d: backward before forward") }
        guard gradOutput.shape == [g.batch, g.outHeight, g.outWidth, outChannels] else {
            throw JouleError("Conv2d: gradient shape \(gradOutput.shape) does not match output \([g.batch, g.outHeight, g.outWidth, outChannels])")
        }
        return g
    }
}

/// Tile buffers for unfolded patches, one per core, grown to the largest tile asked for.
public final class ConvolutionWorkspace {
    private var tiles: [Tensor] = []
    public init() {}

    func buffers(_ parts: Int, floats: Int) throws -> [Tensor] {
        while tiles.count < parts { tiles.append(Tensor(shape: [0])) }
        for t in tiles.prefix(parts) where t.count < floats { try t.resize([floats]) }
        return tiles
    }
}
