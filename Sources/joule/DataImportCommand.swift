import ArgumentParser
import Data
import Foundation
import Plot
import Tensor

extension DataCommand {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a folder of images (one subfolder per class) into the course layout.",
            discussion: """
                PNG, JPEG and TIFF files (any name; the format is read from the content), class ids in sorted \
                folder order as torchvision's ImageFolder. Writes train/val/test.npy, classes.json, card.md \
                (counts, sizes, skipped files and why) and examples.png; OUT is replaced as a whole.
                """)

        @Argument(help: "Folder with one subfolder of images per class.")
        var directory: String

        @Option(help: "Output folder (replaced as a whole; refused if it holds files an import did not make).")
        var out: String

        @Option(help: "Percentages of train/val/test, stratified by class.")
        var split = "70/15/15"

        @Option(help: "Seed of the split; the same inputs and seed give byte-identical files.")
        var seed: UInt64 = 0

        @Option(parsing: .upToNextOption, help: "Folders of out-of-distribution images (every file below each), written as ood_<folder name>.npy; NAME=DIR writes ood_NAME.npy (ta=DIR and tb=DIR: the sets scripts/ood.lua scores).")
        var ood: [String] = []

        @Option(help: "1: greyscale (Pillow's convert(\"L\")); 3: RGB.")
        var channels = 1

        @Option(help: "Store images resized to SIZE×SIZE (shorter side, then centre crop) instead of their original pixels: smaller, not exact.")
        var size: Int?

        @Option(help: "Refuse images whose header declares more pixels than this.")
        var maxPixels = ImageImport.Options().maxPixels

        func validate() throws {
            guard channels == 1 || channels == 3 else { throw ValidationError("--channels must be 1 or 3, got \(channels)") }
            if let s = size, !(1...4096).contains(s) { throw ValidationError("--size must be 1…4096, got \(s)") }
            guard maxPixels >= 1 else { throw ValidationError("--max-pixels must be at least 1") }
            _ = try parsedSplit()
        }

        func parsedSplit() throws -> (train: Int, val: Int, test: Int) {
            let parts = split.split(separator: "/").map { Int($0) }
            guard parts.count == 3, let tr = parts[0], let va = parts[1], let te = parts[2],
                  tr > 0, va >= 0, te >= 0, tr + va + te == 100 else {
                throw ValidationError("--split must be three percentages TRAIN/VAL/TEST summing to 100 (train above 0), got \(split)")
            }
            return (tr, va, te)
        }

        func run() throws {
            do {
                var options = ImageImport.Options()
                options.split = try parsedSplit()
                options.seed = seed
                options.channels = channels
                options.size = size
                options.ood = ood
                options.maxPixels = maxPixels
                let imported = try ImageImport.read(directory, options: options)
                let name = URL(fileURLWithPath: out).lastPathComponent
                var pictureProblem: String?
                try ImageImport.write(imported, to: out) { staging in
                    // The picture is a convenience: one that cannot be drawn (thousands of classes) leaves
                    // the data as it is.
                    do {
                        let figure = try Show.picture(staging, perClass: 8, title: name)
                        try figure.save(to: staging + "/examples.png")
                        return "\n## Examples\n\nThe first training images of each class, as the course transform gives them:\n\n![Examples per class](examples.png)\n"
                    } catch let e as JouleError { pictureProblem = e.message; return "" }
                }
                let counts = imported.splits.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
                let skipped = imported.card.components(separatedBy: "\n").first { $0.hasPrefix("## Skipped files") } ?? ""
                let n = imported.classes.count
                print("imported \(n) class\(n == 1 ? "" : "es") from \(directory) into \(out): \(counts)")
                let examples = pictureProblem.map { "no examples picture (\($0))" } ?? "examples: \(out)/examples.png"
                print("data card: \(out)/card.md (\(skipped.replacingOccurrences(of: "## ", with: "").lowercased())); \(examples)")
            } catch let e as JouleError {
                ProgressBar.endLine()
                FileHandle.standardError.write(Data("joule data import: \(e.message)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}
