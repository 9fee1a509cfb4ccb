import COpenBLAS
import Foundation


/// A contiguous, row-major Float32 array with a shape.
///
/// Tensors have reference semantics, as in Torch: modules keep their outputs and gradients in tensors
/// they own and reuse between calls, so the hot loops allocate nothing.
public final class Tensor {
    public private(set) var shape: [Int]
    public private(set) var count: Int
    /// 64-byte aligned storage of `capacity` floats; `count <= capacity`.
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int
    /// Counts in-place changes, as PyTorch's `_version` does: Tensor's own mutating methods bump it,
    /// and code that writes through `data` calls `touch()`. Caches derived from a tensor's values
    /// (a convolution's packed weights) compare it to know when to rebuild.
    public private(set) var version: UInt64 = 0

    /// A zero-filled tensor.
    public convenience init(shape: [Int]) {
        self.init(uninitializedShape: shape)
        data.initialize(repeating: 0, count: capacity)
    }

    /// A tensor whose values are garbage until the caller writes every one of them.
    public init(uninitializedShape shape: [Int]) {
        require(shape.allSatisfy { $0 >= 0 }, "negative dimension in shape \(shape)")
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.capacity = Swift.max(count, 1)
        self.data = Tensor.allocate(capacity)
    }

    /// A zero-filled tensor of a size that comes from a user: the element count with checked
    /// arithmetic, and memory that cannot be had an error naming the size instead of a crash.
    /// `zeroed: false` leaves the values garbage for a caller that writes every one.
    public convenience init(checkedShape shape: [Int], zeroed: Bool = true) throws {
        let n = try Tensor.checkedCount(shape)
        let data = try Tensor.checkedAllocate(Swift.max(n, 1), for: shape)
        self.init(shape: shape, count: n, storage: data)
        if zeroed { data.initialize(repeating: 0, count: Swift.max(n, 1)) }
    }

    /// The element count of a shape that may come from a user, or an error naming it.
    private static func checkedCount(_ shape: [Int]) throws -> Int {
        guard let n = elementCount(shape), !n.multipliedReportingOverflow(by: MemoryLayout<Float>.stride).overflow else {
            throw JouleError("tensor of shape \(shape) is too large (its size overflows)")
        }
        return n
    }

    /// Storage for `n` floats, or an error saying how much memory the shape wanted.
    private static func checkedAllocate(_ n: Int, for shape: [Int]) throws -> UnsafeMutablePointer<Float> {
        guard let p = allocateIfPossible(n) else {
            let bytes = n * MemoryLayout<Float>.stride   // no overflow: checkedCount saw to it
            throw JouleError("out of memory: cannot allocate a tensor of shape \(shape): \(bytes) bytes (\(String(format: "%.1f", Double(bytes) / Double(1 << 30))) GiB) are not available")
        }
        return p
    }

    private init(shape: [Int], count: Int, storage: UnsafeMutablePointer<Float>) {
        self.shape = shape
        self.count = count
        self.capacity = Swift.max(count, 1)
        self.data = storage
    }

