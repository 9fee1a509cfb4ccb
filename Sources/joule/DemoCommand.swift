import ArgumentParser
import Data
import EBM
import Foundation
import Tensor

/// A Swift-level demonstration of the engine: a JEM learns the blob problem, then classifies it,
/// scores noise as high-energy and draws blobs of each class by SGLD.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Train a small JEM on made-up blob images and show what it learned.")

    @Option(help: "Training epochs.") var epochs = 8
    @Option(help: "Random seed.") var seed: UInt64 = 42

    func run() throws {
        let rng = RNG(seed: seed)
        let train = BlobProblem.make(count: 512, rng: rng), test = BlobProblem.make(count: 256, rng: rng)
        let model = try ShallowCNN(hidden: 8, classes: 2, rng: rng)
        var s = SGLDSampler.Config()
        s.steps = 20; s.imageShape = [1, 16, 16]; s.bufferPerClass = 64; s.stepSize = 1; s.noise = 0.01
        let sampler = try SGLDSampler(model: model, config: s, rng: RNG(seed: seed &+ 1))
        var c = JEM.Config(); c.lr = 1e-3; c.lrStep = 100
        let jem = try JEM(model: model, sampler: sampler, config: c)
        print("Training a JEM (ShallowCNN hidden 8, 2 classes) on 512 images of bright and dark blobs, 16×16")
        for epoch in 1...max(epochs, 1) {
            guard let m = JEM.StepStats.mean(try jem.fitEpoch(train.images, labels: train.labels, batchSize: 16, rng: rng)) else { continue }
            print(String(format: "epoch %2d  loss %7.4f  px %7.4f  pyx %6.4f  train acc %5.1f%%  E(real) %7.3f  E(sampled) %7.3f",
                         epoch, m.terms.total, m.terms.px, m.terms.pyx, 100 * m.accuracy, m.energyReal, m.energySampled))
        }
        let eval = try jem.evaluate(test.images, labels: test.labels, sampledCount: 0)
        let noise = Tensor(shape: [256, 1, 16, 16]); rng.fillUniform(noise, -1, 1)
        print(String(format: "\nHeld-out accuracy: %.1f%% on 256 new images", 100 * eval.accuracy))
        print(String(format: "Mean energy: real blobs %.3f, uniform noise %.3f (lower is more probable)",
                     eval.meanEnergyReal, try model.energy(noise).mean()))
        // Chains continued from the replay buffer have run for many steps during training.
        print("\nSGLD samples continued from the replay buffer, one per class:")
        let samples = try sampler.sampleFromBuffer(count: 2, labels: [0, 1])
        let predicted = try model.logits(samples).argmaxRows()
        for k in 0..<2 {
            print("  asked for '\(BlobProblem.classNames[k])', classified as '\(BlobProblem.classNames[predicted[k]])'")
        }
        print(asciiPair(samples))
    }

    /// Two 16×16 images side by side in shades of text.
    private func asciiPair(_ x: Tensor) -> String {
        let shades = Array(" .:-=+*#%@")
        return (0..<16).map { y in
            (0..<2).map { n in
                String((0..<16).map { col -> Character in
                    let v = (x[n * 256 + y * 16 + col] + 1) / 2
                    return shades[min(max(Int(v * Float(shades.count)), 0), shades.count - 1)]
                }.flatMap { [$0, $0] })
            }.joined(separator: "    ")
        }.map { "  " + $0 }.joined(separator: "\n")
    }
}
