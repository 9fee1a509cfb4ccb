import ArgumentParser
import Foundation
import LuaHost
import Tensor

/// How a command that runs Lua reports a failure, one way for `joule run`, `joule repl` and
/// `joule notebook run`: the message on standard error (after standard output and any progress
/// bar, so the lines stay in order), and the exit status — 130 when Ctrl-C stopped a script, 1
/// otherwise. Errors of other kinds pass through.
enum ScriptFailure {
    static func report(_ text: String) {
        fflush(stdout)
        ProgressBar.endLine()
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Reports `error` (a Lua script's error as it is, Joule's own after `prefix`) and returns the
    /// exit status to end with.
    static func exitCode(for error: Error, prefix: String) throws -> ExitCode {
        switch error {
        case let e as LuaScriptError:
            report(e.description)
            return ExitCode(LuaState.interruptRequested ? 130 : 1)
        case let e as JouleError:
            report("\(prefix): \(e.message)")
            return ExitCode(1)
        default:
            throw error
        }
    }
}
