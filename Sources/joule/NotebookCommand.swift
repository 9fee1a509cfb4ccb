import ArgumentParser
import Foundation
import LuaHost
import Notebook
import Tensor

struct NotebookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notebook",
        abstract: "Run notebooks of Lua cells.",
        subcommands: [NotebookRun.self])
}

struct NotebookRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a notebook's Lua cells in order and write the notebook with their outputs.",
        discussion: """
            The cells run in one Lua state with the joule module. Outputs: printed text, the value of \
            a cell's last expression, figures (a cell whose value is a joule.plot figure, or \
            joule.display(fig)) as PNG pictures, errors with the Lua traceback.
            Parameters (papermill's convention): -p key=value adds a cell of Lua assignments \
            `key = value`, tagged injected-parameters, after the cell tagged parameters (or at the top), \
            so it overrides that cell's defaults; it ends with joule.set_params{...}, which gives tables \
            that joule.params{...} returned the same values (as papermill's cell does, with \
            python/joule_papermill.py). A name the parameters cell neither sets nor declares is an \
            error; -p run=DIR is the folder joule.log and joule.result write to.
            The first error stops the run (exit status 1) unless --allow-errors; the output notebook is \
            written either way, through a temporary file and a rename. Without -o the input is updated \
            in place.
            """)

    @Argument(help: "The notebook to run (.ipynb).")
    var input: String

    @Option(name: .shortAndLong, help: "Where to write the executed notebook (default: the input).")
    var output: String?

    @Option(name: .customShort("p"), help: ArgumentHelp("Set a parameter.", valueName: "key=value"))
    var parameters: [String] = []

    @Flag(help: "Run every cell even after an error (exit status 0).")
    var allowErrors = false

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        let out = output ?? input
        do {
            let nb = try NotebookFile.read(input)
            let runner = NotebookRunner(parameters: parameters, allowErrors: allowErrors)
            if !quiet { runner.echo = { line in print(line); fflush(stdout) } }
            let report = try runner.run(nb, path: input)
            try report.notebook.write(to: out)
            if let f = report.failure {
                fail("\(input): cell \(f.cell) failed: \(f.error.evalue)\n" + f.error.traceback.dropFirst().joined(separator: "\n")
                     + "\nwrote \(out)")
                throw ExitCode(f.error.ename == "Interrupted" ? 130 : 1)
            }
            if !quiet { print("wrote \(out) (\(report.executed) cells run)") }
        } catch let e as NotebookError {
            fail("joule notebook run: \(e.message)")
            throw ExitCode(1)
        } catch let e as JouleError {
            fail("joule notebook run: \(e.message)")
            throw ExitCode(1)
        } catch let e as LuaScriptError {
            fail("joule notebook run: \(e.message)")
            throw ExitCode(1)
        }
    }

    private func fail(_ text: String) {
        fflush(stdout)
        FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
    }
}
