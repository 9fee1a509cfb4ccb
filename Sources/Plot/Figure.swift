import Foundation
import Tensor

/// A rendered picture: what every plot function returns. Save it as a PNG, or take the PNG bytes
/// (the notebook shows those inline).
public final class Figure {
    public let canvas: Canvas

    public init(canvas: Canvas) { self.canvas = canvas }

    public var width: Int { canvas.width }
    public var height: Int { canvas.height }

    /// The PNG encoding; the same figure always gives the same bytes.
    public func pngData() throws -> Data { try PNG.encode(canvas) }

    /// Writes the PNG to `path` through a temporary file and a rename, creating folders as needed.
    public func save(to path: String) throws {
        guard !path.isEmpty else { throw JouleError("figure: empty output path") }
        try AtomicFile.write(try pngData(), to: path)
    }
}

/// Options every chart with axes shares.
public struct ChartOptions: Sendable {
    /// Figure size in pixels.
    public var width = 640
    public var height = 480
    public var title: String?
    public var xLabel: String?
    public var yLabel: String?
    /// Fixed axis ranges; nil fits the data.
    public var xRange: ClosedRange<Double>?
    public var yRange: ClosedRange<Double>?
    public var legend: LegendPlacement = .auto
    /// Light grid lines at the ticks.
    public var grid = true

    public init(width: Int = 640, height: Int = 480, title: String? = nil, xLabel: String? = nil,
                yLabel: String? = nil, xRange: ClosedRange<Double>? = nil, yRange: ClosedRange<Double>? = nil,
                legend: LegendPlacement = .auto, grid: Bool = true) {
        self.width = width; self.height = height; self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.xRange = xRange; self.yRange = yRange; self.legend = legend; self.grid = grid
    }
}

/// Text sizes in pixels, chosen to read comfortably at 640×480 on a screen and in a README.
enum TextSize {
    static let title = 16
    static let label = 13
    static let tick = 11
    static let legend = 12
}
