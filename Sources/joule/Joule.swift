import ArgumentParser
import Foundation
import NN
import Tensor

@main
struct Joule: ParsableCommand {
    /// Picks OpenBLAS's kernel (which may re-execute the process) before anything else runs, and
    /// stops when JOULE_KERNELS asks for a kernel family that does not exist or cannot run here.
    static func main() {
        BLASKernel.ensureFastKernel()
        if let problem = Kernels.environmentProblem {
            FileHandle.standardError.write(Data("joule: \(problem)\n".utf8))
            Foundation.exit(2)
        }
        main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "joule",
        abstract: "Energy-based models in Swift, driven from Lua.",
        subcommands: [Version.self, DemoCommand.self, BenchCommand.self, DataCommand.self, RunCommand.self, ReplCommand.self, SweepCommand.self, NotebookCommand.self, KernelCommand.self],
        defaultSubcommand: ReplCommand.self)
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print versions of Joule, Lua and OpenBLAS.")
    func run() throws {
        print("Joule 0.1.0")
        print("target: \(BuildTarget.current.description)")
        print(luaRelease)
        print("OpenBLAS \(BLAS.config)")
        print("BLAS kernel: \(BLASKernel.selection.isEmpty ? BLAS.coreName : BLASKernel.selection), threads: \(BLAS.threads)")
        print("GEMM kernels: \(Kernels.description)")
        print("kernel families here: \(Kernels.availability)")
        print("sampling precision: \(PrecisionTuning.summary)")
    }
}
