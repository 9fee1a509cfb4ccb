import Formats
import Foundation
import Tensor

/// The built-in stand-in for the course's glyph scans: letters of 15th-century typefaces rendered
/// with FreeType and degraded like scans, written in the course layout (`train.npy`, `val.npy`,
/// `test.npy`, `ood_ta.npy`, `ood_tb.npy`, each images (N, 72, 60) uint8 then int64 labels).
///
/// Raw images are 72×60 (taller than wide, like a letter's slot in a line): every array in a file
/// must share one size, and a size other than 56×56 keeps the loader's transform honest
/// (min-max, antialiased resize of the shorter side to 56, centre crop).
public enum GlyphCorpus {
    public static let imageHeight = 72
    public static let imageWidth = 60
    /// The size glyphs are rendered at; crop windows span 0.7–1.6 of it.
    static let pixelSize = 48
    public static let defaultCount = 16_171
    /// Fraction of the corpus in each of val and test; each OOD set has as many images as val.
    public static let heldOutFraction = 0.15

    public static let periodFontDirectory = "/usr/share/fonts/opentype/gotico-antiqua"
    public static let blankenburgFont = "/usr/share/fonts/truetype/blankenburg/Blankenburg_UNZ1A.ttf"
    public static let modernFonts = ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                                     "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]

    public struct Options {
        public var seed: UInt64
        /// Images in train + val + test.
        public var count: Int
        /// Period typefaces for the 42 classes and ood_ta.
        public var fonts: [String]
        /// Modern typefaces for ood_tb.
        public var modernFonts: [String]

        public init(seed: UInt64 = 0, count: Int = GlyphCorpus.defaultCount,
                    fonts: [String]? = nil, modernFonts: [String] = GlyphCorpus.modernFonts) throws {
            guard count >= 3 else { throw JouleError("corpus size must be at least 3 images, got \(count)") }
            self.seed = seed
            self.count = count
            self.fonts = try fonts ?? GlyphCorpus.periodFonts()
            self.modernFonts = modernFonts
        }
    }

    /// What was written, for progress output and tests.
    public struct Summary {
        public let directory: String
        /// Images per split file, by file stem.
        public let sizes: [String: Int]
        /// Images per class (the 42) in train, val, test and ood_tb.
        public let classCounts: [String: [Int]]
        /// The glyphs ood_ta draws from (label 42 + index into `GlyphClasses.outside`).
        public let outsideGlyphs: [Character]
        public let seconds: Double
    }

