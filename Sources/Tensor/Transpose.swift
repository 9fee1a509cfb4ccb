import Foundation

extension Tensor {
    /// A copy with zero-based dimensions `d0` and `d1` exchanged (PyTorch's `transpose`); the
    /// values are moved, so the result is contiguous like every tensor.
    public func transposed(_ d0: Int, _ d1: Int) throws -> Tensor {
        let a = try dimension(d0, "transpose"), b = try dimension(d1, "transpose")
        var outShape = shape
        outShape.swapAt(a, b)
        let out = Tensor(uninitializedShape: outShape)
        guard count > 0 else { return out }
        if a == b { out.data.update(from: data, count: count); return out }
        // Source strides read in the output's order: walking the output row-major, each index
        // digit advances the source by the stride of the dimension it came from.
        var strides = [Int](repeating: 1, count: rank)
        for d in stride(from: rank - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        strides.swapAt(a, b)
        let inner = outShape[rank - 1], innerStride = strides[rank - 1]
        let rows = count / inner
        let (src, dst) = (data, out.data)
        Parallel.chunks(rows, minChunk: Swift.max(1, 32768 / inner)) { range in
            for row in range {
                var rest = row, off = 0
                var d = rank - 2
                while d >= 0 {
                    off += (rest % outShape[d]) * strides[d]
                    rest /= outShape[d]
                    d -= 1
                }
                let o = dst + row * inner
                for j in 0..<inner { o[j] = src[off + j * innerStride] }
            }
        }
        return out
    }
}
