/// Every GEMM in OpenBLAS (`BLAS.gemm`): the default for whatever no faster family serves, and the
/// fallback of the families that serve only some shapes.
public final class OpenBLASKernels: KernelFamily {
    public static let shared = OpenBLASKernels()
    public let name = "openblas"
    public var unavailableReason: String? { nil }
    public var isFP32: Bool { true }

    public func convolution(inChannels: Int, outChannels: Int, patch: Int, precision: Precision) -> ConvolutionGEMMs? {
        GEMMConvolution(outChannels: outChannels, patch: patch, family: self)
    }

    public func serves(_ gemm: GEMM) -> Bool { true }

    public func multiply(_ g: GEMM) {
        BLAS.gemm(transA: g.transA, transB: g.transB, m: g.m, n: g.n, k: g.k, a: g.a, b: g.b, beta: g.accumulate ? 1 : 0, c: g.c)
    }
}