    /// The number of elements of `shape`, or nil when a dimension is negative or the product
    /// overflows (this layer runs unchecked: a wrapped product could pass for a small one).
    public static func elementCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow else { return nil }
            n = p
        }
        return n
    }

    public convenience init(shape: [Int], values: [Float]) throws {
        let n = Tensor.elementCount(shape) ?? -1
        guard n == values.count else {
            throw JouleError("shape \(shape) holds \(n) values, got \(values.count)")
        }
        self.init(shape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: n) }
    }

    public convenience init(shape: [Int], repeating value: Float) {
        self.init(shape: shape)
        fill(value)
    }

    deinit { free(data) }

    /// glibc serves blocks over 128 KiB with fresh mmap'd pages, which fault in on first touch and go
    /// back to the system on free: a loop that makes a tensor per step (SGLD written in Lua) would
    /// pay that on every step. Raising the threshold keeps such blocks in the heap for reuse.
    private static let heapReuse: Void = {
        _ = mallopt(M_MMAP_THRESHOLD, 256 << 20)
        _ = mallopt(M_TRIM_THRESHOLD, 512 << 20)
    }()

    private static func allocate(_ n: Int) -> UnsafeMutablePointer<Float> {
        guard let p = allocateIfPossible(n) else { fatalError("out of memory allocating \(n) floats") }
        return p
    }

    private static func allocateIfPossible(_ n: Int) -> UnsafeMutablePointer<Float>? {
        _ = heapReuse
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, n * MemoryLayout<Float>.stride) == 0, let raw else { return nil }
        return raw.bindMemory(to: Float.self, capacity: n)
    }

    /// Marks the values as changed (see `version`).
    @inline(__always) public func touch() { version &+= 1 }

    /// Gives the tensor a new shape, reusing its storage when it is large enough.
    /// Contents are unspecified afterwards unless the element count is unchanged.
    ///
    /// Layers size their outputs from the input, and a network composed in Lua can ask for far
    /// more than the machine has (a wide convolution left unpooled: 64×26×26×1M floats is 170 GiB).
    /// That throws, naming the shape, and leaves the tensor as it was, so the error reaches the
    /// script's line instead of stopping the process.
    public func resize(_ newShape: [Int]) throws {
        if newShape == shape { return }
        let n = try Tensor.checkedCount(newShape)
        if n > capacity {
            let fresh = try Tensor.checkedAllocate(n, for: newShape)
            free(data)
            data = fresh
            capacity = n
            data.initialize(repeating: 0, count: n)
        }
        touch()
        shape = newShape
        count = n
    }

    /// Same storage, new shape with the same number of elements.
    public func reshape(_ newShape: [Int]) throws {
        guard let n = Tensor.elementCount(newShape), n == count else { throw JouleError("cannot reshape \(shape) (\(count) values) to \(newShape)") }
        shape = newShape
    }

    public var rank: Int { shape.count }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }

    public subscript(_ i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue; touch() }
    }

    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        t.data.update(from: data, count: count)
        return t
    }

    /// Copies `source` into this tensor, taking its shape.
    public func assign(_ source: Tensor) throws {
        try resize(source.shape)
        data.update(from: source.data, count: count)
        touch()
    }

    public func fill(_ value: Float) { buffer.update(repeating: value); touch() }
    public func zero() { fill(0) }

    /// Number of values per item along the first dimension.
    public var itemSize: Int { shape.isEmpty ? 1 : (shape[0] == 0 ? 0 : count / shape[0]) }

    /// Items `range` along the first dimension, copied.
    public func items(_ range: Range<Int>) throws -> Tensor {
        guard let n = shape.first, range.lowerBound >= 0, range.upperBound <= n else {
            throw JouleError("items \(range) out of bounds for shape \(shape)")
        }
        var s = shape
        s[0] = range.count
        let t = Tensor(uninitializedShape: s)
        t.data.update(from: data + range.lowerBound * itemSize, count: t.count)
        return t
    }

    /// Items at `indices` along the first dimension, copied in that order.
    public func gather(_ indices: [Int]) throws -> Tensor {
        guard let n = shape.first else { throw JouleError("cannot index a scalar tensor") }
        var s = shape
        s[0] = indices.count
        let t = Tensor(uninitializedShape: s)
        let d = itemSize
        for (k, i) in indices.enumerated() {
            guard i >= 0 && i < n else { throw JouleError("index \(i) out of bounds for \(n) items") }
            (t.data + k * d).update(from: data + i * d, count: d)
        }
        return t
    }

    /// Concatenation along the first dimension.
    public static func concatenate(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw JouleError("nothing to concatenate") }
        let tail = Array(first.shape.dropFirst())
        for p in parts where Array(p.shape.dropFirst()) != tail || p.rank == 0 {
            throw JouleError("cannot concatenate shapes \(first.shape) and \(p.shape)")
        }
        let t = Tensor(shape: [parts.reduce(0) { $0 + $1.shape[0] }] + tail)
        var offset = 0
        for p in parts {
            (t.data + offset).update(from: p.data, count: p.count)
            offset += p.count
        }
        return t
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = buffer.prefix(6).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape.map(String.init).joined(separator: "×")): [\(shown)\(count > 6 ? ", …" : "")])"
    }
}

/// Checks that two shapes agree, naming the operation in the error.
@inline(__always)
public func requireSameShape(_ a: Tensor, _ b: Tensor, _ op: String) throws {
    guard a.shape == b.shape else { throw JouleError("\(op): shapes \(a.shape) and \(b.shape) differ") }
}
