import Foundation
import Tensor

/// One axis: its data range, ticks (nil: nice ticks chosen to fit), direction, and grid lines.
struct AxisSpec {
    var range: ClosedRange<Double>
    var ticks: [Tick]?
    /// Values grow downwards (heat-map rows).
    var inverted = false
    var grid = true
    /// The data are whole numbers (epochs, steps): ticks at whole numbers only.
    var integer = false
}

/// A plotting area inside a canvas: lays out the title, axis labels and tick labels around it
/// so none is clipped, maps data to pixels, and draws the frame.
final class Axes {
    let canvas: Canvas
    let font: Font
    let options: ChartOptions
    /// The data area, inside the frame.
    private(set) var rect = PixelRect(x: 0, y: 0, width: 0, height: 0)
    let x: AxisSpec
    let y: AxisSpec
    private var xTicks: [Tick] = []
    private var yTicks: [Tick] = []
    /// The offsets tick labels are relative to (drawn at the axes' ends), if any.
    private var xOffset: String?
    private var yOffset: String?

    static let tickLength = 5
    static let pad = 6

    /// Lays out the axes; `rightReserve` keeps room on the right (a colour bar).
    init(canvas: Canvas, font: Font, options: ChartOptions, x: AxisSpec, y: AxisSpec, rightReserve: Int = 0) throws {
        for (name, r) in [("x", x.range), ("y", y.range)] {
            guard r.lowerBound.isFinite, r.upperBound.isFinite, r.upperBound > r.lowerBound else {
                throw JouleError("plot: the \(name) range \(r) is empty or not finite")
            }
        }
        self.canvas = canvas; self.font = font; self.options = options; self.x = x; self.y = y

        let tickH = font.lineHeight(size: TextSize.tick)
        let labelH = font.lineHeight(size: TextSize.label)
        let titleH = font.lineHeight(size: TextSize.title, bold: true)
        // An offset line above the frame (y) or below the tick labels (x) when labels need one: the
        // x one is reserved when the densest x ticks would need it (their count is chosen later).
        let yNeedsOffset = y.ticks == nil && Ticks.nice(y.range, target: 8, integer: y.integer).offset != nil
        let xNeedsOffset = x.ticks == nil && Ticks.nice(x.range, target: 9, integer: x.integer).offset != nil
        let top = Self.pad + (options.title != nil ? titleH + Self.pad : 6) + (yNeedsOffset ? tickH + 2 : 0)
        let bottom = Self.pad + Self.tickLength + 3 + tickH + (options.xLabel != nil ? labelH + 4 : 0) + (xNeedsOffset ? tickH + 2 : 0)
        let plotHeight = canvas.height - top - bottom
        guard plotHeight >= 40 else { throw JouleError("plot: figure height \(canvas.height) leaves no room for the plot") }

        // y ticks depend only on the height; their widest label sets the left margin.
        if let given = y.ticks {
            yTicks = given
        } else {
            let set = Ticks.nice(y.range, target: max(3, min(8, plotHeight / 55)), integer: y.integer)
            yTicks = set.ticks
            yOffset = yNeedsOffset ? set.offset : nil
        }
        let yLabelW = yTicks.map { font.width($0.label, size: TextSize.tick) }.max() ?? 0
        let left = Self.pad + (options.yLabel != nil ? labelH + Self.pad : 0) + yLabelW + Self.tickLength + 4
        // Half of the last x tick label may hang past the frame: keep room for it.
        let right = max(16, Self.pad + rightReserve)
        let plotWidth = canvas.width - left - right
        guard plotWidth >= 40 else { throw JouleError("plot: figure width \(canvas.width) leaves no room for the plot") }
        rect = PixelRect(x: left, y: top, width: plotWidth, height: plotHeight)

        if let given = x.ticks {
            xTicks = given
        } else {
            // Fewer ticks until their labels no longer touch.
            var target = max(3, min(9, plotWidth / 70))
            while true {
                let set = Ticks.nice(x.range, target: target, integer: x.integer)
                xTicks = set.ticks
                xOffset = xNeedsOffset ? set.offset : nil
                let widest = xTicks.map { font.width($0.label, size: TextSize.tick) }.max() ?? 0
                let spacing = xTicks.count > 1 ? Double(plotWidth) / Double(xTicks.count - 1) * 0.98 : .infinity
                if Double(widest + 8) <= spacing || target <= 2 { break }
                target -= 1
            }
        }
    }

    /// Data x to a pixel column (continuous; pixel centres sit at +0.5).
    func px(_ v: Double) -> Double {
        let t = (v - x.range.lowerBound) / (x.range.upperBound - x.range.lowerBound)
        return Double(rect.x) + (x.inverted ? 1 - t : t) * Double(rect.width)
    }

    func py(_ v: Double) -> Double {
        let t = (v - y.range.lowerBound) / (y.range.upperBound - y.range.lowerBound)
        return Double(rect.y) + (y.inverted ? t : 1 - t) * Double(rect.height)
    }

    func point(_ vx: Double, _ vy: Double) -> Point { Point(px(vx), py(vy)) }

