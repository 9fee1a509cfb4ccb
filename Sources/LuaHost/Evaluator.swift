import CLua
import Foundation

/// The one evaluator of every Lua front end (the console's prompt, a kernel's cell, a notebook run
/// by `joule notebook run`): code typed to be run and, where it ends in an expression, shown.
public enum Evaluator {
    /// Compiles a cell REPL-style and leaves the function on the stack: the whole cell as an
    /// expression (`return <cell>`), else its last lines as an expression after the other statements,
    /// else the cell as statements. A cell ending in `;` shows no value. Nil (with the syntax
    /// error on the stack) when it does not compile.
    public static func load(_ L: OpaquePointer, _ code: String, name: String) -> Bool? {
        func compile(_ text: String) -> Bool {
            if luaL_loadbufferx(L, text, text.utf8.count, name, "t") == LUA_OK { return true }
            lua_settop(L, -2)
            return false
        }
        let trimmed = code.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmed.hasSuffix(";") && !trimmed.isEmpty {
            if compile("return " + code) { return true }
            var lines = code.components(separatedBy: "\n")
            while let last = lines.last, last.trimmingCharacters(in: .whitespaces).isEmpty { lines.removeLast() }
            if lines.count > 1 {
                for k in 1...min(lines.count - 1, 40) {
                    let suffix = lines[(lines.count - k)...].joined(separator: "\n")
                    let first = suffix.trimmingCharacters(in: .whitespaces)
                    if first.hasPrefix("--") || first.hasPrefix("local ") || first.hasPrefix("return") { continue }
                    let prefix = lines[..<(lines.count - k)].joined(separator: "\n")
                    // Both halves must stand alone: a `return` inside an open block is a different
                    // program (`for ... do` / `return print(x)` / `end`).
                    guard compile(prefix) else { continue }
                    lua_settop(L, -2)
                    guard compile("return " + suffix) else { continue }
                    lua_settop(L, -2)
                    if compile(prefix + "\nreturn " + suffix) { return true }
                }
            }
        }
        if luaL_loadbufferx(L, code, code.utf8.count, name, "t") == LUA_OK { return true }
        return nil
    }
}
