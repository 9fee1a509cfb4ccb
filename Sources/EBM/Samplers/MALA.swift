import Foundation
import Tensor

/// The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996), in BlackJAX's convention:
/// the proposal x' = x − h·∂E/∂x + √(2h)·ξ, ξ ~ N(0, I), accepted with probability
///   min(1, exp(−E(x') + E(x) + log q(x | x') − log q(x' | x))),  log q(b | a) = −|b − a + h·∂E/∂a|² / 4h,
/// per chain. One energy-and-gradient evaluation per step: the proposal's; the accepted state's
/// energy and gradient are kept, never recomputed.
///
/// Step-size adaptation (`adaptSteps` > 0): during the first `adaptSteps` steps the sampler ever
/// takes (counted across runs, and saved in training checkpoints), log h moves toward the target
/// acceptance by Robbins–Monro, log h += (ā − target)/t^0.6 with ā the batch's mean acceptance
/// probability; after that h stays fixed, so the chain from then on is a valid (time-homogeneous)
/// Markov chain. Frames kept during the warm-up are not samples of the target.
///
/// In a box (images' [−1, 1]) the proposal is projected into it, as SGLD does, and the test uses the
/// projected point with the Gaussian densities above. That is exact only while the proposal stays
/// inside: the projection puts probability mass on the faces that the Gaussian ratio does not count,
/// so near the faces the chain targets the box-restricted density only approximately. Without a box
/// (vectors, by default) the chain is exact.
open class MALASampler: MarkovSampler {
    public struct Config: Equatable {
        public var stepSize: Float = 0.01
        public var adaptSteps = 0
        public var targetAcceptance: Float = 0.574
        public var chains = ChainSettings()
        public init() {}
        public init(stepSize: Float, adaptSteps: Int = 0, chains: ChainSettings) {
            self.stepSize = stepSize; self.adaptSteps = adaptSteps; self.chains = chains
        }
    }

    public let config: Config
    /// The step size the next step uses (the configured one, adapted during the warm-up).
    public private(set) var stepSize: Double
    /// Steps adapted so far (of `config.adaptSteps`).
    public private(set) var adapted = 0

    // Workspaces: the proposals, their energies and gradients, the noise.
    private let proposal = Tensor(shape: [0]), proposalEnergy = Tensor(shape: [0])
    private let proposalGradient = Tensor(shape: [0]), noise = Tensor(shape: [0])

    public init(model: EnergyModel, config: Config = Config(), rng: RNG) throws {
        guard config.stepSize.isFinite, config.stepSize > 0 else { throw JouleError("MALA: step_size must be a positive number, got \(config.stepSize)") }
        guard (0...SGLDSampler.maxSteps).contains(config.adaptSteps) else {
            throw JouleError("MALA: adapt_steps must be in 0...\(SGLDSampler.maxSteps), got \(config.adaptSteps)")
        }
        guard config.targetAcceptance > 0, config.targetAcceptance < 1 else {
            throw JouleError("MALA: target_acceptance must lie in (0, 1), got \(config.targetAcceptance)")
        }
        self.config = config
        stepSize = Double(config.stepSize)
        try super.init(name: "MALA", key: "mala", model: model, settings: config.chains, rng: rng)
    }

    open override var kernelHyperparameters: [String: String] {
        ["step_size": "\(config.stepSize)", "adapt_steps": "\(config.adaptSteps)", "target_acceptance": "\(config.targetAcceptance)"]
    }

    /// log q(x | x') up to the constant the forward density shares: −|x − x' + h·∂E/∂x'|²/4h given
    /// the squared norm. A test subclass drops it to show that the moment tests catch a wrong proposal density.
    open func reverseProposalLogDensity(squaredNorm: Double, stepSize h: Double) -> Double { -squaredNorm / (4 * h) }

    open override func advance(_ x: Tensor, labels: [Int]?, step: Int, of steps: Int, rngs: [RNG]) throws {
        let n = x.shape[0], d = x.itemSize, h = stepSize
        let (hf, sf) = (Float(h), Float((2 * h).squareRoot()))
        try proposal.resize(x.shape)
        try noise.resize(x.shape)
        fillNoise(noise, rngs: rngs)
        let (xs, ys, g, xi) = (x.data, proposal.data, gradient.data, noise.data)
        for i in 0..<x.count { ys[i] = xs[i] - hf * g[i] + sf * xi[i] }
        space.project(ys, count: x.count)
        proposal.touch()
        try evaluate(proposal, labels: labels, energy: proposalEnergy, gradient: proposalGradient, step: step + 1)
        let gy = proposalGradient.data
        var meanAcceptance = 0.0
        for c in 0..<n {
            var forward = 0.0, reverse = 0.0
            for i in (c * d)..<((c + 1) * d) {
                let f = Double(ys[i]) - Double(xs[i]) + h * Double(g[i])
                let r = Double(xs[i]) - Double(ys[i]) + h * Double(gy[i])
                forward += f * f; reverse += r * r
            }
            let logRatio = -(Double(proposalEnergy.data[c]) - Double(energy.data[c]))
                + reverseProposalLogDensity(squaredNorm: reverse, stepSize: h) + forward / (4 * h)
            meanAcceptance += logRatio.isNaN ? 0 : Swift.min(1, exp(logRatio))
            if metropolis(logRatio, rngs[c]) {
                accepted[c] += 1
                (xs + c * d).update(from: ys + c * d, count: d)
                (g + c * d).update(from: gy + c * d, count: d)
                energy.data[c] = proposalEnergy.data[c]
            }
        }
        gradient.touch()
        if adapted < config.adaptSteps {
            adapted += 1
            let a = meanAcceptance / Double(n) - Double(config.targetAcceptance)
            stepSize = Swift.min(Swift.max(stepSize * exp(a / pow(Double(adapted), 0.6)), 1e-12), 1e6)
        }
    }

    open override var kernelStateKeys: [String] { ["mala.step_size", "mala.adapted"] }

    open override func saveKernelState(prefix: String, into meta: inout [String: String]) {
        guard adapted > 0 else { return }
        meta[prefix + "mala.step_size"] = "\(stepSize.bitPattern)"
        meta[prefix + "mala.adapted"] = "\(adapted)"
    }

    open override func kernelStateRestorer(prefix: String, meta: [String: String]) throws -> () -> Void {
        guard let s = meta[prefix + "mala.step_size"], let a = meta[prefix + "mala.adapted"] else {
            guard meta[prefix + "mala.step_size"] == nil, meta[prefix + "mala.adapted"] == nil else {
                throw JouleError("MALA: the saved adapted step size is incomplete")
            }
            let h = Double(config.stepSize)
            return { [self] in stepSize = h; adapted = 0 }
        }
        guard let bits = UInt64(s), let n = Int(a), (1...config.adaptSteps).contains(n) else {
            throw JouleError("MALA: the saved adapted step size ('\(s.prefix(30))', after \(a.prefix(20)) steps) does not fit adapt_steps = \(config.adaptSteps)")
        }
        let h = Double(bitPattern: bits)
        guard h.isFinite, h > 0 else { throw JouleError("MALA: the saved adapted step size \(h) is not a positive number") }
        return { [self] in stepSize = h; adapted = n }
    }
}
