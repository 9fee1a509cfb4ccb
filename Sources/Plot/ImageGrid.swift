import Foundation
import Tensor

/// How pixel values map to grey levels.
public enum ValueRange: Sendable, Equatable {
    /// `low` is black, `high` white; values outside are clamped (the course's images live in [-1, 1]).
    case fixed(Double, Double)
    /// The smallest and largest finite value over all images.
    case auto
    /// Each image stretched over its own finite range (shows structure in faint samples).
    case perImage
}

public struct GridOptions: Sendable {
    public var range: ValueRange = .fixed(-1, 1)
    /// Images per row, as in torchvision's `make_grid`; nil: a near-square grid.
    public var nrow: Int?
    /// Pixels between cells (after upscaling).
    public var padding = 2
    /// Integer upscaling; nil picks one so small images are clearly visible.
    public var scale: Int?
    /// One label per row, drawn to the left of it.
    public var rowLabels: [String]?
    public var title: String?
    /// Rows wrap into this many blocks side by side (42 classes as 3 columns of 14 rows).
    public var blocks = 1
    /// Grey levels per channel (2…256). Fewer levels make much smaller PNGs of noisy scans
    /// (for pictures in documentation); 256 keeps every level.
    public var levels = 256

    public init(range: ValueRange = .fixed(-1, 1), nrow: Int? = nil, padding: Int = 2, scale: Int? = nil,
                rowLabels: [String]? = nil, title: String? = nil, blocks: Int = 1, levels: Int = 256) {
        self.range = range; self.nrow = nrow; self.padding = padding; self.scale = scale
        self.rowLabels = rowLabels; self.title = title; self.blocks = blocks; self.levels = levels
    }
}

public struct ChainOptions: Sendable {
    public var range: ValueRange = .fixed(-1, 1)
    /// The sampling step of each frame, printed under it; nil numbers frames 0, 1, 2, …
    public var steps: [Int]?
    public var padding = 2
    public var scale: Int?
    /// One label per chain (for example the class it samples).
    public var rowLabels: [String]?
    public var title: String?
    /// What the numbers under the frames count (a sampler other than SGLD counts its own steps).
    public var xLabel = "SGLD step"

    public init(range: ValueRange = .fixed(-1, 1), steps: [Int]? = nil, padding: Int = 2, scale: Int? = nil,
                rowLabels: [String]? = nil, title: String? = nil, xLabel: String = "SGLD step") {
        self.range = range; self.steps = steps; self.padding = padding; self.scale = scale
        self.rowLabels = rowLabels; self.title = title; self.xLabel = xLabel
    }
}

/// Where NaN pixels show: a colour no grey image has, so a diverged sample is obvious.
public let nanPixelColor = RGB(255, 0, 255)

extension Figure {
    /// A grid of images from an (N, 1, H, W), (N, 3, H, W) or (N, H, W) tensor, filled row by row.
    public static func imageGrid(_ images: Tensor, options: GridOptions = GridOptions()) throws -> Figure {
        let stack = try ImageStack(images, what: "image grid")
        guard stack.count > 0 else { throw JouleError("image grid: no images (shape \(images.shape))") }
        if let n = options.nrow, n < 1 { throw JouleError("image grid: nrow must be at least 1, got \(n)") }
        guard options.blocks >= 1 else { throw JouleError("image grid: blocks must be at least 1, got \(options.blocks)") }
        let perRow = min(options.nrow ?? Int(Double(stack.count).squareRoot().rounded(.up)), stack.count)
        let rows = (stack.count + perRow - 1) / perRow
        let cells = (0..<rows).map { r in (0..<perRow).map { c in r * perRow + c < stack.count ? r * perRow + c : nil } }
        return try GridLayout(stack: stack, cells: cells, captions: nil, rowLabels: options.rowLabels,
                              title: options.title, range: options.range, padding: options.padding,
                              scale: options.scale, footer: nil, blocks: options.blocks,
                              levels: options.levels).render()
    }

