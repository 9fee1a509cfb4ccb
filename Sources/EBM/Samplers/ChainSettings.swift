import Tensor

/// What every sampler of the literature (MALA, HMC, annealed Langevin) shares besides its own kernel:
/// steps, the state space, class-conditional or not, where training chains start, the replay buffer's
/// settings and the precision of the energy gradients.
public struct ChainSettings: Equatable {
    /// The box the chains are kept in: by default [−1, 1] for images and none for vectors.
    public enum Bounds: Equatable {
        case automatic, unbounded
        case box(Float, Float)
    }

    public var steps = 60
    /// Sample E(x, y) for given classes (one replay pool per class); otherwise E(x).
    public var conditional = true
    /// Where the chains of a training step start.
    public var start: ChainStart = .replay
    /// Fresh chains: U(box) or N(0, std²).
    public var initial: ChainInit = .uniform
    /// Fraction of replay-started chains that start fresh instead.
    public var freshFraction: Float = 0.05
    public var bufferPerClass = 128
    /// One chain's shape, (C, H, W) or (D); nil: the model's.
    public var shape: [Int]?
    public var bounds: Bounds = .automatic
    /// The arithmetic of the energy gradients (bf16 where the CPU has AVX512-BF16; auto: the faster
    /// per convolution shape), as SGLD's.
    public var precision: SamplingPrecision = .auto
    public init() {}

    /// The state space these settings give for a model, validated (`name` prefixes errors).
    func space(for model: EnergyModel, name: String) throws -> StateSpace {
        guard (0...SGLDSampler.maxSteps).contains(steps), steps > 0 else {
            throw JouleError("\(name): steps must be in 1...\(SGLDSampler.maxSteps), got \(steps)")
        }
        guard (0...1).contains(freshFraction) else { throw JouleError("\(name): fresh_fraction must be in [0, 1], got \(freshFraction)") }
        if case .gaussian(let std) = initial, !(std.isFinite && std > 0) {
            throw JouleError("\(name): init_std must be a positive number, got \(std)")
        }
        guard let shape = shape ?? model.inputShape else {
            throw JouleError("\(name): the model declares no input shape: give the chains' shape (C, H, W) or (D)")
        }
        guard shape.count == 3 || shape.count == 1, shape.allSatisfy({ $0 > 0 && $0 <= 1 << 24 }), shape.reduce(1, *) <= 1 << 24 else {
            throw JouleError("\(name): the chains' shape must be (C, H, W) or (D), positive and at most \(1 << 24) values, got \(shape)")
        }
        if let s = model.inputShape, s.count != shape.count || s[0] != shape[0] {
            throw JouleError("\(name): chains of shape \(shape) do not fit the model's inputs \(s)")
        }
        guard (1...SGLDSampler.maxBufferPerClass).contains(bufferPerClass) else {
            throw JouleError("\(name): buffer_per_class must be in 1...\(SGLDSampler.maxBufferPerClass), got \(bufferPerClass)")
        }
        let pools = conditional ? model.classes : 1
        let floats = [pools, bufferPerClass].reduce(shape.reduce(1, *)) { $0.multipliedReportingOverflow(by: $1).overflow ? Int.max : $0 * $1 }
        guard floats <= SGLDSampler.maxFloats else {
            throw JouleError("\(name): a replay buffer of \(pools) pools × \(bufferPerClass) chains × \(shape.reduce(1, *)) values is too large (at most \(SGLDSampler.maxFloats) values)")
        }
        let clamp: ClosedRange<Float>?
        switch bounds {
        case .automatic: clamp = StateSpace.defaultClamp(for: shape)
        case .unbounded: clamp = nil
        case .box(let lo, let hi):
            guard lo.isFinite, hi.isFinite, lo < hi else { throw JouleError("\(name): clamp must be {lo, hi} with lo < hi, got {\(lo), \(hi)}") }
            clamp = lo...hi
        }
        return StateSpace(shape: shape, clamp: clamp)
    }

    /// Under the names the Lua options use, prefixed, for checkpoints' metadata.
    func hyperparameters(_ prefix: String, space: StateSpace) -> [String: String] {
        var h = ["steps": "\(steps)", "conditional": "\(conditional)", "start": start.rawValue,
                 "fresh_fraction": "\(freshFraction)", "buffer_per_class": "\(bufferPerClass)",
                 "shape": space.shape.map(String.init).joined(separator: ","),
                 "clamp": space.clamp.map { "\($0.lowerBound),\($0.upperBound)" } ?? "none", "precision": precision.rawValue]
        switch initial {
        case .uniform: h["init"] = "uniform"
        case .gaussian(let std): h["init"] = "gaussian"; h["init_std"] = "\(std)"
        }
        return Dictionary(uniqueKeysWithValues: h.map { (prefix + "." + $0.key, $0.value) })
    }
}
