import Tensor

public struct ConfusionOptions: Sendable {
    public var title: String?
    /// Names of the classes, in label order; nil: 0, 1, 2, …
    public var classNames: [String]?
    /// Show each row as fractions of its true class (per-class recall), so rare classes read as
    /// clearly as common ones; false: raw counts.
    public var normalize = true
    /// The number in each cell; nil: when the cells are large enough to hold it.
    public var showValues: Bool?
    /// Side of a cell in pixels; nil: chosen from the class count.
    public var cellSize: Int?

    public init(title: String? = nil, classNames: [String]? = nil, normalize: Bool = true,
                showValues: Bool? = nil, cellSize: Int? = nil) {
        self.title = title; self.classNames = classNames; self.normalize = normalize
        self.showValues = showValues; self.cellSize = cellSize
    }
}

/// Cells of a row with no examples: neither high nor low, so they must not look like either.
public let emptyRowColor = RGB(235, 235, 235)

extension Figure {
    /// Confusion matrix from predictions and true labels in 0..<classes.
    public static func confusionMatrix(predictions: [Int], labels: [Int], classes: Int? = nil,
                                       options: ConfusionOptions = ConfusionOptions()) throws -> Figure {
        guard predictions.count == labels.count else {
            throw JouleError("confusion matrix: \(predictions.count) predictions but \(labels.count) labels")
        }
        guard !labels.isEmpty else { throw JouleError("confusion matrix: no predictions") }
        let k = classes ?? options.classNames?.count ?? ((predictions + labels).max()! + 1)
        guard let bad = (predictions + labels).first(where: { $0 < 0 || $0 >= k }) else {
            var m = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
            for (p, l) in zip(predictions, labels) { m[l][p] += 1 }
            return try confusionMatrix(m, options: options)
        }
        throw JouleError("confusion matrix: class \(bad) is outside 0..<\(k)")
    }

    /// Heat map of `counts[true][predicted]`, true classes down, predicted across, with a colour bar.
    public static func confusionMatrix(_ counts: [[Int]], options: ConfusionOptions = ConfusionOptions()) throws -> Figure {
        let k = counts.count
        guard k > 0 else { throw JouleError("confusion matrix: no classes") }
        guard counts.allSatisfy({ $0.count == k }) else { throw JouleError("confusion matrix: must be square (\(k) rows)") }
        guard counts.allSatisfy({ $0.allSatisfy { $0 >= 0 } }) else { throw JouleError("confusion matrix: counts must not be negative") }
        guard k <= 500 else { throw JouleError("confusion matrix: \(k) classes are too many to draw") }
        let names = options.classNames ?? (0..<k).map(String.init)
        guard names.count == k else { throw JouleError("confusion matrix: \(names.count) class names for \(k) classes") }
        if let c = options.cellSize, c < 4 || c > 200 { throw JouleError("confusion matrix: cell size must be 4…200, got \(c)") }

        let totals = counts.map { $0.reduce(0, +) }
        let values: [[Double]] = counts.enumerated().map { i, row in
            row.map { options.normalize ? (totals[i] > 0 ? Double($0) / Double(totals[i]) : .nan) : Double($0) }
        }
        let vmax = options.normalize ? 1.0 : Double(max(1, counts.flatMap { $0 }.max() ?? 1))
        let cell = options.cellSize ?? max(14, min(56, 440 / k))
        let font = try Font.standard()
        let tickSize = min(TextSize.tick, cell - 2)

        let axisTicks = names.enumerated().map { Tick(Double($0), $1) }
        let spec = AxisSpec(range: -0.5...(Double(k) - 0.5), ticks: axisTicks, grid: false)
        var ySpec = spec; ySpec.inverted = true
        var chart = ChartOptions(title: options.title, xLabel: "predicted class", yLabel: "true class", grid: false)
        chart.legend = .none
        let barTicks = Ticks.nice(0...vmax, target: 6).ticks  // counts or fractions: never an offset
        let barLabelW = barTicks.map { font.width($0.label, size: TextSize.tick) }.max() ?? 0
        let reserve = 18 + 16 + 6 + barLabelW + 6

        // Lay out once on a scratch canvas to learn the margins, then size the figure so cells are square.
        let scratch = try Canvas(width: 1000, height: 1000)
        let probe = try Axes(canvas: scratch, font: font, options: chart, x: spec, y: ySpec, rightReserve: reserve)
        let width = 1000 - probe.rect.width + k * cell, height = 1000 - probe.rect.height + k * cell
        let titleW = options.title.map { font.width($0, size: TextSize.title, bold: true) + 24 } ?? 0
        let canvas = try Canvas(width: max(width, titleW, 240), height: max(height, 200))
        chart.width = canvas.width; chart.height = canvas.height
        let extra = canvas.width - width
        let axes = try Axes(canvas: canvas, font: font, options: chart, x: spec, y: ySpec, rightReserve: reserve + extra)

        let showValues = options.showValues ?? (cell >= 34 && k <= 15)
        for i in 0..<k {
            for j in 0..<k {
                let x0 = Int(axes.px(Double(j) - 0.5).rounded()), x1 = Int(axes.px(Double(j) + 0.5).rounded())
                let y0 = Int(axes.py(Double(i) - 0.5).rounded()), y1 = Int(axes.py(Double(i) + 0.5).rounded())
                let v = values[i][j]
                let color = v.isNaN ? emptyRowColor : Palette.viridis(v / vmax)
                canvas.fill(PixelRect(x: x0, y: y0, width: x1 - x0, height: y1 - y0), color)
                if showValues && !v.isNaN {
                    let text = options.normalize ? Ticks.format(v, step: 0.01) : String(counts[i][j])
                    // Light text on the dark end of viridis, dark text on the bright end.
                    let ink = v / vmax < 0.6 ? RGB.white : RGB.ink
                    canvas.drawText(font.fitting(text, maxWidth: x1 - x0 - 2, size: tickSize), font: font, size: tickSize,
                                    at: (x0 + x1) / 2, (y0 + y1) / 2, color: ink, h: .center, v: .middle)
                }
            }
        }
        axes.drawFrame()

        // Colour bar: value increases upwards.
        let r = axes.rect
        let bar = PixelRect(x: r.maxX + 18, y: r.y, width: 16, height: r.height)
        for row in 0..<bar.height {
            let t = 1 - (Double(row) + 0.5) / Double(bar.height)
            canvas.fill(PixelRect(x: bar.x, y: bar.y + row, width: bar.width, height: 1), Palette.viridis(t))
        }
        canvas.strokeRect(PixelRect(x: bar.x - 1, y: bar.y - 1, width: bar.width + 2, height: bar.height + 2), .mutedInk)
        let tickH = font.lineHeight(size: TextSize.tick)
        for t in barTicks {
            let y = bar.maxY - Int((t.value / vmax * Double(bar.height)).rounded())
            canvas.fill(PixelRect(x: bar.maxX + 1, y: min(y, bar.maxY - 1), width: 4, height: 1), .mutedInk)
            let top = max(1, min(canvas.height - tickH - 1, y - tickH / 2))
            canvas.drawText(t.label, font: font, size: TextSize.tick, at: bar.maxX + 7, top, v: .top)
        }
        return Figure(canvas: canvas)
    }
}
