import ArgumentParser
import Data
import Foundation
import Plot
import Tensor

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Make and inspect data sets in the course layout.",
        subcommands: [Glyphs.self, Show.self, Import.self])
}

extension DataCommand {
    struct Glyphs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Render the built-in corpus of 15th-century glyphs (train/val/test, ood_ta, ood_tb).")

        @Option(help: "Output folder.")
        var out = "data/glyphs"

        @Option(help: "Seed; the same seed gives byte-identical files.")
        var seed: UInt64 = 0

        @Option(help: "Images in train + val + test (split 70/15/15); each OOD set gets 15% of this.")
        var count = GlyphCorpus.defaultCount

        func validate() throws {
            guard count >= 3 else { throw ValidationError("--count must be at least 3, got \(count)") }
        }

        func run() throws {
            do {
                let options = try GlyphCorpus.Options(seed: seed, count: count)
                print("making \(count) glyph images (seed \(seed)) in \(out)")
                let summary = try GlyphCorpus.make(into: out, options: options) { line in
                    print("  " + line)
                    fflush(stdout)
                }
                let sizes = ["train", "val", "test", "ood_ta", "ood_tb"].map { "\($0) \(summary.sizes[$0] ?? 0)" }
                print(String(format: "done in %.1f s: ", summary.seconds) + sizes.joined(separator: ", "))
                print("classes and per-class counts: \(out)/classes.json, \(out)/class_counts.csv")
            } catch let e as JouleError {
                // A missing font or an unwritable folder is not a usage mistake: say what, no usage text.
                FileHandle.standardError.write(Data("joule data glyphs: \(e.message)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}

extension DataCommand {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw a picture of a data folder: one row of training examples per class.")

        @Argument(help: "Data folder with train.npy (and classes.json for the class names).")
        var directory: String

        @Option(help: "Output PNG file.")
        var out: String

        @Option(help: "Examples per class (the first ones in train.npy).")
        var perClass = 8

        @Option(help: "Integer upscaling of each 56×56 image.")
        var scale = 1

        @Option(help: "Grey levels (2…256); fewer make a much smaller file, for documentation.")
        var levels = 256

        @Option(help: "Classes side by side in this many column blocks (default: about a square picture).")
        var blocks: Int?

        func validate() throws {
            guard perClass >= 1, perClass <= 64 else { throw ValidationError("--per-class must be 1…64, got \(perClass)") }
            guard scale >= 1, scale <= 8 else { throw ValidationError("--scale must be 1…8, got \(scale)") }
            guard levels >= 2, levels <= 256 else { throw ValidationError("--levels must be 2…256, got \(levels)") }
            if let b = blocks, b < 1 { throw ValidationError("--blocks must be at least 1, got \(b)") }
            guard out.lowercased().hasSuffix(".png") else { throw ValidationError("--out must name a .png file, got \(out)") }
        }

        func run() throws {
            do {
                let figure = try Self.picture(directory, perClass: perClass, scale: scale, levels: levels, blocks: blocks)
                try figure.save(to: out)
                print("wrote \(out) (\(figure.width)×\(figure.height), \(perClass) per class)")
            } catch let e as JouleError {
                FileHandle.standardError.write(Data("joule data show: \(e.message)\n".utf8))
                throw ExitCode.failure
            }
        }

        /// The picture of a data folder (also the examples picture of `joule data import`).
        static func picture(_ directory: String, perClass: Int = 8, scale: Int = 1, levels: Int = 256,
                            blocks: Int? = nil, title folderName: String? = nil) throws -> Figure {
            let path = URL(fileURLWithPath: directory).appendingPathComponent("train.npy").path
            guard FileManager.default.fileExists(atPath: path) else {
                throw JouleError("\(directory): no train.npy (make a corpus with `joule data glyphs --out \(directory)`)")
            }
            let split = try loadSplit(path)
            guard let labels = split.labels else { throw JouleError("\(path): no labels after the images") }
            let names = try ImageImport.classNames(ofFolder: directory)
            let classes = max(labels.max().map { $0 + 1 } ?? 0, names?.count ?? 0)
            var rows = [[Int]](repeating: [], count: classes)
            for (i, l) in labels.enumerated() where l >= 0 && rows[l].count < perClass { rows[l].append(i) }
            // Classes with no training example still get a (blank) row, so the row labels
            // stay aligned with the class list.
            let labelsText = (0..<classes).map { k in
                let name = names.flatMap { k < $0.count ? $0[k] : nil } ?? String(k)
                return rows[k].isEmpty ? "\(name) (none)" : name
            }
            let title = "\(folderName ?? URL(fileURLWithPath: directory).lastPathComponent): \(split.count) training images, \(classes) classes"
            // Blocks of about (per-class + 1) rows each make a roughly square picture.
            let autoBlocks = max(1, Int((Double(classes) / Double(perClass + 1)).squareRoot().rounded()))
            return try Figure.imageRows(split.images, rows: rows,
                                        options: GridOptions(scale: scale, rowLabels: labelsText, title: title,
                                                             blocks: blocks ?? autoBlocks, levels: levels))
        }

    }
}
