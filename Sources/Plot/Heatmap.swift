import Foundation
import Tensor

public struct HeatmapOptions: Sendable {
    /// The axes; `xRange` and `yRange` are the extent of the grid (default [-1, 1] each).
    public var chart = ChartOptions()
    /// Points drawn on top (x, y), e.g. SGLD samples.
    public var points: [(Double, Double)] = []
    /// Places marked with red crosses on top of the points, e.g. the true centres of a mixture.
    public var marks: [(Double, Double)] = []
    public init() {}
}

extension Figure {
    /// A function of the plane sampled on a grid, in viridis (low values dark): `values` is
    /// (rows, columns) with row 0 at the bottom of the y range and column 0 at the left of the x
    /// range — an energy landscape E(x, y) evaluated on a meshgrid. Points go on top as white dots.
    public static func heatmap(_ values: Tensor, options: HeatmapOptions = HeatmapOptions()) throws -> Figure {
        guard values.rank == 2, values.shape[0] > 0, values.shape[1] > 0 else {
            throw JouleError("heat map: values must be a (rows, columns) tensor, got shape \(values.shape)")
        }
        try checkSize(options.chart.width, options.chart.height)
        let finite = values.array.filter(\.isFinite)
        guard let lo = finite.min(), let hi = finite.max() else { throw JouleError("heat map: no finite value") }
        var chart = options.chart
        let xr = chart.xRange ?? -1...1, yr = chart.yRange ?? -1...1
        guard xr.upperBound > xr.lowerBound, yr.upperBound > yr.lowerBound else { throw JouleError("heat map: empty x or y range") }
        chart.grid = false
        if chart.title == nil { chart.title = String(format: "%.3g (dark) to %.3g (light)", lo, hi) }
        let font = try Font.standard()
        let canvas = try Canvas(width: chart.width, height: chart.height)
        let axes = try Axes(canvas: canvas, font: font, options: chart, x: AxisSpec(range: xr), y: AxisSpec(range: yr))
        let (rows, cols) = (values.shape[0], values.shape[1])
        let r = axes.rect
        let span = Double(hi - lo) > 0 ? Double(hi - lo) : 1
        for py in 0..<r.height {
            // Pixel row py (from the top) shows grid row rows−1 … 0.
            let row = min(rows - 1, (r.height - 1 - py) * rows / r.height)
            for px in 0..<r.width {
                let col = min(cols - 1, px * cols / r.width)
                let v = values.data[row * cols + col]
                canvas.blend(x: r.x + px, y: r.y + py, v.isFinite ? Palette.viridis(Double(v - lo) / span) : RGB(hex: 0xFF00FF), alpha: 1)
            }
        }
        axes.plotting {
            for (x, y) in options.points where xr.contains(x) && yr.contains(y) {
                canvas.fillCircle(center: axes.point(x, y), radius: 2.6, RGB(hex: 0x202020))
                canvas.fillCircle(center: axes.point(x, y), radius: 1.8, .white)
            }
            for (x, y) in options.marks where xr.contains(x) && yr.contains(y) {
                let c = axes.point(x, y), r = 5.0
                for (dx, dy) in [(r, r), (r, -r)] {
                    canvas.strokeLine(Point(c.x - dx, c.y - dy), Point(c.x + dx, c.y + dy), width: 2.2, RGB(hex: 0xE03020))
                }
            }
        }
        axes.drawFrame()
        return Figure(canvas: canvas)
    }
}
