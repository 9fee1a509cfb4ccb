import Foundation

// Elementwise operations between two tensors under NumPy's broadcasting rules: shapes are aligned
// at their last dimension, and each pair of dimensions must be equal or one of them 1 (a missing
// leading dimension counts as 1). This is what an energy written in Lua needs to write
// (x - mu) for a batch x (N, D) and a mean (D), or x / sigma with sigma (N, 1).
extension Tensor {
    /// The elementwise operations that broadcast.
    public enum BinaryOperation: String, CaseIterable {
        case add, sub, mul, div, pow
    }

    /// The shape of `a op b` under broadcasting, or an error naming both shapes and the operation.
    public static func broadcastShape(_ a: [Int], _ b: [Int], _ op: String) throws -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            guard da == db || da == 1 || db == 1 else {
                throw JouleError("\(op): shapes \(a) and \(b) do not broadcast (aligned from the last dimension, each pair of sizes must be equal or one of them 1; dimension \(i + 1) of the result would need \(da) and \(db))")
            }
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// `self op other` elementwise, broadcasting the two shapes. The operator is chosen here,
    /// outside the loops, so that each loop is compiled (and vectorised) with its operator inline.
    public func combined(_ op: BinaryOperation, _ other: Tensor) throws -> Tensor {
        switch op {
        case .add: return try zipped(other, op) { $0 + $1 }
        case .sub: return try zipped(other, op) { $0 - $1 }
        case .mul: return try zipped(other, op) { $0 * $1 }
        case .div: return try zipped(other, op) { $0 / $1 }
        case .pow: return try zipped(other, op) { Foundation.pow($0, $1) }
        }
    }

    @inline(__always)
    private func zipped(_ other: Tensor, _ op: BinaryOperation, _ f: (Float, Float) -> Float) throws -> Tensor {
        let (a, b) = (data, other.data)
        if shape == other.shape {
            return making { o, r in for i in r { o[i] = f(a[i], b[i]) } }
        }
        let outShape = try Tensor.broadcastShape(shape, other.shape, op.rawValue)
        let out = try Tensor(checkedShape: outShape, zeroed: false)
        guard out.count > 0 else { return out }
        // Strides of each operand over the output's dimensions (0 where it is broadcast).
        let sa = Tensor.broadcastStrides(shape, to: outShape), sb = Tensor.broadcastStrides(other.shape, to: outShape)
        let rank = outShape.count
        // The last dimension runs as an inner loop; the others are counted by an odometer per row.
        let inner = outShape[rank - 1]
        let (ia, ib) = (sa[rank - 1], sb[rank - 1])
        let rows = out.count / inner
        let o = out.data
        Parallel.chunks(rows, minChunk: Swift.max(1, 32768 / inner)) { range in
            for row in range {
                // Offsets of this row in each operand: its outer index, digit by digit.
                var rest = row, offA = 0, offB = 0
                var d = rank - 2
                while d >= 0 {
                    let i = rest % outShape[d]
                    rest /= outShape[d]
                    offA += i * sa[d]
                    offB += i * sb[d]
                    d -= 1
                }
                let dst = o + row * inner, pa = a + offA, pb = b + offB
                switch (ia, ib) {
                case (1, 1): for j in 0..<inner { dst[j] = f(pa[j], pb[j]) }
                case (1, 0): let y = pb[0]; for j in 0..<inner { dst[j] = f(pa[j], y) }
                case (0, 1): let x = pa[0]; for j in 0..<inner { dst[j] = f(x, pb[j]) }
                default: let v = f(pa[0], pb[0]); for j in 0..<inner { dst[j] = v }
                }
            }
        }
        return out
    }

    /// `self op s` elementwise for a number `s`, or `s op self` when `reversed`.
    public func combined(_ op: BinaryOperation, _ s: Float, reversed: Bool = false) -> Tensor {
        switch (op, reversed) {
        case (.add, _): return adding(s)
        case (.sub, false): return subtracting(s)
        case (.sub, true): return subtracted(from: s)
        case (.mul, _): return multiplying(s)
        case (.div, false): return dividing(s)
        case (.div, true): return divided(into: s)
        case (.pow, false):
            let a = data
            if s == 2 { return making { o, r in for i in r { o[i] = a[i] * a[i] } } }
            return making { o, r in for i in r { o[i] = Foundation.pow(a[i], s) } }
        case (.pow, true):
            let a = data
            return making { o, r in for i in r { o[i] = Foundation.pow(s, a[i]) } }
        }
    }

    /// Row-major strides of `shape` seen through the dimensions of `target` (which it broadcasts
    /// to): 0 for a dimension of size 1 or one `shape` lacks.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: target.count)
        var step = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let t = i + target.count - shape.count
            strides[t] = shape[i] == 1 ? 0 : step
            step *= shape[i]
        }
        return strides
    }
}
