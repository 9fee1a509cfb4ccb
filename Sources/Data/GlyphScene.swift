import Foundation
import Tensor

/// A stretch of a printed line around one glyph — the glyph itself with, now and then, its
/// neighbours on the same baseline — seen through a jittered crop window, as a segmenter that
/// cuts single letters out of a page scan would see it.
struct GlyphScene {
    struct Placed {
        let glyph: GlyphBitmap
        /// Pen position on the baseline (the baseline is y = 0, y grows downwards).
        let penX: Float
    }

    let placed: [Placed]
    /// Window centre in line coordinates, its size, and its rotation and shear.
    let centerX: Float, centerY: Float
    let windowWidth: Float, windowHeight: Float
    let rotation: Float, shear: Float

    /// Lays out `target` with randomly chosen neighbours from `neighbours` and picks the window.
    init(target: GlyphBitmap, neighbours: [GlyphBitmap], pixelSize: Int, aspect: Float, rng: RNG) {
        let em = Float(pixelSize)
        var placed = [Placed(glyph: target, penX: 0)]
        // Letterpress spacing: a little air, sometimes tight enough that serifs touch.
        if !neighbours.isEmpty && rng.uniform() < 0.75 {
            let g = neighbours[rng.int(neighbours.count)]
            placed.append(Placed(glyph: g, penX: -g.advance - rng.uniform(-0.04, 0.1) * em))
        }
        if !neighbours.isEmpty && rng.uniform() < 0.75 {
            placed.append(Placed(glyph: neighbours[rng.int(neighbours.count)],
                                 penX: target.advance + rng.uniform(-0.04, 0.1) * em))
        }
        self.placed = placed

        let boxWidth = Float(target.width), boxHeight = Float(target.height)
        let cx = Float(target.left) + boxWidth / 2
        let cy = -Float(target.top) + boxHeight / 2
        // Window around the glyph's box, never smaller than about an x-height so dots and
        // punctuation stay small; its size varies like crops cut by hand or by a segmenter.
        let fit = max(boxHeight, boxWidth / aspect, 0.5 * em)
        let height = fit * rng.uniform(1.1, 1.55)
        windowHeight = height
        windowWidth = height * aspect
        centerX = cx + rng.uniform(-0.1, 0.1) * windowWidth
        centerY = cy + rng.uniform(-0.08, 0.08) * windowHeight
        rotation = rng.uniform(-4, 4) * .pi / 180
        shear = rng.uniform(-0.12, 0.12)
    }

    /// Ink coverage in [0, 1] over a `width`×`height` raster of the window.
    func render(width: Int, height: Int, into out: UnsafeMutablePointer<Float>) {
        let c = cos(rotation), s = sin(rotation)
        let sx = windowWidth / Float(width), sy = windowHeight / Float(height)
        for v in 0..<height {
            let oy = (Float(v) + 0.5 - Float(height) / 2) * sy
            for u in 0..<width {
                let ox0 = (Float(u) + 0.5 - Float(width) / 2) * sx
                // Shear along x (slanted type or a skewed scan), then rotate the page.
                let ox = ox0 + shear * oy
                let px = centerX + c * ox - s * oy
                let py = centerY + s * ox + c * oy
                var ink: Float = 0
                for p in placed {
                    ink += p.glyph.sample(px - p.penX - Float(p.glyph.left), py + Float(p.glyph.top))
                }
                out[v * width + u] = min(ink, 1)
            }
        }
    }
}
