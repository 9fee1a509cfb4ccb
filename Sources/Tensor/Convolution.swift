/// Shape arithmetic of a 2-D convolution over a batch.
public struct ConvGeometry: Equatable {
    public let channels, batch, height, width, kernel, stride, padding: Int
    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the unfolded matrix: one per output position (image, row, column).
    public var positions: Int { batch * outHeight * outWidth }
    /// Columns of the unfolded matrix: one per (kernel row, kernel column, channel).
    public var patchSize: Int { kernel * kernel * channels }

    public init(channels: Int, batch: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.batch = batch; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }
}

/// Unfolding (im2col) and folding (col2im) for batch-wide convolution GEMMs.
///
/// Activations are channels-last, (N, H, W, C). A patch row of the unfolded matrix is then a few
/// contiguous runs — for each kernel row, the kernel's columns × all channels — so unfolding is a
/// handful of copies per output position rather than one strided read per value, and one GEMM
/// col(N·Ho·Wo × k·k·C) · Wᵀ yields the next layer's (N, Ho, Wo, O) directly. A one-channel image
/// (N, 1, H, W) has the same bytes as (N, H, W, 1).
public enum Convolution {
    /// Kernel columns whose input column x·stride − padding + kw lies inside the image.
    @inline(__always)
    static func validTaps(_ g: ConvGeometry, x: Int) -> Range<Int> {
        let start = x * g.stride - g.padding
        return Swift.max(0, -start)..<Swift.min(g.kernel, g.width - start)
    }

    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
        let (oh, ow, k, c) = (g.outHeight, g.outWidth, g.kernel, g.channels)
        let patch = g.patchSize, rowStride = g.width * c
        Parallel.chunks(g.positions, minChunk: 64) { range in
            for pos in range {
                let n = pos / (oh * ow), y = (pos / ow) % oh, x = pos % ow
                let taps = validTaps(g, x: x)
                let x0 = x * g.stride - g.padding
                var dst = col + pos * patch
                for kh in 0..<k {
                    let iy = y * g.stride - g.padding + kh
                    if iy < 0 || iy >= g.height || taps.isEmpty {
                        dst.update(repeating: 0, count: k * c)
                    } else {
                        dst.update(repeating: 0, count: taps.lowerBound * c)
                        let src = input + (n * g.height + iy) * rowStride + (x0 + taps.lowerBound) * c
                        (dst + taps.lowerBound * c).update(from: src, count: taps.count * c)
                        (dst + taps.upperBound * c).update(repeating: 0, count: (k - taps.upperBound) * c)
                    }
                    dst += k * c
                }
            }
        }
    }

    /// input-gradient = fold(col): each patch entry is added back to the pixel it was read from.
    public static func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, input: UnsafeMutablePointer<Float>) {
        let (oh, ow, k, c) = (g.outHeight, g.outWidth, g.kernel, g.channels)
        let patch = g.patchSize, rowStride = g.width * c, image = g.height * rowStride
        // Patches of one image overlap; different images do not, so images are the unit of work.
        Parallel.chunks(g.batch) { images in
            for n in images {
                let dstImage = input + n * image
                dstImage.update(repeating: 0, count: image)
                for y in 0..<oh {
                    for x in 0..<ow {
                        let taps = validTaps(g, x: x)
                        let x0 = x * g.stride - g.padding
                        let src = col + ((n * oh + y) * ow + x) * patch
                        for kh in 0..<k {
                            let iy = y * g.stride - g.padding + kh
                            guard iy >= 0 && iy < g.height else { continue }
                            let d = dstImage + iy * rowStride + (x0 + taps.lowerBound) * c
                            let s = src + (kh * k + taps.lowerBound) * c
                            for i in 0..<(taps.count * c) { d[i] += s[i] }
                        }
                    }
                }
            }
        }
    }
}
