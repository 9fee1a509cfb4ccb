import Foundation

// Operations the Lua bridge exposes that the numeric core did not need: scalar forms of the
// arithmetic (both operand orders), copies with a new shape, elementwise functions and
// multi-dimensional indexing. They allocate; hot loops use the in-place forms in Arithmetic.swift.
extension Tensor {
    public func subtracting(_ s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = a[i] - s } }
    }
    public func dividing(_ s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = a[i] / s } }
    }
    /// s − self.
    public func subtracted(from s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = s - a[i] } }
    }
    /// s / self.
    public func divided(into s: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = s / a[i] } }
    }
    public func negated() -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = -a[i] } }
    }

    public func clamped(_ lo: Float, _ hi: Float) -> Tensor {
        let a = data
        return making { o, r in for i in r { o[i] = Swift.min(Swift.max(a[i], lo), hi) } }
    }

    public func norm() -> Float { Float(sumOfSquares().squareRoot()) }

    public enum UnaryFunction: String, CaseIterable {
        case exp, log, sqrt, abs, tanh, sigmoid
    }

    public func applying(_ f: UnaryFunction) -> Tensor {
        switch f {
        case .exp: return mapped { Foundation.exp($0) }
        case .log: return mapped { Foundation.log($0) }
        case .sqrt: return mapped { $0.squareRoot() }
        case .abs: return mapped { Swift.abs($0) }
        case .tanh: return mapped { Foundation.tanh($0) }
        case .sigmoid: return mapped { 1 / (1 + Foundation.exp(-$0)) }
        }
    }

    /// A copy with a new shape of the same element count; one dimension may be -1 (inferred).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        let unknown = s.indices.filter { s[$0] == -1 }
        guard unknown.count <= 1, s.allSatisfy({ $0 >= 0 || $0 == -1 }) else {
            throw JouleError("cannot reshape \(shape) to \(newShape): dimensions must be non-negative, with at most one -1")
        }
        if let u = unknown.first {
            let known = Tensor.elementCount(s.enumerated().filter { $0.offset != u }.map(\.element)) ?? 0
            guard known > 0, count % known == 0 else {
                throw JouleError("cannot reshape \(shape) (\(count) values) to \(newShape)")
            }
            s[u] = count / known
        }
        let t = copy()
        try t.reshape(s)
        return t
    }

    /// Offset into `data` of the element at zero-based `indices` (one per dimension).
    public func offset(of indices: [Int]) throws -> Int {
        guard indices.count == rank else {
            throw JouleError("tensor of shape \(shape) needs \(rank) indices, got \(indices.count)")
        }
        var o = 0
        for (d, i) in indices.enumerated() {
            guard i >= 0 && i < shape[d] else {
                throw JouleError("index \(i + 1) out of range 1...\(shape[d]) in dimension \(d + 1) of shape \(shape)")
            }
            o = o * shape[d] + i
        }
        return o
    }
}
