/// Shape arithmetic of a 2-D convolution over a batch.
public struct ConvGeometry: Equatable {
    public let channels, batch, height, width, kernel, stride, padding: Int
    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    /// Rows of the unfolded matrix: one per (channel, kernel row, kernel column).
    public var colRows: Int { channels * kernel * kernel }
    /// Columns of the unfolded matrix: one per (image, output row, output column).
    public var colColumns: Int { batch * outHeight * outWidth }

    public init(channels: Int, batch: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels; self.batch = batch; self.height = height; self.width = width
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }
}

/// Unfolding (im2col) and folding (col2im) for batch-wide convolution GEMMs.
///
/// Activations are channel-major over the whole batch, (C, N, H, W): then one GEMM
/// W(O × C·k·k) · col(C·k·k × N·Ho·Wo) yields the next layer's (O, N, Ho, Wo) directly, with no
/// transposes between layers. For one input channel (the images) this is the same as NCHW.
public enum Convolution {
    /// Output columns x whose input column x·stride − padding + offset lies inside 0..<size.
    @inline(__always)
    static func validRange(size: Int, outSize: Int, stride: Int, padding: Int, offset: Int) -> Range<Int> {
        let shift = padding - offset                      // ix = x·stride − shift
        let lo = shift <= 0 ? 0 : (shift + stride - 1) / stride
        let hi = Swift.min(outSize, (size - 1 + shift) / stride + 1)
        return lo..<Swift.max(lo, hi)
    }

    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
        let (oh, ow, k, s) = (g.outHeight, g.outWidth, g.kernel, g.stride)
        let plane = g.height * g.width
        let columns = g.colColumns
        Parallel.chunks(g.colRows) { rows in
            for r in rows {
                let c = r / (k * k), kh = (r / k) % k, kw = r % k
                let xs = validRange(size: g.width, outSize: ow, stride: s, padding: g.padding, offset: kw)
                let ys = validRange(size: g.height, outSize: oh, stride: s, padding: g.padding, offset: kh)
                var dst = col + r * columns
                for n in 0..<g.batch {
                    let src = input + (c * g.batch + n) * plane
                    for y in 0..<oh {
                        guard ys.contains(y) else {
                            dst.update(repeating: 0, count: ow)
                            dst += ow
                            continue
                        }
                        let row = src + (y * s - g.padding + kh) * g.width - g.padding + kw
                        for x in 0..<xs.lowerBound { dst[x] = 0 }
                        for x in xs { dst[x] = row[x * s] }
                        for x in xs.upperBound..<ow { dst[x] = 0 }
                        dst += ow
                    }
                }
            }
        }
    }

    /// input-gradient = fold(col): each column entry is added back to the pixel it was read from.
    public static func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, input: UnsafeMutablePointer<Float>) {
        let (oh, ow, k, s) = (g.outHeight, g.outWidth, g.kernel, g.stride)
        let plane = g.height * g.width
        let columns = g.colColumns
        // Each (channel, image) plane is written by one task only.
        Parallel.chunks(g.channels * g.batch) { planes in
            for p in planes {
                let c = p / g.batch, n = p % g.batch
                let dst = input + p * plane
                dst.update(repeating: 0, count: plane)
                for kh in 0..<k {
                    let ys = validRange(size: g.height, outSize: oh, stride: s, padding: g.padding, offset: kh)
                    for kw in 0..<k {
                        let xs = validRange(size: g.width, outSize: ow, stride: s, padding: g.padding, offset: kw)
                        let src = col + ((c * k + kh) * k + kw) * columns + n * oh * ow
                        for y in ys {
                            let row = dst + (y * s - g.padding + kh) * g.width - g.padding + kw
                            let from = src + y * ow
                            for x in xs { row[x * s] += from[x] }
                        }
                    }
                }
            }
        }
    }
}