    /// The typefaces of fonts-gotico-antiqua (without its decorative initials, which are pictures
    /// rather than letters) and fonts-blankenburg, in a fixed order.
    public static func periodFonts() throws -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: periodFontDirectory)) ?? []
        let gotico = files.filter { $0.hasSuffix(".otf") && !$0.contains("Initials") }.sorted()
        guard !gotico.isEmpty else {
            throw JouleError("no fonts in \(periodFontDirectory): install Debian's fonts-gotico-antiqua (scripts/setup does)")
        }
        return gotico.map { periodFontDirectory + "/" + $0 } + [blankenburgFont]
    }

    /// True when `directory` holds every split file of the course layout.
    public static func isComplete(_ directory: String) -> Bool {
        CourseData.splitNames.allSatisfy {
            FileManager.default.fileExists(atPath: URL(fileURLWithPath: directory).appendingPathComponent($0 + ".npy").path)
        }
    }

    /// Makes the default corpus in `directory` unless it is already there; true when it was made.
    @discardableResult
    public static func makeIfMissing(_ directory: String, seed: UInt64 = 0,
                                     progress: (String) -> Void = { _ in }) throws -> Bool {
        if isComplete(directory) { return false }
        progress("no glyph corpus in \(directory): making it")
        try make(into: directory, options: Options(seed: seed), progress: progress)
        return true
    }

    /// Renders the corpus into `directory` (created if needed; existing files are replaced).
    @discardableResult
    public static func make(into directory: String, options: Options,
                            progress: (String) -> Void = { _ in }) throws -> Summary {
        let start = Date()
        // Fail on an unusable folder before spending time on rendering.
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw JouleError("cannot create the output folder \(directory): \(error.localizedDescription)")
        }
        let period = try FontSet(paths: options.fonts, characters: GlyphClasses.classes + GlyphClasses.outside)
        let modern = try FontSet(paths: options.modernFonts, characters: GlyphClasses.classes)
        progress("rendered glyphs of \(period.names.count) period and \(modern.names.count) modern fonts")

        let classFonts = try GlyphClasses.classes.map { try period.fonts(having: $0, required: true) }
        let modernClassFonts = try GlyphClasses.classes.map { try modern.fonts(having: $0, required: true) }
        let outside = GlyphClasses.outside.filter { !((try? period.fonts(having: $0, required: false)) ?? []).isEmpty }
        guard !outside.isEmpty else { throw JouleError("none of the fonts has a glyph outside the 42 classes for ood_ta") }

        let counts = GlyphClasses.counts(total: options.count)
        let parts = Stratify.split(counts, fraction: heldOutFraction)
        let oodCount = Stratify.heldOut(options.count, fraction: heldOutFraction)
        let order = RNG(seed: mix(options.seed, 0, 0))
        func labels(_ perClass: [Int]) -> [Int] {
            let l = perClass.enumerated().flatMap { Array(repeating: $0.offset, count: $0.element) }
            return order.permutation(l.count).map { l[$0] }
        }

        var classCounts: [String: [Int]] = [:]
        var sizes: [String: Int] = [:]
        let jobs: [(name: String, stream: UInt64, labels: [Int])] = [
            ("train", 1, labels(parts.map(\.train))),
            ("val", 2, labels(parts.map(\.val))),
            ("test", 3, labels(parts.map(\.test))),
        ]
        for job in jobs {
            let t = Date()
            let images = render(job.labels, seed: options.seed, stream: job.stream) { label, rng in
                let c = GlyphClasses.classes[label]
                return period.bitmaps(c, font: classFonts[label][rng.int(classFonts[label].count)])
            }
            try write(images, labels: job.labels, to: directory, name: job.name)
            classCounts[job.name] = histogram(job.labels)
            sizes[job.name] = job.labels.count
            progress("\(job.name).npy: \(job.labels.count) images (\(elapsed(t)))")
        }

        // ood_ta: the same typefaces, glyphs outside the classes; labels 42 + index into `outside`.
        do {
            let t = Date()
            let choice = RNG(seed: mix(options.seed, 4, UInt64.max))
            let glyphs = (0..<oodCount).map { _ in outside[choice.int(outside.count)] }
            let oodLabels = glyphs.map { GlyphClasses.classes.count + GlyphClasses.outside.firstIndex(of: $0)! }
            let images = render(oodLabels, seed: options.seed, stream: 4) { label, rng in
                let c = GlyphClasses.outside[label - GlyphClasses.classes.count]
                let fonts = (try? period.fonts(having: c, required: false)) ?? []
                return period.bitmaps(c, font: fonts[rng.int(fonts.count)])
            }
            try write(images, labels: oodLabels, to: directory, name: "ood_ta")
            sizes["ood_ta"] = oodCount
            progress("ood_ta.npy: \(oodCount) images of \(outside.count) glyphs outside the classes (\(elapsed(t)))")
        }
        // ood_tb: the 42 classes, in the same proportions, in a modern typeface.
        do {
            let t = Date()
            let oodLabels = labels(GlyphClasses.apportion(oodCount, counts.map { Double($0) / Double(options.count) }))
            let images = render(oodLabels, seed: options.seed, stream: 5) { label, rng in
                let c = GlyphClasses.classes[label]
                return modern.bitmaps(c, font: modernClassFonts[label][rng.int(modernClassFonts[label].count)])
            }
            try write(images, labels: oodLabels, to: directory, name: "ood_tb")
            classCounts["ood_tb"] = histogram(oodLabels)
            sizes["ood_tb"] = oodCount
            progress("ood_tb.npy: \(oodCount) images in \(modern.names.joined(separator: ", ")) (\(elapsed(t)))")
        }

        try writeManifest(to: directory, options: options, period: period, modern: modern,
                          outside: outside, classCounts: classCounts)
        return Summary(directory: directory, sizes: sizes, classCounts: classCounts, outsideGlyphs: outside,
                       seconds: Date().timeIntervalSince(start))
    }

    /// Renders one image per label, in parallel; each image draws from its own generator seeded
    /// by (seed, split, index), so the bytes do not depend on how the work is scheduled.
    private static func render(_ labels: [Int], seed: UInt64, stream: UInt64,
                               glyphs: (Int, RNG) -> (target: GlyphBitmap, neighbours: [GlyphBitmap])) -> [UInt8] {
        let h = imageHeight, w = imageWidth
        var out = [UInt8](repeating: 0, count: labels.count * h * w)
        out.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            Parallel.chunks(labels.count, minChunk: 64) { range in
                var degrade = ScanDegradation(width: w, height: h)
                let ink = UnsafeMutablePointer<Float>.allocate(capacity: h * w)
                defer { ink.deallocate() }
                for i in range {
                    let rng = RNG(seed: mix(seed, stream, UInt64(i)))
                    let (target, neighbours) = glyphs(labels[i], rng)
                    let scene = GlyphScene(target: target, neighbours: neighbours, pixelSize: pixelSize,
                                           aspect: Float(w) / Float(h), rng: rng)
                    scene.render(width: w, height: h, into: ink)
                    degrade.apply(ink: ink, rng: rng, into: base + i * h * w)
                }
            }
        }
        return out
    }

    private static func write(_ images: [UInt8], labels: [Int], to directory: String, name: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(name + ".npy").path
        try Npy.write([NpyArray(uint8: images, shape: [labels.count, imageHeight, imageWidth]),
                       NpyArray(ints: labels)], to: path)
    }

    private static func writeManifest(to directory: String, options: Options, period: FontSet, modern: FontSet,
                                      outside: [Character], classCounts: [String: [Int]]) throws {
        let dir = URL(fileURLWithPath: directory)
        let manifest = JSON.object([
            "classes": .strings(GlyphClasses.classes.map(String.init)),
            "ood_ta_glyphs": .strings(outside.map(String.init)),
            "ood_ta_label_offset": .int(GlyphClasses.classes.count),
            "ood_ta_labels": .string("42 + index into outside_glyphs"),
            "outside_glyphs": .strings(GlyphClasses.outside.map(String.init)),
            "image_size": .ints([imageHeight, imageWidth]),
            "seed": .integer(options.seed),
            "count": .int(options.count),
            "fonts": .strings(period.names),
            "ood_tb_fonts": .strings(modern.names),
            "class_counts": .object(classCounts.mapValues(JSON.ints)),
        ])
        // No final newline: the file keeps the bytes it had when Foundation wrote it.
        try AtomicFile.write(Data(manifest.serialized(.file).utf8), to: dir.appendingPathComponent("classes.json").path)

        var csv = "class,train,val,test,ood_tb\n"
        for (k, c) in GlyphClasses.classes.enumerated() {
            csv += "\(c),\(["train", "val", "test", "ood_tb"].map { String(classCounts[$0]?[k] ?? 0) }.joined(separator: ","))\n"
        }
        try AtomicFile.write(Data(csv.utf8), to: dir.appendingPathComponent("class_counts.csv").path)
    }

    private static func histogram(_ labels: [Int]) -> [Int] {
        var h = [Int](repeating: 0, count: GlyphClasses.classes.count)
        for l in labels where l < h.count { h[l] += 1 }
        return h
    }

    private static func elapsed(_ t: Date) -> String { String(format: "%.2f s", Date().timeIntervalSince(t)) }

    /// Seeds for independent streams (SplitMix64 finaliser over the combined words).
    static func mix(_ seed: UInt64, _ stream: UInt64, _ index: UInt64) -> UInt64 {
        var z = seed &+ 0x9E37_79B9_7F4A_7C15 &* (stream &+ 1)
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z ^= index &* 0xD1B5_4A32_D192_ED03
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
