import CLua
import Data
import Foundation
import Tensor

/// joule.data: folders in the course layout and seeded batches. A split is a plain Lua table
/// `{ images = Tensor (N, 1, 56, 56), labels = { class ids } or nil, path = "…" }`, so scripts can
/// make their own.
enum DataBinding {
    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.setFunction("load", qualified: "joule.data.load") { call in
            // Every split of a folder: train, val, test, ood_ta, ood_tb; or of an image folder
            // (class subfolders, imported in memory) or a folder `joule data import` made.
            let directory = try call.string(1)
            if let splits = try ImageImport.splits(ofFolder: directory) {
                call.pushTable { _ in }
                for (name, split) in splits {
                    push(call, split)
                    lua_setfield(call.L, -2, name)
                }
                return 1
            }
            let data = try CourseData(directory: directory)
            call.pushTable { _ in }
            for name in CourseData.splitNames {
                push(call, data[name]!)
                lua_setfield(call.L, -2, name)
            }
            return 1
        }
        lua.setFunction("classes", qualified: "joule.data.classes") { call in
            guard let names = try ImageImport.classNames(ofFolder: try call.string(1)) else { call.pushNil(); return 1 }
            call.push(names); return 1
        }
        lua.setFunction("load_split", qualified: "joule.data.load_split") { call in
            push(call, try loadSplit(try call.string(1))); return 1
        }
        lua.setFunction("batches", qualified: "joule.data.batches") { call in
            // for x, y, i in joule.data.batches(split, 32, { shuffle = true, drop_last = false, seed = n }) do … end
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: false)
            let size = try call.integer(2, 1...Int.max)
            let o = try call.options(3, allowed: ["shuffle", "drop_last", "seed"])
            let shuffle = try o?.boolean("shuffle") ?? true
            let rng = shuffle ? try EngineBindings.rng(o, context) : nil
            let batches = try Batches(count: images.shape.first ?? 0, batchSize: size, shuffle: rng,
                                      dropLast: try o?.boolean("drop_last") ?? false)
            call.push(object: BatchIterator(images: images, labels: labels, batches: batches), type: iteratorType)
            return 1
        }
        var it = LuaClass(name: iteratorType)
        // The generic `for` calls the iterator value itself: __call yields the next batch.
        it.meta("__call") { call in
            let b = try call.object(1, iteratorType, as: BatchIterator.self)
            guard b.next < b.batches.count else { call.pushNil(); return 1 }
            let idx = b.batches.batches[b.next]
            b.next += 1
            call.push(try b.images.gather(idx))
            if let labels = b.labels { call.push(idx.map { labels[$0] }) } else { call.pushNil() }
            call.push(b.next)
            return 3
        }
        it.meta("__len") { call in call.push(try call.object(1, iteratorType, as: BatchIterator.self).batches.count); return 1 }
        lua.define(it)
    }

    static let iteratorType = "Batches"

    final class BatchIterator {
        let images: Tensor
        let labels: [Int]?
        let batches: Batches
        var next = 0
        init(images: Tensor, labels: [Int]?, batches: Batches) {
            self.images = images; self.labels = labels; self.batches = batches
        }
    }

    static func push(_ call: LuaCall, _ s: Split) {
        call.pushTable { t in
            t.set("images", s.images)
            t.set("path", s.path)
            t.set("n", s.count)
        }
        if let labels = s.labels {
            call.push(labels)
            lua_setfield(call.L, -2, "labels")
        }
    }
}

extension DataBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.data
    ("joule.data", "joule.data", "Data in the course layout (train, val, test, ood_ta, ood_tb .npy files) and batches. A split is a table { images = Tensor (N, 1, 56, 56), labels = { class ids }, n, path }."),
    ("joule.data.load", "joule.data.load(dir) → { train, val, test, ood_ta, ood_tb }",
     "Every split of a folder in the course layout, transformed as the course does (per-image min-max, resize shorter side to 56 with antialiasing, center crop, [-1, 1]). Make a stand-in folder with `joule data glyphs`. A folder of images with one subfolder per class (PNG, JPEG, TIFF) is imported in memory as `joule data import` does with its defaults (70/15/15, seed 0, greyscale) → { train, val, test }; a folder that command made gives train, val, test and its ood_* sets."),
    ("joule.data.classes", "joule.data.classes(dir) → { names } or nil",
     "The class names of a data folder in label order: the `classes` list of its classes.json (what `joule data glyphs` and `joule data import` write), or a folder of class subfolders' names in the order the import labels them; nil when the folder does not say. Their number is the class count even when a class has no images in a split (labels alone would undercount; train_jem.lua uses it)."),
    ("joule.data.load_split", "joule.data.load_split(path) → split", "One .npy split file (images, then optional labels, then for images of different sizes their (N, 2) sizes), transformed as joule.data.load does."),
    ("joule.data.batches", "joule.data.batches(split, size [, { shuffle = true, drop_last = false, seed = n }]) → iterator",
     "For `for x, y, i in joule.data.batches(split, 32) do ... end`: batches of images (a Tensor) and their labels, seeded shuffling."),
    ("Batches", "Batches", "The iterator joule.data.batches returns; #it is the number of batches."),
    ]
}
