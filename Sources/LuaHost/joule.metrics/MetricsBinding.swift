import CLua
import EBM
import Foundation
import Tensor

/// joule.metrics: accuracy, per-class accuracy, confusion matrices, calibration error, and AUROC and
/// AUPRC as scikit-learn computes them.
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
        SampleQualityBinding.install(lua)
        RobustnessBinding.install(lua)
        lua.setFunction("calibration_error", qualified: "joule.metrics.calibration_error") { call in
            // joule.metrics.calibration_error(confidences, predictions, labels [, bins = 15]) → expected
            // calibration error over equal-width confidence bins.
            call.push(try Metrics.expectedCalibrationError(confidences: try numbers(call, 1), predictions: try ints(call, 2),
                                                           labels: try ints(call, 3), bins: try call.integer(4, 1...100_000, default: 15)))
            return 1
        }
    }
}

extension MetricsBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.metrics, joule.ood
    ("joule.metrics", "joule.metrics", "Classification and detection metrics: accuracy, per_class_accuracy, confusion_matrix, calibration_error, auroc, auprc (as scikit-learn computes them, ties included); sample quality: features, fid, kid, precision_recall, class_fidelity, diversity, sample_quality; robustness: pgd, robust_accuracy."),
    ("joule.metrics.accuracy", "joule.metrics.accuracy(predictions, labels) → number", "The fraction of predictions equal to the labels."),
    ("joule.metrics.auroc", "joule.metrics.auroc(scores, labels) → number", "Area under the ROC curve of scores for binary labels (1 = positive), ties as scikit-learn's roc_auc_score."),
    ("joule.metrics.auprc", "joule.metrics.auprc(scores, labels) → number", "Area under the precision-recall curve (scikit-learn's average_precision_score)."),
    ("joule.metrics.confusion_matrix", "joule.metrics.confusion_matrix(predictions, labels, classes) → rows",
     "Counts: m[y + 1][p + 1] is the number of images of class y predicted as p."),
    ("joule.metrics.per_class_accuracy", "joule.metrics.per_class_accuracy(predictions, labels, classes) → list",
     "Accuracy per class: [y + 1] is class y's accuracy (nan for a class with no images)."),
    ("joule.metrics.calibration_error", "joule.metrics.calibration_error(confidences, predictions, labels [, bins = 15]) → number",
     "Expected calibration error over equal-width confidence bins."),
    ]
}
