import Formats
import Foundation
import Tensor

/// One split of a data set in the course layout: transformed images and, when the file has
/// them, their labels.
public struct Split {
    /// (N, 1, 56, 56) in [-1, 1], after the course transform; C-channel images (N, C, H, W) as stored.
    public let images: Tensor
    /// One label per image; nil for a file that stores images only (OOD sets may).
    public let labels: [Int]?
    /// The file it came from, for messages.
    public let path: String

    public var count: Int { images.shape[0] }
    /// Class ids lie in 0..<maxClasses, the most classes a model can have: a label is an index
    /// (into replay pools, rows of pictures, confusion matrices), so one from a file is checked once here.
    public static let maxClasses = 100_000

    public init(images: Tensor, labels: [Int]?, path: String = "") {
        self.images = images
        self.labels = labels
        self.path = path
    }

    /// The images and labels at `indices`, in that order (a batch).
    public func batch(_ indices: [Int]) throws -> (images: Tensor, labels: [Int]?) {
        let x = try images.gather(indices)
        return (x, labels.map { l in indices.map { l[$0] } })
    }
}

/// Loads one split file: an image array (N, H, W) or (N, 1, H, W) of uint8, float32 or float64
/// (through the course transform), or C-channel images (N, H, W, C) uint8 or (N, C, H, W) float (see
/// `ChannelImages`), optionally followed in the same file by an integer label array (N), and, for
/// images of different sizes (`joule data import`), by their sizes (N, 2): each image is then the
/// top-left height × width of its (N, H, W) slot and goes through the transform at that size.
public func loadSplit(_ path: String) throws -> Split {
    try loadSplit(arrays: try Npy.read(path), path: path)
}

/// `loadSplit` of arrays already read (an image folder imported in memory).
public func loadSplit(arrays: [NpyArray], path: String) throws -> Split {
    func fail(_ problem: String) -> JouleError { JouleError("\(path): \(problem)") }
    guard !arrays.isEmpty else { throw fail("no arrays in the file") }
    // Sizes are the one (N, 2) integer array after the images.
    var arrays = arrays
    var sizes: NpyArray?
    if arrays.count >= 2, let last = arrays.last, last.shape.count == 2, last.shape[1] == 2,
       last.dtype == .int64 || last.dtype == .int32 {
        sizes = arrays.removeLast()
    }
    guard arrays.count <= 2 else {
        throw fail("expected images and optionally labels, found \(arrays.count) arrays")
    }
    let images = arrays[0]
    let multiChannel: Tensor?
    do { multiChannel = try ChannelImages.images(images) } catch let e as JouleError { throw fail(e.message) }
    let images4 = images.shape.count == 4 && images.shape[1] == 1
    // (N, 1, W, C) uint8 reads both as one-channel (N, 1, H, W) images and as one-row images of C
    // channels; no course image is a few pixels wide, so such a shape is refused, not guessed.
    if images4, images.dtype == .uint8, images.shape[3] <= 4 {
        throw fail("uint8 images of shape \(images.shape) are ambiguous: one-channel images of width \(images.shape[3]) or one-row images of \(images.shape[3]) channels; store one-channel images as (N, H, W) and C-channel ones as (N, H, W, C) with H > 1")
    }
    guard images.shape.count == 3 || images4 || multiChannel != nil else {
        throw fail("images must have shape (N, H, W), (N, 1, H, W), (N, H, W, C) uint8 or (N, C, H, W) float, got \(images.shape)")
    }
    guard [.uint8, .float32, .float64].contains(images.dtype) else {
        throw fail("images must be uint8, float32 or float64, got \(images.dtype.name)")
    }
    var labels: [Int]?
    if arrays.count == 2 {
        let l = arrays[1]
        guard l.dtype == .int64 || l.dtype == .int32 else {
            throw fail("labels must be int64 (or int32), got \(l.dtype.name)")
        }
        guard l.shape.count == 1 else { throw fail("labels must have shape (N), got \(l.shape)") }
        guard l.shape[0] == images.shape[0] else {
            throw fail("\(images.shape[0]) images but \(l.shape[0]) labels")
        }
        do { labels = try l.ints() } catch let e as JouleError { throw fail("labels: " + e.message) }
        if let bad = labels?.firstIndex(where: { !(0..<Split.maxClasses).contains($0) }) {
            throw fail("label \(labels![bad]) at \(bad) is not a class id in 0...\(Split.maxClasses - 1)")
        }
    }
    if let sizes {
        guard multiChannel == nil else { throw fail("image sizes are for one-channel (N, H, W) images, got \(images.shape)") }
        let x: Tensor
        do { x = try CourseTransform.apply(images, sizes: sizes) } catch let e as JouleError { throw fail(e.message) }
        return Split(images: x, labels: labels, path: path)
    }
    if let x = multiChannel { return Split(images: x, labels: labels, path: path) }
    let x: Tensor
    do { x = try CourseTransform.apply(images) } catch let e as JouleError { throw fail(e.message) }
    return Split(images: x, labels: labels, path: path)
}

/// A folder in the course layout: `train.npy`, `val.npy`, `test.npy` (images then labels) and the
/// two out-of-distribution sets `ood_ta.npy`, `ood_tb.npy` (labels optional).
public struct CourseData {
    public static let splitNames = ["train", "val", "test", "ood_ta", "ood_tb"]
    public let train: Split
    public let val: Split
    public let test: Split
    public let oodTA: Split
    public let oodTB: Split

    public init(directory: String) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw JouleError("\(directory): no such data folder (expected train.npy, val.npy, test.npy, ood_ta.npy, ood_tb.npy)")
        }
        let missing = Self.splitNames.filter {
            !FileManager.default.fileExists(atPath: Self.path(directory, $0))
        }
        guard missing.isEmpty else {
            throw JouleError("\(directory): missing \(missing.map { $0 + ".npy" }.joined(separator: ", "))")
        }
        func labelled(_ name: String) throws -> Split {
            let s = try loadSplit(Self.path(directory, name))
            guard s.labels != nil else { throw JouleError("\(s.path): expected labels after the images") }
            return s
        }
        train = try labelled("train")
        val = try labelled("val")
        test = try labelled("test")
        oodTA = try loadSplit(Self.path(directory, "ood_ta"))
        oodTB = try loadSplit(Self.path(directory, "ood_tb"))
    }

    static func path(_ dir: String, _ name: String) -> String {
        URL(fileURLWithPath: dir).appendingPathComponent(name + ".npy").path
    }

    /// The split by its file name (`train`, `val`, `test`, `ood_ta`, `ood_tb`).
    public subscript(name: String) -> Split? {
        switch name {
        case "train": train
        case "val": val
        case "test": test
        case "ood_ta": oodTA
        case "ood_tb": oodTB
        default: nil
        }
    }
}

extension NpyArray.DType {
    /// NumPy's name for the type, for messages.
    var name: String {
        switch self {
        case .uint8: "uint8"
        case .int32: "int32"
        case .int64: "int64"
        case .float32: "float32"
        case .float64: "float64"
        }
    }
}
