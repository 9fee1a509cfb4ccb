import COpenBLAS
import Foundation

/// Choosing OpenBLAS's kernel family. Debian's OpenBLAS 0.3.21 does not recognise recent CPUs and
/// falls back to its slow "Prescott" kernels; OPENBLAS_CORETYPE picks a better family, but the
/// library reads it only when it loads, so the host sets it and re-executes itself.
public enum BLASKernel {
    static let reexecMarker = "JOULE_BLAS_REEXEC"

    /// How the kernel in use was chosen, as `ensureFastKernel` found it (for `joule version`).
    nonisolated(unsafe) public private(set) static var selection = ""

    /// The best kernel family for a CPU with these flags (those of /proc/cpuinfo by default) in a
    /// build for `target`: a build without AVX-512 keeps OpenBLAS to its AVX2 (Haswell) kernels too,
    /// so that the whole binary runs as on an AVX2 CPU.
    public static func preferredCoreType(cpuFlags: Set<String>? = nil, target: BuildTarget = .current) -> String? {
        let flags = cpuFlags ?? readCPUFlags()
        if target.allowsAVX512, ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(flags.contains) {
            return "SkylakeX"
        }
        if ["avx2", "fma"].allSatisfy(flags.contains) { return "Haswell" }
        return nil
    }

    static func readCPUFlags() -> Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
    }

    /// Call first thing in `main`, before any BLAS call. Re-executes the process with
    /// OPENBLAS_CORETYPE set when the user has not set it and the loaded kernel is not the best one;
    /// a user's own setting always wins. Returns a line describing the kernel in use.
    @discardableResult
    public static func ensureFastKernel() -> String {
        selection = chooseKernel()
        return selection
    }

    private static func chooseKernel() -> String {
        let env = ProcessInfo.processInfo.environment
        let current = BLAS.coreName
        if env["OPENBLAS_CORETYPE"] == nil, env[reexecMarker] == nil,
           let wanted = preferredCoreType(), wanted.lowercased() != current.lowercased() {
            setenv("OPENBLAS_CORETYPE", wanted, 1)
            setenv(reexecMarker, current, 1)
            var argv = CommandLine.arguments.map { strdup($0) } + [nil]
            execv("/proc/self/exe", &argv)
            // execv returns only on failure: go on with the kernel we have.
        }
        guard selfCheck() else {
            FileHandle.standardError.write(Data("warning: OpenBLAS kernel \(current) fails its self-check; set OPENBLAS_CORETYPE=Haswell\n".utf8))
            return "\(current) (self-check FAILED)"
        }
        if let was = env[reexecMarker] { return "\(current) (selected; the library detected \(was))" }
        if env["OPENBLAS_CORETYPE"] != nil { return "\(current) (OPENBLAS_CORETYPE from the environment)" }
        return current
    }

    /// Multiplies two small awkwardly-sized matrices and compares with a plain Float64 product:
    /// a kernel that computes wrong results on this CPU fails here.
    public static func selfCheck() -> Bool {
        let (m, n, k) = (37, 29, 53)
        let rng = RNG(seed: 1)
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n]), c = Tensor(shape: [m, n])
        rng.fillUniform(a, -1, 1); rng.fillUniform(b, -1, 1)
        BLAS.gemm(m: m, n: n, k: k, a: a.data, b: b.data, c: c.data)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a.data[i * k + p]) * Double(b.data[p * n + j]) }
                if abs(s - Double(c.data[i * n + j])) > 1e-4 { return false }
            }
        }
        return true
    }
}
