import Data
import EBM
import Formats
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// The sample-quality measures on the built-in glyph corpus through the shipped feature network
/// (features/glyphs.safetensors): the numbers have to mean something on real data, and the PGD attack
/// used for robustness has to be a real attack. The corpus is rendered once for the class, with the
/// default options `joule data glyphs` uses, so its test split is the one the network was scored on.
final class GlyphSampleQualityTests: XCTestCase {
    nonisolated(unsafe) static var corpus: CourseData?
    nonisolated(unsafe) static var network: FeatureNetwork?
    nonisolated(unsafe) static var folder: URL?

    static let featuresFile = Fixtures.folder.deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("features/glyphs.safetensors").path

    override class func setUp() {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joule-quality-\(UUID().uuidString)")
        folder = dir
        do {
            try GlyphCorpus.make(into: dir.path, options: GlyphCorpus.Options())
            corpus = try CourseData(directory: dir.path)
            network = try FeatureNetwork.load(from: featuresFile)
        } catch {
            XCTFail("setting up the corpus and the feature network: \(error)")
        }
    }

    override class func tearDown() {
        if let folder { try? FileManager.default.removeItem(at: folder) }
    }

    func data() throws -> (CourseData, FeatureNetwork) {
        guard let c = Self.corpus, let n = Self.network else { throw XCTSkip("no corpus or feature network") }
        return (c, n)
    }

    /// Every `stride`-th image of a split, as many as `count`.
    func spread(_ s: Split, _ count: Int) throws -> (Tensor, [Int]) {
        let idx = (0..<count).map { $0 * s.count / count }
        let b = try s.batch(idx)
        return (b.images, b.labels ?? [])
    }

    /// Real images of other splits score near the floor; modern letters (ood_tb) and noise far worse.
    /// Measured (Zen 4): train vs test FID 0.06, precision 0.90, recall 0.91; ood_tb FID 4.2, recall
    /// 0.39; noise FID 43, precision and recall 0. The bounds leave a wide margin for other kernels.
    func testRealSplitsScoreNearTheFloorAndOtherSetsFarWorse() throws {
        let (c, net) = try data()
        let test = try net.features(c["test"]!.images)
        let (trainImages, _) = try spread(c["train"]!, c["test"]!.count)
        let train = try net.features(trainImages)
        let ood = try net.features(c["ood_tb"]!.images)
        let rng = RNG(seed: 5)
        let noiseImages = Tensor(shape: [500, 1, 56, 56])
        for i in 0..<noiseImages.count { noiseImages.data[i] = rng.uniform(-1, 1) }
        let noise = try net.features(noiseImages)

        let fTrain = try SampleQuality.fid(real: test, fake: train)
        let fOOD = try SampleQuality.fid(real: test, fake: ood)
        let fNoise = try SampleQuality.fid(real: test, fake: noise)
        XCTAssertLessThan(fTrain, 0.5)
        XCTAssertGreaterThan(fOOD, 10 * fTrain)
        XCTAssertGreaterThan(fNoise, 5 * fOOD)
        XCTAssertLessThan(abs(try SampleQuality.kid(real: test, fake: train)), 0.02)
        XCTAssertGreaterThan(try SampleQuality.kid(real: test, fake: ood), 0.2)

        let mTrain = try SampleQuality.precisionRecall(real: test, fake: train)
        let mOOD = try SampleQuality.precisionRecall(real: test, fake: ood)
        let mNoise = try SampleQuality.precisionRecall(real: test, fake: noise)
        XCTAssertGreaterThan(mTrain.precision, 0.8)
        XCTAssertGreaterThan(mTrain.recall, 0.8)
        XCTAssertLessThan(mOOD.recall, mTrain.recall - 0.3)
        XCTAssertLessThan(mOOD.coverage, mTrain.coverage - 0.3)
        XCTAssertLessThan(mNoise.precision, 0.05)
        XCTAssertLessThan(mNoise.recall, 0.05)
    }

    /// A class's samples replaced by copies of one of them: each copy is a real glyph, so precision
    /// stays, but the set covers one point per class: recall, coverage and diversity collapse.
    func testCopiesOfOneSampleLoseRecallCoverageAndDiversityButKeepPrecision() throws {
        let (c, net) = try data()
        let test = c["test"]!, val = c["val"]!
        let real = try net.features(test.images)
        let labels = val.labels!
        var first: [Int: Int] = [:]
        for (i, y) in labels.enumerated() where first[y] == nil { first[y] = i }
        let varied = try net.features(val.images)
        let copies = try net.features(try val.images.gather(labels.map { first[$0]! }))

        let a = try SampleQuality.precisionRecall(real: real, fake: varied)
        let b = try SampleQuality.precisionRecall(real: real, fake: copies)
        XCTAssertGreaterThan(b.precision, a.precision - 0.15, "copies of real glyphs still look real")
        XCTAssertLessThan(b.recall, 0.5 * a.recall)
        XCTAssertLessThan(b.coverage, 0.5 * a.coverage)
        let dv = try SampleQuality.diversity(fake: varied, fakeLabels: labels, real: real, realLabels: test.labels!, classes: 42)
        let dc = try SampleQuality.diversity(fake: copies, fakeLabels: labels, real: real, realLabels: test.labels!, classes: 42)
        XCTAssertEqual(dv.ratio, 1, accuracy: 0.15, "real images vary as much as real images")
        XCTAssertEqual(dc.ratio, 0, "identical copies have no spread")
        XCTAssertEqual(dc.perClass.compactMap { $0 }.count, 42)
    }

