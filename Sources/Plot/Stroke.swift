/// A point in pixel coordinates (x right, y down; pixel (i, j) covers [i, i+1) × [j, j+1)).
public struct Point: Equatable, Sendable {
    public var x: Double, y: Double
    public init(_ x: Double, _ y: Double) { self.x = x; self.y = y }
    public var isFinite: Bool { x.isFinite && y.isFinite }
}

/// Anti-aliased strokes and fills. Each call builds one coverage mask and paints it once, so a
/// translucent polyline does not darken where its segments overlap at the joints.
extension Canvas {
    /// Strokes a polyline of `lineWidth` pixels. Non-finite points break it into separate runs
    /// (a NaN in a loss curve shows as a gap, not as a line to nowhere). `dash` is on/off lengths
    /// in pixels.
    public func strokePolyline(_ points: [Point], width lineWidth: Double, _ color: RGB, alpha: Float = 1,
                               dash: [Double]? = nil) {
        var segments: [(Point, Point)] = []
        var lone: [Point] = []
        for (i, p) in points.enumerated() where p.isFinite {
            let before = i > 0 && points[i - 1].isFinite, after = i + 1 < points.count && points[i + 1].isFinite
            if before { segments.append((points[i - 1], p)) }
            // A point with no finite neighbour (between two gaps) would vanish: mark it with a dot.
            if !before && !after { lone.append(p) }
        }
        if let dash, dash.count >= 2, dash.allSatisfy({ $0 > 0 }) { segments = Self.dashed(segments, dash) }
        // A zero-length segment draws a round dot.
        segments += lone.map { ($0, $0) }
        strokeSegments(segments, width: lineWidth, color, alpha: alpha)
    }

    public func strokeLine(_ a: Point, _ b: Point, width lineWidth: Double, _ color: RGB, alpha: Float = 1,
                           dash: [Double]? = nil) {
        strokePolyline([a, b], width: lineWidth, color, alpha: alpha, dash: dash)
    }

    public func fillCircle(center c: Point, radius: Double, _ color: RGB, alpha: Float = 1) {
        guard c.isFinite else { return }
        // A zero-length capsule of half-width `radius` is a disc.
        strokeSegments([(c, c)], width: 2 * radius, color, alpha: alpha)
    }

    /// Fills a polygon (even-odd rule) with 4 sub-scanlines per pixel row for soft edges.
    public func fillPolygon(_ polygon: [Point], _ color: RGB, alpha: Float = 1) {
        let pts = polygon.filter(\.isFinite)
        guard pts.count >= 3, let box = maskBox(pts, pad: 1) else { return }
        var mask = [Float](repeating: 0, count: box.width * box.height)
        let sub = 4
        for row in 0..<box.height {
            for s in 0..<sub {
                let y = Double(box.y + row) + (Double(s) + 0.5) / Double(sub)
                var xs: [Double] = []
                for i in pts.indices {
                    let a = pts[i], b = pts[(i + 1) % pts.count]
                    if (a.y <= y) != (b.y <= y) { xs.append(a.x + (y - a.y) / (b.y - a.y) * (b.x - a.x)) }
                }
                xs.sort()
                var k = 0
                while k + 1 < xs.count {
                    // Horizontal coverage is exact (fractional end pixels); vertical is sampled.
                    let x0 = max(xs[k], Double(box.x)), x1 = min(xs[k + 1], Double(box.maxX))
                    if x1 > x0 {
                        var px = Int(x0.rounded(.down))
                        while Double(px) < x1 && px < box.maxX {
                            let cover = min(x1, Double(px + 1)) - max(x0, Double(px))
                            if cover > 0 { mask[row * box.width + px - box.x] += Float(cover) / Float(sub) }
                            px += 1
                        }
                    }
                    k += 2
                }
            }
        }
        for i in mask.indices { mask[i] = min(mask[i], 1) }
        paint(mask: mask, maskWidth: box.width, at: box.x, box.y, color, alpha: alpha)
    }

    // MARK: - Internals

