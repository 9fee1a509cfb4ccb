import Foundation
import Tensor

/// A named list of numbers: one distribution of a histogram, one set of scores.
public struct NamedValues: Sendable {
    public var name: String
    public var values: [Double]
    public init(_ name: String, _ values: [Double]) { self.name = name; self.values = values }
    public init(_ name: String, _ tensor: Tensor) { self.init(name, tensor.array.map(Double.init)) }
}

public enum HistogramStyle: String, Sendable {
    /// Translucent bars with an outline: overlaps stay visible.
    case filled
    /// Step outlines only: best for many overlapping sets.
    case outline
}

public struct HistogramOptions: Sendable {
    public var chart = ChartOptions(yLabel: "density")
    /// Bins shared by all sets, over `chart.xRange` or the union of the sets' finite ranges.
    public var bins = 40
    /// Normalise each set to unit area, so sets of different sizes compare; false: counts.
    public var density = true
    public var style: HistogramStyle = .filled

    public init(chart: ChartOptions = ChartOptions(yLabel: "density"), bins: Int = 40, density: Bool = true,
                style: HistogramStyle = .filled) {
        self.chart = chart; self.bins = bins; self.density = density; self.style = style
    }
}

/// Opacity of histogram fills: two overlapping sets still show both colours.
let histogramFillAlpha: Float = 0.35

/// Bin heights for one set over shared edges (NumPy's convention: the last bin is closed).
struct Binned {
    let heights: [Double]
    let counted: Int
    let nonFinite: Int
    let outside: Int

    init(_ values: [Double], edges: [Double], density: Bool) {
        let bins = edges.count - 1
        let lo = edges[0], hi = edges[bins], width = (hi - lo) / Double(bins)
        var counts = [Double](repeating: 0, count: bins)
        var nonFinite = 0, outside = 0, counted = 0
        for v in values {
            guard v.isFinite else { nonFinite += 1; continue }
            guard v >= lo, v <= hi else { outside += 1; continue }
            counts[max(0, min(bins - 1, Int((v - lo) / width)))] += 1
            counted += 1
        }
        if density && counted > 0 { for i in counts.indices { counts[i] /= Double(counted) * width } }
        heights = counts; self.counted = counted; self.nonFinite = nonFinite; self.outside = outside
    }
}

extension Figure {
    /// Overlaid histograms on shared bins (the course's OOD figure: energies of test, ood_ta,
    /// ood_tb and noise). Non-finite values are left out and counted in the legend.
    public static func histogram(_ sets: [NamedValues], options: HistogramOptions = HistogramOptions()) throws -> Figure {
        guard !sets.isEmpty else { throw JouleError("histogram: no data sets") }
        guard options.bins >= 1, options.bins <= 10_000 else {
            throw JouleError("histogram: bins must be 1…10000, got \(options.bins)")
        }
        try checkSize(options.chart.width, options.chart.height)
        for s in sets { _ = try finiteValues(s.values, "histogram set '\(s.name)'") }
        let font = try Font.standard()

        let xr = try options.chart.xRange ?? {
            guard let r = Ticks.dataRange(sets.lazy.flatMap(\.values)) else { throw JouleError("histogram: no finite values") }
            return r
        }()
        guard xr.lowerBound.isFinite, xr.upperBound.isFinite, xr.upperBound > xr.lowerBound else {
            throw JouleError("histogram: x range \(xr) is empty or not finite")
        }
        // The last edge is the range's end exactly, so the largest value is not lost to rounding.
        let edges = (0...options.bins).map {
            $0 == options.bins ? xr.upperBound : xr.lowerBound + (xr.upperBound - xr.lowerBound) * Double($0) / Double(options.bins)
        }
        let binned = sets.map { Binned($0.values, edges: edges, density: options.density) }
        let top = binned.flatMap(\.heights).max() ?? 0
        let yr = options.chart.yRange ?? 0...(top > 0 ? top * 1.08 : 1)

        let canvas = try Canvas(width: options.chart.width, height: options.chart.height)
        var chart = options.chart
        if chart.yLabel == "density" && !options.density { chart.yLabel = "count" }
        let axes = try Axes(canvas: canvas, font: font, options: chart,
                            x: AxisSpec(range: xr), y: AxisSpec(range: yr))
        axes.drawGrid()
        var occupied: [Point] = []
        axes.plotting {
            for (k, b) in binned.enumerated() {
                let color = Palette.color(k)
                var outline = [axes.point(edges[0], 0)]
                for i in b.heights.indices {
                    let h = b.heights[i]
                    outline.append(axes.point(edges[i], h)); outline.append(axes.point(edges[i + 1], h))
                    let x0 = Int(axes.px(edges[i]).rounded()), x1 = Int(axes.px(edges[i + 1]).rounded())
                    let yTop = axes.py(h), y0 = axes.py(0)
                    if options.style == .filled && h > 0 {
                        let t = Int(yTop.rounded()), bottom = Int(y0.rounded())
                        canvas.fill(PixelRect(x: x0, y: t, width: x1 - x0, height: bottom - t), color, alpha: histogramFillAlpha)
                    }
                    if h > 0 {
                        var y = yTop
                        while y < y0 { occupied.append(Point((Double(x0) + Double(x1)) / 2, y)); y += 6 }
                    }
                }
                outline.append(axes.point(edges[b.heights.count], 0))
                canvas.strokePolyline(outline, width: 1.6, color, dash: Palette.isDashed(k) ? [6, 4] : nil)
            }
        }
        axes.drawFrame()
        let entries = zip(sets, binned).enumerated().map { k, pair -> LegendEntry in
            let (s, b) = pair
            var notes = ["n = \(b.counted)"]
            if b.nonFinite > 0 { notes.append("\(b.nonFinite) non-finite left out") }
            if b.outside > 0 { notes.append("\(b.outside) outside the range") }
            let swatch: LegendEntry.Swatch = options.style == .filled ? .patch(alpha: histogramFillAlpha)
                : .line(dashed: Palette.isDashed(k))
            return LegendEntry(label: "\(s.name) (\(notes.joined(separator: ", ")))", color: Palette.color(k), swatch: swatch)
        }
        axes.drawLegend(entries, occupied: occupied)
        return Figure(canvas: canvas)
    }
}
