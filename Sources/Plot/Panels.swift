import Foundation
import Tensor

extension Figure {
    /// Figures side by side: `columns` per row (default all in one row), each in a cell as large as
    /// the largest figure, top-left aligned, `padding` white pixels between cells and around them —
    /// e.g. the energy landscapes that several training objectives learned, one panel each.
    public static func panels(_ figures: [Figure], columns: Int? = nil, padding: Int = 8) throws -> Figure {
        guard !figures.isEmpty else { throw JouleError("panels: no figures") }
        let ncol = min(columns ?? figures.count, figures.count)
        guard ncol >= 1 else { throw JouleError("panels: columns must be ≥ 1, got \(ncol)") }
        guard (0...256).contains(padding) else { throw JouleError("panels: padding must be in 0…256, got \(padding)") }
        let nrow = (figures.count + ncol - 1) / ncol
        let cellW = figures.map(\.width).max()!, cellH = figures.map(\.height).max()!
        // Each figure is at most Canvas.maxSide a side, so these products cannot overflow; Canvas rejects too large a total.
        let (w, h) = (ncol * (cellW + padding) + padding, nrow * (cellH + padding) + padding)
        let canvas = try Canvas(width: w, height: h)
        for (i, f) in figures.enumerated() {
            let x0 = padding + (i % ncol) * (cellW + padding), y0 = padding + (i / ncol) * (cellH + padding)
            for y in 0..<f.height { for x in 0..<f.width { canvas[x0 + x, y0 + y] = f.canvas[x, y] } }
        }
        return Figure(canvas: canvas)
    }
}
