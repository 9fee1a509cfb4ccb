import ArgumentParser
import Foundation
import Notebook

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Serve as a Jupyter kernel for Lua with the joule module.",
        discussion: """
            Jupyter starts `joule kernel -f CONNECTION.json` itself once the kernelspec is installed \
            (`joule kernel install --user`); then pick "Joule (Lua)" in JupyterLab, VS Code, nbclient \
            or papermill (-k joule).
            """,
        subcommands: [KernelInstall.self])

    @Option(name: .customShort("f"), help: ArgumentHelp("The connection file Jupyter wrote.", valueName: "CONNECTION.json"))
    var connectionFile: String?

    func run() throws {
        guard let file = connectionFile else {
            throw ValidationError("give the connection file with -f (Jupyter does this), or use `joule kernel install`")
        }
        do {
            let kernel = try JupyterKernel(connection: try JupyterKernel.Connection(file: file))
            kernel.serve()
        } catch let e as NotebookError {
            FileHandle.standardError.write(Data("joule kernel: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct KernelInstall: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install",
        abstract: "Install the Joule kernelspec so Jupyter can start this joule.",
        discussion: """
            Writes <kernels>/joule/kernel.json with argv [this joule's absolute path, "kernel", "-f", \
            "{connection_file}"]. --user: ~/.local/share/jupyter/kernels; --prefix P: \
            P/share/jupyter/kernels (e.g. a virtual environment's sys.prefix); neither: \
            /usr/local/share/jupyter/kernels.
            """)

    @Flag(help: "Install for the current user.")
    var user = false

    @Option(help: ArgumentHelp("Install under this prefix (e.g. a virtual environment).", valueName: "P"))
    var prefix: String?

    @Option(help: "The kernel's name (its folder).")
    var name = "joule"

    func validate() throws {
        if user && prefix != nil { throw ValidationError("give --user or --prefix, not both") }
    }

    func run() throws {
        let base: String
        if let prefix { base = prefix + "/share/jupyter/kernels" }
        else if user {
            let dataHome = ProcessInfo.processInfo.environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? NSHomeDirectory() + "/.local/share"
            base = dataHome + "/jupyter/kernels"
        } else { base = "/usr/local/share/jupyter/kernels" }
        let dir = (base as NSString).appendingPathComponent(name)
        do {
            let path = try KernelSpec.install(in: dir, executable: KernelSpec.executablePath())
            print("installed the Joule kernel: \(path)")
        } catch let e as NotebookError {
            FileHandle.standardError.write(Data("joule kernel install: \(e.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}
