import Foundation

/// A labelled position on an axis.
public struct Tick: Equatable, Sendable {
    public var value: Double
    public var label: String
    public init(_ value: Double, _ label: String) { self.value = value; self.label = label }
}

/// "Nice" tick values (1, 2, 2.5 and 5 times a power of ten) and their labels.
public enum Ticks {
    /// About `target` ticks inside `range`, evenly spaced at a nice step, all labelled with the
    /// same number of decimals.
    /// `integer` keeps the step at whole numbers (epochs and steps never read "1.25").
    public static func nice(_ range: ClosedRange<Double>, target: Int = 6, integer: Bool = false) -> [Tick] {
        let lo = range.lowerBound, hi = range.upperBound
        guard lo.isFinite, hi.isFinite, hi > lo, target >= 2 else { return [Tick(lo, format(lo, step: 1))] }
        let rough = (hi - lo) / Double(target - 1)
        let power = pow(10, (log10(rough)).rounded(.down))
        var best = 0.0, bestScore = Double.infinity
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
            let step = m * power
            if integer && (step < 1 || step != step.rounded()) { continue }
            let n = ((hi / step).rounded(.down) - (lo / step).rounded(.up)) + 1
            // Prefer counts near the target; 2.5 only when it fits clearly better (it needs a decimal).
            let score = abs(n - Double(target)) + (m == 2.5 ? 0.5 : 0)
            if n >= 2, score < bestScore { best = step; bestScore = score }
        }
        if best == 0 { best = integer ? max(1, rough.rounded(.up)) : rough }
        let first = (lo / best).rounded(.up), last = (hi / best).rounded(.down)
        guard last >= first, last - first < 1000 else { return [Tick(lo, format(lo, step: hi - lo))] }
        return stride(from: first, through: last, by: 1).map { k in
            let v = k * best
            return Tick(v, format(v, step: best))
        }
    }

    /// A number printed with just the decimals the step needs; a proper minus sign; scientific
    /// notation for very large or very small magnitudes.
    public static func format(_ v: Double, step: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "−∞") }
        let a = abs(v)
        var s: String
        if a != 0 && (a >= 1e6 || a < 1e-4) || (step > 0 && step < 1e-4) {
            s = String(format: "%.3g", v)
        } else {
            var decimals = 0
            if step > 0 {
                var scaled = step
                // Count decimals until the step is an integer (at most 6).
                while decimals < 6 && abs(scaled - scaled.rounded()) > 1e-6 * max(1, abs(scaled)) {
                    scaled *= 10; decimals += 1
                }
            }
            s = String(format: "%.\(decimals)f", v)
        }
        if let d = Double(s), d == 0 { s = s.replacingOccurrences(of: "-", with: "") }
        return s.replacingOccurrences(of: "-", with: "−")
    }

    /// A finite, non-empty range around `values` (ignoring non-finite ones); nil when none are
    /// finite. A zero span is widened so a constant series still gets an axis.
    public static func dataRange<S: Sequence>(_ values: S) -> ClosedRange<Double>? where S.Element == Double {
        var lo = Double.infinity, hi = -Double.infinity
        for v in values where v.isFinite { lo = min(lo, v); hi = max(hi, v) }
        guard lo <= hi else { return nil }
        return widened(lo...hi)
    }

    static func widened(_ r: ClosedRange<Double>) -> ClosedRange<Double> {
        guard r.upperBound - r.lowerBound <= 1e-12 * max(1, abs(r.lowerBound)) else { return r }
        let pad = r.lowerBound == 0 ? 1 : abs(r.lowerBound) * 0.1
        return (r.lowerBound - pad)...(r.upperBound + pad)
    }

    /// `r` grown by `fraction` of its span on each side (matplotlib's margins).
    static func padded(_ r: ClosedRange<Double>, _ fraction: Double) -> ClosedRange<Double> {
        let pad = (r.upperBound - r.lowerBound) * fraction
        return (r.lowerBound - pad)...(r.upperBound + pad)
    }
}
