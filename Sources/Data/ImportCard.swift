import Foundation
import ImageFiles

extension ImageImport {
    /// The data card (`card.md`): what was imported, how it was split and stored, the image sizes,
    /// and every file that was skipped with the reason. No dates or timings, so a second import of the
    /// same folder gives the same bytes.
    enum Card {
        static func text(directory: String, classes: [String], splits: [SplitArrays], survey: Survey,
                         oodRows: [(file: String, folder: String, count: Int, skipped: Int)],
                         options o: Options, layout: Layout) -> String {
            var s = "# Data card: \(URL(fileURLWithPath: directory).lastPathComponent)\n\n"
            let total = splits.prefix(3).map(\.count).reduce(0, +)
            let oodFiles = oodRows.isEmpty ? "" : " (with the OOD folders)"
            s += "Made by `joule data import` from `\(directory)`: \(survey.files) files\(oodFiles), \(total) images in \(classes.count) classes"
            s += " (class ids in sorted folder order, as torchvision's ImageFolder), split \(o.split.train)/\(o.split.val)/\(o.split.test)"
            s += " stratified by class with seed \(o.seed); \(o.channels == 1 ? "greyscale (Pillow's convert(\"L\"))" : "RGB"); stored as \(layout.description).\n\n"

            s += "## Classes and splits\n\n| id | class | train | val | test | all |\n| ---: | --- | ---: | ---: | ---: | ---: |\n"
            var sums = [0, 0, 0]
            for (k, name) in classes.enumerated() {
                let c = (0..<3).map { splits[$0].classCounts![k] }
                for j in 0..<3 { sums[j] += c[j] }
                let all = c.reduce(0, +)
                s += "| \(k) | \(escape(name))\(all == 0 ? " (no usable images)" : "") | \(c[0]) | \(c[1]) | \(c[2]) | \(all) |\n"
            }
            s += "| | all | \(sums[0]) | \(sums[1]) | \(sums[2]) | \(sums.reduce(0, +)) |\n\n"

            if !oodRows.isEmpty {
                s += "## Out-of-distribution sets\n\n| file | folder | images | skipped |\n| --- | --- | ---: | ---: |\n"
                for r in oodRows { s += "| \(r.file).npy | `\(r.folder)` | \(r.count) | \(r.skipped) |\n" }
                s += "\n"
            }

            s += "## Images (classes and OOD sets)\n\n"
            s += "Formats: " + list(survey.formats) + ". Colour: " + list(survey.kinds) + ". Bits per sample in the files: "
            s += survey.depths.keys.sorted().map { "\($0): \(survey.depths[$0]!)" }.joined(separator: ", ") + ".\n\n"
            let sizes = survey.sizes
            if let first = sizes.first {
                var counts: [[Int]: Int] = [:]
                for z in sizes { counts[z, default: 0] += 1 }
                let common = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.lexicographicallyPrecedes($1.key) }
                let areas = sizes.map { $0[0] * $0[1] }
                let smallest = sizes[areas.firstIndex(of: areas.min()!)!], largest = sizes[areas.firstIndex(of: areas.max()!)!]
                s += "Sizes (height × width, every image of every set): \(counts.count) distinct; smallest \(smallest[0])×\(smallest[1]), largest \(largest[0])×\(largest[1])"
                s += counts.count == 1 ? " (all \(first[0])×\(first[1])).\n\n" : ". Most common: " + common.prefix(8).map { "\($0.key[0])×\($0.key[1]) (\($0.value))" }.joined(separator: ", ") + ".\n\n"
                s += "| side (pixels) | shorter side | longer side |\n| --- | ---: | ---: |\n"
                let shorter = histogram(sizes.map { min($0[0], $0[1]) }), longer = histogram(sizes.map { max($0[0], $0[1]) })
                for (k, label) in binLabels.enumerated() where shorter[k] + longer[k] > 0 {
                    s += "| \(label) | \(shorter[k]) | \(longer[k]) |\n"
                }
                s += "\n"
            }

            s += "## Skipped files (\(survey.skipped.count))\n\n"
            if survey.skipped.isEmpty { s += "None.\n" }
            for k in survey.skipped { s += "- `\(escape(k.name))`: \(k.reason)\n" }
            if !survey.notes.isEmpty {
                s += "\n## Notes\n\n"
                for n in survey.notes { s += "- \(n)\n" }
            }
            return s
        }

        /// Bins of the side-length histogram: powers of two.
        static let binEdges = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        static var binLabels: [String] {
            ["< 16"] + zip(binEdges, binEdges.dropFirst()).map { "\($0)–\($1 - 1)" } + ["≥ 4096"]
        }

        static func histogram(_ values: [Int]) -> [Int] {
            var h = [Int](repeating: 0, count: binEdges.count + 1)
            for v in values { h[binEdges.firstIndex { v < $0 } ?? binEdges.count] += 1 }
            return h
        }

        static func list(_ d: [String: Int]) -> String {
            d.isEmpty ? "none" : d.keys.sorted().map { "\($0) \(d[$0]!)" }.joined(separator: ", ")
        }

        /// Names inside Markdown code spans and tables: backticks and pipes would break them.
        static func escape(_ s: String) -> String {
            s.replacingOccurrences(of: "`", with: "'").replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "\n", with: "\\n")
        }
    }
}
