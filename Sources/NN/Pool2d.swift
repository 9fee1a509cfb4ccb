import Tensor

/// AvgPool2d(kernel, stride) and MaxPool2d(kernel, stride) as PyTorch defines them with no padding
/// (the stride defaults to the kernel; rows and columns past the last full window are not read).
/// Channels-last: (N, H, W, C) → (N, Ho, Wo, C). Max pooling sends each output's gradient to the
/// first largest input of its window, as PyTorch does.
public final class Pool2d: Module {
    public enum Kind: String { case average = "AvgPool2d", max = "MaxPool2d" }
    public let kind: Kind
    public let kernel, stride: Int
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    /// Max pooling: for each output value, the input offset it came from.
    private var argmax: [Int] = []
    private let outputTangent = Tensor(shape: [0])
    private let gradInputTangent = Tensor(shape: [0])

    public init(_ kind: Kind, kernel: Int, stride: Int? = nil) {
        require(kernel > 0 && (stride ?? 1) > 0, "Pool2d: kernel and stride must be positive")
        self.kind = kind; self.kernel = kernel; self.stride = stride ?? kernel
    }
    public func replica() -> Module { Pool2d(kind, kernel: kernel, stride: stride) }
    public var summary: String { "\(kind.rawValue) \(kernel)" }
    public static let layers = [Kind.average, .max].map { kind in
        LayerType(kind.rawValue, arguments: [.init("kernel", .integer(1...1024), position: 1), .init("stride", .integer(1...1024), position: 2, optional: true)],
                  signature: "joule.nn.\(kind.rawValue)(kernel [, stride = kernel]) → Model",
                  documentation: "\(kind == .average ? "Average" : "Maximum") over k×k windows (no padding), as torch.nn.\(kind.rawValue).",
                  make: { a, _ in Pool2d(kind, kernel: a.integer("kernel")!, stride: a.integer("stride")) })
    }
    public func workload(after input: Workload) -> Workload {
        guard input.shape.count == 3, let oh = Workload.windows(input.shape[0], kernel: kernel, stride: stride),
              let ow = Workload.windows(input.shape[1], kernel: kernel, stride: stride) else { return input.unfit }
        let out = [oh, ow, input.shape[2]]
        return input.then(out, operations: Double(oh) * Double(ow) * Double(input.shape[2]) * Double(kernel * kernel))
    }
    public var architecture: JSON { .object(["type": .string(kind.rawValue), "kernel": .int(kernel), "stride": .int(stride)]) }

    public func forward(_ input: Tensor) throws -> Tensor {
        guard input.rank == 4 else { throw JouleError("expected images (N, C, H, W), got shape \(input.shapeText)") }
        let (n, h, w, c) = (input.shape[0], input.shape[1], input.shape[2], input.shape[3])
        guard h >= kernel, w >= kernel else { throw JouleError("input \(h)×\(w) too small for kernel \(kernel)") }
        let (oh, ow) = ((h - kernel) / stride + 1, (w - kernel) / stride + 1)
        inputShape = input.shape
        try output.resize([n, oh, ow, c])
        if kind == .max {
            if argmax.count != output.count { argmax = [Int](repeating: 0, count: output.count) }
            maxPool(input.data)
        } else {
            averagePool(input.data, into: output.data)
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "\(summary) backward")
        try gradInput.resize(inputShape)
        spread(gradOutput.data, into: gradInput.data)
        return gradInput
    }

    /// Each window's maximum into `output`, and its offset (the first largest) into `argmax`.
    private func maxPool(_ x: UnsafePointer<Float>) {
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow, y, k, s) = (output.shape[1], output.shape[2], output.data, kernel, stride)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let out = ((b * oh + oy) * ow + ox) * c
                    for ch in 0..<c {
                        var acc = -Float.infinity, at = -1
                        for kh in 0..<k {
                            for kw in 0..<k {
                                let i = ((b * h + oy * s + kh) * w + ox * s + kw) * c + ch
                                if x[i] > acc || at < 0 { acc = x[i]; at = i }
                            }
                        }
                        y[out + ch] = acc; argmax[out + ch] = at
                    }
                }
            }
        }
    }

    /// Window means of x into y (the average pool's forward map, and its tangent's).
    private func averagePool(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>) {
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow, k, s) = (output.shape[1], output.shape[2], kernel, stride)
        let scale = 1 / Float(k * k)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let out = ((b * oh + oy) * ow + ox) * c
                    for ch in 0..<c {
                        var acc: Float = 0
                        for kh in 0..<k {
                            for kw in 0..<k { acc += x[((b * h + oy * s + kh) * w + ox * s + kw) * c + ch] }
                        }
                        y[out + ch] = acc * scale
                    }
                }
            }
        }
    }

    /// The transpose of the forward map: each output's gradient back over its window (to the
    /// maximum of a max pool, spread evenly by an average pool); for gradients and their tangents.
    private func spread(_ g: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
        let (h, w, c) = (inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (output.shape[1], output.shape[2])
        dx.update(repeating: 0, count: inputShape.reduce(1, *))
        let (k, s) = (kernel, stride)
        if kind == .max {
            for o in 0..<output.count { dx[argmax[o]] += g[o] }
            return
        }
        let scale = 1 / Float(k * k)
        for b in 0..<inputShape[0] {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let out = ((b * oh + oy) * ow + ox) * c
                    for kh in 0..<k {
                        for kw in 0..<k {
                            let i = ((b * h + oy * s + kh) * w + ox * s + kw) * c
                            for ch in 0..<c { dx[i + ch] += g[out + ch] * scale }
                        }
                    }
                }
            }
        }
    }

    // MARK: Second order (see `SecondOrder.swift`)

    /// Both poolings are linear in x between kinks: R{y} is the tangent at each window's maximum
    /// (the first largest, as the gradient) or the window mean of the tangent.
    public func forward(_ input: Tensor, tangent: Tensor) throws -> (value: Tensor, tangent: Tensor) {
        let y = try forward(input)
        try requireSameShape(tangent, input, "\(summary) tangent")
        try outputTangent.resize(y.shape)
        if kind == .max {
            let (v, ry) = (tangent.data, outputTangent.data)
            for o in 0..<y.count { ry[o] = v[argmax[o]] }
        } else {
            averagePool(tangent.data, into: outputTangent.data)
        }
        return (y, outputTangent)
    }

    public func backward(_ gradOutput: Tensor, tangent: Tensor, weights: Bool, needInputGradient: Bool) throws
        -> (value: Tensor, tangent: Tensor)? {
        guard needInputGradient else { return nil }
        try requireSameShape(tangent, output, "\(summary) backward tangent")
        try gradInputTangent.resize(inputShape)
        spread(tangent.data, into: gradInputTangent.data)
        return (try backwardInput(gradOutput), gradInputTangent)
    }
}
