import Foundation

/// The taps of a one-dimensional antialiased bilinear resampling, as torchvision's
/// `Resize(antialias=True)` computes them on tensors (PyTorch's `_upsample_bilinear2d_aa`, which
/// follows PIL's `ImagingResample`): a triangle filter whose support widens with the downscale
/// factor, truncated to the input and renormalised to sum to one.
struct ResampleWeights {
    let inputSize: Int
    let outputSize: Int
    /// Taps per output index, padded to `taps` with zero weights so the inner loop has a fixed length.
    let taps: Int
    /// First input index per output index.
    let start: [Int]
    /// Non-padding taps per output index (never reaching past the input).
    let used: [Int]
    /// `outputSize * taps` weights.
    let weights: [Float]

    init(inputSize: Int, outputSize: Int) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        // align_corners=False: the scale is the plain size ratio.
        let scale = Double(inputSize) / Double(outputSize)
        // Downscaling widens the triangle (support = scale) so every input pixel contributes;
        // upscaling keeps it at one pixel, which is ordinary bilinear interpolation.
        let support = scale >= 1 ? scale : 1
        let invScale = scale >= 1 ? 1 / scale : 1
        let taps = Int(support.rounded(.up)) * 2 + 1
        var start = [Int](repeating: 0, count: outputSize)
        var used = [Int](repeating: 0, count: outputSize)
        var weights = [Float](repeating: 0, count: outputSize * taps)
        for i in 0..<outputSize {
            let center = scale * (Double(i) + 0.5)
            // Truncation toward zero, as the C++ casts do.
            let lo = max(Int(center - support + 0.5), 0)
            let hi = min(Int(center + support + 0.5), inputSize)
            var w = [Double](repeating: 0, count: taps)
            var total = 0.0
            for j in 0..<min(hi - lo, taps) {
                let x = (Double(j + lo) - center + 0.5) * invScale
                let t = max(0, 1 - abs(x))
                w[j] = t
                total += t
            }
            start[i] = lo
            used[i] = min(hi - lo, taps)
            for j in 0..<taps { weights[i * taps + j] = Float(total > 0 ? w[j] / total : 0) }
        }
        self.taps = taps
        self.start = start
        self.used = used
        self.weights = weights
    }
}
