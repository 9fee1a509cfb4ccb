import Data
import EBM
import NN
import Tensor
import TestSupport
import XCTest

/// Learning, not timing: a JEM trained briefly on the blob problem must classify it and must
/// give real images lower energy than noise.
final class LearningTests: XCTestCase {
    func testJEMLearnsBrightAndDarkBlobs() throws {
        let rng = RNG(seed: 42)
        let train = BlobProblem.make(count: 512, rng: rng)
        let test = BlobProblem.make(count: 200, rng: rng)
        let model = try ShallowCNN(hidden: 8, classes: 2, rng: rng)
        var s = SGLDSampler.Config()
        s.steps = 20; s.imageShape = [1, 16, 16]; s.bufferPerClass = 64; s.stepSize = 1; s.noise = 0.01
        let sampler = try SGLDSampler(model: model, config: s, rng: RNG(seed: 1))
        var c = JEM.Config(); c.lr = 1e-3; c.lrStep = 100
        let jem = try JEM(model: model, sampler: sampler, config: c)
        for _ in 0..<10 {
            let stats = try jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: rng)
            XCTAssertTrue(stats.allSatisfy { $0.terms.total.isFinite })
        }
        let eval = try jem.evaluate(test.images, labels: test.labels, sampledCount: 0)
        XCTAssertGreaterThanOrEqual(eval.accuracy, 0.95)

        let noise = Tensor(shape: [200, 1, 16, 16]); rng.fillUniform(noise, -1, 1)
        let noiseEnergy = try model.energy(noise).mean()
        XCTAssertLessThan(Float(eval.meanEnergyReal), noiseEnergy, "real data has lower energy than uniform noise")

        // Class-conditional chains from noise end up classified as the class they were asked for.
        let asked = (0..<16).map { $0 % 2 }
        let samples = try sampler.sample(count: 16, labels: asked, steps: 60).final
        let predicted = try model.logits(samples).argmaxRows()
        XCTAssertGreaterThanOrEqual(try Metrics.accuracy(predictions: predicted, labels: asked), 0.9)
    }
}
