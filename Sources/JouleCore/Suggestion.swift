/// " (did you mean 'x'?)" for the closest of `candidates` to a misspelt `name`, or "" when none is
/// close enough to be a plausible typo.
public func suggestion(for name: String, among candidates: [String]) -> String {
    let scored = candidates.map { ($0, editDistance(name.lowercased(), $0.lowercased())) }
    guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return "" }
    // About a third of the letters may be wrong; always allow two (a dropped underscore and a typo).
    let limit = Swift.max(2, Swift.max(name.count, best.0.count) / 3)
    return best.1 <= limit ? " (did you mean '\(best.0)'?)" : ""
}

/// Levenshtein distance (insertions, deletions, substitutions).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1..<(b.count + 1) {
            current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1,
                                   previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