    private func strokeSegments(_ segments: [(Point, Point)], width lineWidth: Double, _ color: RGB, alpha: Float) {
        guard !segments.isEmpty, lineWidth > 0, lineWidth.isFinite else { return }
        let hw = lineWidth / 2
        guard let box = maskBox(segments.flatMap { [$0.0, $0.1] }, pad: Int(hw.rounded(.up)) + 2) else { return }
        var mask = [Float](repeating: 0, count: box.width * box.height)
        for (a, b) in segments {
            // Limited to the box in Double first: a far-away end point must not overflow Int.
            func inside(_ v: Double, _ lo: Int, _ hi: Int) -> Int { Int(max(Double(lo), min(Double(hi), v))) }
            let x0 = inside((min(a.x, b.x) - hw - 1).rounded(.down), box.x, box.maxX)
            let x1 = inside((max(a.x, b.x) + hw + 1).rounded(.up), box.x, box.maxX)
            let y0 = inside((min(a.y, b.y) - hw - 1).rounded(.down), box.y, box.maxY)
            let y1 = inside((max(a.y, b.y) + hw + 1).rounded(.up), box.y, box.maxY)
            guard x1 > x0, y1 > y0 else { continue }
            let dx = b.x - a.x, dy = b.y - a.y, len2 = dx * dx + dy * dy
            for py in y0..<y1 {
                let cy = Double(py) + 0.5
                for px in x0..<x1 {
                    let cx = Double(px) + 0.5
                    var t = len2 > 0 ? ((cx - a.x) * dx + (cy - a.y) * dy) / len2 : 0
                    t = max(0, min(1, t))
                    let ex = a.x + t * dx - cx, ey = a.y + t * dy - cy
                    // Coverage of a unit pixel by the capsule's edge, linear over one pixel.
                    let c = Float(max(0, min(1, hw + 0.5 - (ex * ex + ey * ey).squareRoot())))
                    let i = (py - box.y) * box.width + px - box.x
                    if c > mask[i] { mask[i] = c }
                }
            }
        }
        paint(mask: mask, maskWidth: box.width, at: box.x, box.y, color, alpha: alpha)
    }

    /// The clip-limited integer box around `points`, or nil when it is empty.
    private func maskBox(_ points: [Point], pad: Int) -> PixelRect? {
        var lo = Point(.infinity, .infinity), hi = Point(-.infinity, -.infinity)
        for p in points where p.isFinite {
            lo.x = min(lo.x, p.x); lo.y = min(lo.y, p.y); hi.x = max(hi.x, p.x); hi.y = max(hi.y, p.y)
        }
        guard lo.x <= hi.x, lo.y <= hi.y else { return nil }
        let c = clip
        // Clamp in Double first: coordinates far off-canvas must not overflow Int.
        func clampX(_ v: Double) -> Int { Int(max(Double(c.x - pad), min(Double(c.maxX + pad), v))) }
        func clampY(_ v: Double) -> Int { Int(max(Double(c.y - pad), min(Double(c.maxY + pad), v))) }
        let box = PixelRect(x: clampX(lo.x.rounded(.down)) - pad, y: clampY(lo.y.rounded(.down)) - pad,
                            width: 0, height: 0)
        let x1 = clampX(hi.x.rounded(.up)) + pad, y1 = clampY(hi.y.rounded(.up)) + pad
        let r = PixelRect(x: box.x, y: box.y, width: x1 - box.x, height: y1 - box.y).intersection(c)
        return r.isEmpty ? nil : r
    }

    /// Cuts segments into dashes along their running length, continuing the pattern across joints.
    private static func dashed(_ segments: [(Point, Point)], _ pattern: [Double]) -> [(Point, Point)] {
        var out: [(Point, Point)] = []
        var k = 0, left = pattern[0]
        for (a, b) in segments {
            let dx = b.x - a.x, dy = b.y - a.y, len = (dx * dx + dy * dy).squareRoot()
            // A segment reaching far off the canvas would mean millions of dashes: draw it solid.
            if len > 100_000 { out.append((a, b)); continue }
            var pos = 0.0
            while pos < len {
                let step = min(left, len - pos)
                if k % 2 == 0 {
                    let t0 = pos / len, t1 = (pos + step) / len
                    out.append((Point(a.x + t0 * dx, a.y + t0 * dy), Point(a.x + t1 * dx, a.y + t1 * dy)))
                }
                pos += step; left -= step
                if left <= 1e-9 { k = (k + 1) % pattern.count; left = pattern[k] }
            }
        }
        return out
    }
}