    /// Grid lines under the data.
    func drawGrid() {
        guard options.grid else { return }
        if x.grid {
            for t in xTicks {
                let c = Int(px(t.value).rounded(.down))
                if c > rect.x && c < rect.maxX - 1 { canvas.fill(PixelRect(x: c, y: rect.y, width: 1, height: rect.height), .grid) }
            }
        }
        if y.grid {
            for t in yTicks {
                let r = Int(py(t.value).rounded(.down))
                if r > rect.y && r < rect.maxY - 1 { canvas.fill(PixelRect(x: rect.x, y: r, width: rect.width, height: 1), .grid) }
            }
        }
    }

    /// Draws data with drawing clipped to the plot area.
    func plotting(_ body: () throws -> Void) rethrows {
        try canvas.clipped(to: rect, body)
    }

    /// Frame, ticks, tick labels, axis labels and title (over the data).
    func drawFrame() {
        let frame = PixelRect(x: rect.x - 1, y: rect.y - 1, width: rect.width + 2, height: rect.height + 2)
        canvas.strokeRect(frame, .mutedInk)
        let tickH = font.lineHeight(size: TextSize.tick)
        var lastRight = Int.min
        for t in xTicks {
            let c = Int(px(t.value).rounded(.down))
            guard c >= rect.x - 1, c <= rect.maxX else { continue }
            canvas.fill(PixelRect(x: c, y: rect.maxY + 1, width: 1, height: Self.tickLength), .mutedInk)
            let w = font.width(t.label, size: TextSize.tick)
            // Keep labels on the canvas and off each other (given ticks can be dense).
            let left = max(1, min(canvas.width - w - 1, c - w / 2))
            if left > lastRight + 3 {
                canvas.drawText(t.label, font: font, size: TextSize.tick, at: left, rect.maxY + 1 + Self.tickLength + 3,
                                color: .ink, v: .top)
                lastRight = left + w
            }
        }
        // Bottom to top; a label is skipped when it would overlap the one below it.
        var lastTop: Int?
        for t in yTicks.sorted(by: { py($0.value) > py($1.value) }) {
            let r = Int(py(t.value).rounded(.down))
            guard r >= rect.y - 1, r <= rect.maxY else { continue }
            canvas.fill(PixelRect(x: rect.x - 1 - Self.tickLength, y: r, width: Self.tickLength, height: 1), .mutedInk)
            let top = max(1, min(canvas.height - tickH - 1, r - tickH / 2))
            if lastTop.map({ top + tickH <= $0 + 1 }) ?? true {
                canvas.drawText(t.label, font: font, size: TextSize.tick, at: rect.x - 1 - Self.tickLength - 4, top,
                                color: .ink, h: .right, v: .top)
                lastTop = top
            }
        }
        // Offsets: the y one above the frame's left end, the x one under the last tick label.
        if let o = yOffset {
            canvas.drawText(o, font: font, size: TextSize.tick, at: rect.x - 1, rect.y - 3, color: .ink, v: .bottom)
        }
        if let o = xOffset {
            canvas.drawText(o, font: font, size: TextSize.tick, at: min(canvas.width - 2, rect.maxX + 1),
                            rect.maxY + 1 + Self.tickLength + 3 + tickH + 2, color: .ink, h: .right, v: .top)
        }
        if let xl = options.xLabel {
            let text = font.fitting(xl, maxWidth: canvas.width - 8, size: TextSize.label)
            let center = max(rect.x + rect.width / 2, 4 + font.width(text, size: TextSize.label) / 2)
            canvas.drawText(text, font: font, size: TextSize.label, at: min(center, canvas.width - 4 - font.width(text, size: TextSize.label) / 2),
                            canvas.height - Self.pad, h: .center, v: .bottom)
        }
        if let yl = options.yLabel {
            let text = font.fitting(yl, maxWidth: canvas.height - 8, size: TextSize.label)
            let half = font.width(text, size: TextSize.label) / 2
            let center = max(4 + half, min(canvas.height - 4 - half, rect.y + rect.height / 2))
            canvas.drawText(text, font: font, size: TextSize.label, at: Self.pad, center, h: .left, v: .middle, rotated: true)
        }
        if let title = options.title { drawTitle(title, canvas: canvas, font: font) }
    }
}

/// A bold title centred at the top, shortened with an ellipsis when it is wider than the figure.
func drawTitle(_ title: String, canvas: Canvas, font: Font) {
    let text = font.fitting(title, maxWidth: canvas.width - 12, size: TextSize.title, bold: true)
    canvas.drawText(text, font: font, size: TextSize.title, at: canvas.width / 2, Axes.pad, bold: true, h: .center, v: .top)
}

/// Finite values only; throws when a named input has none.
func finiteValues(_ values: [Double], _ what: String) throws -> [Double] {
    guard !values.isEmpty else { throw JouleError("\(what) is empty") }
    let finite = values.filter(\.isFinite)
    guard !finite.isEmpty else { throw JouleError("\(what) has no finite values (\(values.count) NaN or infinite)") }
    return finite
}

func checkSize(_ width: Int, _ height: Int, min: (Int, Int) = (160, 120)) throws {
    guard width >= min.0, height >= min.1, width <= Canvas.maxSide, height <= Canvas.maxSide else {
        throw JouleError("figure size \(width)×\(height) is out of range (at least \(min.0)×\(min.1), at most \(Canvas.maxSide) a side)")
    }
}
