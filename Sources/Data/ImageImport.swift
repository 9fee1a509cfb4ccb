import Formats
import Foundation
import ImageFiles
import Tensor

/// `joule data import`: a folder of images with one subfolder per class (torchvision's ImageFolder
/// convention) becomes the course layout — `train.npy`, `val.npy`, `test.npy` (images, labels, and
/// for images of different sizes their sizes), `classes.json`, `ood_<name>.npy` from other folders
/// and a data card (`card.md`).
///
/// How images are stored, so that loading gives what the course transform gives on the original files:
/// - one channel, all the same size: (N, H, W) as decoded (uint8; float32 holding the 16-bit values
///   when any image has more than 8 bits — the transform's per-image min-max makes the scale irrelevant);
/// - one channel, sizes differ: each image at its own size in the top-left of an (N, Hmax, Wmax) array
///   (zero padding), followed by the labels and an (N, 2) array of (height, width): the loader transforms
///   each image at its size. Exact: nothing is resampled before the transform.
/// - three channels: (N, H, W, 3) uint8 (or (N, 3, H, W) float32 in [-1, 1] for 16-bit files), which
///   the loader takes as stored, so all images must share one size (or use `size`);
/// - `size` S: each image resized (shorter side to S, antialiased) and centre-cropped when imported, as
///   float32 (N, S, S) in [0, 1] after the per-image min-max (one channel) or (N, 3, S, S) in [-1, 1];
///   smaller files, but not exact: loading applies the course transform again (its min-max, and a
///   resize when S ≠ 56).
public enum ImageImport {
    public struct Options {
        /// Percentages of train, val and test; they sum to 100.
        public var split: (train: Int, val: Int, test: Int) = (70, 15, 15)
        public var seed: UInt64 = 0
        /// 1 (greyscale, as Pillow's convert("L")) or 3 (RGB).
        public var channels = 1
        /// Store resized to size × size (see above); nil keeps the original pixels.
        public var size: Int?
        /// Folders of out-of-distribution images (all files below each, no classes): ood_<name>.npy.
        public var ood: [String] = []
        public var maxPixels = ImageFile.defaultMaxPixels
        /// Samples an import may hold in memory (2 bytes each at the original size): beyond it the
        /// import stops and asks for `size`, rather than running the machine out of memory.
        public var maxSamples = 1 << 30
        /// Show a progress bar (a terminal) or progress lines (a log).
        public var progress = true

        public init() {}
    }

    /// One usable image.
    struct Item {
        let label: Int
        let height: Int
        let width: Int
        /// Bits per sample of the decoded samples (8 or 16).
        let depth: Int
        /// Grey or RGB (interleaved) samples at the original size, or resized floats (channel planes).
        let samples: [UInt16]
        let resized: [Float]
    }

    /// What was found in a folder, for the card.
    struct Survey {
        var skipped: [ImageFolder.Skipped] = []
        var notes: [String] = []
        var formats: [String: Int] = [:]
        var kinds: [String: Int] = [:]
        var depths: [Int: Int] = [:]
        var sizes: [[Int]] = []   // (height, width) of every image, originals
        var files = 0
    }

    /// A split ready to write: its arrays in file order.
    public struct SplitArrays {
        public let name: String
        public let arrays: [NpyArray]
        public let count: Int
        public let classCounts: [Int]?
    }

    /// The result of an import, in memory.
    public struct Imported {
        public let source: String
        public let classes: [String]
        public let splits: [SplitArrays]
        public let card: String
        /// What classes.json holds.
        public let manifest: JSON
    }

    public static let manifestSource = "joule data import"

