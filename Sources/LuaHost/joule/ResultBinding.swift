import CLua
import Foundation
import Tensor

/// `joule.result{ auroc = 0.93, energy = { mean = -3.1 }, ... }` writes the run's result table to
/// `<run folder>/result.json` (atomically: a sweep reading it never sees half a file). Numbers,
/// strings, booleans, lists and nested tables are kept as JSON; a later call replaces the file.
/// Returns the file's path. `joule sweep` collects these tables into its summary.
enum ResultBinding {
    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.setFunction("result", qualified: "joule.result") { call in
            let t = try call.table(1)
            let L = call.L
            let keys = try LuaJSON.tableKeys(L, t.index)
            guard !keys.isEmpty, lua_rawlen(L, t.index) == 0 else {
                throw call.bad(1, message: "table of named values expected")
            }
            let json = try LuaJSON.encode(L, t.index)
            let path = try context.run.path() + "/result.json"
            try AtomicFile.write(Data((json + "\n").utf8), to: path)
            call.push(path)
            return 1
        }
    }
}

extension ResultBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.result", "joule.result{ key = value, ... } → path",
     "Writes the run's result table to <run folder>/result.json (atomically; a later call replaces it) and returns the path; `joule sweep` collects these tables into its summary."),
    ]
}
