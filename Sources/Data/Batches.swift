import Tensor

/// The batches of one epoch as index lists: shuffled by a seeded generator (or in order), cut
/// into `batchSize` pieces, the short last one kept or dropped.
public struct Batches: Sequence {
    public let batches: [[Int]]

    public init(count: Int, batchSize: Int, shuffle rng: RNG?, dropLast: Bool = false) throws {
        guard batchSize > 0 else { throw JouleError("batch size must be positive, got \(batchSize)") }
        guard count >= 0 else { throw JouleError("item count must not be negative, got \(count)") }
        let order = rng.map { $0.permutation(count) } ?? Array(0..<count)
        var out: [[Int]] = []
        var i = 0
        while i < count {
            let end = Swift.min(i + batchSize, count)
            if end - i < batchSize && dropLast { break }
            out.append(Array(order[i..<end]))
            i = end
        }
        batches = out
    }

    public var count: Int { batches.count }
    public func makeIterator() -> IndexingIterator<[[Int]]> { batches.makeIterator() }
}
