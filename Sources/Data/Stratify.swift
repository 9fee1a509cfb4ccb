/// Per-class sizes of a stratified train/val/test split, so that every class keeps its share in
/// each split and the split totals are exact.
public enum Stratify {
    /// The sizes of the held-out splits for `total` items at `fraction` each: `round(total·fraction)`.
    public static func heldOut(_ total: Int, fraction: Double) -> Int {
        Int((Double(total) * fraction).rounded())
    }

    /// For each class count, (train, val, test): val and test each take `fraction` of the class,
    /// rounded down, and the remaining items needed to reach the exact totals go to the classes
    /// with the largest fractional parts (ties to the lower index).
    public static func split(_ counts: [Int], fraction: Double = 0.15) -> [(train: Int, val: Int, test: Int)] {
        split(counts, val: fraction, test: fraction)
    }

    /// The same with different fractions for val and test (`joule data import --split 80/10/10`).
    public static func split(_ counts: [Int], val valFraction: Double, test testFraction: Double) -> [(train: Int, val: Int, test: Int)] {
        let total = counts.reduce(0, +)
        func take(_ fraction: Double, _ available: [Int]) -> [Int] {
            let target = min(heldOut(total, fraction: fraction), available.reduce(0, +))
            let exact = counts.map { Double($0) * fraction }
            var parts = zip(exact, available).map { min(Int($0.rounded(.down)), $1) }
            let order = counts.indices.sorted { a, b in
                let fa = exact[a] - Double(parts[a]), fb = exact[b] - Double(parts[b])
                return fa != fb ? fa > fb : a < b
            }
            var left = target - parts.reduce(0, +)
            var k = 0
            // A class with nothing left to give is skipped; the loop ends because target ≤ total.
            var stalled = 0
            while left > 0 && stalled < order.count {
                let c = order[k % order.count]
                if parts[c] < available[c] { parts[c] += 1; left -= 1; stalled = 0 } else { stalled += 1 }
                k += 1
            }
            return parts
        }
        let val = take(valFraction, counts)
        let test = take(testFraction, zip(counts, val).map { $0 - $1 })
        return counts.indices.map { (counts[$0] - val[$0] - test[$0], val[$0], test[$0]) }
    }
}
