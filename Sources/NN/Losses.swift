import Foundation
import Tensor

/// Row-wise reductions of logits (N, C) and their gradients.
public enum Losses {
    /// logsumexp of each row of (N, C) logits, computed stably, into `into` (N); also the rows'
    /// softmax (the gradient of logsumexp) into `softmax` if given.
    public static func logsumexp(_ logits: Tensor, into lse: Tensor, softmax: Tensor? = nil) throws {
        guard logits.rank == 2, logits.shape[1] > 0 else { throw JouleError("logsumexp expects (N, C) logits, got \(logits.shape)") }
        let (n, c) = (logits.shape[0], logits.shape[1])
        try lse.resize([n])
        try softmax?.resize(logits.shape)
        for i in 0..<n {
            let row = logits.data + i * c
            var m = -Float.infinity
            for j in 0..<c { m = Swift.max(m, row[j]) }
            var s: Float = 0
            for j in 0..<c { s += Foundation.exp(row[j] - m) }
            if let sm = softmax { for j in 0..<c { sm.data[i * c + j] = Foundation.exp(row[j] - m) / s } }
            lse.data[i] = m + Foundation.log(s)
        }
    }

    /// Mean softmax cross-entropy of (N, C) logits against class labels, as
    /// `F.cross_entropy`; adds `scale ·` its gradient with respect to the logits into `grad` if given.
    public static func crossEntropy(_ logits: Tensor, labels: [Int], grad: Tensor? = nil, scale: Float = 1) throws -> Float {
        let n = logits.shape.first ?? 0
        guard labels.count == n, n > 0 else { throw JouleError("cross-entropy: \(labels.count) labels for \(n) rows of logits") }
        let c = logits.shape[1]
        guard labels.allSatisfy({ $0 >= 0 && $0 < c }) else { throw JouleError("cross-entropy: labels must lie in 0..<\(c)") }
        let softmax = Tensor(shape: logits.shape), lse = Tensor(shape: [n])
        try Losses.logsumexp(logits, into: lse, softmax: softmax)
        var loss = 0.0
        for i in 0..<n { loss += Double(lse.data[i] - logits.data[i * c + labels[i]]) }
        if let grad {
            try requireSameShape(grad, logits, "cross-entropy gradient")
            let w = scale / Float(n)
            for i in 0..<n {
                for j in 0..<c { grad.data[i * c + j] += w * (softmax.data[i * c + j] - (j == labels[i] ? 1 : 0)) }
            }
        }
        return Float(loss / Double(n))
    }
}
