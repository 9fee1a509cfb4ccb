import JouleCore
import Tensor

/// Where the chains of a training step start (any sampler):
/// - `replay`: the replay buffer (a fraction fresh from noise), finished chains put back: the course's default;
/// - `noise`: fresh noise every step (short-run chains);
/// - `cd`: the batch's real images (contrastive divergence, CD-k with k the sampler's steps);
/// - `pcd`: persistent chains: one set of chains carried across steps, never restarted (Tieleman 2008).
public enum ChainStart: String, CaseIterable, Sendable {
    case replay, noise, cd, pcd

    /// The synthesized batch of a training step started here, for any sampler (one way for all):
    /// `replay` is the sampler's own buffer run (`sampleFromBuffer`); the others check the labels as
    /// choosing pools would (`checkLabels`), start from `fresh` noise, a copy of the real batch or
    /// the persistent chains, and `run` them — with the batch's labels when `conditional`, PCD's
    /// chains with their own.
    func trainingChains(real: Tensor, labels: [Int]?, shape: [Int], conditional: Bool, sampler name: String,
                        persistent: PersistentChains, checkLabels: (Int, [Int]?) throws -> Void,
                        replay: (Int, [Int]?) throws -> Tensor, fresh: (Tensor) -> Void,
                        run: (Tensor, [Int]?) throws -> Void) throws -> Tensor {
        let count = real.shape.first ?? 0
        if self == .replay { return try replay(count, labels) }
        try checkLabels(count, labels)
        let own = conditional ? labels : nil
        switch self {
        case .replay, .noise:
            let x = Tensor(shape: [count] + shape)
            fresh(x)
            try run(x, own)
            return x
        case .cd:
            guard Array(real.shape.dropFirst()) == shape else {
                throw JouleError("\(name): contrastive divergence starts at the real batch, of shape \(real.shape); the chains are \(shape)")
            }
            let x = real.copy()
            try run(x, own)
            return x
        case .pcd:
            let (x, l) = try persistent.take(count: count, shape: shape, labels: own, fresh: fresh)
            try run(x, l)
            persistent.keep(x)
            return x
        }
    }
}

/// The state space the chains live in: one chain's shape and, optionally, a box its values are kept
/// in. Images default to the pixel range [−1, 1] (what SGLD has always done); vectors are unbounded
/// unless asked. What "kept in" means is the sampler's business (a projection for the Langevin
/// samplers, a reflection for HMC): each says in its own file what that does to exactness.
public struct StateSpace: Equatable, Sendable {
    public var shape: [Int]
    public var clamp: ClosedRange<Float>?

    public init(shape: [Int], clamp: ClosedRange<Float>?) {
        self.shape = shape; self.clamp = clamp
    }

    /// The default box of a shape: [−1, 1] for images (C, H, W), none for vectors (D).
    public static func defaultClamp(for shape: [Int]) -> ClosedRange<Float>? { shape.count == 3 ? -1...1 : nil }

    public var size: Int { shape.reduce(1, *) }

    /// Projects `count` values at `p` into the box (nothing without one).
    @inline(__always) func project(_ p: UnsafeMutablePointer<Float>, count: Int) {
        guard let c = clamp else { return }
        let (lo, hi) = (c.lowerBound, c.upperBound)
        for i in 0..<count { p[i] = Swift.min(Swift.max(p[i], lo), hi) }
    }

    /// Fresh starts: U(box) (U(−1, 1) without a box) or N(0, std²), projected into the box if any.
    func fill(_ p: UnsafeMutablePointer<Float>, count: Int, noise: ChainInit, rng: RNG) {
        switch noise {
        case .uniform:
            let (lo, hi) = clamp.map { ($0.lowerBound, $0.upperBound) } ?? (-1, 1)
            for i in 0..<count { p[i] = rng.uniform(lo, hi) }
        case .gaussian(let std):
            for i in 0..<count { p[i] = std * rng.normal() }
            project(p, count: count)
        }
    }
}

/// The chains of PCD: created at the first training step (from noise, with that step's labels when
/// sampling is class-conditional) and then carried from step to step, never restarted. The batch
/// size must stay the same; a conditional chain keeps its label for life (the batch's labels choose
/// nothing here, which is what makes it one chain). Saved in the training checkpoint.
public final class PersistentChains {
    /// (N, shape...) once created.
    public private(set) var chains: Tensor?
    public private(set) var labels: [Int]?

    public init() {}

    /// The chains for a step of `count` chains: the carried ones, or new ones filled by `fresh`.
    func take(count: Int, shape: [Int], labels: [Int]?, fresh: (Tensor) -> Void) throws -> (x: Tensor, labels: [Int]?) {
        if let c = chains {
            guard c.shape[0] == count else {
                throw JouleError("persistent chains: \(c.shape[0]) chains are carried, the step asks for \(count) (keep the batch size)")
            }
            return (c.copy(), self.labels)
        }
        let x = Tensor(shape: [count] + shape)
        fresh(x)
        self.labels = labels
        return (x, labels)
    }

    /// Keeps the step's finished chains for the next step.
    func keep(_ x: Tensor) { chains = x.copy() }

    /// What a checkpoint (or the divergence guard's snapshot) holds, and putting it back.
    func save(prefix: String, into tensors: inout [String: Tensor], _ meta: inout [String: String]) {
        guard let c = chains else { return }
        tensors[prefix + "persistent"] = c
        if let l = labels { meta[prefix + "persistent.labels"] = l.map(String.init).joined(separator: ",") }
    }

    /// Reads them back for chains of `shape` with labels below `classes` (validated before anything changes).
    func restorer(prefix: String, tensors: [String: Tensor], meta: [String: String], shape: [Int], classes: Int,
                  conditional: Bool) throws -> () -> Void {
        guard let t = tensors[prefix + "persistent"] else {
            guard meta[prefix + "persistent.labels"] == nil else { throw JouleError("persistent chains' labels without chains") }
            return { [self] in chains = nil; self.labels = nil }
        }
        guard t.rank == shape.count + 1, Array(t.shape.dropFirst()) == shape, t.shape[0] > 0 else {
            throw JouleError("saved persistent chains have shape \(t.shape), this sampler's chains are \(shape)")
        }
        guard t.buffer.allSatisfy({ $0.isFinite }) else { throw JouleError("saved persistent chains hold non-finite values") }
        var saved: [Int]?
        if let s = meta[prefix + "persistent.labels"] {
            let parts = s.split(separator: ",", omittingEmptySubsequences: false)
            let v = parts.compactMap { Int($0) }
            guard conditional, v.count == parts.count, v.count == t.shape[0], v.allSatisfy({ $0 >= 0 && $0 < classes }) else {
                throw JouleError("saved persistent chains' labels are not \(t.shape[0]) classes in 0..<\(classes)")
            }
            saved = v
        } else if conditional {
            throw JouleError("saved persistent chains have no labels, this sampler is class-conditional")
        }
        let c = t.copy()
        return { [self, saved] in chains = c; labels = saved }
    }
}
