import Foundation

// Elementwise arithmetic and reductions. Functions that return a new tensor have a throwing
// shape check (tensor operands broadcast); the in-place forms (`add(_:scaled:)`, `clamp`) are for hot loops.
extension Tensor {
    /// A new tensor of this shape, each chunk of it written by `fill(out, range)`; large tensors are
    /// split over the cores (a sampler written in Lua does a few of these per step). Each operation
    /// passes its whole loop, so that the loop is compiled, and vectorised, with its operator inline.
    @inline(__always)
    func making(_ fill: (UnsafeMutablePointer<Float>, Range<Int>) -> Void) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let o = out.data
        Parallel.chunks(count, minChunk: 32768) { r in fill(o, r) }
        return out
    }

    public func mapped(_ f: (Float) -> Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = f(a[i]) } }
    }

    /// Elementwise with another tensor, broadcasting the shapes as NumPy does (Broadcast.swift).
    public func adding(_ t: Tensor) throws -> Tensor { try combined(.add, t) }
    public func subtracting(_ t: Tensor) throws -> Tensor { try combined(.sub, t) }
    public func multiplying(_ t: Tensor) throws -> Tensor { try combined(.mul, t) }
    public func dividing(_ t: Tensor) throws -> Tensor { try combined(.div, t) }
    public func adding(_ s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = a[i] + s } }
    }
    public func multiplying(_ s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = a[i] * s } }
    }

    /// self += scale · other, in place.
    public func add(_ other: Tensor, scaled scale: Float = 1) throws {
        try requireSameShape(self, other, "add")
        for i in 0..<count { data[i] += scale * other.data[i] }
        touch()
    }

    public func scale(by s: Float) { for i in 0..<count { data[i] *= s }; touch() }

    public func clamp(_ lo: Float, _ hi: Float) {
        let d = data
        Parallel.chunks(count, minChunk: 32768) { r in for i in r { d[i] = Swift.min(Swift.max(d[i], lo), hi) } }
        touch()
    }

    public func sum() -> Float { Float(sumDouble()) }
    /// Sums in Float64 so that large tensors do not lose digits.
    public func sumDouble() -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(data[i]) }
        return s
    }
    public func mean() -> Float { count == 0 ? .nan : Float(sumDouble() / Double(count)) }
    public func min() -> Float { buffer.min() ?? .nan }
    public func max() -> Float { buffer.max() ?? .nan }
    public func sumOfSquares() -> Double {
        var s = 0.0
        for i in 0..<count { s += Double(data[i]) * Double(data[i]) }
        return s
    }

    /// Index of the largest value in each row of an (N, C) tensor.
    public func argmaxRows() throws -> [Int] {
        guard rank == 2 else { throw JouleError("argmax expects a 2-D tensor, got shape \(shape)") }
        let (n, c) = (shape[0], shape[1])
        return (0..<n).map { i in
            var best = 0
            for j in 1..<Swift.max(c, 1) where data[i * c + j] > data[i * c + best] { best = j }
            return best
        }
    }

    /// Matrix product, run by the family `Kernels` chooses, with NumPy's `matmul` rules for the
    /// shapes: (M, K)·(K, N) → (M, N); a 1-D operand is a vector, (M, K)·(K) → (M) and
    /// (K)·(K, N) → (N); and a stack (…, M, K)·(K, N) → (…, M, N), one GEMM over the stack.
    public func matmul(_ other: Tensor) throws -> Tensor {
        func fail() -> JouleError {
            JouleError("matmul: shapes \(shape) and \(other.shape) do not chain (the last dimension of the first, \(shape.last.map(String.init) ?? "none"), must equal the \(other.rank == 1 ? "length" : "first dimension") of the second, \(other.shape.first.map(String.init) ?? "none"))")
        }
        guard rank >= 1, (1...2).contains(other.rank) else {
            throw JouleError("matmul: shapes \(shape) and \(other.shape): the first operand must have at least one dimension and the second one or two")
        }
        let k = shape[rank - 1]
        guard k == other.shape[0] else { throw fail() }
        let n = other.rank == 2 ? other.shape[1] : 1
        let m = count / Swift.max(k, 1)
        var outShape = Array(shape.dropLast())
        if other.rank == 2 { outShape.append(n) }
        let out = try Tensor(checkedShape: outShape)
        if k == 0 || out.count == 0 { return out }   // an empty sum is zeros
        Kernels.gemm(m: m, n: n, k: k, a: data, b: other.data, c: out.data)
        return out
    }
}
