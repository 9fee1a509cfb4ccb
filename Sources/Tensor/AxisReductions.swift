import Foundation

// Reductions along one dimension, as PyTorch's `sum(dim, keepdim)`: the dimension goes away (or
// stays with size 1 when `keepDim`). Sums, means and logsumexp accumulate in Float64, as the
// whole-tensor `sum()` does, so that an energy summed over many coordinates keeps its digits.
extension Tensor {
    public enum Reduction: String, CaseIterable {
        case sum, mean, max, min, logsumexp
    }

    /// The zero-based dimension `dim` names: 0..<rank, or counted from the end when negative
    /// (-1 is the last), or an error naming the shape.
    public func dimension(_ dim: Int, _ op: String) throws -> Int {
        guard rank > 0 else { throw JouleError("\(op): a 0-D tensor has no dimension to reduce") }
        let d = dim < 0 ? dim + rank : dim
        guard d >= 0 && d < rank else {
            throw JouleError("\(op): dimension \(dim) out of range for a \(rank)-D tensor of shape \(shape)")
        }
        return d
    }

    /// `reduction` along zero-based dimension `dim`. A dimension of size 0 gives a sum of 0 and
    /// a mean, max or min of NaN, and logsumexp of −∞ (what an empty sum of exponentials is).
    /// Max and min propagate NaN, as PyTorch's do.
    public func reduced(_ reduction: Reduction, along dim: Int, keepDim: Bool = false) throws -> Tensor {
        let d = try dimension(dim, reduction.rawValue)
        let n = shape[d]
        let outer = shape[..<d].reduce(1, *), inner = shape[(d + 1)...].reduce(1, *)
        var outShape = shape
        if keepDim { outShape[d] = 1 } else { outShape.remove(at: d) }
        let out = Tensor(uninitializedShape: outShape)
        let (a, o) = (data, out.data)
        // Each output element reads n values `inner` apart; rows of the outer index split over cores.
        Parallel.chunks(outer, minChunk: Swift.max(1, 32768 / Swift.max(n * inner, 1))) { rows in
            for p in rows {
                for q in 0..<inner {
                    let base = a + p * n * inner + q
                    o[p * inner + q] = Tensor.reduce(reduction, base, count: n, stride: inner)
                }
            }
        }
        return out
    }

    /// One reduction over `count` values `stride` apart.
    @inline(__always)
    static func reduce(_ reduction: Reduction, _ p: UnsafeMutablePointer<Float>, count n: Int, stride s: Int) -> Float {
        switch reduction {
        case .sum, .mean:
            var acc = 0.0
            for i in 0..<n { acc += Double(p[i * s]) }
            return reduction == .sum ? Float(acc) : (n == 0 ? .nan : Float(acc / Double(n)))
        case .max, .min:
            guard n > 0 else { return .nan }
            var best = p[0]
            for i in 0..<n {
                let v = p[i * s]
                if v.isNaN { return .nan }
                if reduction == .max ? v > best : v < best { best = v }
            }
            return best
        case .logsumexp:
            // Shifted by the largest value so that no exponential overflows; an all −∞ row gives
            // −∞ and a +∞ anywhere gives +∞ (the shift would make them NaN).
            var m = -Double.infinity
            for i in 0..<n {
                let v = Double(p[i * s])
                if v.isNaN { return .nan }
                m = Swift.max(m, v)
            }
            guard m.isFinite else { return Float(m) }
            var acc = 0.0
            for i in 0..<n { acc += Foundation.exp(Double(p[i * s]) - m) }
            return Float(m + Foundation.log(acc))
        }
    }

    /// logsumexp of every element (a number, like `sum()`).
    public func logSumExp() -> Float { Tensor.reduce(.logsumexp, data, count: count, stride: 1) }
}
