import Tensor

/// How a fresh SGLD chain starts.
public enum ChainInit: Equatable {
    case uniform            // U(−1, 1)
    case gaussian(std: Float)  // N(0, std²), clamped to [−1, 1]

    func fill(_ p: UnsafeMutablePointer<Float>, count: Int, rng: RNG) {
        switch self {
        case .uniform: for i in 0..<count { p[i] = rng.uniform(-1, 1) }
        case .gaussian(let std): for i in 0..<count { p[i] = Swift.min(Swift.max(std * rng.normal(), -1), 1) }
        }
    }
}

/// Finished SGLD chains kept to start later chains from, in one pool per class (class-conditional
/// sampling) or a single pool. As in the UvA tutorial's buffer, finished chains are added in front
/// and the oldest fall out: each pool is a ring of at most `capacity` images.
public final class ReplayBuffer {
    public let pools: Int
    public let capacity: Int
    public let imageSize: Int
    /// Pool p's images are rows 0..<counts[p] of storage[p] (capacity × imageSize), allocated on first use.
    public private(set) var storage: [Tensor]
    public private(set) var counts: [Int]
    /// Where pool p's next image goes (the oldest once the pool is full).
    public private(set) var heads: [Int]

    public init(pools: Int, capacity: Int, imageSize: Int) throws {
        guard pools > 0, capacity > 0, imageSize > 0 else {
            throw JouleError("replay buffer needs positive pools, capacity and image size (got \(pools), \(capacity), \(imageSize))")
        }
        guard pools * capacity * imageSize <= 1 << 31 else {
            throw JouleError("replay buffer of \(pools)×\(capacity) images of \(imageSize) values is too large")
        }
        self.pools = pools; self.capacity = capacity; self.imageSize = imageSize
        storage = (0..<pools).map { _ in Tensor(shape: [0]) }
        counts = Array(repeating: 0, count: pools)
        heads = counts
    }

    public var totalCount: Int { counts.reduce(0, +) }

    /// Fills row i of `x` with a chain start for pool `pools[i]`: with probability `freshFraction`, or
    /// while the pool is empty, a fresh start; otherwise a random stored chain.
    public func draw(into x: Tensor, pools: [Int], freshFraction: Float, initial: ChainInit, rng: RNG) {
        for (i, p) in pools.enumerated() {
            let row = x.data + i * imageSize
            if counts[p] == 0 || rng.uniform() < freshFraction {
                initial.fill(row, count: imageSize, rng: rng)
            } else {
                row.update(from: storage[p].data + rng.int(counts[p]) * imageSize, count: imageSize)
            }
        }
    }

    /// Adds finished chains, row i to pool `pools[i]`, replacing the pool's oldest once it is full.
    public func store(_ x: Tensor, pools: [Int]) throws {
        for (i, p) in pools.enumerated() {
            if storage[p].count == 0 { try storage[p].resize([capacity, imageSize]) }
            (storage[p].data + heads[p] * imageSize).update(from: x.data + i * imageSize, count: imageSize)
            heads[p] = (heads[p] + 1) % capacity
            counts[p] = Swift.min(counts[p] + 1, capacity)
        }
    }

    /// Restores a saved buffer (the `storage`, `counts` and `heads` of a buffer of the same shape).
    public func restore(storage: [Tensor], counts: [Int], heads: [Int]) throws {
        guard storage.count == pools, counts.count == pools, heads.count == pools,
              zip(counts, heads).allSatisfy({ $0 >= 0 && $0 <= capacity && $1 >= 0 && $1 < capacity }),
              storage.allSatisfy({ $0.count == 0 || $0.count == capacity * imageSize }) else {
            throw JouleError("saved replay buffer does not match \(pools) pools of \(capacity) images of \(imageSize) values")
        }
        self.storage = try storage.map { t in
            guard t.count > 0 else { return Tensor(shape: [0]) }
            let c = t.copy()
            try c.reshape([capacity, imageSize])
            return c
        }
        self.counts = counts
        self.heads = heads
    }
}
