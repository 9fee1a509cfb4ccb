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
        // Padding of a kernel's width or more leaves whole kernel rows outside the image (in
        // PyTorch too, which allows any padding): then no tap is valid, an empty range, never an
        // inverted one (whose negative count would copy out of bounds).
        let first = Swift.max(0, -start)
        return first..<Swift.max(first, Swift.min(g.kernel, g.width - start))
    }

    /// Unfolds the output positions `rows` into `col`, one patch row each (zeros for the padding).
    public static func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, rows: Range<Int>, col: UnsafeMutablePointer<Float>) {
        let run = g.kernel * g.channels
        forEachKernelRow(g, rows) { patch, pixel, valid in
            if pixel == nil || valid.count < run { Runs.fill(col + patch, 0, count: run) }
            if let pixel { Runs.copy(col + patch + valid.lowerBound, from: input + pixel, count: valid.count) }
        }
    }

    /// Adds the patch rows `rows` (in `col`) onto the pixels they were read from; the caller zeroes
    /// `input` first. Patches of one image overlap, so concurrent callers must hold different images.
    public static func col2imAdding(_ g: ConvGeometry, col: UnsafePointer<Float>, rows: Range<Int>, input: UnsafeMutablePointer<Float>) {
        forEachKernelRow(g, rows) { patch, pixel, valid in
            if let pixel { Runs.add(input + pixel, col + patch + valid.lowerBound, count: valid.count) }
        }
    }

    /// The runs that unfolding copies and folding adds: for each output position in `rows` and each
    /// kernel row, `body(patch, pixel, valid)` with the kernel row's offset in the tile's patches,
    /// the input offset of its first tap inside the image (nil when the row lies in the padding),
    /// and the part of the row's k·C values that lies inside.
    @inline(__always)
    static func forEachKernelRow(_ g: ConvGeometry, _ rows: Range<Int>, _ body: (Int, Int?, Range<Int>) -> Void) {
        let (k, c) = (g.kernel, g.channels)
        let rowStride = g.width * c
        var patch = 0
        forEachPosition(g, rows) { n, y, x in
            let taps = validTaps(g, x: x)
            let x0 = x * g.stride - g.padding
            for kh in 0..<k {
                let iy = y * g.stride - g.padding + kh
                let inside = iy >= 0 && iy < g.height && !taps.isEmpty
                body(patch + kh * k * c, inside ? (n * g.height + iy) * rowStride + (x0 + taps.lowerBound) * c : nil,
                     taps.lowerBound * c..<taps.upperBound * c)
            }
            patch += g.patchSize
        }
    }

    // MARK: One-channel images

    /// A one-channel image (a network's first layer) unfolds transposed: `colT` is
    /// (patchSize × positions), a row per kernel tap, for the whole images in `rows`. Through the
    /// image's column phases (see `phaseFloats`) each tap's values for one output row are one
    /// contiguous run of input, so unfolding and folding copy and add whole rows instead of
    /// kernel-wide pieces of 5 floats.
    public static func im2colSingleChannel(_ g: ConvGeometry, input: UnsafePointer<Float>, rows: Range<Int>,
                                           phases: UnsafeMutablePointer<Float>, colT: UnsafeMutablePointer<Float>) {
        let perImage = g.outHeight * g.outWidth
        for n in (rows.lowerBound / perImage)..<(rows.upperBound / perImage) {
            splitPhases(g, image: input + n * g.height * g.width, into: phases)
            forEachTapRun(g, first: n * perImage - rows.lowerBound, ld: rows.count) { phase, tap in
                Runs.copy(colT + tap, from: phases + phase, count: g.outWidth)
            }
        }
    }

    /// Input gradient of the whole one-channel images in `rows` from the transposed patch
    /// gradients `colT` (patchSize × positions); writes those images' pixels.
    public static func col2imSingleChannel(_ g: ConvGeometry, colT: UnsafePointer<Float>, rows: Range<Int>,
                                           phases: UnsafeMutablePointer<Float>, input: UnsafeMutablePointer<Float>) {
        let perImage = g.outHeight * g.outWidth
        for n in (rows.lowerBound / perImage)..<(rows.upperBound / perImage) {
            phases.update(repeating: 0, count: phaseFloats(g))
            forEachTapRun(g, first: n * perImage - rows.lowerBound, ld: rows.count) { phase, tap in
                Runs.add(phases + phase, colT + tap, count: g.outWidth)
            }
            mergePhases(g, phases, into: input + n * g.height * g.width)
        }
    }

    /// The runs of one image that unfolding copies and folding adds: for each kernel tap and output
    /// row, `body(phase, tap)` with the run's offset in the phase buffer and in `colT` (`ld` floats per
    /// tap, the image's positions from column `first`); each run is one output row wide.
    @inline(__always)
    static func forEachTapRun(_ g: ConvGeometry, first: Int, ld: Int, _ body: (Int, Int) -> Void) {
        let (k, s, ow) = (g.kernel, g.stride, g.outWidth)
        let (hp, wq) = phaseShape(g)
        for kh in 0..<k {
            for kw in 0..<k {
                let tap = (kh * k + kw) * ld + first, phase = ((kw % s) * hp + kh) * wq + kw / s
                for y in 0..<g.outHeight { body(phase + y * s * wq, tap + y * ow) }
            }
        }
    }

    /// Floats of the phase buffer of a one-channel image: the zero-padded image with its columns
    /// dealt out by x mod stride, phase-major, so that a stride-s run of a padded row is contiguous.
    public static func phaseFloats(_ g: ConvGeometry) -> Int {
        let (hp, wq) = phaseShape(g)
        return g.stride * hp * wq
    }

    /// Padded height, and columns per phase: enough for every tap of every output column.
    static func phaseShape(_ g: ConvGeometry) -> (height: Int, width: Int) {
        (g.height + 2 * g.padding, g.outWidth + (g.kernel - 1) / g.stride)
    }

    static func splitPhases(_ g: ConvGeometry, image: UnsafePointer<Float>, into phases: UnsafeMutablePointer<Float>) {
        phases.update(repeating: 0, count: phaseFloats(g))
        forEachPhaseRun(g) { src, dst, count, stride in
            for j in 0..<count { phases[dst + j] = image[src + j * stride] }
        }
    }

    static func mergePhases(_ g: ConvGeometry, _ phases: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>) {
        // Columns that no output reads (past the last full stride) keep a zero gradient.
        image.update(repeating: 0, count: g.height * g.width)
        forEachPhaseRun(g) { src, dst, count, stride in
            for j in 0..<count { image[src + j * stride] = phases[dst + j] }
        }
    }

    /// The image pixels of each phase row: `body(imageOffset, phaseOffset, count, stride)` says that
    /// pixels imageOffset + j·stride sit at phaseOffset + j, for j < count (the rest is padding).
    @inline(__always)
    static func forEachPhaseRun(_ g: ConvGeometry, _ body: (Int, Int, Int, Int) -> Void) {
        let (hp, wq) = phaseShape(g)
        let (s, p) = (g.stride, g.padding)
        for phase in 0..<s {
            // Padded column j·s + phase is image column j·s + phase − p.
            let firstJ = Swift.max(0, (p - phase + s - 1) / s)
            let firstX = firstJ * s + phase - p
            guard firstX < g.width else { continue }
            let count = Swift.min(wq - firstJ, (g.width - 1 - firstX) / s + 1)
            for y in 0..<g.height {
                body(y * g.width + firstX, (phase * hp + y + p) * wq + firstJ, count, s)
            }
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
