import Foundation
import Tensor

/// Unadjusted Langevin dynamics on the tempered energy E(x)/T_s, with T_s falling geometrically over
/// a run's steps from T0 (`t0`) to 1: x ← x − h·∂E/∂x / T_s + √(2h)·ξ (h = `step_size`, the same
/// convention as MALA's). Early, hot steps cross between modes; the last steps are at the target's
/// temperature (the improved-contrastive-divergence code's annealing). With t0 = 1 it is plain
/// unadjusted Langevin (ULA), biased at any finite step: no test corrects it, so every step counts
/// as accepted.
///
/// In a box (images' [−1, 1]) each step is projected into it, as SGLD does; ULA is inexact anyway,
/// and the projection adds the bias of the faces.
public final class AnnealedLangevinSampler: MarkovSampler {
    public struct Config: Equatable {
        public var stepSize: Float = 0.01
        public var t0: Float = 10
        public var chains = ChainSettings()
        public init() {}
    }

    public let config: Config
    private let noise = Tensor(shape: [0])

    public init(model: EnergyModel, config: Config = Config(), rng: RNG) throws {
        guard config.stepSize.isFinite, config.stepSize > 0 else { throw JouleError("AnnealedLangevin: step_size must be a positive number, got \(config.stepSize)") }
        guard config.t0.isFinite, config.t0 >= 1 else { throw JouleError("AnnealedLangevin: t0 must be a number ≥ 1, got \(config.t0)") }
        self.config = config
        try super.init(name: "AnnealedLangevin", key: "annealed", model: model, settings: config.chains, rng: rng)
    }

    public override var kernelHyperparameters: [String: String] { ["step_size": "\(config.stepSize)", "t0": "\(config.t0)"] }

    /// The temperature of step s of `steps`: T0^(1 − s/(steps − 1)), so the first is T0 and the last 1.
    public func temperature(step s: Int, of steps: Int) -> Float {
        steps <= 1 ? 1 : Float(pow(Double(config.t0), 1 - Double(s) / Double(steps - 1)))
    }

    public override func advance(_ x: Tensor, labels: [Int]?, step: Int, of steps: Int, rngs: [RNG]) throws {
        let h = config.stepSize, drift = h / temperature(step: step, of: steps), sigma = (2 * h).squareRoot()
        try noise.resize(x.shape)
        fillNoise(noise, rngs: rngs)
        let (xs, g, xi) = (x.data, gradient.data, noise.data)
        for i in 0..<x.count { xs[i] += -drift * g[i] + sigma * xi[i] }
        space.project(xs, count: x.count)
        x.touch()
        for c in 0..<accepted.count { accepted[c] += 1 }
        // The next step's gradient; after the last step it is not needed.
        if step + 1 < steps { try evaluate(x, labels: labels, energy: energy, gradient: gradient, step: step + 1) }
    }
}
