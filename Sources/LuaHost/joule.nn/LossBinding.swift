import CLua
import Foundation
import NN
import Tensor

/// joule.nn's losses for training steps written in Lua, as the built-in JEM computes them.
enum LossBinding {
    /// joule.nn.cross_entropy(logits, labels) → mean loss, its gradient to the logits;
    /// joule.nn.logsumexp(logits) → logsumexp per row, softmax rows.
    static func install(_ lua: LuaState) {
        lua.setFunction("cross_entropy", qualified: "joule.nn.cross_entropy") { call in
            let logits = try call.tensor(1)
            guard logits.rank == 2 else { throw call.bad(1, message: "(N, C) logits expected, got shape \(logits.shape)") }
            guard let labels = try EngineBindings.labels(call, 2) else { throw call.bad(2, "table of class ids") }
            let grad = Tensor(shape: logits.shape)
            call.push(Double(try Losses.crossEntropy(logits, labels: labels, grad: grad)))
            call.push(grad); return 2
        }
        lua.setFunction("logsumexp", qualified: "joule.nn.logsumexp") { call in
            let logits = try call.tensor(1)
            guard logits.rank == 2 else { throw call.bad(1, message: "(N, C) logits expected, got shape \(logits.shape)") }
            let lse = Tensor(shape: [0]), softmax = Tensor(shape: [0])
            try Losses.logsumexp(logits, into: lse, softmax: softmax)
            call.push(lse); call.push(softmax); return 2
        }
    }
}

extension LossBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.nn.cross_entropy", "joule.nn.cross_entropy(logits, labels) → loss, grad_logits",
     "Mean softmax cross-entropy of (N, C) logits against class ids (0-based), as F.cross_entropy, and its gradient with respect to the logits."),
    ("joule.nn.logsumexp", "joule.nn.logsumexp(logits) → lse, softmax",
     "logsumexp of each row of (N, C) logits (−E(x) of a JEM), and the rows' softmax (its gradient)."),
    ]
}
