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
/// sampling) or a single pool. A pool fills up to `capacity` and never grows past it.
public final class ReplayBuffer {
    public let pools: Int
    public let capacity: Int
    public let imageSize: Int
    /// Pool p's images are rows 0..<counts[p] of storage[p] (capacity × imageSize).
    public private(set) var storage: [Tensor]
    public private(set) var counts: [Int]

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
    }

    public var totalCount: Int { counts.reduce(0, +) }

    /// Fills row i of `x` with a chain start for pool `pools[i]`: with probability `freshFraction`, or
    /// while the pool is empty, a fresh start; otherwise a stored chain. Returns the slot each row
    /// came from (nil for fresh), to hand back to `store`.
    public func draw(into x: Tensor, pools: [Int], freshFraction: Float, initial: ChainInit, rng: RNG) -> [Int?] {
        pools.enumerated().map { i, p in
            let row = x.data + i * imageSize
            if counts[p] == 0 || rng.uniform() < freshFraction {
                initial.fill(row, count: imageSize, rng: rng)
                return nil
            }
            let slot = rng.int(counts[p])
            row.update(from: storage[p].data + slot * imageSize, count: imageSize)
            return slot
        }
    }

    /// Puts finished chains back: into the slot they came from, or for fresh chains into a free
    /// slot while the pool has room and over a random stored chain once it is full.
    public func store(_ x: Tensor, pools: [Int], slots: [Int?], rng: RNG) {
        for (i, p) in pools.enumerated() {
            if storage[p].count == 0 { storage[p].resize([capacity, imageSize]) }
            let slot: Int
            if let s = slots[i] { slot = s }
            else if counts[p] < capacity { slot = counts[p]; counts[p] += 1 }
            else { slot = rng.int(capacity) }
            (storage[p].data + slot * imageSize).update(from: x.data + i * imageSize, count: imageSize)
        }
    }

    /// Restores a saved buffer (from `storage` and `counts` of another buffer of the same shape).
    public func restore(storage: [Tensor], counts: [Int]) throws {
        guard storage.count == pools, counts.count == pools,
              zip(storage, counts).allSatisfy({ $1 >= 0 && $1 <= capacity && ($0.count == 0 || $0.count == capacity * imageSize) }) else {
            throw JouleError("saved replay buffer does not match \(pools) pools of \(capacity) images")
        }
        for (p, t) in storage.enumerated() {
            if t.count == 0 { self.storage[p] = Tensor(shape: [0]) } else { self.storage[p] = t.copy(); try self.storage[p].reshape([capacity, imageSize]) }
        }
        self.counts = counts
    }
}
