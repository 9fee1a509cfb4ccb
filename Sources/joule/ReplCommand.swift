import ArgumentParser
import Console
import Foundation
import LuaHost
import Tensor

/// `joule` with no subcommand, or `joule repl`: the interactive Lua console.
struct ReplCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repl",
        abstract: "An interactive Lua console with the joule module (what `joule` alone starts).",
        discussion: """
            Type Lua statements or expressions; an expression shows its value (tensors as a summary). \
            Unfinished blocks continue on the next line. Tab completes globals, fields and methods; \
            help(f) or ?name shows the documentation of a joule function. Ctrl-C stops the running \
            statement, Ctrl-D leaves. History is kept in ~/.joule_history (or $JOULE_HISTORY).
            With -i SCRIPT the script runs first and the console keeps its globals. When standard \
            input is not a terminal, it is run as one script (`echo 'print(1)' | joule`), with the \
            errors and exit status of `joule run`.
            """)

    @Option(name: .customShort("i"), help: ArgumentHelp("Run this script first, then stay in the console with its globals.", valueName: "script"))
    var script: String?

    @Option(name: .customShort("p"), help: ArgumentHelp("Set a script parameter.", valueName: "key=value"))
    var parameters: [String] = []

    @Argument(parsing: .postTerminator, help: "Arguments passed to the script as `arg`.")
    var args: [String] = []

    func run() throws {
        let host: ScriptHost
        do {
            host = try ScriptHost(script: script, parameters: parameters, args: args)
        } catch let e as JouleError {
            ScriptFailure.report("joule: \(e.message)")
            throw ExitCode(1)
        }
        let console = Console(host: host)
        let interactive = Console.inputIsTerminal

        if let script {
            do {
                host.lua.catchInterrupts()
                defer { host.lua.releaseInterrupts() }
                try host.run(file: script)
            } catch {
                let code = try ScriptFailure.exitCode(for: error, prefix: "joule")
                // Interactively the console opens anyway: the globals up to the error are there
                // to inspect.
                if !interactive { throw code }
            }
        }

        guard interactive else {
            do {
                try console.runScript(Console.readStandardInput())
            } catch {
                throw try ScriptFailure.exitCode(for: error, prefix: "joule")
            }
            return
        }
        console.interact()
    }
}
