import Foundation
import Plot

/// The kernel's logo for the launcher and the notebook's kernel indicator: an energy landscape
/// (a tilted double well) with a sample resting in its deeper minimum. One geometry, drawn twice:
/// as a 64×64 PNG with the Plot canvas and as SVG.
enum KernelLogo {
    static let size = 64
    static let background = RGB(hex: 0x23466E)
    static let curve = RGB(hex: 0xF2F2F2)
    static let sample = RGB(hex: 0xF5A623)

    /// E(t) = t⁴ − t² + t/4 on t ∈ [−1.25, 1.2], mapped to pixels (y down).
    static var landscape: [Point] {
        let n = 48
        let ts = (0...n).map { -1.25 + 2.45 * Double($0) / Double(n) }
        let es = ts.map(energy)
        let lo = es.min()!, hi = es.max()!
        return zip(ts, es).map { t, e in
            Point(8 + (t + 1.25) / 2.45 * 48, 54 - (e - lo) / (hi - lo) * 30)
        }
    }

    static func energy(_ t: Double) -> Double { t * t * t * t - t * t + t / 4 }

    /// The sample: on the curve's lowest point, resting on the stroke.
    static var ball: (center: Point, radius: Double) {
        let low = landscape.max { $0.y < $1.y }!
        return (Point(low.x, low.y - 7.5), 5.5)
    }

    static func png() throws -> Data {
        let c = try Canvas(width: size, height: size, background: background)
        c.strokePolyline(landscape, width: 3.5, curve)
        c.fillCircle(center: ball.center, radius: ball.radius, sample)
        return try PNG.encode(c)
    }

    static func svg() -> String {
        func hex(_ c: RGB) -> String { String(format: "#%02x%02x%02x", c.r, c.g, c.b) }
        let points = landscape.map { String(format: "%.2f,%.2f", $0.x, $0.y) }.joined(separator: " ")
        let b = ball
        return """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(size)" height="\(size)" viewBox="0 0 \(size) \(size)">
              <rect width="\(size)" height="\(size)" fill="\(hex(background))"/>
              <polyline points="\(points)" fill="none" stroke="\(hex(curve))" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round"/>
              <circle cx="\(String(format: "%.2f", b.center.x))" cy="\(String(format: "%.2f", b.center.y))" r="\(b.radius)" fill="\(hex(sample))"/>
            </svg>

            """
    }
}
