import CLua
import EBM
import Foundation
import Tensor

/// joule.metrics' sample-quality measures: features from the shipped feature network, and FID, KID,
/// precision/recall/density/coverage, class fidelity and within-class diversity (`SampleQuality`).
enum SampleQualityBinding {
    /// The features file when a call names none: the one trained on the built-in corpus.
    static let defaultFeatures = "features/glyphs.safetensors"

    /// A relative path as given when it exists from the working directory, else from the folder
    /// of the repository the binary was built in (…/.build/release/joule), so scripts run from
    /// elsewhere still find the shipped network.
    static func resolve(_ path: String) -> String {
        let fm = FileManager.default
        if path.hasPrefix("/") || fm.fileExists(atPath: path) { return path }
        var dir = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<4 {
            guard let d = dir else { break }
            let candidate = d.appendingPathComponent(path).path
            if fm.fileExists(atPath: candidate) { return candidate }
            dir = d.deletingLastPathComponent()
        }
        return path
    }

    /// Loaded networks by path, with the file's modification date: a script computes features many
    /// times, and a file rewritten meanwhile is read again.
    nonisolated(unsafe) private static var loaded: [String: (date: Date?, network: FeatureNetwork)] = [:]

    static func network(_ options: LuaTable?) throws -> FeatureNetwork {
        let path = resolve(try options?.string("features") ?? defaultFeatures)
        guard FileManager.default.fileExists(atPath: path) else {
            throw JouleError("\(path): no such features file (the shipped one is \(defaultFeatures), made by scripts/features/train_features.lua)")
        }
        let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        if let hit = loaded[path], hit.date == date { return hit.network }
        let net = try FeatureNetwork.load(from: path)
        loaded[path] = (date, net)
        return net
    }

    static func labels(_ call: LuaCall, _ n: Int, _ what: String) throws -> [Int] {
        try LuaTable.integerList(call, n, call.index(n), what, 0...Int(Int32.max))
    }

    static func install(_ lua: LuaState) {
        lua.setFunction("features", qualified: "joule.metrics.features") { call in
            let o = try call.options(2, allowed: ["features"])
            call.push(try network(o).features(try call.tensor(1))); return 1
        }
        lua.setFunction("fid", qualified: "joule.metrics.fid") { call in
            call.push(try SampleQuality.fid(real: try call.tensor(1), fake: try call.tensor(2))); return 1
        }
        lua.setFunction("kid", qualified: "joule.metrics.kid") { call in
            call.push(try SampleQuality.kid(real: try call.tensor(1), fake: try call.tensor(2))); return 1
        }
        lua.setFunction("precision_recall", qualified: "joule.metrics.precision_recall") { call in
            let o = try call.options(3, allowed: ["k"])
            let m = try SampleQuality.precisionRecall(real: try call.tensor(1), fake: try call.tensor(2),
                                                      k: try o?.integer("k", 1...1000) ?? 3)
            call.pushTable { t in
                t.set("precision", m.precision); t.set("recall", m.recall)
                t.set("density", m.density); t.set("coverage", m.coverage)
            }
            return 1
        }
        lua.setFunction("class_fidelity", qualified: "joule.metrics.class_fidelity") { call in
            let o = try call.options(3, allowed: ["features"])
            let asked = try labels(call, 2, "labels")
            let net = try network(o)
            guard asked.allSatisfy({ $0 < net.classes }) else {
                throw JouleError("class_fidelity: labels must lie in 0..<\(net.classes) (the feature network's classes)")
            }
            call.push(try SampleQuality.classFidelity(predicted: try net.predict(try call.tensor(1)), asked: asked)); return 1
        }
        lua.setFunction("diversity", qualified: "joule.metrics.diversity") { call in
            let fakeLabels = try labels(call, 2, "sample labels"), realLabels = try labels(call, 4, "real labels")
            let classes = (fakeLabels + realLabels).max().map { $0 + 1 } ?? 0
            let d = try SampleQuality.diversity(fake: try call.tensor(1), fakeLabels: fakeLabels, real: try call.tensor(3),
                                                realLabels: realLabels, classes: classes)
            call.push(d.ratio)
            call.push(d.perClass.map { $0 ?? .nan })
            return 2
        }
        lua.setFunction("sample_quality", qualified: "joule.metrics.sample_quality") { call in
            let o = try call.options(3, allowed: ["labels", "real_labels", "features", "k"])
            let net = try network(o)
            let (fake, real) = (try call.tensor(1), try call.tensor(2))
            let (ff, rf) = (try net.features(fake), try net.features(real))
            let k = try o?.integer("k", 1...1000) ?? 3
            let fid = try SampleQuality.fid(real: rf, fake: ff)
            let kid = try SampleQuality.kid(real: rf, fake: ff)
            let m = try SampleQuality.precisionRecall(real: rf, fake: ff, k: k)
            var classed: (fidelity: Double, diversity: SampleQuality.Diversity)?
            if let asked = try o?.integers("labels", 0...Int(Int32.max)) {
                guard asked.count == ff.shape[0] else { throw JouleError("sample_quality: \(asked.count) labels for \(ff.shape[0]) samples") }
                guard let realLabels = try o?.integers("real_labels", 0...Int(Int32.max)) else {
                    throw JouleError("sample_quality: give real_labels with labels (diversity compares each class with its real images)")
                }
                guard asked.allSatisfy({ $0 < net.classes }) else {
                    throw JouleError("sample_quality: labels must lie in 0..<\(net.classes) (the feature network's classes)")
                }
                classed = (try SampleQuality.classFidelity(predicted: try net.predict(fake), asked: asked),
                           try SampleQuality.diversity(fake: ff, fakeLabels: asked, real: rf, realLabels: realLabels,
                                                       classes: Swift.max(net.classes, (realLabels.max() ?? 0) + 1)))
            }
            call.pushTable { t in
                t.set("fid", fid); t.set("kid", kid)
                t.set("precision", m.precision); t.set("recall", m.recall)
                t.set("density", m.density); t.set("coverage", m.coverage)
                t.set("n", ff.shape[0]); t.set("n_real", rf.shape[0])
                if let classed {
                    t.set("class_fidelity", classed.fidelity)
                    t.set("diversity", classed.diversity.ratio)
                    t.set("diversity_per_class", classed.diversity.perClass.map { $0 ?? .nan })
                }
            }
            return 1
        }
    }
}

