import Foundation
import Tensor

/// Hamiltonian Monte Carlo (Duane et al. 1987; Neal 2011): per iteration a momentum p ~ N(0, M)
/// with a diagonal mass M (identity by default, a number, or one value per coordinate of a chain),
/// L leapfrog steps of size ε on H(x, p) = E(x) + ½·pᵀM⁻¹p, and a Metropolis test on the change of
/// H, per chain. The start's gradient is the previous iteration's end (or the run's first
/// evaluation): L gradient evaluations per iteration, L + 1 for the first.
///
/// In a box (images' [−1, 1]) a position that leaves it is reflected back at the face and that
/// coordinate's momentum flipped (Neal 2011, §5.5.1.5). Reflection keeps the leapfrog map
/// volume-preserving and reversible, so the chain stays exact for the density restricted to the box.
public final class HMCSampler: MarkovSampler {
    public struct Config: Equatable {
        public var stepSize: Float = 0.01
        public var leapfrog = 10
        /// Diagonal mass: one value for every coordinate, or one per coordinate of a chain.
        public var mass: [Float] = [1]
        public var chains = ChainSettings()
        public init() {}
    }

    public let config: Config
    /// The mass per coordinate of one chain (a single value broadcast).
    private let mass: [Float]

    // Workspaces: momenta, the iteration's start (positions, energies, gradients), the noise.
    private let momentum = Tensor(shape: [0]), start = Tensor(shape: [0])
    private let startEnergy = Tensor(shape: [0]), startGradient = Tensor(shape: [0])

    public init(model: EnergyModel, config: Config = Config(), rng: RNG) throws {
        guard config.stepSize.isFinite, config.stepSize > 0 else { throw JouleError("HMC: step_size must be a positive number, got \(config.stepSize)") }
        guard (1...10_000).contains(config.leapfrog) else { throw JouleError("HMC: leapfrog must be in 1...10000, got \(config.leapfrog)") }
        guard !config.mass.isEmpty, config.mass.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw JouleError("HMC: mass must be positive numbers, got \(config.mass.first(where: { !($0.isFinite && $0 > 0) }).map { "\($0)" } ?? "none")")
        }
        self.config = config
        let space = try config.chains.space(for: model, name: "HMC")
        guard config.mass.count == 1 || config.mass.count == space.size else {
            throw JouleError("HMC: mass must be one number or one per coordinate of a chain (\(space.size)), got \(config.mass.count)")
        }
        mass = config.mass.count == 1 ? Array(repeating: config.mass[0], count: space.size) : config.mass
        try super.init(name: "HMC", key: "hmc", model: model, settings: config.chains, rng: rng)
    }

    public override var kernelHyperparameters: [String: String] {
        ["step_size": "\(config.stepSize)", "leapfrog": "\(config.leapfrog)",
         "mass": config.mass.count == 1 ? "\(config.mass[0])" : "per-coordinate"]
    }

    /// Keeps x in the box [lo, hi] by reflection, flipping the momentum once per face crossed. Folding
    /// by the period 2w of the reflections (w = hi − lo) does any number of crossings at once; the
    /// parity of their count is whether the folded point lies in the mirrored half.
    @inline(__always) private func reflect(_ x: inout Float, _ p: inout Float, _ lo: Float, _ hi: Float) {
        guard x.isFinite else { return }   // a non-finite position gives a NaN energy, which is reported
        let w = hi - lo
        var y = (x - lo).truncatingRemainder(dividingBy: 2 * w)
        if y < 0 { y += 2 * w }
        if y > w { x = lo + (2 * w - y); p = -p } else { x = lo + y }
    }

    public override func advance(_ x: Tensor, labels: [Int]?, step: Int, of steps: Int, rngs: [RNG]) throws {
        let n = x.shape[0], d = x.itemSize, eps = config.stepSize, L = config.leapfrog
        try momentum.resize(x.shape)
        fillNoise(momentum, rngs: rngs)
        try start.assign(x)
        try startEnergy.assign(energy)
        try startGradient.assign(gradient)
        let (xs, p) = (x.data, momentum.data)
        let sqrtMass = mass.map { $0.squareRoot() }, inverseMass = mass.map { 1 / $0 }
        var kinetic0 = [Double](repeating: 0, count: n)
        for c in 0..<n {
            var k = 0.0
            for j in 0..<d {
                let i = c * d + j
                p[i] *= sqrtMass[j]
                k += Double(p[i]) * Double(p[i]) * Double(inverseMass[j])
            }
            kinetic0[c] = k / 2
        }
        for l in 0..<L {
            // Half a kick from the gradient at hand (the start's on the first step), a drift, a kick at the end.
            let g = gradient.data
            for i in 0..<x.count { p[i] -= (l == 0 ? eps / 2 : eps) * g[i] }
            for c in 0..<n {
                for j in 0..<d {
                    let i = c * d + j
                    xs[i] += eps * inverseMass[j] * p[i]
                }
            }
            if let box = space.clamp {
                for i in 0..<x.count where xs[i] < box.lowerBound || xs[i] > box.upperBound {
                    reflect(&xs[i], &p[i], box.lowerBound, box.upperBound)
                }
            }
            x.touch()
            try evaluate(x, labels: labels, energy: energy, gradient: gradient, step: step + 1)
        }
        let g = gradient.data
        for i in 0..<x.count { p[i] -= eps / 2 * g[i] }
        for c in 0..<n {
            var k = 0.0
            for j in 0..<d {
                let i = c * d + j
                k += Double(p[i]) * Double(p[i]) * Double(inverseMass[j])
            }
            let logRatio = -(Double(energy.data[c]) - Double(startEnergy.data[c])) - (k / 2 - kinetic0[c])
            if metropolis(logRatio, rngs[c]) {
                accepted[c] += 1
            } else {
                (xs + c * d).update(from: start.data + c * d, count: d)
                (gradient.data + c * d).update(from: startGradient.data + c * d, count: d)
                energy.data[c] = startEnergy.data[c]
            }
        }
        gradient.touch()
    }
}
