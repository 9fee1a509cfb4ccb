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

    private static func checkClasses(_ predictions: [Int], _ labels: [Int], _ classes: Int) throws {
        guard predictions.count == labels.count, !labels.isEmpty else {
            throw JouleError("need equally many predictions and labels (got \(predictions.count), \(labels.count))")
        }
        guard classes > 0 else { throw JouleError("classes must be positive, got \(classes)") }
        if let bad = (predictions + labels).first(where: { $0 < 0 || $0 >= classes }) {
            throw JouleError("class id \(bad) outside 0..<\(classes)")
        }
    }

    /// Confusion matrix as scikit-learn's `confusion_matrix`: entry [i][j] counts images of true
    /// class i predicted as class j.
    public static func confusionMatrix(predictions: [Int], labels: [Int], classes: Int) throws -> [[Int]] {
        try checkClasses(predictions, labels, classes)
        var m = Array(repeating: Array(repeating: 0, count: classes), count: classes)
        for (p, y) in zip(predictions, labels) { m[y][p] += 1 }
        return m
    }

    /// Accuracy within each true class (the confusion matrix's diagonal over its row sums);
    /// NaN for a class with no images.
    public static func perClassAccuracy(predictions: [Int], labels: [Int], classes: Int) throws -> [Double] {
        let m = try confusionMatrix(predictions: predictions, labels: labels, classes: classes)
        return (0..<classes).map { c in
            let n = m[c].reduce(0, +)
            return n == 0 ? .nan : Double(m[c][c]) / Double(n)
        }
    }

    /// Expected calibration error (Guo et al. 2017): confidences in `bins` equal-width bins
    /// (bin b holds confidences in (b/B, (b+1)/B], the first also 0), then
    /// Σ_b |B_b|/n · |accuracy(B_b) − mean confidence(B_b)|.
    public static func expectedCalibrationError(confidences: [Double], predictions: [Int], labels: [Int], bins: Int = 15) throws -> Double {
        guard confidences.count == labels.count, predictions.count == labels.count, !labels.isEmpty else {
            throw JouleError("calibration error needs equally many confidences, predictions and labels (got \(confidences.count), \(predictions.count), \(labels.count))")
        }
        guard bins > 0 else { throw JouleError("bins must be positive, got \(bins)") }
        guard confidences.allSatisfy({ $0 >= 0 && $0 <= 1 }) else { throw JouleError("confidences must lie in [0, 1]") }
        var count = Array(repeating: 0.0, count: bins), correct = count, confidence = count
        for (i, c) in confidences.enumerated() {
            var b = Swift.min(Swift.max(Int((c * Double(bins)).rounded(.up)) - 1, 0), bins - 1)
            // Settle rounding at the edges against the edges themselves (lower < c ≤ upper).
            while b > 0 && c <= Double(b) / Double(bins) { b -= 1 }
            while b < bins - 1 && c > Double(b + 1) / Double(bins) { b += 1 }
            count[b] += 1
            confidence[b] += c
            if predictions[i] == labels[i] { correct[b] += 1 }
        }
        let n = Double(labels.count)
        return (0..<bins).reduce(0.0) { e, b in
            count[b] == 0 ? e : e + count[b] / n * abs(correct[b] / count[b] - confidence[b] / count[b])
        }
    }
}