    /// Rows of chosen images: `rows[r]` lists indices into `images` (N, 1, H, W) for row r; rows
    /// may differ in length (a class with fewer examples). `nrow` is ignored.
    public static func imageRows(_ images: Tensor, rows: [[Int]], options: GridOptions = GridOptions()) throws -> Figure {
        let stack = try ImageStack(images, what: "image rows")
        guard !rows.isEmpty, rows.contains(where: { !$0.isEmpty }) else { throw JouleError("image rows: no images to show") }
        guard options.blocks >= 1 else { throw JouleError("image rows: blocks must be at least 1, got \(options.blocks)") }
        let images = stack.count / stack.apart
        if let bad = rows.joined().first(where: { $0 < 0 || $0 >= images }) {
            throw JouleError("image rows: index \(bad) is outside 0..<\(images)")
        }
        // An image whose channels are shown apart shows its first channel here.
        return try GridLayout(stack: stack, cells: rows.map { $0.map { Optional($0 * stack.apart) } }, captions: nil,
                              rowLabels: options.rowLabels, title: options.title, range: options.range,
                              padding: options.padding, scale: options.scale, footer: nil, blocks: options.blocks,
                              levels: options.levels).render()
    }

    /// Sampling chains: `frames` is (F, N, 1, H, W) (or (F, N, H, W)), F frames of N chains. One row
    /// per chain, frames left to right, the step number under each frame.
    public static func chains(_ frames: Tensor, options: ChainOptions = ChainOptions()) throws -> Figure {
        guard frames.rank == 5 || frames.rank == 4 else {
            throw JouleError("chains: expected frames of shape (F, N, 1, H, W) or (F, N, H, W), got \(frames.shape)")
        }
        let f = frames.shape[0], n = frames.shape[1]
        guard f > 0, n > 0 else { throw JouleError("chains: no frames (shape \(frames.shape))") }
        let c = frames.rank == 5 ? frames.shape[2] : 1
        // Channel counts other than 1 and 3 as grey images, channel by channel (see ImageStack).
        let (channels, perFrame) = c == 1 || c == 3 ? (c, n) : (1, n * c)
        let stack = ImageStack(frames, count: f * perFrame, channels: channels,
                               height: frames.shape[frames.rank - 2], width: frames.shape[frames.rank - 1])
        guard stack.height > 0, stack.width > 0 else { throw JouleError("chains: frames of size \(stack.height)×\(stack.width)") }
        let steps = options.steps ?? Array(0..<f)
        guard steps.count == f else { throw JouleError("chains: \(steps.count) step numbers for \(f) frames") }
        // Frame k of chain i is image k·N + i (its first channel where channels are shown apart).
        let stride = perFrame / n
        let cells = (0..<n).map { i in (0..<f).map { k in Optional(k * perFrame + i * stride) } }
        // Bare numbers fit under small frames; one footer says what they count.
        let captions = (0..<n).map { _ in steps.map(String.init) }
        return try GridLayout(stack: stack, cells: cells, captions: captions, rowLabels: options.rowLabels,
                              title: options.title, range: options.range, padding: options.padding,
                              scale: options.scale, footer: options.xLabel).render()
    }
}

/// Images as (count, channels, height, width) over a tensor's storage.
struct ImageStack {
    let tensor: Tensor
    let count: Int, channels: Int, height: Int, width: Int
    /// Images of the tensor shown as this many grey images each (1, or C for C channels other than 1 and 3).
    var apart = 1

    init(_ t: Tensor, what: String) throws {
        switch t.rank {
        case 2: (count, channels, height, width) = (1, 1, t.shape[0], t.shape[1])
        case 3: (count, channels, height, width) = (t.shape[0], 1, t.shape[1], t.shape[2])
        case 4:
            // One or three channels are grey or colour; any other count is shown channel by
            // channel, each a grey image ((N, C, H, W) is (N·C, 1, H, W) in memory).
            let c = t.shape[1]
            (count, channels, height, width) = c == 1 || c == 3 ? (t.shape[0], c, t.shape[2], t.shape[3])
                                                                 : (t.shape[0] * c, 1, t.shape[2], t.shape[3])
            if c != 1 && c != 3 { apart = Swift.max(c, 1) }
        default: throw JouleError("\(what): expected images of shape (N, C, H, W), (N, H, W) or (H, W), got \(t.shape)")
        }
        guard height > 0, width > 0 else { throw JouleError("\(what): images of size \(height)×\(width)") }
        tensor = t
    }

