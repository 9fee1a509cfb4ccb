import Formats
import Foundation
import NN
import Tensor

/// The fixed network whose features the sample-quality measures compare, in the role Inception's
/// ImageNet weights play for FID on photographs: a classifier trained once on a corpus
/// (`scripts/features/train_features.lua`), its weights shipped, so that every user's numbers are
/// computed with the same features. The network is a `Sequential` ending in a `Linear` head; an
/// image's features are the input of that head (the classifier's last hidden layer), and the head's
/// argmax is the class it sees (class fidelity).
///
/// Features are multiplied by `scale`, the file's `feature_scale` metadata (1 without it): the
/// training script sets it to one over the root mean square of the training images' features, so
/// that feature values are about 1 as Inception's are. FID then reads on a familiar scale, and
/// KID's cubic kernel (aᵀb / D + 1)³ is not dominated by the features' magnitude.
public final class FeatureNetwork {
    public let net: EnergyNet
    /// The modules before the head.
    private let trunk: Int
    public let dimension: Int
    public var classes: Int { net.classes }
    /// The shape of one image the features are defined for, (C, H, W) or (D).
    public let inputShape: [Int]
    public let scale: Float

    /// Images per forward pass: bounds the activations' memory whatever the number of images.
    static let chunk = 256

    public init(_ net: EnergyNet, scale: Float = 1) throws {
        guard scale.isFinite, scale > 0 else { throw JouleError("feature_scale must be a positive number, got \(scale)") }
        self.scale = scale
        guard let root = net.root as? Sequential, root.modules.count >= 2, let head = root.modules.last as? Linear else {
            throw JouleError("a feature network is a Sequential ending in a Linear layer (its input is the features)")
        }
        guard let shape = net.inputShape else { throw JouleError("a feature network must declare its input shape") }
        self.net = net
        inputShape = shape
        dimension = head.inFeatures
        trunk = root.modules.count - 1
    }

    public static func load(from path: String) throws -> FeatureNetwork {
        do {
            let (net, meta) = try EnergyNets.loadWithMetadata(from: path)
            var scale: Float = 1
            if let text = meta["feature_scale"] {
                guard let v = Float(text) else { throw JouleError("metadata 'feature_scale' is not a number: '\(text)'") }
                scale = v
            }
            return try FeatureNetwork(net, scale: scale)
        } catch let e as JouleError {
            throw JouleError(e.message.hasPrefix(path) ? e.message : "\(path): \(e.message)")
        }
    }

    private func check(_ images: Tensor) throws {
        guard images.rank == inputShape.count + 1, Array(images.shape.dropFirst()) == inputShape, images.shape[0] > 0 else {
            throw JouleError("the feature network takes images of shape (N, \(inputShape.map(String.init).joined(separator: ", "))), got \(images.shape)")
        }
        for i in 0..<images.count where !images.data[i].isFinite {
            throw JouleError("image \(i / images.itemSize + 1) has a non-finite value (\(images.data[i])): features need finite images")
        }
    }

    /// (N, F) features of N images.
    public func features(_ images: Tensor) throws -> Tensor {
        try check(images)
        let n = images.shape[0]
        let out = Tensor(shape: [n, dimension])
        for first in stride(from: 0, to: n, by: Self.chunk) {
            let last = Swift.min(first + Self.chunk, n)
            let f = try net.forwardPrefix(try images.items(first..<last), modules: trunk)
            guard f.shape == [last - first, dimension] else {
                throw JouleError("the feature network's layers before its head gave shape \(f.shape), expected (\(last - first), \(dimension))")
            }
            let o = out.data + first * dimension
            for i in 0..<f.count { o[i] = f.data[i] * scale }
        }
        out.touch()
        return out
    }

    /// The class the network assigns each image.
    public func predict(_ images: Tensor) throws -> [Int] {
        try check(images)
        let n = images.shape[0]
        var out: [Int] = []
        out.reserveCapacity(n)
        for first in stride(from: 0, to: n, by: Self.chunk) {
            out += try net.forwardLogits(try images.items(first..<Swift.min(first + Self.chunk, n))).argmaxRows()
        }
        return out
    }
}
