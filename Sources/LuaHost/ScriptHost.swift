import CLua
import Foundation
import Tensor

/// A Lua state with the `joule` module, set up for one script run (`joule run`) or an
/// interactive session.
public final class ScriptHost {
    public let lua = LuaState()
    public let context: JouleContext

    /// `parameters` are the `key=value` texts of `-p`; `args` become the `arg` table and `...`.
    public init(script: String?, parameters: [String] = [], args: [String] = [],
                runFolder: RunFolder? = nil) throws {
        context = JouleContext(scriptPath: script, parameters: try Parameters(parameters), runFolder: runFolder)
        JouleModule.install(lua, context)
        let L = lua.L
        lua_createtable(L, Int32(args.count), 1)
        lua_pushstring(L, script ?? "")
        lua_rawseti(L, -2, 0)
        for (i, a) in args.enumerated() { lua_pushstring(L, a); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        lua.setGlobal("arg")
        self.args = args
    }

    private let args: [String]

    /// Runs the script file. A script that ends without declaring parameters while `-p` gave some
    /// fails: the user meant them to change something.
    public func run(file: String) throws {
        try lua.run(file: file, args: args)
        let unused = context.parameters.undeclared
        if !unused.isEmpty && !context.parameters.wasDeclared {
            throw LuaScriptError(message: "\(file): parameter\(unused.count > 1 ? "s" : "") \(unused.map { "'\($0)'" }.joined(separator: ", ")) given with -p, but the script never calls joule.params")
        }
    }
}
