import CLua
import Foundation
import Tensor

/// `joule.progress(total, label)` → a bar with `:update([n] [, info])` and `:done([info])`;
/// `info` is a string or a table of named values (shown as `key=value`).
enum ProgressBinding {
    static let typeName = "Progress"

    static func install(_ lua: LuaState) {
        var c = LuaClass(name: typeName)
        c.method("update") { call in
            let bar = try this(call)
            let n = try call.integer(1, 0...Int.max, default: bar.completed + 1)
            bar.update(n, info: try info(call, 2))
            return 0
        }
        c.method("done") { call in
            try this(call).done(info: try info(call, 1))
            return 0
        }
        c.meta("__tostring") { call in
            let bar = try call.object(1, typeName, as: ProgressBar.self)
            call.push("Progress(\(bar.label): \(bar.completed)/\(bar.total))"); return 1
        }
        lua.define(c)
        lua.setFunction("progress", qualified: "joule.progress") { call in
            let total = try call.integer(1, 0...Int.max)
            let label = try call.string(2, default: "")
            call.push(object: ProgressBar(total: total, label: label), type: typeName); return 1
        }
    }

    static func this(_ call: LuaCall) throws -> ProgressBar { try call.this(typeName) }

    static func info(_ call: LuaCall, _ n: Int) throws -> String? {
        switch call.type(n) {
        case LUA_TNONE, LUA_TNIL: return nil
        case LUA_TSTRING: return try call.string(n)
        case LUA_TTABLE:
            let L = call.L, i = lua_absindex(L, call.index(n))
            return try LuaJSON.tableKeys(L, i).map { k -> String in
                lua_pushstring(L, k); lua_rawget(L, i); defer { lua_settop(L, -2) }
                return "\(k)=\(LuaJSON.short(L, -1))"
            }.joined(separator: "  ")
        default: throw call.bad(n, "string or table")
        }
    }
}

extension ProgressBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.progress", "joule.progress(total [, label]) → Progress",
     "A progress bar on a terminal (plain lines otherwise): call bar:update([n] [, info]) as work completes and bar:done([info]) at the end."),
    // Progress
    ("Progress", "Progress", "A progress bar (joule.progress). Methods: update, done."),
    ("Progress:update", "bar:update([n] [, info])", "Marks `n` items done (default: one more); info is a string or a table of named values."),
    ("Progress:done", "bar:done([info])", "Finishes the bar's line."),
    ]
}
