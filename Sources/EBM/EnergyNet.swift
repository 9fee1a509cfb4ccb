import ArchitectureFiles
import Formats
import Foundation
import NN
import Tensor

/// An energy model composed of modules (`Sequential`, `Conv2d`, `Linear`, …): logits f(x) = net(x).
///
/// Inputs are PyTorch's (N, C, H, W) images or (N, D) vectors; images go through the modules
/// channels-last (see `Module`), turned at the entrance and, for the input gradient, at the exit
/// (one copy when C = 1: the same bytes). Parameter names are the modules' PyTorch names, and the
/// architecture goes into checkpoints as JSON, so `EnergyNets.load` rebuilds any such model.
public class EnergyNet: EnergyModel {
    public let root: Module
    public let inputShape: [Int]?
    public private(set) var classes = 0

    // Workspaces reused on every call.
    private let input = Tensor(shape: [0])
    private let lse = Tensor(shape: [0])
    private let softmax = Tensor(shape: [0])
    private let gradLogits = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])
    private let tangentInput = Tensor(shape: [0])
    private let gradLogitsTangent = Tensor(shape: [0])
    private let secondOrderEnergy = Tensor(shape: [0])
    private let hvp = Tensor(shape: [0])
    /// The shape of the latest forward pass's input, (N, C, H, W) or (N, D).
    private var forwardShape: [Int] = []
    /// Modules whose passes depend on the mode (spectral normalisation), found once.
    private let modeModules: [ModeDependent]
    /// A replica (per-core helper, a sampler's bf16 model) never advances mode-dependent state:
    /// only the model the caller holds does, on the calling thread, before it splits a batch.
    private var isReplica = false

    /// `inputShape` is the shape of one input, (C, H, W) or (D); for a network that starts with a
    /// Linear layer it defaults to (in features). The number of classes is found by running one
    /// input of `inputShape`, or without one is the last Linear layer's outputs.
    public init(_ root: Module, inputShape: [Int]? = nil) throws {
        try Architecture.check(root)
        if let s = inputShape {
            guard s.count == 1 || s.count == 3, s.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }), s.reduce(1, *) <= 1 << 24 else {
                throw JouleError("input shape must be (C, H, W) or (D), positive and at most \(1 << 24) values, got \(s)")
            }
        }
        self.root = root
        self.inputShape = inputShape ?? (Self.firstLeaf(root) as? Linear).map { [$0.inFeatures] }
        modeModules = root.allModules.compactMap { $0 as? ModeDependent }
        shareConvolutionWorkspace()
        if let s = self.inputShape {
            try checkWorkload(item: s)
            // One input through the network: layers that do not fit the input shape (a Flatten
            // feeding a Linear of the wrong width) fail here, naming the layer, not at the first
            // step of sampling. No pass of the model's: the mode-dependent state stays.
            classes = try forwardPass(Tensor(shape: [1] + s)).shape[1]
        } else if let out = Self.lastLinear(root) {
            classes = out.outFeatures
        } else {
            throw JouleError("cannot tell how many logits this network gives: end it with a Linear layer or give its input shape")
        }
    }

    /// The item shape whose workload was checked last.
    private var checkedItem: [Int] = []

    /// Refuses inputs of shape `item` (C, H, W) or (D) whose run through this network would ask for
    /// more than any real network needs (`Workload`), before anything runs: the one bound on the
    /// work a network may ask for, whether it came from a checkpoint or from Lua.
    private func checkWorkload(item: [Int]) throws {
        guard item != checkedItem else { return }
        let start = Workload(shape: item.count == 3 ? [item[1], item[2], item[0]] : item)
        try root.workload(after: start).check("this network, on inputs of shape \(item),")
        checkedItem = item
    }

    /// A model sharing `other`'s parameters, with workspaces of its own.
    private init(sharing other: EnergyNet) {
        root = other.root.replica()
        modeModules = root.allModules.compactMap { $0 as? ModeDependent }
        isReplica = true
        inputShape = other.inputShape
        classes = other.classes
        shareConvolutionWorkspace()
    }

    /// A replica whose convolutions run in `precision` (and whose per-core helpers do too): the
    /// model a sampler runs, while this one trains in FP32 on the same parameters. Under auto each
    /// convolution gets the arithmetic `PrecisionTuning` measured faster for its shape; a layer whose
    /// input size no forward pass has told yet (a network without an input shape) stays FP32.
    public func sampling(in precision: SamplingPrecision) -> EnergyModel {
        let convolutions = root.allModules.compactMap { $0 as? Conv2d }
        let wanted = convolutions.map { conv -> Precision in
            switch precision {
            case .fp32: return .fp32
            // A shape the bf16 kernels do not serve (one input channel, outputs not a multiple of 16) runs FP32.
            case .bf16: return BF16Convolution.serves(inChannels: conv.inChannels, outChannels: conv.outChannels) ? Precision.bf16.available : .fp32
            case .auto: return conv.tuningShape.map(PrecisionTuning.choice(for:)) ?? .fp32
            }
        }
        guard wanted != convolutions.map(\.precision) else { return self }
        let r = replica()
        for (conv, p) in zip(r.root.allModules.compactMap { $0 as? Conv2d }, wanted) { conv.run(in: p) }
        return r
    }

    /// "fp32", "bf16", or "bf16 in 3 of 5 convolutions (fp32 in the rest)".
    public var arithmetic: String {
        let precisions = root.allModules.compactMap { ($0 as? Conv2d)?.precision }
        let bf16 = precisions.filter { $0 == .bf16 }.count
        if bf16 == 0 { return "fp32" }
        if bf16 == precisions.count { return "bf16" }
        return "bf16 in \(bf16) of \(precisions.count) convolutions (fp32 in the rest)"
    }

    /// A model that shares this one's parameters with workspaces of its own, for running
    /// independent batches (groups of SGLD chains) on several threads.
    public func replica() -> EnergyNet { EnergyNet(sharing: self) }

    private static func firstLeaf(_ m: Module) -> Module {
        if let s = m as? Sequential, let first = s.modules.first { return firstLeaf(first) }
        if let sn = m as? SpectralNorm { return sn.module }
        return m
    }

    private static func lastLinear(_ m: Module) -> Linear? {
        if let s = m as? Sequential, let last = s.modules.last { return lastLinear(last) }
        if let sn = m as? SpectralNorm { return sn.module as? Linear }
        return m as? Linear
    }

    /// One set of patch tiles for all convolutions of this network (they use them only inside a call).
    private func shareConvolutionWorkspace() {
        let workspace = ConvolutionWorkspace()
        for case let conv as Conv2d in root.allModules { conv.workspace = workspace }
    }

    public var namedParameters: [(name: String, parameter: Parameter)] { root.namedParameters }
    public var namedBuffers: [(name: String, tensor: Tensor)] { root.namedBuffers }

    // MARK: Mode (PyTorch's train() / eval())

    /// Training mode (PyTorch's `model.training`): each model-level pass (`forwardLogits`,
    /// `energyGradient`, the second-order passes) first advances the mode-dependent modules' state
    /// once (spectral normalisation's u, v), on the calling thread. A model without such modules
    /// keeps the mode but nothing depends on it.
    public var training: Bool {
        get { modeModules.first?.training ?? ownMode }
        set { ownMode = newValue; for m in modeModules { m.training = newValue } }
    }
    private var ownMode = true

    /// One advance of every mode-dependent module, whatever the mode (see `EnergyModel`).
    public func beginTrainingStep() {
        guard !isReplica else { return }
        for m in modeModules { m.advance() }
    }

    /// Called once at the start of every model-level pass, before a batch is split over replicas.
    private func beginPass() {
        guard !isReplica else { return }
        for m in modeModules { m.beginPass() }
    }

    // MARK: Forward and backward

    public func forwardLogits(_ x: Tensor) throws -> Tensor {
        beginPass()
        return try forwardPass(x)
    }

    /// The logits of `x`, without `beginPass`.
    private func forwardPass(_ x: Tensor) throws -> Tensor {
        let input = try entered(x)
        return try checkedLogits(try located { try root.forward(input) })
    }

    /// The output of the first `count` modules of a `Sequential` network (what `FeatureNetwork`
    /// takes as features), in a tensor the network reuses on its next call.
    public func forwardPrefix(_ x: Tensor, modules count: Int) throws -> Tensor {
        guard let seq = root as? Sequential, (0...seq.modules.count).contains(count) else {
            throw JouleError("forwardPrefix: the network is not a Sequential of at least \(count) modules")
        }
        beginPass()
        let input = try entered(x)
        return try located { try seq.forward(input, through: count) }
    }

    /// Checks a batch and turns it into the modules' layout, in `input` (returned: as a throwing
    /// function returning nothing, Swift 6.3 -O left a loop count in the error register here).
    private func entered(_ x: Tensor) throws -> Tensor {
        guard (x.rank == 2 || x.rank == 4), x.shape[0] > 0 else {
            throw JouleError("expected images (N, C, H, W) or vectors (N, D), got shape \(x.shape)")
        }
        if let s = inputShape, x.rank != s.count + 1 || x.shape[1] != s[0] {
            throw JouleError(s.count == 3 ? "expected images of shape (N, \(s[0]), H, W), got \(x.shape)"
                                          : "expected inputs of shape (N, \(s[0])), got \(x.shape)")
        }
        // Checked once per item shape; the comparison allocates nothing (this runs every SGLD step).
        if !x.shape.dropFirst().elementsEqual(checkedItem) { try checkWorkload(item: Array(x.shape.dropFirst())) }
        forwardShape = x.shape
        if x.rank == 4 {
            let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
            try input.resize([n, x.shape[2], x.shape[3], c])
            Self.transpose(x.data, into: input.data, items: n, rows: c, columns: hw)
        } else {
            try input.assign(x)
        }
        return input
    }

    private func checkedLogits(_ y: Tensor) throws -> Tensor {
        guard y.rank == 2 else {
            throw JouleError("the network gives outputs of shape \(y.shape), not (N, C) logits: end it with Flatten and Linear")
        }
        return y
    }

    public func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor? {
        if weights {
            _ = try located { try root.backward(gradLogits, needInputGradient: false) }
            return nil
        }
        let g = try located { try root.backwardInput(gradLogits) }
        try inputGradient.resize(forwardShape)
        if forwardShape.count == 4 {
            let (n, c, hw) = (forwardShape[0], forwardShape[1], forwardShape[2] * forwardShape[3])
            Self.transpose(g.data, into: inputGradient.data, items: n, rows: hw, columns: c)
        } else {
            inputGradient.data.update(from: g.data, count: g.count)
        }
        return inputGradient
    }

    /// (items, rows, columns) → (items, columns, rows): NCHW ↔ NHWC; a plain copy when either is 1.
    private static func transpose(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, items: Int, rows: Int, columns: Int) {
        guard rows > 1, columns > 1 else { dst.update(from: src, count: items * rows * columns); return }
        let size = rows * columns
        for i in 0..<items {
            let (s, d) = (src + i * size, dst + i * size)
            for r in 0..<rows { for c in 0..<columns { d[c * rows + r] = s[r * columns + c] } }
        }
    }

    /// Errors of the layers as users read them: "layer 4 (Conv2d 16→32): …".
    private func located<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as LayerError { throw JouleError(e.description) }
    }

    public func energyGradient(_ x: Tensor, labels: [Int]? = nil, energy: Tensor) throws -> Tensor {
        beginPass()
        let n = x.shape.first ?? 0
        let pieces = Swift.min(Parallel.cores * Self.piecesPerCore, n / Self.minItemsPerPiece)
        guard Parallel.cores > 1, pieces > 1 else { return try wholeEnergyGradient(x, labels: labels, energy: energy) }
        if let labels, labels.count != n { throw JouleError("\(labels.count) labels for \(n) inputs") }
        if helpers.isEmpty { helpers = (0..<Parallel.cores).map { _ in Helper(model: replica()) } }
        try energy.resize([n])
        try inputGradient.resize(x.shape)
        let d = x.itemSize
        let failure = FirstError()
        Parallel.pieces(n, pieces: pieces, workers: Parallel.cores) { worker, rows in
            let h = helpers[worker]
            do {
                try h.x.resize([rows.count] + x.shape.dropFirst())
                h.x.data.update(from: x.data + rows.lowerBound * d, count: h.x.count)
                let g = try h.model.wholeEnergyGradient(h.x, labels: labels.map { Array($0[rows]) }, energy: h.energy)
                (energy.data + rows.lowerBound).update(from: h.energy.data, count: rows.count)
                (inputGradient.data + rows.lowerBound * d).update(from: g.data, count: g.count)
            } catch {
                failure.record(error)
            }
        }
        try failure.rethrow()
        return inputGradient
    }

    /// Below this many inputs a piece is not split further.
    static let minItemsPerPiece = 2
    /// Pieces per core of a split batch, handed out as cores free up (`Parallel.pieces`): when another
    /// process takes part of a core, the others take more pieces instead of waiting for its half.
    /// More pieces balance finer but run smaller GEMMs. Measured on the course JEM iteration (32
    /// chains, 2 cores, workers pinned, `scripts/bench --busy`): 4 pieces of 4 chains per core 1.59×
    /// its quiet time with a core taken, 8 of 2 1.51–1.54×, 16 of 1 1.51–1.52×, quiet times equal.
    static let piecesPerCore = 8

    /// A replica and its share of a split batch.
    private final class Helper {
        let model: EnergyNet
        let x = Tensor(shape: [0]), energy = Tensor(shape: [0])
        init(model: EnergyNet) { self.model = model }
    }
    private var helpers: [Helper] = []

    private func wholeEnergyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor {
        try Energies.compute(of: try forwardPass(x), labels: labels, into: energy, gradLogits: gradLogits, lse: lse, softmax: softmax)
        return try backward(gradLogits, weights: false)!
    }

    // MARK: Second order

    public func hessianVectorProduct(_ x: Tensor, _ v: Tensor, labels: [Int]?) throws -> Tensor {
        try secondOrder(x, v, labels: labels, weights: false)!
    }

    public func accumulateWeightGradientOfInputGradient(_ x: Tensor, direction v: Tensor, labels: [Int]?) throws {
        _ = try secondOrder(x, v, labels: labels, weights: true)
    }

    /// One forward pass with the tangent R{x} = v and one backward pass with tangents (see NN's
    /// `SecondOrder.swift`), on the whole batch (the layers share the cores, as in a weight-gradient
    /// pass): with `weights`, R{∂E/∂θ} accumulates into the parameters' gradients and the input
    /// layer's tangent is skipped; otherwise R{∂E/∂x}, the Hessian-vector product, is returned.
    private func secondOrder(_ x: Tensor, _ v: Tensor, labels: [Int]?, weights: Bool) throws -> Tensor? {
        guard v.shape == x.shape else { throw JouleError("direction v has shape \(v.shape), the inputs \(x.shape)") }
        beginPass()
        let input = try entered(x)
        if x.rank == 4 {
            let (n, c, hw) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
            try tangentInput.resize(input.shape)
            Self.transpose(v.data, into: tangentInput.data, items: n, rows: c, columns: hw)
        } else {
            try tangentInput.assign(v)
        }
        let f = try located { try root.forward(input, tangent: tangentInput) }
        _ = try checkedLogits(f.value)
        try Energies.compute(of: f.value, labels: labels, into: secondOrderEnergy, gradLogits: gradLogits, lse: lse, softmax: softmax)
        try Energies.gradientTangent(gradLogits, logitsTangent: f.tangent, conditional: labels != nil, into: gradLogitsTangent)
        let r = try located { try root.backward(gradLogits, tangent: gradLogitsTangent, weights: weights, needInputGradient: !weights) }
        guard !weights else { return nil }
        guard let r else { throw JouleError("the network returned no input gradient") }
        try hvp.resize(forwardShape)
        if forwardShape.count == 4 {
            let (n, c, hw) = (forwardShape[0], forwardShape[1], forwardShape[2] * forwardShape[3])
            Self.transpose(r.tangent.data, into: hvp.data, items: n, rows: hw, columns: c)
        } else {
            hvp.data.update(from: r.tangent.data, count: r.tangent.count)
        }
        return hvp
    }

    // MARK: Checkpoints

    public var hyperparameters: [String: String] {
        var h = ["model": "composed", "classes": "\(classes)", "architecture": root.architecture.serialized()]
        if let s = inputShape { h["input_shape"] = s.map(String.init).joined(separator: ",") }
        return h
    }

    public func load(stateDict: [String: Tensor]) throws {
        // Parameters, then buffers (spectral normalisation's u, v): a file holds both.
        let mine = namedParameters.map { ($0.name, $0.parameter.value) } + namedBuffers.map { ($0.name, $0.tensor) }
        // Check everything before copying anything, in the parameters' order, so that the message
        // names the first parameter where checkpoint and model differ.
        for (name, p) in mine {
            guard let t = stateDict[name] else { throw JouleError("missing weight '\(name)' (the checkpoint is of another architecture)") }
            guard t.shape == p.shape else {
                throw JouleError("weight '\(name)' has shape \(t.shape), the model needs \(p.shape)")
            }
        }
        let known = Set(mine.map(\.0))
        if let extra = stateDict.keys.sorted().first(where: { !known.contains($0) }) {
            throw JouleError("unknown weight '\(extra)' for this model (its parameters: \(mine.prefix(4).map(\.0).joined(separator: ", "))\(mine.count > 4 ? ", …" : ""))")
        }
        for (name, p) in mine {
            let t = stateDict[name]!
            p.data.update(from: t.data, count: t.count)
            p.touch()
        }
    }
}

