import Tensor

/// Points of ROC and precision-recall curves, computed as scikit-learn computes them: one point
/// per distinct score threshold (tied scores move together), label 1 positive, higher score
/// means more positive. Plot cannot import EBM, so this repeats the small core of
/// EBM/Metrics.swift; the areas agree with `Metrics.auroc` and `Metrics.auprc` (tests check
/// both against the same fixture).
public struct ScoreCurves: Sendable {
    /// False and true positive rates from (0, 0) to (1, 1) (`roc_curve` with drop_intermediate=False).
    public let fpr: [Double]
    public let tpr: [Double]
    /// Recall rising from 0 and precision at each threshold, starting at (recall 0, precision 1)
    /// (`precision_recall_curve`, reversed to increasing recall).
    public let recall: [Double]
    public let precision: [Double]
    /// Area under the ROC curve by the trapezoid rule (`roc_auc_score`).
    public let auroc: Double
    /// Average precision Σ (Rₖ − Rₖ₋₁)·Pₖ (`average_precision_score`, no interpolation).
    public let auprc: Double

    public init(scores: [Double], labels: [Int]) throws {
        guard !scores.isEmpty else { throw JouleError("curves: no scores") }
        guard scores.count == labels.count else {
            throw JouleError("curves: scores (\(scores.count)) and labels (\(labels.count)) differ in length")
        }
        guard labels.allSatisfy({ $0 == 0 || $0 == 1 }) else { throw JouleError("curves: labels must be 0 or 1") }
        guard !scores.contains(where: \.isNaN) else { throw JouleError("curves: scores contain NaN") }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tps: [Double] = [], fps: [Double] = []
        var tp = 0.0, fp = 0.0
        for (k, i) in order.enumerated() {
            if labels[i] == 1 { tp += 1 } else { fp += 1 }
            if k == order.count - 1 || scores[order[k + 1]] != scores[i] { tps.append(tp); fps.append(fp) }
        }
        let p = tp, n = fp
        guard p > 0, n > 0 else { throw JouleError("curves: need both positive (1) and negative (0) labels, got \(Int(p)) and \(Int(n))") }
        fpr = [0] + fps.map { $0 / n }
        tpr = [0] + tps.map { $0 / p }
        var area = 0.0
        for i in 1..<fpr.count { area += (fpr[i] - fpr[i - 1]) * (tpr[i] + tpr[i - 1]) / 2 }
        auroc = area
        var rec: [Double] = [0], prec: [Double] = [1], ap = 0.0
        for (t, f) in zip(tps, fps) {
            let r = t / p, pr = t / (t + f)
            ap += (r - rec.last!) * pr
            rec.append(r); prec.append(pr)
        }
        recall = rec; precision = prec; auprc = ap
    }
}

/// Scores with binary labels for one curve, named for the legend.
public struct ScoredSet: Sendable {
    public var name: String
    public var scores: [Double]
    public var labels: [Int]
    public init(_ name: String, scores: [Double], labels: [Int]) { self.name = name; self.scores = scores; self.labels = labels }

    /// In-distribution scores against out-of-distribution ones. `positive` says which side is
    /// label 1; scikit-learn's convention is that higher scores mean label 1.
    public init(_ name: String, inDistribution: [Double], outOfDistribution: [Double], positive: OODPositive = .inDistribution) {
        let idLabel = positive == .inDistribution ? 1 : 0
        self.init(name, scores: inDistribution + outOfDistribution,
                  labels: Array(repeating: idLabel, count: inDistribution.count)
                      + Array(repeating: 1 - idLabel, count: outOfDistribution.count))
    }
}

public enum OODPositive: Sendable { case inDistribution, outOfDistribution }
