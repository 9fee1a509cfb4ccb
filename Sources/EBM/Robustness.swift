import Foundation
import NN
import Tensor

/// Accuracy under adversarial perturbation (projected gradient descent, Madry et al. 2018): the JEM
/// paper's claim that a model of p(x) is more robust than a plain classifier is checked this way.
/// Each step moves every image up the gradient of its own cross-entropy, −log softmax(f(x))[y],
/// then projects back onto the ε-ball around the original image and onto the pixel range.
public enum PGD {
    public enum Norm: String, CaseIterable { case linf, l2 }

    public struct Config {
        public var norm: Norm = .linf
        public var epsilon: Float = 0
        public var steps = 10
        /// The step α; nil: 2.5·ε / steps (Madry et al.'s rule, enough to reach the ball's edge).
        public var stepSize: Float?
        /// The valid pixel range the attacked images stay in.
        public var range: ClosedRange<Float>? = -1...1
        public init() {}
    }

    public static let maxSteps = 10_000

    /// ∂/∂x of each image's cross-entropy (N, …): its own loss, not the batch mean, so that every
    /// image's gradient is at its own scale; the per-image losses in `losses`.
    public static func crossEntropyGradient(model: EnergyModel, images: Tensor, labels: [Int], losses: inout [Float]) throws -> Tensor {
        let logits = try model.forwardLogits(images)
        let (n, c) = (logits.shape[0], logits.shape[1])
        guard labels.count == n else { throw JouleError("PGD: \(labels.count) labels for \(n) images") }
        guard labels.allSatisfy({ $0 >= 0 && $0 < c }) else { throw JouleError("PGD: labels must lie in 0..<\(c)") }
        let grad = Tensor(shape: logits.shape), lse = Tensor(shape: [n])
        try Losses.logsumexp(logits, into: lse, softmax: grad)
        losses = (0..<n).map { lse.data[$0] - logits.data[$0 * c + labels[$0]] }
        for i in 0..<n { grad.data[i * c + labels[i]] -= 1 }   // softmax − one-hot
        grad.touch()
        guard let g = try model.backward(grad, weights: false) else { throw JouleError("PGD: the model gave no input gradient") }
        return g
    }

    /// The attacked images (a new tensor); `images` is left as it is. No random start: at ε = 0
    /// the images come back unchanged, and the attack is deterministic.
    public static func attack(model: EnergyModel, images: Tensor, labels: [Int], config: Config) throws -> Tensor {
        let eps = config.epsilon
        guard eps.isFinite, eps >= 0 else { throw JouleError("PGD: epsilon must be a non-negative number, got \(eps)") }
        guard (1...maxSteps).contains(config.steps) else { throw JouleError("PGD: steps must be in 1...\(maxSteps), got \(config.steps)") }
        let alpha = config.stepSize ?? 2.5 * eps / Float(config.steps)
        guard alpha.isFinite, alpha >= 0 else { throw JouleError("PGD: step_size must be a non-negative number, got \(alpha)") }
        guard images.rank >= 2, images.shape[0] > 0 else { throw JouleError("PGD: expected a batch of images (N, …), got \(images.shape)") }
        let x0 = images, x = images.copy()
        guard eps > 0 else { return x }
        let n = x.shape[0], d = x.itemSize
        var losses: [Float] = []
        for _ in 0..<config.steps {
            try Interruption.check()
            let g = try crossEntropyGradient(model: model, images: x, labels: labels, losses: &losses)
            for i in 0..<n {
                let (xi, gi, oi) = (x.data + i * d, g.data + i * d, x0.data + i * d)
                switch config.norm {
                case .linf:
                    for k in 0..<d {
                        let s: Float = gi[k] > 0 ? 1 : (gi[k] < 0 ? -1 : 0)
                        xi[k] = Swift.min(Swift.max(xi[k] + alpha * s, oi[k] - eps), oi[k] + eps)
                    }
                case .l2:
                    var norm = 0.0
                    for k in 0..<d { norm += Double(gi[k]) * Double(gi[k]) }
                    // A zero gradient (a saturated softmax) leaves the image where it is.
                    let scale = norm > 0 ? alpha / Float(norm.squareRoot()) : 0
                    var dist = 0.0
                    for k in 0..<d {
                        xi[k] += scale * gi[k]
                        dist += Double(xi[k] - oi[k]) * Double(xi[k] - oi[k])
                    }
                    let r = dist.squareRoot()
                    if r > Double(eps) {
                        let shrink = Float(Double(eps) / r)
                        for k in 0..<d { xi[k] = oi[k] + (xi[k] - oi[k]) * shrink }
                    }
                }
                // The pixel range last: for L∞ it is an intersection of boxes, still within the ball;
                // for L2 clamping towards the original image only shortens the perturbation.
                if let r = config.range { for k in 0..<d { xi[k] = Swift.min(Swift.max(xi[k], r.lowerBound), r.upperBound) } }
            }
            x.touch()
        }
        return x
    }

    /// Accuracy under attack at each ε (ascending): an image counts as correct at ε only if it is
    /// classified correctly after the attacks at every ε' ≤ ε. A perturbation found within a smaller
    /// ball lies within the larger one too, so this is still an attack at ε, and the curve cannot rise
    /// by the accident of one attack's path. Batches of `batchSize` images.
    public static func robustAccuracy(model: EnergyModel, images: Tensor, labels: [Int], epsilons: [Float],
                                      config: Config, batchSize: Int = 256) throws -> [Double] {
        guard !epsilons.isEmpty, zip(epsilons, epsilons.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw JouleError("PGD: give the epsilons in increasing order, got \(epsilons)")
        }
        let n = images.shape.first ?? 0
        guard n > 0, labels.count == n else { throw JouleError("PGD: \(labels.count) labels for \(n) images") }
        var survived = [Bool](repeating: true, count: n)
        var out: [Double] = []
        for eps in epsilons {
            var c = config
            c.epsilon = eps
            for first in stride(from: 0, to: n, by: batchSize) {
                let last = Swift.min(first + batchSize, n)
                let ys = Array(labels[first..<last])
                let adv = try attack(model: model, images: try images.items(first..<last), labels: ys, config: c)
                for (i, predicted) in try model.forwardLogits(adv).argmaxRows().enumerated() where predicted != ys[i] {
                    survived[first + i] = false
                }
            }
            out.append(Double(survived.filter { $0 }.count) / Double(n))
        }
        return out
    }
}
