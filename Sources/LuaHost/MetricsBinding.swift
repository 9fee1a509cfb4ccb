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
        lua.setFunction("confusion_matrix", qualified: "joule.metrics.confusion_matrix") { call in
            // joule.metrics.confusion_matrix(predictions, labels, classes) → rows of counts: m[y + 1][p + 1]
            // counts images of class y predicted as p (class ids from 0, Lua positions from 1).
            let m = try Metrics.confusionMatrix(predictions: try ints(call, 1), labels: try ints(call, 2),
                                                classes: try call.integer(3, 1...100_000))
            lua_createtable(call.L, Int32(m.count), 0)
            for (i, row) in m.enumerated() { call.push(row); lua_rawseti(call.L, -2, lua_Integer(i + 1)) }
            return 1
        }
        lua.setFunction("per_class_accuracy", qualified: "joule.metrics.per_class_accuracy") { call in
            // joule.metrics.per_class_accuracy(predictions, labels, classes) → list: [y + 1] is class y's
            // accuracy (nan for a class with no images).
            call.push(try Metrics.perClassAccuracy(predictions: try ints(call, 1), labels: try ints(call, 2),
                                                   classes: try call.integer(3, 1...100_000)))
            return 1
        }
        lua.setFunction("calibration_error", qualified: "joule.metrics.calibration_error") { call in
            // joule.metrics.calibration_error(confidences, predictions, labels [, bins = 15]) → expected
            // calibration error over equal-width confidence bins.
            call.push(try Metrics.expectedCalibrationError(confidences: try numbers(call, 1), predictions: try ints(call, 2),
                                                           labels: try ints(call, 3), bins: try call.integer(4, 1...100_000, default: 15)))
            return 1
        }
    }

    static func installOOD(_ lua: LuaState) {
        lua.setFunction("scores", qualified: "joule.ood.scores") { call in
            // joule.ood.scores(model, images, "px" | "py" | "mass" [, batch_size]) → table of scores
            // (larger = more in-distribution).
            let model = try ModelBinding.model(call, 1).net()
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
            let r = try OOD.separation(inDistribution: try numbers(call, 1), outOfDistribution: try numbers(call, 2))
            call.push(r.auroc); call.push(r.auprc); return 2
        }
    }
}
