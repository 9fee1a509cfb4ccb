import Formats
import Foundation
import NN
import Tensor

/// The course's energy network: five strided convolutions with Swish, global average pooling and a
/// linear layer to C logits f(x). Energies: E(x) = −logsumexp_y f(x)[y], E(x, y) = −f(x)[y];
/// a plain EBM is the C = 1 case. Parameter names are PyTorch's `state_dict` names.
public final class ShallowCNN {
    public let hidden: Int
    public let classes: Int
    public let cnnLayers: Sequential
    public let pool = AdaptiveAvgPool2d()
    public let fc: Linear

    // Workspaces reused on every call.
    private let input = Tensor(shape: [0])
    private let lse = Tensor(shape: [0])
    private let softmax = Tensor(shape: [0])
    private let gradLogits = Tensor(shape: [0])
    private let inputGradient = Tensor(shape: [0])

    public init(hidden: Int = 32, classes: Int = 42, rng: RNG) throws {
        try Self.checkArguments(hidden: hidden, classes: classes)
        self.hidden = hidden
        self.classes = classes
        let h = hidden
        // Swish works in place: the convolutions need neither their outputs nor their input gradients.
        cnnLayers = Sequential([
            Conv2d(1, h, kernel: 5, stride: 2, padding: 4, rng: rng), Swish(inPlace: true),
            Conv2d(h, 2 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(inPlace: true),
            Conv2d(2 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(inPlace: true),
            Conv2d(4 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(inPlace: true),
            Conv2d(4 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(inPlace: true),
        ])
        fc = Linear(4 * h, classes, rng: rng)
        shareConvolutionWorkspace()
    }

    /// At most this many parameters (4 GiB of weights; gradients and Adam's moments triple that).
    public static let maxParameters = 1 << 30

    static func checkArguments(hidden: Int, classes: Int) throws {
        guard hidden > 0, hidden <= 4096 else { throw JouleError("ShallowCNN: hidden must be in 1...4096, got \(hidden)") }
        guard classes > 0, classes <= 100_000 else { throw JouleError("ShallowCNN: classes must be in 1...100000, got \(classes)") }
        let n = parameterShapes(hidden: hidden, classes: classes).values.reduce(0) { $0 + $1.reduce(1, *) }
        guard n <= maxParameters else {
            throw JouleError("ShallowCNN(hidden \(hidden), classes \(classes)) has \(n) parameters (\(n * 4) bytes), more than \(maxParameters)")
        }
    }

    private init(sharing other: ShallowCNN) {
        hidden = other.hidden
        classes = other.classes
        cnnLayers = other.cnnLayers.replica() as! Sequential
        fc = other.fc.replica() as! Linear
        shareConvolutionWorkspace()
    }

    /// One set of patch tiles for all convolutions of this network.
    private func shareConvolutionWorkspace() {
        let workspace = ConvolutionWorkspace()
        for case let conv as Conv2d in cnnLayers.modules { conv.workspace = workspace }
    }

    /// A model that shares this one's parameters with workspaces of its own, for running
    /// independent batches (groups of SGLD chains) on several threads.
    public func replica() -> ShallowCNN { ShallowCNN(sharing: self) }

    public var namedParameters: [(name: String, parameter: Parameter)] {
        cnnLayers.namedParameters.map { ("cnn_layers.\($0.name)", $0.parameter) }
            + fc.namedParameters.map { ("fc_layers.1.\($0.name)", $0.parameter) }
    }
    public var parameters: [Parameter] { namedParameters.map(\.parameter) }
    public func zeroGradients() { for p in parameters { p.grad.zero() } }

    // MARK: Forward and backward

    /// Logits (N, C) of images (N, 1, H, W), in a tensor the model reuses on the next call.
    public func forwardLogits(_ x: Tensor) throws -> Tensor {
        guard x.rank == 4, x.shape[1] == 1, x.shape[0] > 0 else {
            throw JouleError("expected images of shape (N, 1, H, W), got \(x.shape)")
        }
        // (N, 1, H, W) and the network's channels-last (N, H, W, 1) are the same bytes.
        input.resize([x.shape[0], x.shape[2], x.shape[3], 1])
        input.data.update(from: x.data, count: x.count)
        return try fc.forward(try pool.forward(try cnnLayers.forward(input)))
    }

    /// Gradient of a loss with respect to the input images, given its gradient to the logits of the
    /// latest forward pass; with `weights`, also accumulates every parameter's gradient.
    public func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor? {
        if weights { try fc.accumulateWeightGradients(gradLogits) }
        let g = try pool.backwardInput(try fc.backwardInput(gradLogits))
        if weights {
            _ = try cnnLayers.backward(g, needInputGradient: false)
            return nil
        }
        let gx = try cnnLayers.backwardInput(g)
        inputGradient.resize([gx.shape[0], 1, gx.shape[1], gx.shape[2]])
        inputGradient.data.update(from: gx.data, count: gx.count)
        return inputGradient
    }

    /// Energies of a forward pass's logits into `energy` (N), and ∂E/∂logits into `gradLogits`.
    func energies(of logits: Tensor, labels: [Int]?, into energy: Tensor, gradLogits: Tensor?) throws {
        let (n, c) = (logits.shape[0], logits.shape[1])
        energy.resize([n])
        gradLogits?.resize(logits.shape)
        if let labels {
            guard labels.count == n else { throw JouleError("\(labels.count) labels for \(n) images") }
            gradLogits?.zero()
            for (i, y) in labels.enumerated() {
                guard y >= 0 && y < c else { throw JouleError("label \(y) out of range 0..<\(c)") }
                energy.data[i] = -logits.data[i * c + y]
                gradLogits?.data[i * c + y] = -1
            }
        } else {
            try Losses.logsumexp(logits, into: lse, softmax: gradLogits == nil ? nil : softmax)
            for i in 0..<n { energy.data[i] = -lse.data[i] }
            if let g = gradLogits { for i in 0..<g.count { g.data[i] = -softmax.data[i] } }
        }
    }

    /// Accumulates every parameter's gradient of a loss whose gradient to the logits of `x` is
    /// `gradLogits` (for training steps written outside the engine, e.g. in Lua).
    public func accumulateGradients(_ x: Tensor, gradLogits: Tensor) throws {
        let logits = try forwardLogits(x)
        guard gradLogits.shape == logits.shape else {
            throw JouleError("gradient to the logits has shape \(gradLogits.shape), the logits have \(logits.shape)")
        }
        _ = try backward(gradLogits, weights: true)
    }

    // MARK: The public questions one asks a model

    public func logits(_ x: Tensor) throws -> Tensor { try forwardLogits(x).copy() }

    /// E(x) (unconditional, labels nil) or E(x, y), one per image.
    public func energy(_ x: Tensor, labels: [Int]? = nil) throws -> Tensor {
        let e = Tensor(shape: [x.shape.first ?? 0])
        try energies(of: try forwardLogits(x), labels: labels, into: e, gradLogits: nil)
        return e
    }

    /// Energies into `energy` and ∂E/∂x (N, 1, H, W) in a tensor the model reuses on the next call.
    /// Each image's gradient is that of its own energy (= the gradient of the batch's sum).
    ///
    /// Images are independent here, so a large batch is split over the cores, each share on a
    /// replica of the model with single-threaded BLAS: no synchronisation inside the passes. This is
    /// the SGLD hot loop, the same for the built-in sampler and for one written in Lua.
    public func energyGradient(_ x: Tensor, labels: [Int]? = nil, energy: Tensor) throws -> Tensor {
        let n = x.shape.first ?? 0
        let parts = Swift.min(Parallel.cores, n / Self.minImagesPerCore)
        guard parts > 1, x.rank == 4, x.shape[1] == 1 else { return try wholeEnergyGradient(x, labels: labels, energy: energy) }
        if let labels, labels.count != n { throw JouleError("\(labels.count) labels for \(n) images") }
        if helpers.isEmpty { helpers = (0..<Parallel.cores).map { _ in Helper(model: replica()) } }
        energy.resize([n])
        inputGradient.resize(x.shape)
        let d = x.itemSize
        let failure = FirstError()
        Parallel.split(n, parts: parts) { part, rows in
            let h = helpers[part]
            do {
                h.x.resize([rows.count] + x.shape.dropFirst())
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

    /// Below this many images per core a batch is not split.
    static let minImagesPerCore = 4

    /// A replica and its share of a split batch.
    private final class Helper {
        let model: ShallowCNN
        let x = Tensor(shape: [0]), energy = Tensor(shape: [0])
        init(model: ShallowCNN) { self.model = model }
    }
    private var helpers: [Helper] = []

    private func wholeEnergyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor {
        try energies(of: try forwardLogits(x), labels: labels, into: energy, gradLogits: gradLogits)
        return try backward(gradLogits, weights: false)!
    }

    // MARK: Checkpoints

    public var hyperparameters: [String: String] { ["model": "ShallowCNN", "hidden": "\(hidden)", "classes": "\(classes)"] }

    public func stateDict() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.parameter.value) })
    }

    /// Copies weights in; every name must be present with the right shape, and no unknown names.
    public func load(stateDict: [String: Tensor]) throws {
        let mine = namedParameters
        let known = Set(mine.map(\.name))
        if let extra = stateDict.keys.sorted().first(where: { !known.contains($0) }) {
            throw JouleError("unknown weight '\(extra)' for ShallowCNN(hidden \(hidden), classes \(classes))")
        }
        for (name, p) in mine {
            guard let t = stateDict[name] else { throw JouleError("missing weight '\(name)'") }
            guard t.shape == p.value.shape else {
                throw JouleError("weight '\(name)' has shape \(t.shape), the model needs \(p.value.shape)")
            }
            p.value.data.update(from: t.data, count: t.count)
            p.value.touch()
        }
    }

    public func save(to path: String, metadata: [String: String] = [:]) throws {
        try SafeTensors(tensors: stateDict(), metadata: hyperparameters.merging(metadata) { $1 }).write(to: path)
    }

    /// A model shaped by a checkpoint (hidden width and classes from its weights) with its weights.
    /// The file's names and shapes are checked against that model's before the model is built or a
    /// tensor allocated, so a small file declaring a huge model is refused at once.
    public static func load(from path: String) throws -> ShallowCNN {
        let file = try SafeTensors.read(path) { header in
            guard let w0 = header.entries["cnn_layers.0.weight"], let fcw = header.entries["fc_layers.1.weight"] else {
                throw JouleError("not a ShallowCNN checkpoint (no cnn_layers.0.weight / fc_layers.1.weight)")
            }
            guard w0.shape.count == 4, fcw.shape.count == 2 else {
                throw JouleError("not a ShallowCNN checkpoint: cnn_layers.0.weight has shape \(w0.shape) (expected 4 dimensions), fc_layers.1.weight \(fcw.shape) (expected 2)")
            }
            let (hidden, classes) = (w0.shape[0], fcw.shape[0])
            try checkArguments(hidden: hidden, classes: classes)
            let expected = parameterShapes(hidden: hidden, classes: classes)
            for (name, shape) in expected.sorted(by: { $0.key < $1.key }) where header.entries[name]?.shape != shape {
                throw JouleError("weight '\(name)' missing or not of shape \(shape) (ShallowCNN(hidden \(hidden), classes \(classes)) as its first and last layers say)")
            }
            if let extra = header.entries.keys.sorted().first(where: { expected[$0] == nil }) {
                throw JouleError("unknown weight '\(extra.prefix(80))' for ShallowCNN(hidden \(hidden), classes \(classes))")
            }
        }
        let model = try ShallowCNN(hidden: file.tensors["cnn_layers.0.weight"]!.shape[0],
                                   classes: file.tensors["fc_layers.1.weight"]!.shape[0], rng: RNG(seed: 0))
        do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
        return model
    }

    /// The names and shapes of the parameters of ShallowCNN(hidden, classes), without building it.
    public static func parameterShapes(hidden h: Int, classes: Int) -> [String: [Int]] {
        let channels = [1, h, 2 * h, 4 * h, 4 * h, 4 * h], kernels = [5, 3, 3, 3, 3]
        var out: [String: [Int]] = [:]
        for k in 0..<5 {
            out["cnn_layers.\(2 * k).weight"] = [channels[k + 1], channels[k], kernels[k], kernels[k]]
            out["cnn_layers.\(2 * k).bias"] = [channels[k + 1]]
        }
        out["fc_layers.1.weight"] = [classes, 4 * h]
        out["fc_layers.1.bias"] = [classes]
        return out
    }
}
