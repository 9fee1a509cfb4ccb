import Foundation
import Tensor

/// Energies of a group of SGLD chains over the steps: `energies` is (steps, chains).
public struct EnergyTrace: Sendable {
    public var name: String
    /// energies[step][chain]
    public var energies: [[Double]]
    /// The step number of each row; nil: 0, 1, 2, …
    public var steps: [Double]?

    public init(_ name: String, energies: [[Double]], steps: [Double]? = nil) {
        self.name = name; self.energies = energies; self.steps = steps
    }

    /// From a (steps, chains) tensor, or a (steps) tensor for a single chain.
    public init(_ name: String, _ tensor: Tensor, steps: [Double]? = nil) throws {
        guard tensor.rank == 1 || tensor.rank == 2 else {
            throw JouleError("energy trace '\(name)': expected a (steps, chains) tensor, got \(tensor.shape)")
        }
        let s = tensor.shape[0], c = tensor.rank == 2 ? tensor.shape[1] : 1
        let a = tensor.array
        self.init(name, energies: (0..<s).map { i in (0..<c).map { Double(a[i * c + $0]) } }, steps: steps)
    }
}

public enum EnergyTraceStyle: String, Sendable {
    /// The mean over chains with a shaded band of ±1 standard deviation.
    case band
    /// Every chain as a thin line.
    case lines
}

public struct EnergyTraceOptions: Sendable {
    public var chart = ChartOptions(xLabel: "SGLD step", yLabel: "energy E(x)")
    public var style: EnergyTraceStyle = .band

    public init(chart: ChartOptions = ChartOptions(xLabel: "SGLD step", yLabel: "energy E(x)"), style: EnergyTraceStyle = .band) {
        self.chart = chart; self.style = style
    }
}

extension Figure {
    /// Energy against SGLD step for one or more groups of chains (for example conditional and
    /// unconditional sampling). Non-finite energies (a diverged chain) are left out of the mean
    /// and break a chain's line.
    public static func energyTrace(_ groups: [EnergyTrace], options: EnergyTraceOptions = EnergyTraceOptions()) throws -> Figure {
        guard !groups.isEmpty else { throw JouleError("energy trace: no chains") }
        try checkSize(options.chart.width, options.chart.height)
        struct Summary { var x: [Double]; var mean: [Double]; var lo: [Double]; var hi: [Double]; var chains: Int }
        let summaries = try groups.map { g -> Summary in
            guard !g.energies.isEmpty else { throw JouleError("energy trace '\(g.name)': no steps") }
            let c = g.energies[0].count
            guard c > 0 else { throw JouleError("energy trace '\(g.name)': no chains") }
            guard g.energies.allSatisfy({ $0.count == c }) else {
                throw JouleError("energy trace '\(g.name)': every step needs \(c) chain energies")
            }
            let x = g.steps ?? g.energies.indices.map(Double.init)
            guard x.count == g.energies.count else {
                throw JouleError("energy trace '\(g.name)': \(x.count) step numbers for \(g.energies.count) steps")
            }
            var mean: [Double] = [], lo: [Double] = [], hi: [Double] = []
            for row in g.energies {
                let f = row.filter(\.isFinite)
                guard !f.isEmpty else { mean.append(.nan); lo.append(.nan); hi.append(.nan); continue }
                let m = f.reduce(0, +) / Double(f.count)
                let sd = (f.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(f.count)).squareRoot()
                mean.append(m); lo.append(m - sd); hi.append(m + sd)
            }
            return Summary(x: x, mean: mean, lo: lo, hi: hi, chains: c)
        }
        let xs = summaries.flatMap(\.x)
        let ys: [Double] = options.style == .band ? summaries.flatMap { $0.lo + $0.hi } : groups.flatMap { $0.energies.flatMap { $0 } }
        guard let xr0 = Ticks.dataRange(xs), let yr0 = Ticks.dataRange(ys) else {
            throw JouleError("energy trace: no finite energies")
        }
        let xr = options.chart.xRange ?? Ticks.padded(xr0, 0.02)
        let yr = options.chart.yRange ?? Ticks.padded(yr0, 0.05)

        let font = try Font.standard()
        let canvas = try Canvas(width: options.chart.width, height: options.chart.height)
        let wholeX = xs.allSatisfy { !$0.isFinite || $0 == $0.rounded() }
        let axes = try Axes(canvas: canvas, font: font, options: options.chart,
                            x: AxisSpec(range: xr, integer: wholeX), y: AxisSpec(range: yr))
        axes.drawGrid()
        var occupied: [Point] = []
        axes.plotting {
            for (k, (g, s)) in zip(groups, summaries).enumerated() {
                let color = Palette.color(k)
                switch options.style {
                case .band:
                    // One polygon per finite run, so a gap in the mean is a gap in the band too.
                    var run: [Int] = []
                    func flush() {
                        if run.count >= 2 {
                            let upper = run.map { axes.point(s.x[$0], s.hi[$0]) }
                            let lower = run.reversed().map { axes.point(s.x[$0], s.lo[$0]) }
                            canvas.fillPolygon(upper + lower, color, alpha: 0.22)
                        }
                        run = []
                    }
                    for i in s.x.indices { if s.mean[i].isFinite && s.x[i].isFinite { run.append(i) } else { flush() } }
                    flush()
                case .lines:
                    for c in 0..<s.chains {
                        let pts = zip(s.x, g.energies).map { axes.point($0, $1[c]) }
                        occupied += densified(pts)
                        canvas.strokePolyline(pts, width: 1.2, color, alpha: 0.6, dash: Palette.isDashed(k) ? [7, 4] : nil)
                    }
                }
            }
            // Mean lines after all bands, so no band veils another group's line.
            if options.style == .band {
                for (k, s) in summaries.enumerated() {
                    let pts = zip(s.x, s.mean).map { axes.point($0, $1) }
                    occupied += densified(pts)
                    canvas.strokePolyline(pts, width: 2, Palette.color(k), dash: Palette.isDashed(k) ? [7, 4] : nil)
                }
            }
        }
        axes.drawFrame()
        let entries = zip(groups, summaries).enumerated().map { k, gs in
            let (g, s) = gs
            let what = options.style == .band ? "mean ± 1 sd of \(s.chains) chains" : "\(s.chains) chains"
            return LegendEntry(label: "\(g.name) (\(what))", color: Palette.color(k),
                               swatch: options.style == .band ? .band : .line(dashed: Palette.isDashed(k)))
        }
        axes.drawLegend(entries, occupied: occupied)
        return Figure(canvas: canvas)
    }
}
