import Formats
import Foundation
import Plot
import Tensor
import TestSupport
import XCTest

final class CurveTests: PlotTestCase {
    func testScikitLearnsSmallExample() throws {
        // sklearn docs: roc_curve([0,0,1,1], [.1,.4,.35,.8]) → fpr [0,0,.5,.5,1], tpr [0,.5,.5,1,1];
        // roc_auc_score 0.75; average_precision_score 0.8333….
        let c = try ScoreCurves(scores: [0.1, 0.4, 0.35, 0.8], labels: [0, 0, 1, 1])
        XCTAssertEqual(c.fpr, [0, 0, 0.5, 0.5, 1])
        XCTAssertEqual(c.tpr, [0, 0.5, 0.5, 1, 1])
        XCTAssertEqual(c.auroc, 0.75, accuracy: 1e-12)
        XCTAssertEqual(c.auprc, 5.0 / 6.0, accuracy: 1e-12)
        XCTAssertEqual(c.recall.first, 0)
        XCTAssertEqual(c.precision.first, 1)
    }

    func testTiesMoveTogether() throws {
        // All scores tied: one threshold, the ROC is the diagonal, AUROC 0.5, AP = positive fraction.
        let c = try ScoreCurves(scores: [1, 1, 1, 1], labels: [1, 0, 0, 0])
        XCTAssertEqual(c.fpr, [0, 1]); XCTAssertEqual(c.tpr, [0, 1])
        XCTAssertEqual(c.auroc, 0.5)
        XCTAssertEqual(c.auprc, 0.25)
    }

    func testAreasMatchTheReferenceFixture() throws {
        let scores = try Npy.read(Fixtures.path("ood_scores.npy"))[0].doubles()
        let labels = try Fixtures.ints("ood_labels.npy")
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.folder.appendingPathComponent("ood_metrics.json"))) as! [String: Double]
        let c = try ScoreCurves(scores: scores, labels: labels)
        XCTAssertEqual(c.auroc, ref["auroc"]!, accuracy: 1e-9)
        XCTAssertEqual(c.auprc, ref["auprc"]!, accuracy: 1e-9)
    }

    func testBadScores() throws {
        assertThrowsMessage("no scores") { _ = try ScoreCurves(scores: [], labels: []) }
        assertThrowsMessage("differ in length") { _ = try ScoreCurves(scores: [1], labels: [1, 0]) }
        assertThrowsMessage("0 or 1") { _ = try ScoreCurves(scores: [1, 2], labels: [1, 2]) }
        assertThrowsMessage("NaN") { _ = try ScoreCurves(scores: [.nan, 2], labels: [1, 0]) }
        assertThrowsMessage("both positive") { _ = try ScoreCurves(scores: [1, 2], labels: [1, 1]) }
        assertThrowsMessage("set 'x'") { _ = try Figure.roc([ScoredSet("x", scores: [1, 2], labels: [0, 0])]) }
        assertThrowsMessage("no score sets") { _ = try Figure.precisionRecall([]) }
    }

    func testROCAndPRFigures() throws {
        let id = normal(500, mean: 1, sd: 1, seed: 7), near = normal(500, mean: 0, sd: 1, seed: 8), far = normal(500, mean: -2, sd: 1, seed: 9)
        let sets = [ScoredSet("ood_ta", inDistribution: id, outOfDistribution: near),
                    ScoredSet("ood_tb", inDistribution: id, outOfDistribution: far)]
        XCTAssertEqual(sets[0].labels.filter { $0 == 1 }.count, 500)
        var o = CurveOptions()
        o.chart.title = "OOD detection by energy"
        let roc = try decoded(try Figure.roc(sets, options: o), "roc")
        XCTAssertEqual(roc.width, 560)
        let pr = try decoded(try Figure.precisionRecall(sets, options: o), "pr")
        for img in [roc, pr] {
            XCTAssertGreaterThan(columns(img, near: Palette.color(0)).count, 150)
            XCTAssertGreaterThan(columns(img, near: Palette.color(1)).count, 150)
        }
        // The better-separated set's ROC bulges further to the top-left: near the left edge its
        // curve is higher (smaller y) than the other's.
        let rows0 = rows(roc, near: Palette.color(0)), rows1 = rows(roc, near: Palette.color(1))
        XCTAssertLessThan(rows1.first!, rows0.first! + 1)
        try assertDeterministic("roc") { try Figure.roc(sets, options: o) }
    }
}
