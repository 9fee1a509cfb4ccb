import Foundation

/// A labelled position on an axis.
public struct Tick: Equatable, Sendable {
    public var value: Double
    public var label: String
    public init(_ value: Double, _ label: String) { self.value = value; self.label = label }
}

/// Ticks for one axis: labelled positions, and the offset their labels are relative to when the
/// values are large next to their spacing (1000000.1, 1000000.2 read "0.1", "0.2" and the axis
/// says "+1e+06"), as matplotlib does.
public struct TickSet: Equatable, Sendable {
    public var ticks: [Tick]
    /// The text shown at the end of the axis ("+1e+06"); nil when labels are the values.
    public var offset: String?
    public init(_ ticks: [Tick], offset: String? = nil) { self.ticks = ticks; self.offset = offset }
    public var labels: [String] { ticks.map(\.label) }
}

/// "Nice" tick values (1, 2, 2.5 and 5 times a power of ten) and their labels.
public enum Ticks {
    /// About `target` ticks inside `range`, evenly spaced at a nice step, labelled by `labels`.
    /// `integer` keeps the step at whole numbers (epochs and steps never read "1.25").
    public static func nice(_ range: ClosedRange<Double>, target: Int = 6, integer: Bool = false) -> TickSet {
        let lo = range.lowerBound, hi = range.upperBound
        guard lo.isFinite, hi.isFinite, hi > lo, target >= 2 else { return TickSet([Tick(lo, format(lo, step: 1))]) }
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
        guard last >= first, last - first < 1000 else { return TickSet([Tick(lo, format(lo, step: hi - lo))]) }
        let values = stride(from: first, through: last, by: 1).map { $0 * best }
        let (texts, offset) = labels(values, step: best)
        return TickSet(zip(values, texts).map { Tick($0, $1) }, offset: offset)
    }

    /// The most significant digits a label may have before the axis factors out an offset.
    static let maxDigits = 7

    /// Labels for values `step` apart: every value printed exactly to the step's precision (so
    /// they are all distinct) and as short as that allows — all in fixed decimals, or all in %g's
    /// compact form where that is shorter (5e+06, 1.5e+07) — and, when that would take more than
    /// `maxDigits` significant digits (the values are large next to the step), relative to a round
    /// offset, returned as the text the axis shows ("+1e+06").
    public static func labels(_ values: [Double], step: Double) -> (labels: [String], offset: String?) {
        guard step > 0, step.isFinite, let top = values.map(abs).max(), top.isFinite, let first = values.first else {
            return (values.map { format($0, step: step) }, nil)
        }
        if digits(top, step: step) > maxDigits {
            // Round to a power of ten above the span: the labels keep only the digits that change.
            let span = max(step, (values.last ?? first) - first)
            let unit = pow(10, (log10(span)).rounded(.down) + 1)
            let base = (first / unit).rounded(.down) * unit
            if base != 0 {
                let sign = base < 0 ? "−" : "+"
                return (plainLabels(values.map { $0 - base }, step: step), sign + shortest(abs(base)))
            }
        }
        return (plainLabels(values, step: step), nil)
    }

    private static func plainLabels(_ values: [Double], step: Double) -> [String] {
        let fixed = values.map { fixedText($0, step: step) }
        let compact = values.map { compactText($0, step: step) }
        let widest = { (texts: [String]) in texts.map(\.count).max() ?? 0 }
        return (widest(compact) < widest(fixed) ? compact : fixed).map(minusSign)
    }

    /// A number printed exactly to the precision of `step`: fixed decimals, or %g's compact form
    /// for large and tiny magnitudes where that is shorter; a proper minus sign.
    public static func format(_ v: Double, step: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : (v > 0 ? "∞" : "−∞") }
        let a = abs(v), fixed = fixedText(v, step: step)
        guard a != 0, a >= 1e6 || a < 1e-4 else { return minusSign(fixed) }
        let compact = compactText(v, step: step)
        return minusSign(compact.count < fixed.count ? compact : fixed)
    }

    /// With the decimals the step needs (at most 15).
    private static func fixedText(_ v: Double, step: Double) -> String {
        var decimals = 0
        if step > 0, step.isFinite {
            var scaled = step
            while decimals < 15 && abs(scaled - scaled.rounded()) > 1e-6 * max(1, abs(scaled)) {
                scaled *= 10; decimals += 1
            }
        }
        return String(format: "%.\(decimals)f", v)
    }

    /// %g with the significant digits the step needs.
    private static func compactText(_ v: Double, step: Double) -> String {
        guard v != 0, step > 0, step.isFinite else { return fixedText(v, step: step) }
        return String(format: "%.\(digits(abs(v), step: step))g", v)
    }

    private static func minusSign(_ text: String) -> String {
        var s = text
        if let d = Double(s), d == 0 { s = s.replacingOccurrences(of: "-", with: "") }
        return s.replacingOccurrences(of: "-", with: "−")
    }

    /// Significant digits that print `v` to the precision of `step` (a step of 2.5 needs one more).
    static func digits(_ v: Double, step: Double) -> Int {
        guard v != 0 else { return 1 }
        let e = Int((log10(v)).rounded(.down)), s = Int((log10(step)).rounded(.down))
        let mantissa = step / pow(10, Double(s))
        return max(1, e - s + (abs(mantissa - mantissa.rounded()) > 1e-9 ? 2 : 1))
    }

    /// The shortest %g text that reads back as `v` ("1e+06", "123456790").
    static func shortest(_ v: Double) -> String {
        let exact = (1...17).map { String(format: "%.\($0)g", v) }.filter { Double($0) == v }
        return exact.min { $0.count < $1.count } ?? String(v)
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
