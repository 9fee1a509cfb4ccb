import Foundation
import NN
import Tensor

/// Out-of-distribution scores of a JEM classifier. Each score is larger for inputs that look more
/// in-distribution, so AUROC and AUPRC take in-distribution as the positive class:
///   px   = −E(x) = logsumexp_y f(x)[y]       (unnormalised log p(x))
///   py   = max_y softmax(f(x))[y]            (classifier confidence)
///   mass = −‖∂E/∂x‖₂                         (JEM's "approximate mass": flat energy ⇒ typical)
public enum OODScore: String, CaseIterable {
    case px, py, mass
}

public enum OOD {
    public static func scores(_ model: EnergyModel, images: Tensor, score: OODScore, batchSize: Int = 64) throws -> [Double] {
        let n = images.shape.first ?? 0
        guard n > 0 else { throw JouleError("OOD scores of an empty set") }
        guard batchSize > 0 else { throw JouleError("OOD: batch size must be positive") }
        var out: [Double] = []
        out.reserveCapacity(n)
        let energy = Tensor(shape: [0]), lse = Tensor(shape: [0]), softmax = Tensor(shape: [0])
        for start in stride(from: 0, to: n, by: batchSize) {
            let batch = try images.items(start..<min(start + batchSize, n))
            let b = batch.shape[0]
            switch score {
            case .px:
                try Losses.logsumexp(try model.forwardLogits(batch), into: lse)
                out += lse.array.map(Double.init)
            case .py:
                let logits = try model.forwardLogits(batch)
                try Losses.logsumexp(logits, into: lse, softmax: softmax)
                let c = logits.shape[1]
                out += (0..<b).map { i in Double((0..<c).map { softmax.data[i * c + $0] }.max()!) }
            case .mass:
                let g = try model.energyGradient(batch, labels: nil, energy: energy)
                let d = g.itemSize
                out += (0..<b).map { i in
                    -(0..<d).reduce(0.0) { $0 + Double(g.data[i * d + $1]) * Double(g.data[i * d + $1]) }.squareRoot()
                }
            }
        }
        return out
    }

    /// AUROC and AUPRC of separating `inDistribution` (positive) from `outOfDistribution` scores.
    public static func separation(inDistribution: [Double], outOfDistribution: [Double]) throws -> (auroc: Double, auprc: Double) {
        let scores = inDistribution + outOfDistribution
        let labels = Array(repeating: 1, count: inDistribution.count) + Array(repeating: 0, count: outOfDistribution.count)
        return (try Metrics.auroc(scores: scores, labels: labels), try Metrics.auprc(scores: scores, labels: labels))
    }
}
