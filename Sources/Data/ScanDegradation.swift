import Foundation
import Tensor

/// Turns clean ink coverage into something that looks like a crop of a page scan: uneven
/// inking, ink that spread into the paper or wore away, optical blur, paper with grain, shading
/// and stains, and the contrast and exposure of the scanner. Every draw comes from the given RNG.
struct ScanDegradation {
    let width: Int
    let height: Int
    private var a: [Float]
    private var b: [Float]

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        a = [Float](repeating: 0, count: width * height)
        b = a
    }

    /// Degrades the coverage in `ink` (overwritten) and writes 8-bit grey values to `out`.
    mutating func apply(ink: UnsafeMutablePointer<Float>, rng: RNG, into out: UnsafeMutablePointer<UInt8>) {
        let n = width * height

        // Uneven inking: a smooth random field thins the ink in patches.
        let patchiness = rng.uniform(0, 0.45)
        smoothNoise(cells: 6, rng: rng, into: &a)
        for k in 0..<n { ink[k] *= 1 - patchiness * a[k] }

        // Spread or erosion: blur, then threshold at a random level. A low threshold fattens
        // strokes (ink squeezed into the paper), a high one thins them (worn type, light pressure).
        gaussianBlur(ink, sigma: rng.uniform(0.5, 1.2))
        let level = rng.uniform(0.22, 0.6), soft: Float = 0.16
        for k in 0..<n { ink[k] = smoothstep(level - soft, level + soft, ink[k]) }

        // Optics of the scanner.
        gaussianBlur(ink, sigma: rng.uniform(0.3, 1.0))

        // Paper: a base tone with slow shading, a few stains, and grain.
        let paper = rng.uniform(0.72, 0.95)
        let inkTone = rng.uniform(0.04, 0.32)
        smoothNoise(cells: 3, rng: rng, into: &a)
        let shading = rng.uniform(0, 0.12)
        for k in 0..<n { b[k] = paper - shading * a[k] }
        let stains = rng.int(4)
        for _ in 0..<stains where rng.uniform() < 0.6 {
            let sx = rng.uniform(0, Float(width)), sy = rng.uniform(0, Float(height))
            let r = rng.uniform(4, 22), depth = rng.uniform(0.03, 0.16)
            for y in 0..<height {
                for x in 0..<width {
                    let dx = Float(x) - sx, dy = Float(y) - sy
                    b[y * width + x] -= depth * exp(-(dx * dx + dy * dy) / (2 * r * r))
                }
            }
        }

        let contrast = rng.uniform(0.7, 1.2), brightness = rng.uniform(-0.08, 0.08)
        let grain = rng.uniform(0.008, 0.045)
        for k in 0..<n {
            var v = b[k] + (inkTone - b[k]) * ink[k]
            v = (v - 0.5) * contrast + 0.5 + brightness + grain * rng.normal()
            out[k] = UInt8(max(0, min(255, (v * 255).rounded())))
        }
    }

    @inline(__always)
    private func smoothstep(_ lo: Float, _ hi: Float, _ x: Float) -> Float {
        let t = max(0, min(1, (x - lo) / (hi - lo)))
        return t * t * (3 - 2 * t)
    }

    /// Values in [0, 1] varying smoothly: random values on a coarse grid, bilinearly interpolated.
    private func smoothNoise(cells: Int, rng: RNG, into field: inout [Float]) {
        let g = cells + 1
        var grid = [Float](repeating: 0, count: g * g)
        for k in 0..<grid.count { grid[k] = rng.uniform() }
        for y in 0..<height {
            let gy = Float(y) / Float(height) * Float(cells)
            let y0 = min(Int(gy), cells - 1), ty = gy - Float(y0)
            for x in 0..<width {
                let gx = Float(x) / Float(width) * Float(cells)
                let x0 = min(Int(gx), cells - 1), tx = gx - Float(x0)
                let top = grid[y0 * g + x0] * (1 - tx) + grid[y0 * g + x0 + 1] * tx
                let bottom = grid[(y0 + 1) * g + x0] * (1 - tx) + grid[(y0 + 1) * g + x0 + 1] * tx
                field[y * width + x] = top * (1 - ty) + bottom * ty
            }
        }
    }

    /// Separable Gaussian blur in place, edges clamped.
    private mutating func gaussianBlur(_ p: UnsafeMutablePointer<Float>, sigma: Float) {
        let r = max(1, Int((3 * sigma).rounded(.up)))
        var kernel = (-r...r).map { exp(-Float($0 * $0) / (2 * sigma * sigma)) }
        let total = kernel.reduce(0, +)
        for i in kernel.indices { kernel[i] /= total }
        let w = width, h = height
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for j in -r...r { acc += kernel[j + r] * p[y * w + min(max(x + j, 0), w - 1)] }
                a[y * w + x] = acc
            }
        }
        for y in 0..<h {
            for x in 0..<w {
                var acc: Float = 0
                for j in -r...r { acc += kernel[j + r] * a[min(max(y + j, 0), h - 1) * w + x] }
                p[y * w + x] = acc
            }
        }
    }
}
