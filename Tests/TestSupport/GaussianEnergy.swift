import EBM
import Foundation
import NN
import Tensor

/// A Gaussian N(μ, Σ) as an energy model on vectors (N, D): E(x) = ½ (x − μ)ᵀ P (x − μ) with P = Σ⁻¹,
/// ∂E/∂x = P (x − μ), analytic. The samplers' exactness is tested on it (their moments against μ
/// and Σ), and energies written in Lua can be checked against it.
public final class GaussianEnergy: EnergyModel {
    public let mean: [Double]
    /// Row-major D × D.
    public let precisionMatrix: [Double], covariance: [Double]
    public let dimension: Int
    public var classes: Int { 1 }
    public var inputShape: [Int]? { [dimension] }
    public var namedParameters: [(name: String, parameter: Parameter)] { [] }
    public var hyperparameters: [String: String] { [:] }
    private let logits = Tensor(shape: [0]), grad = Tensor(shape: [0])
    private var lastInput: Tensor?

    /// N(μ, Σ) for a covariance given row-major (symmetric positive definite).
    public init(mean: [Double], covariance: [Double]) {
        dimension = mean.count
        precondition(covariance.count == dimension * dimension)
        self.mean = mean
        self.covariance = covariance
        precisionMatrix = Self.inverse(covariance, dimension)
    }

    /// A Gaussian in `dimension` dimensions with a non-diagonal covariance Σ = Q diag(λ) Qᵀ: Q a
    /// random rotation (seeded), variances λ spread evenly (geometrically) from `smallest` to
    /// `largest`, and a mean drawn from N(0, 1).
    public static func correlated(dimension d: Int, smallest: Double, largest: Double, seed: UInt64) -> GaussianEnergy {
        let rng = RNG(seed: seed)
        // Gram–Schmidt on a Gaussian matrix gives a random orthogonal Q.
        var q = (0..<(d * d)).map { _ in Double(rng.normal()) }
        for i in 0..<d {
            for j in 0..<i {
                let dot = (0..<d).reduce(0.0) { $0 + q[i * d + $1] * q[j * d + $1] }
                for k in 0..<d { q[i * d + k] -= dot * q[j * d + k] }
            }
            let norm = (0..<d).reduce(0.0) { $0 + q[i * d + $1] * q[i * d + $1] }.squareRoot()
            for k in 0..<d { q[i * d + k] /= norm }
        }
        let lambda = (0..<d).map { i in d == 1 ? largest : smallest * pow(largest / smallest, Double(i) / Double(d - 1)) }
        var sigma = [Double](repeating: 0, count: d * d)
        for a in 0..<d { for b in 0..<d { sigma[a * d + b] = (0..<d).reduce(0.0) { $0 + q[$1 * d + a] * lambda[$1] * q[$1 * d + b] } } }
        return GaussianEnergy(mean: (0..<d).map { _ in Double(rng.normal()) }, covariance: sigma)
    }

    /// Gauss–Jordan with partial pivoting (small, well-conditioned matrices).
    public static func inverse(_ m: [Double], _ d: Int) -> [Double] {
        var a = m, inv = (0..<(d * d)).map { $0 / d == $0 % d ? 1.0 : 0.0 }
        for c in 0..<d {
            let p = (c..<d).max { abs(a[$0 * d + c]) < abs(a[$1 * d + c]) }!
            for k in 0..<d { a.swapAt(c * d + k, p * d + k); inv.swapAt(c * d + k, p * d + k) }
            let pivot = a[c * d + c]
            for k in 0..<d { a[c * d + k] /= pivot; inv[c * d + k] /= pivot }
            for r in 0..<d where r != c {
                let f = a[r * d + c]
                if f != 0 { for k in 0..<d { a[r * d + k] -= f * a[c * d + k]; inv[r * d + k] -= f * inv[c * d + k] } }
            }
        }
        return inv
    }

    /// E per row of x (N, D), and P (x − μ) into `gradient` when given.
    private func evaluate(_ x: Tensor, energy: UnsafeMutablePointer<Float>, stride: Int, gradient: Tensor?) {
        let n = x.shape[0], d = dimension
        for r in 0..<n {
            let row = x.data + r * d
            var e = 0.0
            for i in 0..<d {
                var g = 0.0
                for j in 0..<d { g += precisionMatrix[i * d + j] * (Double(row[j]) - mean[j]) }
                e += 0.5 * (Double(row[i]) - mean[i]) * g
                gradient?.data[r * d + i] = Float(g)
            }
            energy[r * stride] = Float(e)
        }
    }

    public func forwardLogits(_ x: Tensor) throws -> Tensor {
        guard x.rank == 2, x.shape[1] == dimension else { throw JouleError("Gaussian: expected (N, \(dimension)), got \(x.shape)") }
        try logits.resize([x.shape[0], 1])
        try grad.resize(x.shape)
        evaluate(x, energy: logits.data, stride: 1, gradient: grad)
        for i in 0..<logits.count { logits.data[i] = -logits.data[i] }   // f = −E
        lastInput = x
        return logits
    }

    public func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor? {
        guard !weights else { return nil }
        // ∂loss/∂x = ∂loss/∂f · ∂f/∂x = −∂loss/∂f · P (x − μ), with `grad` = P (x − μ) from the forward pass.
        let out = Tensor(shape: grad.shape)
        let d = dimension
        for r in 0..<grad.shape[0] { for i in 0..<d { out.data[r * d + i] = -gradLogits.data[r] * grad.data[r * d + i] } }
        return out
    }

    public func energyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor {
        guard x.rank == 2, x.shape[1] == dimension else { throw JouleError("Gaussian: expected (N, \(dimension)), got \(x.shape)") }
        try energy.resize([x.shape[0]])
        try grad.resize(x.shape)
        evaluate(x, energy: energy.data, stride: 1, gradient: grad)
        return grad
    }

    public func load(stateDict: [String: Tensor]) throws {
        if let k = stateDict.keys.first { throw JouleError("Gaussian: no weight '\(k)'") }
    }
}
