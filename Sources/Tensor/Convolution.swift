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

/// Unfolding (im2col) and folding (col2im) for convolution GEMMs.
///
/// Activations are channels-last, (N, H, W, C). A patch row of the unfolded matrix is then a few
/// contiguous runs — for each kernel row, the kernel's columns × all channels — so unfolding is a
/// handful of copies per output position rather than one strided read per value, and one GEMM
/// col(positions × k·k·C) · Wᵀ yields the next layer's (N, Ho, Wo, O) directly. A one-channel image
/// (N, 1, H, W) has the same bytes as (N, H, W, 1).
///
/// Both work on any range of output positions (`rows`, numbered image by image over the batch),
/// so a caller can unfold and fold a batch a cache-sized tile at a time; `col` holds the tile's rows.
public enum Convolution {
    /// Kernel columns whose input column x·stride − padding + kw lies inside the image.
    @inline(__always)
    static func validTaps(_ g: ConvGeometry, x: Int) -> Range<Int> {
        let start = x * g.stride - g.padding
        return Swift.max(0, -start)..<Swift.min(g.kernel, g.width - start)
    }

    /// The whole batch: `col` is (positions × patchSize).
    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
        im2col(g, input: input, rows: 0..<g.positions, col: col)
    }

    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, rows: Range<Int>, col: UnsafeMutablePointer<Float>) {
        let (k, c) = (g.kernel, g.channels)
        let rowStride = g.width * c, run = k * c
        var dst = col
        forEachPosition(g, rows) { n, y, x in
            let taps = validTaps(g, x: x)
            let x0 = x * g.stride - g.padding
            for kh in 0..<k {
                let iy = y * g.stride - g.padding + kh
                if iy < 0 || iy >= g.height || taps.isEmpty {
                    Runs.fill(dst, 0, count: run)
                } else {
                    let src = input + (n * g.height + iy) * rowStride + (x0 + taps.lowerBound) * c
                    if taps.count < k {
                        Runs.fill(dst, 0, count: run)
                    }
                    Runs.copy(dst + taps.lowerBound * c, from: src, count: taps.count * c)
                }
                dst += run
            }
        }
    }

    /// The whole batch: input-gradient = fold(col), each patch entry added back to the pixel it was read from.
    public static func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, input: UnsafeMutablePointer<Float>) {
        input.update(repeating: 0, count: g.batch * g.height * g.width * g.channels)
        col2imAdding(g, col: col, rows: 0..<g.positions, input: input)
    }

    /// Adds the patch rows `rows` (in `col`) onto the pixels they were read from; the caller zeroes
    /// `input` first. Patches of one image overlap, so concurrent callers must hold different images.
    public static func col2imAdding(_ g: ConvGeometry, col: UnsafePointer<Float>, rows: Range<Int>, input: UnsafeMutablePointer<Float>) {
        let (k, c) = (g.kernel, g.channels)
        let rowStride = g.width * c
        var src = col
        forEachPosition(g, rows) { n, y, x in
            let taps = validTaps(g, x: x)
            let x0 = x * g.stride - g.padding
            for kh in 0..<k {
                let iy = y * g.stride - g.padding + kh
                if iy >= 0 && iy < g.height && !taps.isEmpty {
                    let d = input + (n * g.height + iy) * rowStride + (x0 + taps.lowerBound) * c
                    Runs.add(d, src + (kh * k + taps.lowerBound) * c, count: taps.count * c)
                }
            }
            src += g.patchSize
        }
    }

    /// Calls `body(image, row, column)` for each output position in `rows`, in order.
    @inline(__always)
    static func forEachPosition(_ g: ConvGeometry, _ rows: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        guard !rows.isEmpty else { return }
        let (oh, ow) = (g.outHeight, g.outWidth)
        var n = rows.lowerBound / (oh * ow), y = (rows.lowerBound / ow) % oh, x = rows.lowerBound % ow
        for _ in rows {
            body(n, y, x)
            x += 1
            if x == ow {
                x = 0; y += 1
                if y == oh { y = 0; n += 1 }
            }
        }
    }
}