    /// Reads, decodes and splits `directory` (nothing is written).
    public static func read(_ directory: String, options: Options) throws -> Imported {
        let o = options
        guard o.split.train > 0, o.split.val >= 0, o.split.test >= 0, o.split.train + o.split.val + o.split.test == 100 else {
            throw JouleError("the split must be three percentages summing to 100 with train above 0, got \(o.split.train)/\(o.split.val)/\(o.split.test)")
        }
        guard o.channels == 1 || o.channels == 3 else { throw JouleError("channels must be 1 or 3, got \(o.channels)") }
        if let s = o.size, !(1...4096).contains(s) { throw JouleError("size must be 1…4096, got \(s)") }

        let folder = try ImageFolder(directory)
        guard !folder.classes.isEmpty else {
            throw JouleError("\(directory): no class folders (expected one subfolder per class, as torchvision's ImageFolder)")
        }
        var survey = Survey()
        var items = try decode(folder.files, classes: folder.classes.count, label: "importing \(folder.files.joined().count) files",
                               options: o, survey: &survey)
        survey.skipped = folder.skipped + survey.skipped
        guard !items.isEmpty else {
            let first = survey.skipped.first.map { "; first: \($0.name): \($0.reason)" } ?? ""
            let k = survey.skipped.count
            throw JouleError("\(directory): no usable images (\(k) file\(k == 1 ? "" : "s") skipped\(first))")
        }

        // Stratified, seeded: per class a permutation of its images; the first go to train, then val, then test.
        let classCount = folder.classes.count
        var byClass = [[Int]](repeating: [], count: classCount)
        for (i, item) in items.enumerated() { byClass[item.label].append(i) }
        let parts = Stratify.split(byClass.map(\.count), val: Double(o.split.val) / 100, test: Double(o.split.test) / 100)
        var members: [[Int]] = [[], [], []]
        for c in 0..<classCount {
            let order = RNG(seed: GlyphCorpus.mix(o.seed, 26, UInt64(c))).permutation(byClass[c].count).map { byClass[c][$0] }
            let (tr, va) = (parts[c].train, parts[c].val)
            members[0] += order[..<tr]
            members[1] += order[tr..<(tr + va)]
            members[2] += order[(tr + va)...]
        }
        // Within a split, class by class in file order.
        members = members.map { $0.sorted() }

        let layout = try Layout(items, options: o)
        var splits: [SplitArrays] = []
        for (k, name) in ["train", "val", "test"].enumerated() {
            let chosen = members[k].map { items[$0] }
            var counts = [Int](repeating: 0, count: classCount)
            for item in chosen { counts[item.label] += 1 }
            splits.append(SplitArrays(name: name, arrays: layout.arrays(chosen, labels: true), count: chosen.count, classCounts: counts))
        }
        items = []

        // Out-of-distribution folders: every image below each, unlabelled, stored the same way.
        var oodRows: [(file: String, folder: String, count: Int, skipped: Int)] = []
        var usedNames = Set<String>()
        for spec in o.ood {
            let (name, dir) = try oodName(spec)
            guard usedNames.insert(name).inserted else { throw JouleError("two --ood folders would both be \(name).npy: rename one") }
            let flat = try ImageFolder(dir, flat: true)
            var oodSurvey = Survey()
            let oodItems = try decode(flat.files, classes: 1, label: "importing \(flat.files[0].count) files of \(dir)",
                                      options: o, survey: &oodSurvey)
            guard !oodItems.isEmpty else { throw JouleError("\(dir): no usable images for \(name).npy (\(flat.skipped.count + oodSurvey.skipped.count) files skipped)") }
            let oodLayout = try Layout(oodItems, options: o, matching: layout)
            splits.append(SplitArrays(name: name, arrays: oodLayout.arrays(oodItems, labels: false), count: oodItems.count, classCounts: nil))
            let skipped = (flat.skipped + oodSurvey.skipped).map { ImageFolder.Skipped(name: "\(name): \($0.name)", reason: $0.reason) }
            survey.skipped += skipped
            survey.notes += oodSurvey.notes.map { "\(name): \($0)" }
            survey.files += oodSurvey.files
            survey.sizes += oodSurvey.sizes
            survey.formats.merge(oodSurvey.formats, uniquingKeysWith: +)
            survey.kinds.merge(oodSurvey.kinds, uniquingKeysWith: +)
            survey.depths.merge(oodSurvey.depths, uniquingKeysWith: +)
            oodRows.append((name, dir, oodItems.count, skipped.count))
        }

        let manifest = JSON.object([
            "classes": .strings(folder.classes),
            "source": .string(manifestSource),
            "folder": .string(URL(fileURLWithPath: directory).lastPathComponent),
            "split": .ints([o.split.train, o.split.val, o.split.test]),
            "seed": .integer(o.seed),
            "channels": .int(o.channels),
            "storage": .string(layout.description),
            "size": o.size.map { .ints([$0, $0]) } ?? .null,
            "ood": .strings(oodRows.map(\.file)),
            "class_counts": .object(Dictionary(uniqueKeysWithValues: splits.prefix(3).map { ($0.name, .ints($0.classCounts!)) })),
        ])
        let card = Card.text(directory: directory, classes: folder.classes, splits: splits, survey: survey,
                             oodRows: oodRows, options: o, layout: layout)
        return Imported(source: directory, classes: folder.classes, splits: splits, card: card, manifest: manifest)
    }

