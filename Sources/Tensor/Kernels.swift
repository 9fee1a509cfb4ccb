import Foundation

/// One GEMM of a layer or of `matmul`: C (m × n, row-major, dense) = op(A) · op(B), or C += op(A) · op(B)
/// when `accumulate`. op(X) is X or, when its flag is set, Xᵀ; A and B are dense and row-major as
/// stored, so op(A) is m × k and op(B) is k × n.
public struct GEMM {
    public var transA = false, transB = false
    public let m: Int, n: Int, k: Int
    public let a: UnsafePointer<Float>, b: UnsafePointer<Float>
    public let c: UnsafeMutablePointer<Float>
    public var accumulate = false

    public init(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        self.transA = transA; self.transB = transB; self.m = m; self.n = n; self.k = k
        self.a = a; self.b = b; self.c = c; self.accumulate = accumulate
    }
}

/// A family of GEMM kernels (OpenBLAS, PanelGEMM, bfloat16, the portable Swift loops): what it can
/// run here, and the kernels it offers for a convolution layer and for a single GEMM. A new family
/// is one file with a conforming type and a line in `Kernels.families`; the layers do not change.
public protocol KernelFamily: AnyObject, Sendable {
    /// The name `JOULE_KERNELS` and `Kernels.force` take ("openblas", "panel", …).
    var name: String { get }
    /// Why this build or CPU cannot run the family; nil when it can. A family that cannot run is
    /// never asked for kernels (its code may use instructions the CPU lacks).
    var unavailableReason: String? { get }
    /// Whether it multiplies in FP32, so that FP32 results (every parity test) hold with it.
    var isFP32: Bool { get }
    /// The three GEMMs of a convolution layer (see `ConvolutionGEMMs`), or nil when the family does
    /// not serve this shape or precision.
    func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs?
    /// Whether `multiply` takes this GEMM.
    func serves(_ gemm: GEMM) -> Bool
    func multiply(_ gemm: GEMM)
}

/// The one place that chooses who runs every GEMM: the convolutions' (forward, input gradient,
/// weight gradient), `Linear`'s three and `Tensor.matmul`.
///
/// By default, per layer shape: a stride-1 pad-1 3×3 convolution of ≥ `winogradMinChannels`
/// channels each side by Winograd F(2×2, 3×3) (`winograd`; its weight gradient and its 16 products
/// through the GEMMs below, in bf16 for a bf16 layer); a convolution in bfloat16 precision (a sampling replica) on the
/// bf16 family where the CPU has AVX512-BF16; otherwise `PanelGEMM` for the GEMMs whose shapes it
/// serves where it is compiled and the CPU runs it; OpenBLAS for the rest, and for every single GEMM
/// (Linear, matmul: small, and OpenBLAS packs them well enough).
///
/// A family can be forced — `JOULE_KERNELS=openblas|panel|bf16|portable|winograd` in the environment,
/// or `Kernels.force(_:)` in-process (the tests run every family this way) — and then runs every GEMM
/// it serves. What it does not serve (PanelGEMM: N not a multiple of 16; bf16: anything but a bf16
/// convolution; winograd: any GEMM — it serves convolution geometries) takes the default choice.
/// Forcing any family but `winograd` runs every convolution unfolded (im2col). Forcing an FP32 family also runs bf16 sampling in FP32
/// (`Precision.available`). A family this CPU or build cannot run is refused with its reason.
public enum Kernels {
    /// Every family, registered here (a new family: one line, and a place in the default orders
    /// below if it should run unforced).
    public static let families: [KernelFamily] = [OpenBLASKernels.shared, PanelKernels(), BF16Kernels(), PortableKernels(),
                                                  WinogradKernels()]
    /// The default choice, best first; a family that cannot run here is left out.
    static let defaultConvolutionFamilies = runnable(["bf16", "panel", "openblas"])
    static let defaultGEMMFamilies = runnable(["openblas"])

    private static func runnable(_ names: [String]) -> [KernelFamily] {
        names.compactMap { name in families.first { $0.name == name && $0.unavailableReason == nil } }
    }

    public static let environmentVariable = "JOULE_KERNELS"

    /// The family of this name, registered and runnable here; otherwise an error that says why.
    public static func family(named name: String) throws -> KernelFamily {
        guard let f = families.first(where: { $0.name == name.lowercased() }) else {
            throw JouleError("unknown kernel family '\(name)' (known: \(families.map(\.name).joined(separator: ", ")))")
        }
        if let why = f.unavailableReason { throw JouleError("kernel family '\(f.name)' cannot run here: \(why)") }
        return f
    }

    /// The families this build and CPU run, in registration order.
    public static var available: [KernelFamily] { families.filter { $0.unavailableReason == nil } }

    /// The forced family, or nil for the default choice. Starts as `JOULE_KERNELS` says.
    public static var forced: KernelFamily? { state.forced }

    /// Changes each time the choice changes, so that layers holding kernels choose again.
    public static var generation: Int { state.generation }

    /// Forces `name`'s family for every GEMM it serves from now on (nil: back to the default
    /// choice). Throws, changing nothing, when the family is unknown or cannot run here. Layers
    /// choose again before their next forward pass; call it between passes, not during one.
    public static func force(_ name: String?) throws {
        let f = try name.map(family(named:))
        state = State(forced: f, generation: state.generation + 1, origin: f == nil ? nil : "forced in-process")
    }