    /// A view of `t`'s storage as `count` images (the frames of a chain tensor).
    init(_ t: Tensor, count: Int, channels: Int, height: Int, width: Int) {
        tensor = t; self.count = count; self.channels = channels; self.height = height; self.width = width
    }

    var itemSize: Int { channels * height * width }

    func finiteRange(_ range: Range<Int>) -> ClosedRange<Double>? {
        var lo = Float.infinity, hi = -Float.infinity
        let p = tensor.data
        for i in range where p[i].isFinite { lo = min(lo, p[i]); hi = max(hi, p[i]) }
        return lo <= hi ? Ticks.widened(Double(lo)...Double(hi)) : nil
    }
}

/// Cells of images in rows, with optional captions under each cell and labels left of each row.
struct GridLayout {
    let stack: ImageStack
    let cells: [[Int?]]
    let captions: [[String]]?
    let rowLabels: [String]?
    let title: String?
    let range: ValueRange
    let padding: Int
    let scale: Int?
    /// A line under the grid (what the captions mean).
    let footer: String?
    /// Rows wrap into this many side-by-side blocks.
    var blocks = 1
    var levels = 256

    /// Beyond this width a grid is reduced to a smaller upscale before anything else.
    static let preferredMaxWidth = 2400

    func render() throws -> Figure {
        let font = try Font.standard()
        let rows = cells.count, cols = cells.map(\.count).max() ?? 0
        if let labels = rowLabels, labels.count != rows {
            throw JouleError("image grid: \(labels.count) row labels for \(rows) rows")
        }
        guard padding >= 0, padding <= 64 else { throw JouleError("image grid: padding must be 0…64, got \(padding)") }
        if let s = scale, s < 1 || s > 32 { throw JouleError("image grid: scale must be 1…32, got \(s)") }
        guard levels >= 2, levels <= 256 else { throw JouleError("image grid: levels must be 2…256, got \(levels)") }

        var s = scale ?? max(1, Int((80.0 / Double(max(stack.height, stack.width))).rounded(.up)))
        while scale == nil && s > 1 && cols * (stack.width * s + padding) > Self.preferredMaxWidth { s -= 1 }
        let cw = stack.width * s, ch = stack.height * s

        let labelSize = min(TextSize.label, max(9, ch * 2 / 3))
        let labelW = rowLabels.map { ls in min(240, (ls.map { font.width($0, size: labelSize) }.max() ?? 0)) } ?? 0
        let captionSize = TextSize.tick
        let captionH = captions != nil ? font.lineHeight(size: captionSize) + 2 : 0
        let titleH = title != nil ? font.lineHeight(size: TextSize.title, bold: true) + 2 * Axes.pad : 0
        let margin = title != nil || rowLabels != nil || captions != nil ? 6 : 0
        let labelColumn = labelW > 0 ? labelW + 8 : 0
        let blockCount = max(1, min(blocks, rows))
        let rowsPerBlock = (rows + blockCount - 1) / blockCount
        let blockGap = 16
        let gridW = cols * cw + (cols + 1) * padding
        let blockW = labelColumn + gridW
        let contentW = blockCount * blockW + (blockCount - 1) * blockGap
        let rowH = ch + captionH + padding
        let gridH = rowsPerBlock * rowH + padding
        var width = margin + contentW + margin
        if let t = title { width = max(width, min(font.width(t, size: TextSize.title, bold: true) + 24, 1200)) }
        let footerH = footer != nil ? font.lineHeight(size: TextSize.tick) + 4 : 0
        if let f = footer { width = max(width, font.width(f, size: TextSize.tick) + 2 * margin + 4) }
        let height = titleH + gridH + footerH + margin
        guard width <= Canvas.maxSide, height <= Canvas.maxSide else {
            throw JouleError("image grid: \(rows)×\(cols) cells of \(cw)×\(ch) pixels make a \(width)×\(height) picture, too large; use fewer images or a smaller scale")
        }
        let canvas = try Canvas(width: width, height: height)
        let contentX = (width - contentW) / 2
        func gridX(_ block: Int) -> Int { contentX + block * (blockW + blockGap) + labelColumn }
        for b in 0..<blockCount {
            let blockRows = min(rowsPerBlock, rows - b * rowsPerBlock)
            // A grey gutter separates cells whose paper background is as light as the figure's.
            canvas.fill(PixelRect(x: gridX(b), y: titleH, width: gridW, height: blockRows * rowH + padding), RGB(150, 150, 150))
        }
        if let t = title { drawTitle(t, canvas: canvas, font: font) }

        let globalRange: ClosedRange<Double>
        switch range {
        case .fixed(let lo, let hi):
            guard lo.isFinite, hi.isFinite, hi > lo else { throw JouleError("image grid: value range \(lo)…\(hi) is empty or not finite") }
            globalRange = lo...hi
        case .auto, .perImage:
            globalRange = stack.finiteRange(0..<(stack.count * stack.itemSize)) ?? -1...1
        }
        for (r, row) in cells.enumerated() {
            let gx = gridX(r / rowsPerBlock)
            let top = titleH + padding + (r % rowsPerBlock) * rowH
            if let labels = rowLabels {
                let text = font.fitting(labels[r], maxWidth: labelW, size: labelSize)
                canvas.drawText(text, font: font, size: labelSize, at: gx - 6, top + ch / 2, h: .right, v: .middle)
            }
            for (c, index) in row.enumerated() {
                let x = gx + padding + c * (cw + padding)
                if let index {
                    var rg = globalRange
                    if range == .perImage {
                        rg = stack.finiteRange(index * stack.itemSize..<(index + 1) * stack.itemSize) ?? globalRange
                    }
                    blit(canvas, index, x, top, s, rg)
                }
                if let caps = captions, c < caps[r].count {
                    let capTop = top + ch + 1
                    canvas.fill(PixelRect(x: x - padding, y: capTop - 1, width: cw + 2 * padding, height: captionH),
                                .white)
                    let text = font.fitting(caps[r][c], maxWidth: cw + padding, size: captionSize)
                    canvas.drawText(text, font: font, size: captionSize, at: x + cw / 2, capTop, color: .ink, h: .center, v: .top)
                }
            }
        }
        if let f = footer {
            canvas.drawText(f, font: font, size: TextSize.tick, at: contentX + contentW / 2, titleH + gridH + 2,
                            color: .mutedInk, h: .center, v: .top)
        }
        return Figure(canvas: canvas)
    }

