import CLua
import Foundation
import LuaHost
import JouleCore

/// Evaluates sweep files in a plain Lua state (no `joule` module: a sweep file only describes).
public enum SweepFile {
    /// Runs the file and returns the table it returns.
    public static func evaluate(_ path: String) throws -> SweepValue {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw JouleError("cannot open sweep file \(path) (no such file or not readable)")
        }
        let lua = LuaState()
        let L = lua.L
        // Ctrl-C stops a sweep file that loops (even where the shell started Joule ignoring it).
        lua.catchInterrupts()
        defer { lua.releaseInterrupts() }
        if luaL_loadfilex(L, path, "t") != LUA_OK || joule_pcall(L, 0, 1) != LUA_OK {
            var text = lua_type(L, -1) == LUA_TSTRING ? String(cString: lua_tolstring(L, -1, nil)) : "error in \(path)"
            if let r = text.range(of: "\nstack traceback:") { text = String(text[..<r.lowerBound]) }
            throw JouleError(text)
        }
        guard lua_type(L, -1) == LUA_TTABLE else {
            throw JouleError("\(path): a sweep file must return a table (return { script = ..., grid = {...} }), got \(String(cString: lua_typename(L, lua_type(L, -1))))")
        }
        return try read(L, -1, path: "", file: path, depth: 0)
    }

    /// Evaluates Lua source (for tests and `--dry-run` of generated files).
    public static func evaluate(source: String, name: String = "sweep.lua") throws -> SweepValue {
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("joule-sweep-\(UUID().uuidString).lua")
        try source.write(to: tmp, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tmp) }
        return try evaluate(tmp.path)
    }

    static func read(_ L: OpaquePointer, _ index: Int32, path: String, file: String, depth: Int) throws -> SweepValue {
        let i = lua_absindex(L, index)
        switch lua_type(L, i) {
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER:
            return lua_isinteger(L, i) != 0 ? .int(Int(lua_tointegerx(L, i, nil))) : .double(lua_tonumberx(L, i, nil))
        case LUA_TSTRING:
            var n = 0
            let p = lua_tolstring(L, i, &n)!
            return .string(String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self))
        case LUA_TTABLE:
            guard depth < 16 else { throw JouleError("\(file): table '\(path)' is nested too deeply (or cyclic)") }
            let n = Int(lua_rawlen(L, i))
            var list: [SweepValue] = []
            for k in 0..<n {
                lua_rawgeti(L, i, lua_Integer(k + 1))
                defer { lua_settop(L, -2) }
                list.append(try read(L, -1, path: "\(path)[\(k + 1)]", file: file, depth: depth + 1))
            }
            var fields: [String: SweepValue] = [:]
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                defer { lua_settop(L, -2) }
                if lua_type(L, -2) == LUA_TSTRING {
                    let key = String(cString: lua_tolstring(L, -2, nil))
                    fields[key] = try read(L, -1, path: path.isEmpty ? key : "\(path).\(key)", file: file, depth: depth + 1)
                } else if lua_isinteger(L, -2) != 0, (1...Swift.max(n, 1)).contains(Int(lua_tointegerx(L, -2, nil))), n > 0 {
                    continue
                } else {
                    throw JouleError("\(file): table '\(path)' has a key that is neither a name nor a list position")
                }
            }
            return .table(list: list, fields: fields)
        default:
            let t = String(cString: lua_typename(L, lua_type(L, i)))
            throw JouleError("\(file): '\(path)' is a \(t); a sweep file holds only numbers, strings, booleans and tables")
        }
    }
}

extension SweepSpec {
    /// Reads the sweep file at `path`.
    public static func load(_ path: String) throws -> SweepSpec {
        try SweepSpec(try SweepFile.evaluate(path), file: path)
    }
}
