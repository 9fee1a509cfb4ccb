import ArgumentParser
import Data
import Foundation
import Tensor

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Make and inspect data sets in the course layout.",
        subcommands: [Glyphs.self])
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