/// Models from checkpoint files.
public enum EnergyNets {
    /// The model a weights file holds: a ShallowCNN (by its metadata or, for files PyTorch wrote,
    /// its parameter names), or any composed model from the architecture in its metadata.
    /// The file's header is checked against the model it describes before any tensor is read.
    public static func load(from path: String) throws -> EnergyNet { try loadWithMetadata(from: path).model }

    /// `load`, with the file's metadata (what a caller reads besides the model: one read of the file).
    public static func loadWithMetadata(from path: String) throws -> (model: EnergyNet, metadata: [String: String]) {
        var shallow: (hidden: Int, classes: Int)?
        var composed: EnergyNet?
        let file = try SafeTensors.read(path) { header in
            let meta = header.metadata
            if ShallowCNN.describes(header) {
                shallow = try ShallowCNN.check(header)
                return
            }
            guard let text = meta["architecture"] else {
                throw JouleError("no architecture in its metadata (and not a ShallowCNN): build the model in Lua and load the weights with model:load(path)")
            }
            // The architecture's parameters cannot outnumber the file's values: a crafted header
            // asks for no more memory than the file could fill.
            let values = header.entries.values.reduce(0) { $0 + $1.count }
            let model = try build(architecture: text, inputShape: meta["input_shape"], parameterBudget: values)
            // Names and shapes before the tensors: the first that differs is named.
            for (name, shape) in model.stateShapes where header.entries[name]?.shape != shape {
                throw JouleError(header.entries[name] == nil ? "missing weight '\(name)' (the checkpoint is of another architecture)"
                                                              : "weight '\(name)' has shape \(header.entries[name]!.shape), the model needs \(shape)")
            }
            composed = model
        }
        if let shallow { return (try ShallowCNN.load(file, shallow, path: path), file.metadata) }
        do {
            try composed!.load(stateDict: file.tensors)
            // A model from a file starts in evaluation mode (its u, v stay until model:train()).
            composed!.training = false
            return (composed!, file.metadata)
        } catch let e as JouleError {
            throw JouleError("\(path): \(e.message)")
        }
    }

    /// A composed model from the architecture JSON and input shape of a checkpoint's metadata.
    static func build(architecture text: String, inputShape: String?, parameterBudget: Int = Architecture.maxParameters) throws -> EnergyNet {
        do {
            let root = try Architecture.build(try JSON.parse(text), rng: RNG(seed: 0), parameterBudget: parameterBudget)
            var shape: [Int]?
            if let s = inputShape {
                let dims = s.split(separator: ",").compactMap { Int($0) }
                guard !dims.isEmpty, dims.count == s.split(separator: ",").count else { throw JouleError("metadata 'input_shape' is malformed") }
                shape = dims
            }
            return try EnergyNet(root, inputShape: shape)
        } catch let e as JSON.ParseError {
            throw JouleError("metadata 'architecture' is not valid JSON (\(e))")
        }
    }
}
