import Tensor

public struct CurveOptions: Sendable {
    /// Labels default per curve kind when left nil.
    public var chart = ChartOptions(width: 560, height: 480)
    public var lineWidth = 2.0
    /// The chance line: the diagonal for ROC, the positive fraction for precision-recall
    /// (drawn when every set has the same one).
    public var chance = true

    public init(chart: ChartOptions = ChartOptions(width: 560, height: 480), lineWidth: Double = 2.0, chance: Bool = true) {
        self.chart = chart; self.lineWidth = lineWidth; self.chance = chance
    }
}

extension Figure {
    /// ROC curves, one per set, with the AUROC in the legend.
    public static func roc(_ sets: [ScoredSet], options: CurveOptions = CurveOptions()) throws -> Figure {
        let curves = try computed(sets, "ROC")
        var chart = options.chart
        chart.xLabel = chart.xLabel ?? "false positive rate"
        chart.yLabel = chart.yLabel ?? "true positive rate"
        let series = zip(sets, curves).map { s, c in
            (name: "\(s.name) (AUROC \(Ticks.format(c.auroc, step: 0.001)))", points: zip(c.fpr, c.tpr).map { ($0, $1) })
        }
        let chance: [(Double, Double)]? = options.chance ? [(0, 0), (1, 1)] : nil
        return try unitSquare(series, chance: chance, chart: chart, lineWidth: options.lineWidth)
    }

    /// Precision-recall curves, one per set, drawn as steps whose area is the AUPRC (average
    /// precision) shown in the legend.
    public static func precisionRecall(_ sets: [ScoredSet], options: CurveOptions = CurveOptions()) throws -> Figure {
        let curves = try computed(sets, "precision-recall")
        var chart = options.chart
        chart.xLabel = chart.xLabel ?? "recall"
        chart.yLabel = chart.yLabel ?? "precision"
        let series = zip(sets, curves).map { s, c -> (name: String, points: [(Double, Double)]) in
            var pts: [(Double, Double)] = []
            for k in 1..<c.recall.count {
                pts.append((c.recall[k - 1], c.precision[k])); pts.append((c.recall[k], c.precision[k]))
            }
            return ("\(s.name) (AUPRC \(Ticks.format(c.auprc, step: 0.001)))", pts)
        }
        let fractions = Set(sets.map { Double($0.labels.filter { $0 == 1 }.count) / Double($0.labels.count) })
        let chance: [(Double, Double)]? = options.chance && fractions.count == 1 ? [(0, fractions.first!), (1, fractions.first!)] : nil
        return try unitSquare(series, chance: chance, chart: chart, lineWidth: options.lineWidth)
    }

    private static func computed(_ sets: [ScoredSet], _ what: String) throws -> [ScoreCurves] {
        guard !sets.isEmpty else { throw JouleError("\(what) plot: no score sets") }
        return try sets.map { s in
            do { return try ScoreCurves(scores: s.scores, labels: s.labels) } catch let e as JouleError {
                throw JouleError("\(what) plot, set '\(s.name)': \(e.message.replacingOccurrences(of: "curves: ", with: ""))")
            }
        }
    }

    private static func unitSquare(_ series: [(name: String, points: [(Double, Double)])], chance: [(Double, Double)]?,
                                   chart: ChartOptions, lineWidth: Double) throws -> Figure {
        try checkSize(chart.width, chart.height)
        let font = try Font.standard()
        let canvas = try Canvas(width: chart.width, height: chart.height)
        let unit = (-0.02)...1.02
        let ticks = stride(from: 0.0, through: 1.0, by: 0.2).map { Tick($0, Ticks.format($0, step: 0.2)) }
        let axes = try Axes(canvas: canvas, font: font, options: chart,
                            x: AxisSpec(range: chart.xRange ?? unit, ticks: chart.xRange == nil ? ticks : nil),
                            y: AxisSpec(range: chart.yRange ?? unit, ticks: chart.yRange == nil ? ticks : nil))
        axes.drawGrid()
        var occupied: [Point] = []
        axes.plotting {
            if let chance {
                canvas.strokePolyline(chance.map { axes.point($0.0, $0.1) }, width: 1.2, RGB(150, 150, 150), dash: [6, 5])
            }
            for (k, s) in series.enumerated() {
                let pts = s.points.map { axes.point($0.0, $0.1) }
                occupied += densified(pts)
                canvas.strokePolyline(pts, width: lineWidth, Palette.color(k), dash: Palette.isDashed(k) ? [7, 4] : nil)
            }
        }
        axes.drawFrame()
        var entries = series.enumerated().map { k, s in
            LegendEntry(label: s.name, color: Palette.color(k), swatch: .line(dashed: Palette.isDashed(k)))
        }
        if chance != nil { entries.append(LegendEntry(label: "chance", color: RGB(150, 150, 150), swatch: .line(dashed: true))) }
        axes.drawLegend(entries, occupied: occupied)
        return Figure(canvas: canvas)
    }
}
