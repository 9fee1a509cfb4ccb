import Foundation
import JouleCore

/// One run of a sweep: its parameters and the folder it owns.
public struct RunSpec: Sendable, Equatable {
    /// All parameters of the run (fixed and varying), sorted by name.
    public let params: [(name: String, value: ParamValue)]
    /// Names of the parameters that vary across the sweep (shown in tables and folder names).
    public let varying: [String]
    /// `name=text` lines of the sorted parameters: what identifies the run.
    public let key: String
    /// Folder name: the varying parameters, readable, and a hash of the key.
    public let slug: String
    /// The run's folder (stdout, stderr, log.jsonl, result.json, status.json).
    public let directory: String

    public init(params: [(String, ParamValue)], varying: [String], output: String) {
        let sorted = params.sorted { $0.0 < $1.0 }.map { (name: $0.0, value: $0.1) }
        self.params = sorted
        self.varying = varying
        key = sorted.map { "\($0.name)=\($0.value.text)" }.joined(separator: "\n")
        let shown = varying.compactMap { n in sorted.first { $0.name == n } }
        let readable = shown.map { "\($0.name)=\($0.value.text)" }.joined(separator: ",")
        var safe = String(readable.unicodeScalars.map { u -> Character in
            let ok = (u.value < 128) && (CharacterSet.alphanumerics.contains(u) || "._=,+-".unicodeScalars.contains(u))
            return ok ? Character(u) : "_"
        })
        if safe.isEmpty { safe = "run" }
        if safe.count > 80 { safe = String(safe.prefix(80)) }
        slug = safe + "-" + RunSpec.hash(key)
        directory = output + "/runs/" + slug
    }

    public func value(_ name: String) -> ParamValue? { params.first { $0.name == name }?.value }

    /// The varying parameters as `a=1 b=2`.
    public var label: String {
        let l = varying.compactMap { n in params.first { $0.name == n } }.map { "\($0.name)=\($0.value.text)" }.joined(separator: " ")
        return l.isEmpty ? "(single run)" : l
    }

    /// FNV-1a, 64 bits, mixed, as 8 hex digits of its folded halves: stable across processes and machines
    /// (Swift's Hasher is seeded per process).
    public static func hash(_ s: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 { h ^= UInt64(b); h = h &* 0x0000_0100_0000_01b3 }
        // SplitMix64's finaliser: keys that differ in one letter get unrelated-looking folders.
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        let folded = UInt32(truncatingIfNeeded: h >> 32) ^ UInt32(truncatingIfNeeded: h)
        return String(format: "%08x", folded)
    }

    public static func == (a: RunSpec, b: RunSpec) -> Bool { a.key == b.key && a.directory == b.directory }
}

/// A deterministic generator for random search (SplitMix64): the same sweep file draws the same
/// points on every machine, so a rerun finds its earlier runs by their keys.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

extension SweepSpec {
    /// Every run of the sweep: grid points × random draws × seeds (seeds vary fastest).
    public func expand() -> [RunSpec] {
        var points: [[(String, ParamValue)]] = [[]]
        for axis in grid {
            points = points.flatMap { p in axis.values.map { p + [(axis.name, $0)] } }
        }
        if samples > 0 {
            var rng = SplitMix(state: randomSeed)
            var draws: [[(String, ParamValue)]] = []
            for _ in 0..<samples {
                draws.append(random.map { r in (r.name, SweepSpec.draw(r.distribution, digits: r.digits, &rng)) })
            }
            points = points.flatMap { p in draws.map { p + $0 } }
        }
        if !seeds.isEmpty {
            points = points.flatMap { p in seeds.map { p + [(seedParameter, ParamValue.int($0))] } }
        }
        let varying = grid.map(\.name) + random.map(\.name) + (seeds.isEmpty ? [] : [seedParameter])
        var seen = Set<String>()
        return points.compactMap { p in
            let run = RunSpec(params: fixed.map { ($0.key, $0.value) } + p, varying: varying, output: output)
            // Two random draws that round to the same values are one run.
            return seen.insert(run.key).inserted ? run : nil
        }
    }

    static func draw(_ d: Distribution, digits: Int, _ rng: inout SplitMix) -> ParamValue {
        func round(_ x: Double) -> ParamValue {
            guard x != 0, x.isFinite else { return .double(x) }
            let text = String(format: "%.\(digits)g", x)
            return .double(Double(text) ?? x)
        }
        switch d {
        case .uniform(let a, let b): return round(a + (b - a) * rng.unit())
        case .logUniform(let a, let b): return round(exp(log(a) + (log(b) - log(a)) * rng.unit()))
        case .integer(let a, let b): return .int(a + Int(rng.next() % UInt64(b - a + 1)))
        case .normal(let m, let s):
            // Box–Muller.
            let u1 = Swift.max(rng.unit(), 0x1p-60), u2 = rng.unit()
            return round(m + s * sqrt(-2 * log(u1)) * cos(2 * .pi * u2))
        case .choice(let values): return values[Int(rng.next() % UInt64(values.count))]
        }
    }
}