    /// Class fidelity of real test images is the feature network's test accuracy, which its training
    /// script stored in the file (up to a few near-tied images a different kernel family may flip).
    func testClassFidelityOfRealTestImagesIsTheFeatureNetworksAccuracy() throws {
        let (c, net) = try data()
        let test = c["test"]!
        let predicted = try net.predict(test.images)
        let fidelity = try SampleQuality.classFidelity(predicted: predicted, asked: test.labels!)
        XCTAssertEqual(fidelity, try Metrics.accuracy(predictions: predicted, labels: test.labels!))
        let stored = try XCTUnwrap(Double(try SafeTensors.read(Self.featuresFile).metadata["test_accuracy"] ?? ""))
        XCTAssertEqual(fidelity, stored, accuracy: 3.0 / Double(test.count))
        XCTAssertGreaterThan(stored, 0.85, "somewhat stronger than the course network")
    }

    func testFeatureNetworkRefusesBadImages() throws {
        let (_, net) = try data()
        assertThrowsMessage("the feature network takes images of shape (N, 1, 56, 56), got [2, 1, 28, 28]") {
            _ = try net.features(Tensor(shape: [2, 1, 28, 28]))
        }
        let x = Tensor(shape: [3, 1, 56, 56])
        x.data[56 * 56 + 7] = .nan
        assertThrowsMessage("image 2 has a non-finite value (nan)") { _ = try net.features(x) }
        assertThrowsMessage("a feature network is a Sequential ending in a Linear layer") {
            _ = try FeatureNetwork(try EnergyNet(Sequential([Linear(4, 3, rng: RNG(seed: 1)), Swish()]), inputShape: [4]))
        }
    }

    // MARK: PGD

    /// The attack's gradient, −log softmax(f(x))[y] per image, against central differences.
    func testCrossEntropyInputGradientMatchesFiniteDifferences() throws {
        let (c, _) = try data()
        let model = try ShallowCNN(hidden: 4, classes: 42, rng: RNG(seed: 3))
        let (x, y) = try spread(c["test"]!, 3)
        var losses: [Float] = []
        let g = try PGD.crossEntropyGradient(model: model, images: x, labels: y, losses: &losses).copy()
        let rng = RNG(seed: 9)
        let d = x.itemSize
        for i in 0..<3 {
            // A random direction, in Double for the directional derivative.
            let v = (0..<d).map { _ in rng.normal() }
            var analytic = 0.0
            for k in 0..<d { analytic += Double(g.data[i * d + k]) * Double(v[k]) }
            let h: Float = 1e-2
            func loss(_ s: Float) throws -> Double {
                let xs = x.copy()
                for k in 0..<d { xs.data[i * d + k] += s * v[k] }
                var l: [Float] = []
                _ = try PGD.crossEntropyGradient(model: model, images: xs, labels: y, losses: &l)
                return Double(l[i])
            }
            let numeric = (try loss(h) - loss(-h)) / (2 * Double(h))
            XCTAssertEqual(analytic, numeric, accuracy: 2e-2 * max(abs(numeric), 1e-2), "image \(i)")
        }
    }

    /// On the feature network (a plain classifier): ε = 0 is the plain accuracy, accuracy falls with
    /// ε, and the attacked images stay within the ball and the pixel range.
    func testPGDLowersAccuracyMonotonicallyAndStaysInTheBall() throws {
        let (c, net) = try data()
        let (x, y) = try spread(c["test"]!, 96)
        let plain = try Metrics.accuracy(predictions: try net.predict(x), labels: y)
        for norm in PGD.Norm.allCases {
            let eps: [Float] = norm == .linf ? [0, 0.01, 0.03, 0.1] : [0, 0.5, 1.5, 5]
            var config = PGD.Config()
            config.norm = norm
            let acc = try PGD.robustAccuracy(model: net.net, images: x, labels: y, epsilons: eps, config: config, batchSize: 40)
            XCTAssertEqual(acc[0], plain, "\(norm): ε = 0")
            for k in 1..<acc.count { XCTAssertLessThanOrEqual(acc[k], acc[k - 1], "\(norm)") }
            XCTAssertLessThan(acc.last!, plain - 0.3, "\(norm): a plain classifier falls under attack")

            config.epsilon = eps[2]
            let adv = try PGD.attack(model: net.net, images: x, labels: y, config: config)
            let d = x.itemSize
            for i in 0..<x.shape[0] {
                var linf: Float = 0, l2 = 0.0
                for k in 0..<d {
                    let delta = adv.data[i * d + k] - x.data[i * d + k]
                    linf = max(linf, abs(delta)); l2 += Double(delta) * Double(delta)
                    XCTAssertTrue((-1...1).contains(adv.data[i * d + k]))
                }
                if norm == .linf { XCTAssertLessThanOrEqual(linf, eps[2] * (1 + 1e-6)) }
                else { XCTAssertLessThanOrEqual(l2.squareRoot(), Double(eps[2]) * (1 + 1e-5)) }
            }
        }
        var bad = PGD.Config()
        bad.epsilon = -1
        assertThrowsMessage("epsilon must be a non-negative number, got -1.0") { _ = try PGD.attack(model: net.net, images: x, labels: y, config: bad) }
        assertThrowsMessage("give the epsilons in increasing order") {
            _ = try PGD.robustAccuracy(model: net.net, images: x, labels: y, epsilons: [0.1, 0], config: PGD.Config())
        }
    }
}
