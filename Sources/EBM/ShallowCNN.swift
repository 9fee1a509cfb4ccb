import Formats
import Foundation
import NN
import Tensor

/// The course's energy network, a preset of the composed modules: five strided convolutions with
/// Swish (SiLU), global average pooling and a linear layer to C logits f(x), under the course's
/// PyTorch names (`cnn_layers.N.*`, `fc_layers.1.*`). Energies: E(x) = −logsumexp_y f(x)[y],
/// E(x, y) = −f(x)[y]; a plain EBM is the C = 1 case.
public final class ShallowCNN: EnergyNet {
    public let hidden: Int
    public let cnnLayers: Sequential
    public let fc: Linear

    public init(hidden: Int = 32, classes: Int = 42, rng: RNG) throws {
        try Self.checkArguments(hidden: hidden, classes: classes)
        self.hidden = hidden
        let h = hidden
        // The Swish layers run in place (see `Sequential`): the convolutions need neither their
        // outputs nor their input gradients.
        cnnLayers = Sequential([
            Conv2d(1, h, kernel: 5, stride: 2, padding: 4, rng: rng), Swish(),
            Conv2d(h, 2 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(),
            Conv2d(2 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(),
            Conv2d(4 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(),
            Conv2d(4 * h, 4 * h, kernel: 3, stride: 2, padding: 1, rng: rng), Swish(),
            AdaptiveAvgPool2d(),
        ])
        fc = Linear(4 * h, classes, rng: rng)
        try super.init(Sequential([cnnLayers, Sequential([Flatten(), fc])], names: ["cnn_layers", "fc_layers"]),
                       inputShape: [1, 56, 56])
    }

    public override var hyperparameters: [String: String] {
        super.hyperparameters.merging(["model": "ShallowCNN", "hidden": "\(hidden)", "classes": "\(classes)"]) { $1 }
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

    /// Whether a weights file holds the preset: by its metadata, or, for files PyTorch wrote (no
    /// architecture), by the preset's parameter names. The one place the preset is recognised.
    public static func describes(_ header: SafeTensors.Header) -> Bool {
        header.metadata["model"] == "ShallowCNN" || (header.metadata["architecture"] == nil && header.entries["cnn_layers.0.weight"] != nil)
    }

    /// The width and classes a weights file's header declares, once its every name and shape is
    /// checked against that ShallowCNN's: before the model is built or a tensor allocated, so a
    /// small file declaring a huge model is refused at once.
    static func check(_ header: SafeTensors.Header) throws -> (hidden: Int, classes: Int) {
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
        return (hidden, classes)
    }

    /// A model shaped by a checkpoint (hidden width and classes from its weights) with its weights.
    public static func load(from path: String) throws -> ShallowCNN {
        var shape = (hidden: 0, classes: 0)
        let file = try SafeTensors.read(path) { shape = try check($0) }
        return try load(file, shape, path: path)
    }

    static func load(_ file: SafeTensors, _ shape: (hidden: Int, classes: Int), path: String) throws -> ShallowCNN {
        let model = try ShallowCNN(hidden: shape.hidden, classes: shape.classes, rng: RNG(seed: 0))
        do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
        model.training = false   // as every model from a file
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