    private func blit(_ canvas: Canvas, _ index: Int, _ x: Int, _ y: Int, _ s: Int, _ range: ClosedRange<Double>) {
        let lo = Float(range.lowerBound), span = Float(range.upperBound - range.lowerBound)
        let steps = Float(levels - 1)
        let base = stack.tensor.data + index * stack.itemSize
        let plane = stack.height * stack.width
        @inline(__always) func level(_ v: Float) -> UInt8 {
            // ±∞ clamp to black and white like any out-of-range value.
            let t = max(0, min(1, (v - lo) / span))
            return UInt8(((t * steps).rounded() / steps * 255).rounded())
        }
        for iy in 0..<stack.height {
            for ix in 0..<stack.width {
                let color: RGB
                if stack.channels == 1 {
                    let v = base[iy * stack.width + ix]
                    color = v.isNaN ? nanPixelColor : RGB(level(v), level(v), level(v))
                } else {
                    let r = base[iy * stack.width + ix], g = base[plane + iy * stack.width + ix]
                    let b = base[2 * plane + iy * stack.width + ix]
                    color = r.isNaN || g.isNaN || b.isNaN ? nanPixelColor : RGB(level(r), level(g), level(b))
                }
                canvas.fill(PixelRect(x: x + ix * s, y: y + iy * s, width: s, height: s), color)
            }
        }
    }
}
