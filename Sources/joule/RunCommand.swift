import ArgumentParser
import Foundation
import LuaHost
import Tensor

/// The Lua release string, for `joule version` (Joule.swift does not import LuaHost).
let luaRelease = LuaState.release

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a Lua script with the joule module.",
        discussion: """
            Parameters declared by the script with joule.params{...} are set with -p key=value \
            (typed by the declared default). -p run=DIR chooses the run folder (default \
            runs/<script>-<date-time>). Arguments after -- are the script's `arg` table.
            Ctrl-C once asks the script to stop after its current step (joule.interrupted()); twice \
            stops it at once.
            """)

    @Argument(help: "The Lua script to run.")
    var script: String

    @Option(name: .customShort("p"), help: ArgumentHelp("Set a script parameter.", valueName: "key=value"))
    var parameters: [String] = []

    @Argument(parsing: .postTerminator, help: "Arguments passed to the script as `arg`.")
    var args: [String] = []

    func run() throws {
        var interrupted = false
        do {
            let host = try ScriptHost(script: script, parameters: parameters, args: args)
            host.lua.catchInterrupts()
            defer {
                interrupted = LuaState.interruptRequested
                host.lua.releaseInterrupts()
            }
            try host.run(file: script)
        } catch {
            throw try ScriptFailure.exitCode(for: error, prefix: "joule run")
        }
        // A script that stopped early on Ctrl-C (after saving) still did not finish its work.
        if interrupted {
            ScriptFailure.report("\(script): interrupted")
            throw ExitCode(130)
        }
    }
}
