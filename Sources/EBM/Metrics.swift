import Tensor

/// Ranking and classification metrics, computed as scikit-learn computes them.
public enum Metrics {
    /// Distinct thresholds, from high to low, with cumulative true and false positives at each
    /// (scikit-learn's `_binary_clf_curve`): tied scores move together.
    private static func curve(_ scores: [Double], _ labels: [Int]) throws -> (tps: [Double], fps: [Double]) {
        guard scores.count == labels.count else {
            throw JouleError("scores (\(scores.count)) and labels (\(labels.count)) differ in length")
        }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw JouleError("labels must be 0 or 1") }
        guard !scores.contains(where: { $0.isNaN }) else { throw JouleError("scores contain NaN") }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tps: [Double] = [], fps: [Double] = []
        var tp = 0.0, fp = 0.0
        for (k, i) in order.enumerated() {
            if labels[i] == 1 { tp += 1 } else { fp += 1 }
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] {
                tps.append(tp); fps.append(fp)
            }
        }
        return (tps, fps)
    }

    /// Area under the ROC curve, label 1 positive (`sklearn.metrics.roc_auc_score`).
    public static func auroc(scores: [Double], labels: [Int]) throws -> Double {
        let (tps, fps) = try curve(scores, labels)
        guard let p = tps.last, let n = fps.last, p > 0, n > 0 else {
            throw JouleError("AUROC needs both positive and negative labels")
        }
        var area = 0.0, prevT = 0.0, prevF = 0.0
        for (t, f) in zip(tps, fps) {
            area += (f / n - prevF / n) * (t / p + prevT / p) / 2
            prevT = t; prevF = f
        }
        return area
    }

    /// Average precision, label 1 positive (`sklearn.metrics.average_precision_score`):
    /// Σ (Rₖ − Rₖ₋₁) · Pₖ over distinct thresholds, without interpolation.
    public static func auprc(scores: [Double], labels: [Int]) throws -> Double {
        let (tps, fps) = try curve(scores, labels)
        guard let p = tps.last, p > 0 else { throw JouleError("AUPRC needs at least one positive label") }
        var ap = 0.0, prevRecall = 0.0
        for (t, f) in zip(tps, fps) {
            let recall = t / p
            ap += (recall - prevRecall) * (t / (t + f))
            prevRecall = recall
        }
        return ap
    }

    public static func accuracy(predictions: [Int], labels: [Int]) throws -> Double {
        guard predictions.count == labels.count, !labels.isEmpty else {
            throw JouleError("accuracy needs equally many predictions and labels (got \(predictions.count), \(labels.count))")
        }
        return Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }
}
