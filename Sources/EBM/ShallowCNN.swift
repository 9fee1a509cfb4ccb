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
        guard hidden > 0, hidden <= 4096 else { throw JouleError("ShallowCNN: hidden must be in 1...4096, got \(hidden)") }
        guard classes > 0, classes <= 100_000 else { throw JouleError("ShallowCNN: classes must be in 1...100000, got \(classes)") }
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

    /// A model shaped by a checkpoint (hidden width and classes from its weights) with its weights.
    public static func load(from path: String) throws -> ShallowCNN {
        let file = try SafeTensors.read(path)
        guard let w0 = file.tensors["cnn_layers.0.weight"], w0.rank == 4, let fcw = file.tensors["fc_layers.1.weight"], fcw.rank == 2 else {
            throw JouleError("\(path): not a ShallowCNN checkpoint (no cnn_layers.0.weight / fc_layers.1.weight)")
        }
        let model = try ShallowCNN(hidden: w0.shape[0], classes: fcw.shape[0], rng: RNG(seed: 0))
        do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
        return model
    }
}
