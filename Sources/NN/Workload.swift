import Tensor

/// What running a network on one input asks of the machine, found by walking its modules' shapes
/// without running them: the work of the forward pass and the floats its modules keep (their
/// outputs and the gradients they hand back). A network is built from a checkpoint's few hundred bytes, and one
/// input runs through it at once (to check its shapes): a 1×1 convolution padded by 1024 feeding a
/// 1024-wide pooling asks ~10¹³ operations of a 711-byte file. So the loader and the Lua builders
/// check this bound first, and refuse what no real network needs (`check`).
public struct Workload: Equatable {
    /// The shape of one item as modules see it: (H, W, C) for images (channels-last), (D) for vectors.
    public var shape: [Int]
    /// Multiply-adds (or comparable elementary steps) of the forward pass so far, per item.
    public var operations: Double = 0
    /// Floats the modules keep for one item, so far.
    public var floats: Double = 0
    /// False once an input did not fit a module: its forward pass stops there (and says why), so
    /// the work counted up to it is the work a run can cost.
    public var fits = true

    public init(shape: [Int]) { self.shape = shape }

    /// At most this many operations per item: 2·10¹⁰, five times a ResNet-50's forward pass on a
    /// 224² image, some seconds on two cores.
    public static let maxOperations = 2e10
    /// At most this many floats kept per item (1 GiB): a batch multiplies it.
    public static let maxFloats = Double(1 << 28)

    public var count: Double { shape.reduce(1.0) { $0 * Double($1) } }

    /// This workload with the next module refusing its input.
    public var unfit: Workload { var w = self; w.fits = false; return w }

    /// The next module's output of `shape`, costing `operations` and keeping `floats` besides it.
    public func then(_ shape: [Int], operations: Double, floats: Double = 0) -> Workload {
        var w = Workload(shape: shape)
        w.operations = self.operations + operations
        // Its output and the gradient it hands back have the output's size.
        w.floats = self.floats + floats + 2 * w.count
        return w
    }

    /// Throws when a network's workload for one item is past the bounds above.
    public func check(_ what: String) throws {
        guard operations <= Self.maxOperations else {
            throw JouleError("\(what) asks for \(Self.text(operations)) operations per input, more than the \(Self.text(Self.maxOperations)) a network may (check its paddings, kernels and widths)")
        }
        guard floats <= Self.maxFloats else {
            throw JouleError("\(what) keeps \(Self.text(floats)) floats per input, more than the \(Self.text(Self.maxFloats)) a network may (check its paddings and widths)")
        }
    }

    static func text(_ x: Double) -> String { x < 1e6 ? String(Int(x)) : String(format: "%.2g", x) }

    /// The output size of a window of `kernel` at `stride` over `size` padded by `padding` each side,
    /// or nil when the window does not fit.
    static func windows(_ size: Int, kernel: Int, stride: Int, padding: Int = 0) -> Int? {
        let padded = size + 2 * padding
        return padded >= kernel ? (padded - kernel) / stride + 1 : nil
    }
}

extension Module {
    /// The workload after this module (`unfit` when the input does not fit it: its forward pass
    /// then says why). Modules that keep the shape and touch each value once need not say more.
    public func workload(after input: Workload) -> Workload {
        input.then(input.shape, operations: input.count)
    }
}
