/// Where the legend goes: `auto` picks the inside corner that hides the fewest data points.
public enum LegendPlacement: String, Sendable, CaseIterable {
    case auto, topRight, topLeft, bottomRight, bottomLeft, none
}

/// One legend row: a swatch in the series' style and its name.
struct LegendEntry {
    enum Swatch { case line(dashed: Bool), patch(alpha: Float), band }
    var label: String
    var color: RGB
    var swatch: Swatch
}

extension Axes {
    /// Draws the legend inside the plot area. `occupied` are the data's pixel positions, used to
    /// choose the emptiest corner.
    func drawLegend(_ entries: [LegendEntry], occupied: [Point]) {
        guard !entries.isEmpty, options.legend != .none else { return }
        let size = TextSize.legend
        let rowH = font.lineHeight(size: size) + 3
        let swatchW = 24, gap = 6, inset = 8
        let maxText = max(30, Int(Double(rect.width) * 0.6) - swatchW - gap - 2 * inset)
        let labels = entries.map { font.fitting($0.label, maxWidth: maxText, size: size) }
        let textW = labels.map { font.width($0, size: size) }.max() ?? 0
        let boxW = inset + swatchW + gap + textW + inset
        let boxH = 6 + rowH * entries.count + 4
        let m = 8
        func box(_ p: LegendPlacement) -> PixelRect {
            let left = p == .topLeft || p == .bottomLeft ? rect.x + m : rect.maxX - m - boxW
            let top = p == .topLeft || p == .topRight ? rect.y + m : rect.maxY - m - boxH
            return PixelRect(x: left, y: top, width: boxW, height: boxH)
        }
        var placement = options.legend
        if placement == .auto {
            let order: [LegendPlacement] = [.topRight, .topLeft, .bottomRight, .bottomLeft]
            placement = order.min { a, b in
                let ra = box(a), rb = box(b)
                let ca = occupied.filter { ra.contains(x: Int($0.x), y: Int($0.y)) }.count
                let cb = occupied.filter { rb.contains(x: Int($0.x), y: Int($0.y)) }.count
                return ca < cb
            } ?? .topRight
        }
        let b = box(placement)
        // Translucent white keeps data faintly visible behind the box rather than cut out.
        canvas.fill(b, .white, alpha: 0.88)
        canvas.strokeRect(b, RGB(200, 200, 200))
        for (i, e) in entries.enumerated() {
            let top = b.y + 6 + i * rowH
            let mid = Double(top) + Double(rowH - 3) / 2 + 0.5
            let sx = Double(b.x + inset)
            switch e.swatch {
            case .line(let dashed):
                canvas.strokeLine(Point(sx, mid), Point(sx + Double(swatchW), mid), width: 2.2, e.color,
                                  dash: dashed ? [6, 4] : nil)
            case .patch(let alpha):
                let r = PixelRect(x: b.x + inset + 2, y: top + 1, width: swatchW - 4, height: rowH - 5)
                canvas.fill(r, e.color, alpha: alpha)
                canvas.strokeRect(r, e.color)
            case .band:
                let r = PixelRect(x: b.x + inset, y: top + 1, width: swatchW, height: rowH - 5)
                canvas.fill(r, e.color, alpha: 0.25)
                canvas.strokeLine(Point(sx, mid), Point(sx + Double(swatchW), mid), width: 2.2, e.color)
            }
            canvas.drawText(labels[i], font: font, size: size, at: b.x + inset + swatchW + gap, top,
                            color: .ink, v: .top)
        }
    }
}