    /// What `JOULE_KERNELS` asked for and could not get (an unknown name, a family this CPU cannot
    /// run); nil when it is unset or fine. The command line stops with it; a library user gets the
    /// default choice and a line on stderr.
    public static var environmentProblem: String? {
        if case .failure(let e) = environmentChoice() { return e.message }
        return nil
    }

    /// What `JOULE_KERNELS` forces: nil when unset, empty or "default".
    static func environmentChoice() -> Result<KernelFamily?, JouleError> {
        guard let value = ProcessInfo.processInfo.environment[environmentVariable]?.trimmingCharacters(in: .whitespaces),
              !value.isEmpty, value != "default" else { return .success(nil) }
        do { return .success(try family(named: value)) } catch {
            return .failure(JouleError("\(environmentVariable)=\(value): \((error as? JouleError)?.message ?? "\(error)")"))
        }
    }

    /// Which family runs, for `joule version` and `joule bench`.
    public static var description: String {
        if let f = forced { return "\(f.name) (\(state.origin ?? "forced"))" }
        let convolutions = defaultConvolutionFamilies.filter(\.isFP32).map(\.name).joined(separator: " where the shape suits, else ")
        let sampling = defaultConvolutionFamilies.first { !$0.isFP32 }?.name ?? "FP32"
        return "default (convolutions: winograd for stride-1 pad-1 3×3 layers of ≥ \(winogradMinChannels) channels, \(convolutions); Linear and matmul: "
            + defaultGEMMFamilies.map(\.name).joined(separator: ", else ") + "; bf16 sampling: \(sampling))"
    }

    /// Available families and, for the others, why not: "openblas, panel, portable; not here: bf16 (…)".
    public static var availability: String {
        let off = families.compactMap { f in f.unavailableReason.map { "\(f.name) (\($0))" } }
        return available.map(\.name).joined(separator: ", ") + (off.isEmpty ? "" : "; not here: " + off.joined(separator: ", "))
    }

    // MARK: Choosing

    /// The kernels of a convolution layer of this shape.
    public static func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs {
        if let f = forced, let k = f.convolution(inChannels: inChannels, outChannels: outChannels, patch: patch, precision: precision) {
            return k
        }
        for f in defaultConvolutionFamilies {
            if let k = f.convolution(inChannels: inChannels, outChannels: outChannels, patch: patch, precision: precision) { return k }
        }
        return OpenBLASKernels.shared.convolution(inChannels: inChannels, outChannels: outChannels, patch: patch, precision: precision)!
    }

    /// The Winograd kernels of a convolution layer of this geometry, or nil when it runs unfolded
    /// (`convolution`). Forced (`winograd`): every geometry Winograd computes (any precision runs
    /// FP32 then, as with any forced FP32 family). Another family forced: never, so that forcing
    /// one runs the unfolded path in it. By default: layers of at least `winogradMinChannels` input
    /// and output channels, where the transforms cost less than the multiplications they save; in a
    /// bf16 replica its products run in bf16 where the bf16 GEMMs serve the shape (else FP32).
    public static func winograd(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int,
                                precision: Precision) -> WinogradConvolution? {
        guard WinogradConvolution.serves(kernel: kernel, stride: stride, padding: padding) else { return nil }
        if let f = forced {
            return f is WinogradKernels ? WinogradConvolution(inChannels: inChannels, outChannels: outChannels) : nil
        }
        guard Swift.min(inChannels, outChannels) >= winogradMinChannels else { return nil }
        let bf16 = precision.available == .bf16 && BF16Convolution.serves(inChannels: inChannels, outChannels: outChannels)
        return WinogradConvolution(inChannels: inChannels, outChannels: outChannels, precision: bf16 ? .bf16 : .fp32)
    }

    /// Channels below which a default layer stays unfolded (see `winograd`).
    public static let winogradMinChannels = 16

    /// Runs one GEMM on the forced family when it serves it, else on the default's.
    public static func multiply(_ gemm: GEMM) {
        if let f = forced, f.serves(gemm) { return f.multiply(gemm) }
        for f in defaultGEMMFamilies where f.serves(gemm) { return f.multiply(gemm) }
        OpenBLASKernels.shared.multiply(gemm)
    }

    /// C = op(A) · op(B) [+ C]: `multiply` spelled as BLAS's arguments.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            a: UnsafePointer<Float>, b: UnsafePointer<Float>, accumulate: Bool = false, c: UnsafeMutablePointer<Float>) {
        multiply(GEMM(transA: transA, transB: transB, m: m, n: n, k: k, a: a, b: b, c: c, accumulate: accumulate))
    }

    // MARK: State

    private struct State {
        var forced: KernelFamily?
        var generation: Int
        var origin: String?
    }

    /// Read from the environment on first use; written only by `force` (between passes).
    nonisolated(unsafe) private static var state: State = {
        switch environmentChoice() {
        case .success(let f):
            return State(forced: f, generation: 0, origin: f == nil ? nil : "\(environmentVariable) from the environment")
        case .failure(let e):
            // The command line stops on this before any GEMM (`environmentProblem`); a library user is told.
            FileHandle.standardError.write(Data("warning: \(e.message); using the default kernels\n".utf8))
            return State(forced: nil, generation: 0)
        }
    }()
}
