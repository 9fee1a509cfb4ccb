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
        // Rows of the outer index split over cores. Along the last dimension (inner = 1) each output
        // reads n contiguous values; along another one, n rows of `inner` values are combined row
        // by row into `inner` accumulators, so that memory is read in order, not `inner` apart.
        Parallel.chunks(outer, minChunk: Swift.max(1, 32768 / Swift.max(n * inner, 1))) { rows in
            for p in rows {
                if inner == 1 {
                    o[p] = Tensor.reduce(reduction, a + p * n, count: n, stride: 1)
                } else {
                    Tensor.reduceRows(reduction, a + p * n * inner, rows: n, width: inner, into: o + p * inner)
                }
            }
        }
        return out
    }

    /// `reduce` of each column of a (rows, width) block, the same operations in the same order
    /// per column, into `out` (width).
    static func reduceRows(_ reduction: Reduction, _ p: UnsafeMutablePointer<Float>, rows n: Int, width w: Int,
                           into out: UnsafeMutablePointer<Float>) {
        switch reduction {
        case .sum, .mean:
            var acc = [Double](repeating: 0, count: w)
            for i in 0..<n { let row = p + i * w; for q in 0..<w { acc[q] += Double(row[q]) } }
            for q in 0..<w { out[q] = reduction == .sum ? Float(acc[q]) : (n == 0 ? .nan : Float(acc[q] / Double(n))) }
        case .max, .min:
            guard n > 0 else { for q in 0..<w { out[q] = .nan }; return }
            for q in 0..<w { out[q] = p[q] }
            for i in 0..<n {
                let row = p + i * w
                for q in 0..<w {
                    // NaN, once in, stays: no comparison with it is true.
                    let v = row[q], best = out[q]
                    if v.isNaN || (reduction == .max ? v > best : v < best) { out[q] = best.isNaN ? best : v }
                }
            }
        case .logsumexp:
            var m = [Double](repeating: -.infinity, count: w), acc = [Double](repeating: 0, count: w)
            var nan = [Bool](repeating: false, count: w)
            for i in 0..<n {
                let row = p + i * w
                for q in 0..<w { let v = Double(row[q]); if v.isNaN { nan[q] = true } else { m[q] = Swift.max(m[q], v) } }
            }
            for i in 0..<n {
                let row = p + i * w
                for q in 0..<w where m[q].isFinite { acc[q] += Foundation.exp(Double(row[q]) - m[q]) }
            }
            for q in 0..<w { out[q] = nan[q] ? .nan : (m[q].isFinite ? Float(m[q] + Foundation.log(acc[q])) : Float(m[q])) }
        }
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
