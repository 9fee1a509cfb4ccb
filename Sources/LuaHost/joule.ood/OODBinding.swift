import CLua
import EBM
import Foundation
import Tensor

/// joule.ood: out-of-distribution scores of images under a model (px, py, mass) and how well a
/// score separates two sets.
enum OODBinding {
    static func install(_ lua: LuaState) {
        lua.setFunction("scores", qualified: "joule.ood.scores") { call in
            // joule.ood.scores(model, images, "px" | "py" | "mass" [, batch_size]) → table of scores
            // (larger = more in-distribution).
            let model = try EnergyBinding.model(call, 1)
            let images = try call.tensor(2)
            let name = try call.string(3)
            guard let score = OODScore(rawValue: name) else {
                throw call.bad(3, message: "'px', 'py' or 'mass' expected, got '\(name)'")
            }
            call.push(try OOD.scores(model, images: images, score: score, batchSize: try call.integer(4, 1...Int.max, default: 64)))
            return 1
        }
        lua.setFunction("separation", qualified: "joule.ood.separation") { call in
            // joule.ood.separation(in_scores, out_scores) → auroc, auprc (in-distribution positive).
            let r = try OOD.separation(inDistribution: try MetricsBinding.numbers(call, 1), outOfDistribution: try MetricsBinding.numbers(call, 2))
            call.push(r.auroc); call.push(r.auprc); return 2
        }
    }
}

extension OODBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ood", "joule.ood", "Out-of-distribution scores (larger = more in-distribution) and their separation."),
    ("joule.ood.scores", "joule.ood.scores(model, images, 'px' | 'py' | 'mass' [, batch_size]) → list",
     "Per-image scores under a model (a network, or an energy written in Lua: joule.ebm.Energy): px = −E(x) (unnormalised log density), py = the largest softmax probability (always 1 for a one-class model), mass = −‖∂E/∂x‖ (flat regions score high)."),
    ("joule.ood.separation", "joule.ood.separation(in_scores, out_scores) → auroc, auprc",
     "How well the scores separate in-distribution (positive) from out-of-distribution images."),
    ]
}