extension SampleQualityBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
        ("joule.metrics.features", "joule.metrics.features(images [, { features = FILE }]) → (N, F) tensor",
         "Features of images from the feature network (default features/glyphs.safetensors: 64 features of a classifier trained on the built-in glyph corpus, made by scripts/features/train_features.lua): the input of the network's last Linear layer. Any Sequential ending in a Linear, saved with joule.nn's architecture, can serve for other data."),
        ("joule.metrics.fid", "joule.metrics.fid(real, fake) → number",
         "Fréchet distance between two feature sets ((N, D) and (M, D) tensors, more than D rows each): ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2·(Σ_r Σ_f)^½), covariances with ddof 1, as pytorch-fid computes it. Lower is better."),
        ("joule.metrics.kid", "joule.metrics.kid(real, fake) → number",
         "Kernel inception distance: the unbiased MMD² between two feature sets with the kernel (aᵀb / D + 1)³. Near 0 for sets from one distribution (it can be slightly negative)."),
        ("joule.metrics.precision_recall", "joule.metrics.precision_recall(real, fake [, { k = 3 }]) → { precision, recall, density, coverage }",
         "Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020) of sampled features against real ones, with k nearest neighbours: low recall and coverage with high precision mean collapsed samples."),
        ("joule.metrics.class_fidelity", "joule.metrics.class_fidelity(images, labels [, { features = FILE }]) → number",
         "The share of images that the feature network classifies as the class given for each (for class-conditional samples: the class asked for). On real test images it is the feature network's test accuracy."),
        ("joule.metrics.diversity", "joule.metrics.diversity(fake_features, fake_labels, real_features, real_labels) → ratio, per_class",
         "Within-class diversity: per class, the mean pairwise feature distance of its samples over that of its real images (nan where either has fewer than two), and their mean over classes. 1: as varied as the data; near 0: copies of one sample."),
        ("joule.metrics.sample_quality", "joule.metrics.sample_quality(samples, real [, { labels, real_labels, features, k = 3 }]) → table",
         "Everything at once from images: fid, kid, precision, recall, density, coverage (and n, n_real); with the samples' labels and the real images' labels also class_fidelity, diversity and diversity_per_class."),
    ]
}
