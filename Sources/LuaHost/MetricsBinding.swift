import CLua
import EBM
import Foundation
import Tensor

/// joule.metrics (accuracy, AUROC, AUPRC as scikit-learn computes them) and joule.ood (scores).
enum MetricsBinding {
    static func numbers(_ call: LuaCall, _ n: Int) throws -> [Double] {
        if let t = try? call.tensor(n) { return t.array.map(Double.init) }
        return try call.table(n).numbers()
    }

    static func ints(_ call: LuaCall, _ n: Int) throws -> [Int] {
        try LuaTable.integerList(call, n, call.index(n), "labels", Int.min...Int.max)
    }

    static func installMetrics(_ lua: LuaState) {
        lua.setFunction("accuracy", qualified: "joule.metrics.accuracy") { call in
            call.push(try Metrics.accuracy(predictions: try ints(call, 1), labels: try ints(call, 2))); return 1
        }
        lua.setFunction("auroc", qualified: "joule.metrics.auroc") { call in
            call.push(try Metrics.auroc(scores: try numbers(call, 1), labels: try ints(call, 2))); return 1
        }
        lua.setFunction("auprc", qualified: "joule.metrics.auprc") { call in
            call.push(try Metrics.auprc(scores: try numbers(call, 1), labels: try ints(call, 2))); return 1
        }
    }

    static func installOOD(_ lua: LuaState) {
        lua.setFunction("scores", qualified: "joule.ood.scores") { call in
            // joule.ood.scores(model, images, "px" | "py" | "mass" [, batch_size]) → table of scores
            // (larger = more in-distribution).
            let model = try call.object(1, ModelBinding.typeName, as: ShallowCNN.self)
            let images = try call.tensor(2)
            let name = try call.string(3)
            guard let score = OODScore(rawValue: name) else {
                throw call.bad(3, message: "'px', 'py' or 'mass' expected, got '\(name)'")
            }
            call.push(try OOD.scores(model, images: images, score: score, batchSize: try call.integer(4, 1...Int.max, default: 256)))
            return 1
        }
        lua.setFunction("separation", qualified: "joule.ood.separation") { call in
            // joule.ood.separation(in_scores, out_scores) → auroc, auprc (in-distribution positive).
            let r = try OOD.separation(inDistribution: try numbers(call, 1), outOfDistribution: try numbers(call, 2))
            call.push(r.auroc); call.push(r.auprc); return 2
        }
    }
}
