import Foundation
import Tensor

/// One line of a chart: y against x, with a name for the legend.
public struct Series: Sendable {
    public var name: String
    public var x: [Double]
    public var y: [Double]

    public init(_ name: String, x: [Double], y: [Double]) { self.name = name; self.x = x; self.y = y }
    /// y against 1, 2, 3, …: a Lua list's indices, so entry k of a per-epoch history sits at epoch k
    /// (and the axis starts where the data does, not at 0).
    public init(_ name: String, y: [Double]) { self.init(name, x: y.indices.map { Double($0 + 1) }, y: y) }
}

public struct LineOptions: Sendable {
    public var chart = ChartOptions()
    public var lineWidth = 2.0
    /// Dots at the data points; nil: only when a series has few points (a 3-epoch curve).
    public var markers: Bool?
    /// Events along the x axis (a training run's rollbacks), drawn as dashed vertical lines and
    /// named once in the legend by `markLabel`.
    public var marks: [Double] = []
    public var markLabel = "event"

    public init(chart: ChartOptions = ChartOptions(), lineWidth: Double = 2.0, markers: Bool? = nil) {
        self.chart = chart; self.lineWidth = lineWidth; self.markers = markers
    }
}

extension Figure {
    /// Several named series on one pair of axes (loss and accuracy curves). Non-finite points
    /// break a line into pieces instead of stopping the plot.
    public static func lines(_ series: [Series], options: LineOptions = LineOptions()) throws -> Figure {
        guard !series.isEmpty else { throw JouleError("line chart: no series") }
        try checkSize(options.chart.width, options.chart.height)
        guard options.lineWidth > 0, options.lineWidth <= 20 else {
            throw JouleError("line chart: line width must be in (0, 20], got \(options.lineWidth)")
        }
        for s in series {
            guard s.x.count == s.y.count else {
                throw JouleError("line chart: series '\(s.name)' has \(s.x.count) x values but \(s.y.count) y values")
            }
            guard !s.y.isEmpty else { throw JouleError("line chart: series '\(s.name)' is empty") }
        }
        let pairs = series.flatMap { s in zip(s.x, s.y).filter { $0.0.isFinite && $0.1.isFinite } }
        guard !pairs.isEmpty else { throw JouleError("line chart: no point has finite x and y") }
        let xr = options.chart.xRange ?? Ticks.padded(Ticks.dataRange(pairs.map(\.0) + options.marks.filter(\.isFinite))!, 0.02)
        let yr = options.chart.yRange ?? Ticks.padded(Ticks.dataRange(pairs.map(\.1))!, 0.05)

        let font = try Font.standard()
        let canvas = try Canvas(width: options.chart.width, height: options.chart.height)
        let wholeX = pairs.allSatisfy { $0.0 == $0.0.rounded() }
        let axes = try Axes(canvas: canvas, font: font, options: options.chart,
                            x: AxisSpec(range: xr, integer: wholeX), y: AxisSpec(range: yr))
        axes.drawGrid()
        var occupied: [Point] = []
        axes.plotting {
            for (k, s) in series.enumerated() {
                let pts = zip(s.x, s.y).map { axes.point($0, $1) }
                occupied += densified(pts)
                canvas.strokePolyline(pts, width: options.lineWidth, Palette.color(k),
                                      dash: Palette.isDashed(k) ? [7, 4] : nil)
                if options.markers ?? (s.y.count <= 30) {
                    for p in pts { canvas.fillCircle(center: p, radius: options.lineWidth + 1.2, Palette.color(k)) }
                }
            }
            for x in options.marks where x.isFinite {
                canvas.strokeLine(axes.point(x, yr.lowerBound), axes.point(x, yr.upperBound), width: 1.5, Palette.mark, dash: [5, 4])
            }
        }
        axes.drawFrame()
        var entries = series.enumerated().map { k, s in
            LegendEntry(label: s.name, color: Palette.color(k), swatch: .line(dashed: Palette.isDashed(k)))
        }
        if options.marks.contains(where: \.isFinite) {
            entries.append(LegendEntry(label: options.markLabel, color: Palette.mark, swatch: .line(dashed: true)))
        }
        axes.drawLegend(entries, occupied: occupied)
        return Figure(canvas: canvas)
    }

    /// Curves from a run's JSON Lines log (one object per line, as `joule.log` writes it):
    /// each numeric key in `keys` (nil: every numeric key but `x`) becomes a series against `x`
    /// (nil: `step`, `epoch` or `iteration`, whichever the log has, else the line number).
    public static func runLog(_ path: String, keys: [String]? = nil, x: String? = nil,
                              options: LineOptions = LineOptions()) throws -> Figure {
        let log = try RunLogSeries.read(path, keys: keys, x: x)
        var o = options
        if o.chart.xLabel == nil { o.chart.xLabel = log.xName }
        if o.chart.title == nil { o.chart.title = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent }
        return try lines(log.series, options: o)
    }
}

/// Points along a polyline at least every 8 pixels, so a long straight segment still keeps
/// the legend away.
func densified(_ pts: [Point]) -> [Point] {
    var out: [Point] = []
    for (a, b) in zip(pts, pts.dropFirst()) where a.isFinite && b.isFinite {
        let n = min(200, Int(max(abs(b.x - a.x), abs(b.y - a.y)) / 8) + 1)
        for i in 0..<n { let t = Double(i) / Double(n); out.append(Point(a.x + t * (b.x - a.x), a.y + t * (b.y - a.y))) }
    }
    if let last = pts.last, last.isFinite { out.append(last) }
    return out
}

/// Reads series out of a JSON Lines log.
public enum RunLogSeries {
    static let xCandidates = ["step", "epoch", "iteration", "iter"]

    public static func read(_ path: String, keys: [String]? = nil, x: String? = nil) throws -> (series: [Series], xName: String) {
        let rows = try JSONLines.objects(atPath: path)
        var keyOrder: [String] = []
        // Objects do not keep their key order; sorting keeps series colours stable between runs.
        for row in rows { for k in row.keys.sorted() where !keyOrder.contains(k) { keyOrder.append(k) } }
        guard !rows.isEmpty else { throw JouleError("\(path): the log is empty") }

        func number(_ v: JSON?) -> Double? {
            switch v {
            case .null: return .nan  // JSON has no NaN: the logger writes null, shown as a gap
            case .int(let i): return Double(i)
            case .double(let d): return d
            default: return nil  // booleans are flags, not curves
            }
        }
        let numericKeys = keyOrder.filter { k in rows.contains { number($0[k]).map { !$0.isNaN } ?? false } }
        let xKey = x ?? xCandidates.first { numericKeys.contains($0) }
        if let x, !numericKeys.contains(x) {
            throw JouleError("\(path): no numeric key '\(x)' for the x axis (numeric keys: \(numericKeys.joined(separator: ", ")))")
        }
        let wanted = keys ?? numericKeys.filter { $0 != xKey }
        guard !wanted.isEmpty else { throw JouleError("\(path): no numeric keys to plot") }
        for k in wanted where !numericKeys.contains(k) {
            throw JouleError("\(path): no numeric key '\(k)' (numeric keys: \(numericKeys.joined(separator: ", ")))")
        }
        let series = wanted.map { k -> Series in
            var xs: [Double] = [], ys: [Double] = []
            for (i, row) in rows.enumerated() {
                guard let y = number(row[k]) else { continue }
                let xv = xKey.map { number(row[$0]) ?? .nan } ?? Double(i + 1)
                xs.append(xv); ys.append(y)
            }
            return Series(k, x: xs, y: ys)
        }
        return (series, xKey ?? "log line")
    }
}