    /// Writes an import into `out`, replaced as a whole (written beside it, then swapped in).
    /// `extra` adds files to the new folder before it is swapped in (the CLI's examples picture) and
    /// returns text for the end of the card.
    public static func write(_ imported: Imported, to out: String, extra: (String) throws -> String = { _ in "" }) throws {
        try refuseForeign(out)
        try AtomicFolder.replace(out) { dir in
            for s in imported.splits {
                var d = Data()
                for a in s.arrays { d.append(Npy.encode(a)) }
                try AtomicFolder.write(d, to: dir + "/" + s.name + ".npy")
            }
            try AtomicFolder.write(imported.manifest.fileData(), to: dir + "/classes.json")
            let more = try extra(dir)
            try AtomicFolder.write(Data((imported.card + more).utf8), to: dir + "/card.md")
        }
    }

    /// An existing output folder is replaced only when an import made it (or it is empty): `--out .`
    /// must not delete someone's files.
    static func refuseForeign(_ out: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: out, isDirectory: &isDir) else { return }
        guard isDir.boolValue else { throw JouleError("\(out): exists and is not a folder") }
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []
        if contents.isEmpty || isImported(out) { return }
        throw JouleError("\(out): exists and was not made by joule data import; give another --out (it is replaced as a whole)")
    }

    /// True when `directory` holds a `classes.json` written by an import.
    public static func isImported(_ directory: String) -> Bool {
        manifest(directory)?["source"]?.string == manifestSource
    }

    static func manifest(_ directory: String) -> JSON? {
        guard let data = FileManager.default.contents(atPath: directory + "/classes.json") else { return nil }
        return try? JSON.parse(data)
    }

    /// The file name and folder of an out-of-distribution set: `NAME=DIR` gives `ood_NAME` (`ta=…`
    /// and `tb=…` make the `ood_ta` and `ood_tb` that scripts/ood.lua scores); a plain DIR is named
    /// after its last path component. Names are lower case letters, digits and underscores.
    static func oodName(_ spec: String) throws -> (String, String) {
        func clean(_ s: String) -> String {
            String(s.lowercased().unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII ? Character($0) : "_" })
        }
        if let eq = spec.firstIndex(of: "="), eq != spec.startIndex {
            let name = String(spec[..<eq]), dir = String(spec[spec.index(after: eq)...])
            guard clean(name) == name.lowercased(), !dir.isEmpty else {
                throw JouleError("--ood \(spec): NAME=DIR needs a name of letters, digits and underscores and a folder")
            }
            return ("ood_" + name.lowercased(), dir)
        }
        let base = URL(fileURLWithPath: spec).standardizedFileURL.lastPathComponent
        guard !base.isEmpty, base != "/" else { throw JouleError("\(spec): cannot name an OOD set after this folder (give NAME=\(spec))") }
        return ("ood_" + clean(base), spec)
    }

    /// The splits of a folder for `joule.data.load`: a folder made by an import (train, val, test and
    /// its OOD sets), or a folder of class subfolders (imported in memory with the default options);
    /// nil for anything else (the course layout is read by `CourseData`).
    /// The class names of a data folder, in label order: the `classes` list of its classes.json (the
    /// glyph corpus's and `joule data import`'s), or for a folder of class subfolders their names in
    /// the order the import gives them labels; nil when the folder says nothing about its classes.
    /// The count is what a trainer needs when a class has no images in a split (its labels alone
    /// would undercount).
    public static func classNames(ofFolder directory: String) throws -> [String]? {
        let path = directory + "/classes.json"
        if let data = FileManager.default.contents(atPath: path) {
            guard let classes = (try? JSON.parse(data))?["classes"]?.strings else {
                throw JouleError("\(path): expected a JSON object with a \"classes\" list of names")
            }
            return classes
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue,
              !FileManager.default.fileExists(atPath: directory + "/train.npy") else { return nil }
        let classes = (try? ImageFolder(directory))?.classes ?? []
        return classes.isEmpty ? nil : classes
    }

    public static func splits(ofFolder directory: String, options: Options = Options()) throws -> [(String, Split)]? {
        if isImported(directory) {
            let names = ["train", "val", "test"] + (manifest(directory)?["ood"]?.strings ?? [])
            return try names.map { ($0, try loadSplit(directory + "/" + $0 + ".npy")) }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue,
              !FileManager.default.fileExists(atPath: directory + "/train.npy") else { return nil }
        let subfolders = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter {
            var d: ObjCBool = false
            return !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: directory + "/" + $0, isDirectory: &d) && d.boolValue
        }
        guard !subfolders.isEmpty else { return nil }
        let imported = try read(directory, options: options)
        return try imported.splits.map { ($0.name, try loadSplit(arrays: $0.arrays, path: directory + " (" + $0.name + ")")) }
    }

    // MARK: decoding

    /// Decodes every file (in parallel; results in file order), converting to the requested channels.
    static func decode(_ files: [[ImageFolder.File]], classes: Int, label: String, options o: Options,
                       survey: inout Survey) throws -> [Item] {
        let flat = files.enumerated().flatMap { c, fs in fs.map { (c, $0) } }
        survey.files += flat.count
        let bar = o.progress && flat.count >= 20 ? ProgressBar(total: flat.count, label: label) : nil
        var results = [Result<([Item], Note), JouleError>?](repeating: nil, count: flat.count)
        let budget = Budget(o.maxSamples)
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            Parallel.chunks(flat.count, minChunk: 4) { range in
                for i in range where !budget.exceeded {
                    let (c, file) = flat[i]
                    do {
                        let decoded = try decodeFile(file, label: c, options: o)
                        budget.take(decoded.0.reduce(0) { $0 + $1.samples.count + $1.resized.count })
                        base[i] = .success(decoded)
                    } catch let e as JouleError {
                        base[i] = .failure(e)
                    } catch { base[i] = .failure(JouleError("\(error)")) }
                    bar?.update()
                }
            }
        }
        if budget.exceeded {
            ProgressBar.endLine()
            throw JouleError("the images take more than \(o.maxSamples) samples at their original size (memory): give --size S to store them resized")
        }
        bar?.done()
        var items: [Item] = []
        for (i, r) in results.enumerated() {
            let name = flat[i].1.name
            switch r! {
            case .failure(let e): survey.skipped.append(ImageFolder.Skipped(name: name, reason: e.message))
            case .success(let (decoded, note)):
                items += decoded
                survey.formats[note.format.rawValue, default: 0] += decoded.count
                survey.kinds[note.kind, default: 0] += decoded.count
                survey.depths[note.fileDepth, default: 0] += decoded.count
                survey.sizes += note.sizes
                if let n = note.text { survey.notes.append("`\(name)`: \(n)") }
            }
        }
        return items
    }

    /// Samples decoded so far, shared by the decoding threads.
    final class Budget: @unchecked Sendable {
        private let lock = NSLock()
        private let limit: Int
        private var used = 0
        init(_ limit: Int) { self.limit = limit }
        var exceeded: Bool { lock.withLock { used > limit } }
        func take(_ n: Int) { lock.withLock { used += n } }
    }

    struct Note {
        let format: ImageFile.Format
        let kind: String
        let fileDepth: Int
        let sizes: [[Int]]
        let text: String?
    }

    static func decodeFile(_ file: ImageFolder.File, label: Int, options o: Options) throws -> ([Item], Note) {
        let bytes = try ImageFolder.read(file)
        let (pages, morePages) = try ImageFile.decodePages(bytes, maxPixels: o.maxPixels)
        let format = ImageFile.format(of: bytes)!
        var notes: [String] = []
        if let named = ImageFile.format(ofName: file.name), named != format {
            notes.append("a \(format.rawValue) file named as \(named.rawValue); read as \(format.rawValue)")
        } else if ImageFile.format(ofName: file.name) == nil {
            notes.append("a \(format.rawValue) file without an image extension; read as \(format.rawValue)")
        }
        if morePages {
            notes.append("more than \(ImageFile.maxPages) pages: the first \(ImageFile.maxPages) read, each an image")
        } else if pages.count > 1 {
            notes.append("\(pages.count) pages, each an image")
        }
        let items = pages.map { page -> Item in
            let samples = o.channels == 1 ? page.grey() : page.rgb()
            var resized: [Float] = []
            if let side = o.size { resized = resize(samples, page, channels: o.channels, side: side) }
            return Item(label: label, height: page.height, width: page.width, depth: page.depth,
                        samples: o.size == nil ? samples : [], resized: resized)
        }
        let first = pages[0]
        let kind = first.kind.rawValue
        return (items, Note(format: format, kind: kind, fileDepth: first.fileDepth,
                            sizes: pages.map { [$0.height, $0.width] },
                            text: notes.isEmpty ? nil : notes.joined(separator: "; ")))
    }

    /// The `size` storage of one image: one channel through min-max then the transform's geometry
    /// (values in [0, 1]); three channels scaled to [-1, 1] then resized, plane by plane.
    static func resize(_ samples: [UInt16], _ page: RasterImage, channels: Int, side: Int) -> [Float] {
        let h = page.height, w = page.width
        let plane = UnsafeMutablePointer<Float>.allocate(capacity: h * w)
        defer { plane.deallocate() }
        var out = [Float](repeating: 0, count: channels * side * side)
        out.withUnsafeMutableBufferPointer { dst in
            for c in 0..<channels {
                for k in 0..<h * w { plane[k] = Float(samples[k * channels + c]) }
                if channels == 1 {
                    CourseTransform.minMax(plane, h * w)
                } else {
                    let m = Float(page.maxValue)
                    for k in 0..<h * w { plane[k] = page.depth == 8 ? plane[k] / 127.5 - 1 : plane[k] / m * 2 - 1 }
                }
                CourseTransform.resizeAndCrop(plane, height: h, width: w, side: side, into: dst.baseAddress! + c * side * side)
                if channels == 3 {
                    for k in c * side * side..<(c + 1) * side * side { dst[k] = min(1, max(-1, dst[k])) }
                }
            }
        }
        return out
    }

    // MARK: storage

    /// How a set of images is stored (one choice for every split of an import, so they load alike).
    struct Layout {
        enum Kind { case same(Int, Int), padded(Int, Int), resized(Int) }
        let kind: Kind
        let channels: Int
        /// uint8 or float32.
        let wide: Bool

        init(_ items: [Item], options o: Options, matching other: Layout? = nil) throws {
            channels = o.channels
            wide = other?.wide == true || items.contains { $0.depth > 8 }
            if let s = o.size { kind = .resized(s); return }
            let hs = Set(items.map(\.height)), ws = Set(items.map(\.width))
            let sameSize = Set(items.map { [$0.height, $0.width] }).count == 1
            if o.channels == 3 {
                guard sameSize else {
                    throw JouleError("3-channel images are stored at their size (the network reads them so), but these have \(Set(items.map { [$0.height, $0.width] }).count) sizes: give --size S to resize them")
                }
                if case .same(let h, let w)? = other?.kind, (h, w) != (items[0].height, items[0].width) {
                    throw JouleError("3-channel OOD images of \(items[0].height)×\(items[0].width) but the classes' are \(h)×\(w): give --size S")
                }
                kind = .same(items[0].height, items[0].width)
                return
            }
            let hmax = hs.max()!, wmax = ws.max()!
            // Each slot is hmax × wmax: refuse what would not fit in memory later.
            let bytes = items.count.multipliedReportingOverflow(by: hmax * wmax * (wide ? 4 : 1))
            guard !bytes.overflow, bytes.partialValue <= 4 << 30 else {
                throw JouleError("\(items.count) images padded to the largest, \(hmax)×\(wmax), would take over 4 GB: give --size S to store them resized")
            }
            kind = sameSize ? .same(hmax, wmax) : .padded(hmax, wmax)
        }

        var description: String {
            switch kind {
            case .same(let h, let w): "original pixels, all \(h)×\(w)"
            case .padded(let h, let w): "original pixels, each image top-left in a \(h)×\(w) slot, sizes in the split files' last array"
            case .resized(let s): "resized to \(s)×\(s) (shorter side, antialiased) and centre-cropped at import"
            }
        }

        func arrays(_ items: [Item], labels: Bool) -> [NpyArray] {
            let n = items.count
            var out: [NpyArray] = []
            switch kind {
            case .resized(let s):
                let t = Tensor(shape: channels == 1 ? [n, s, s] : [n, channels, s, s])
                let per = channels * s * s
                for (i, item) in items.enumerated() {
                    item.resized.withUnsafeBufferPointer { (t.data + i * per).update(from: $0.baseAddress!, count: per) }
                }
                out.append(NpyArray(t))
            case .same(let h, let w), .padded(let h, let w):
                out.append(pixels(items, slotH: h, slotW: w))
            }
            if labels { out.append(NpyArray(ints: items.map(\.label))) }
            if case .padded = kind { out.append(NpyArray(ints: items.flatMap { [$0.height, $0.width] }, shape: [n, 2])) }
            return out
        }

        /// Original samples: (N, H, W) one channel, (N, H, W, 3) uint8 or (N, 3, H, W) float32 in [-1, 1].
        private func pixels(_ items: [Item], slotH h: Int, slotW w: Int) -> NpyArray {
            let n = items.count
            if channels == 3 && wide {
                let t = Tensor(shape: [n, 3, h, w])
                for (i, item) in items.enumerated() {
                    let scale: Float = item.depth == 8 ? 127.5 : Float((1 << item.depth) - 1) / 2
                    for p in 0..<h * w { for c in 0..<3 { t.data[(i * 3 + c) * h * w + p] = Float(item.samples[p * 3 + c]) / scale - 1 } }
                }
                return NpyArray(t)
            }
            let per = h * w * channels
            if !wide {
                var bytes = [UInt8](repeating: 0, count: n * per)
                for (i, item) in items.enumerated() {
                    let rowLen = item.width * channels
                    for y in 0..<item.height {
                        for x in 0..<rowLen { bytes[i * per + y * w * channels + x] = UInt8(item.samples[y * rowLen + x]) }
                    }
                }
                return NpyArray(uint8: bytes, shape: channels == 1 ? [n, h, w] : [n, h, w, channels])
            }
            let t = Tensor(shape: [n, h, w])
            for (i, item) in items.enumerated() {
                for y in 0..<item.height {
                    for x in 0..<item.width { t.data[i * per + y * w + x] = Float(item.samples[y * item.width + x]) }
                }
            }
            return NpyArray(t)
        }
    }
}
