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
        if kind == .max { argmax = [Int](repeating: 0, count: output.count) }
        let (x, y, k, s) = (input.data, output.data, kernel, stride)
        let scale = 1 / Float(k * k)
        for b in 0..<n {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let out = ((b * oh + oy) * ow + ox) * c
                    for ch in 0..<c {
                        var acc: Float = kind == .max ? -.infinity : 0, at = -1
                        for kh in 0..<k {
                            for kw in 0..<k {
                                let i = ((b * h + oy * s + kh) * w + ox * s + kw) * c + ch
                                if kind == .max {
                                    if x[i] > acc || at < 0 { acc = x[i]; at = i }
                                } else {
                                    acc += x[i]
                                }
                            }
                        }
                        if kind == .max { y[out + ch] = acc; argmax[out + ch] = at } else { y[out + ch] = acc * scale }
                    }
                }
            }
        }
        return output
    }

    public func backwardInput(_ gradOutput: Tensor) throws -> Tensor {
        try requireSameShape(gradOutput, output, "\(summary) backward")
        let (h, w, c) = (inputShape[1], inputShape[2], inputShape[3])
        let (oh, ow) = (output.shape[1], output.shape[2])
        try gradInput.resize(inputShape)
        gradInput.zero()
        let (g, dx, k, s) = (gradOutput.data, gradInput.data, kernel, stride)
        if kind == .max {
            for o in 0..<gradOutput.count { dx[argmax[o]] += g[o] }
            return gradInput
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
        return gradInput
    }
}
