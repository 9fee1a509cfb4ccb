import CLua
import Foundation
import LuaHost

extension Console {
    /// Runs a whole script read from standard input (when it is not a terminal), with `joule
    /// run`'s behaviour: errors carry `stdin:LINE:` and a traceback and are thrown.
    public func runScript(_ source: String, name: String = "stdin") throws {
        // A leading `#!` line is skipped, as lua and `joule run` (luaL_loadfile) do.
        var code = source
        if code.hasPrefix("#") { code = "--" + code }
        lua.catchInterrupts()
        defer { lua.releaseInterrupts() }
        try lua.run(string: code, name: "=" + name)
        let unused = host.context.parameters.undeclared
        if !unused.isEmpty {
            throw LuaScriptError(message: "\(name): parameter\(unused.count > 1 ? "s" : "") \(unused.map { "'\($0)'" }.joined(separator: ", ")) given with -p, but the script never calls joule.params")
        }
    }

    /// Everything on standard input.
    public static func readStandardInput() -> String {
        String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
    }

    public static var inputIsTerminal: Bool { isatty(STDIN_FILENO) != 0 }
}
