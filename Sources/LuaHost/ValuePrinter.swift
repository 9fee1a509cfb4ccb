import CLua
import Foundation

/// The one value printer of every Lua front end (the console, the Jupyter kernel, `joule notebook
/// run`): tensors as a summary (shape, dtype, min/max/mean, the first values), tables readably and
/// depth-limited, strings inside tables quoted, everything else as `tostring` gives it. So a value
/// prints the same wherever it is shown.
///
/// The printer is a Lua function (Lua reads Lua values best; Lua/value_printer.lua) kept in the
/// registry and called under `pcall`, so a broken `__tostring` or a failing tensor method shows as
/// text, never as an error that ends the session.
public enum ValuePrinter {

    /// Loads the printer into `L`; returns its registry reference.
    public static func install(_ L: OpaquePointer, maxDepth: Int = 3, maxItems: Int = 40, width: Int = 78) -> Int32 {
        let source = EmbeddedLua.valuePrinter
        guard luaL_loadbufferx(L, source, source.utf8.count, "@joule/value_printer.lua", "t") == LUA_OK else {
            fatalError("console formatter: \(String(cString: lua_tolstring(L, -1, nil)))")
        }
        lua_pushinteger(L, lua_Integer(maxDepth))
        lua_pushinteger(L, lua_Integer(maxItems))
        lua_pushinteger(L, lua_Integer(width))
        guard lua_pcallk(L, 3, 1, 0, 0, nil) == LUA_OK else {
            fatalError("console formatter: \(String(cString: lua_tolstring(L, -1, nil)))")
        }
        return luaL_ref(L, joule_registry_index())
    }

    /// The text for the value at `index`.
    public static func format(_ L: OpaquePointer, _ index: Int32, formatter: Int32) -> String {
        let i = lua_absindex(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(formatter))
        lua_pushvalue(L, i)
        guard lua_pcallk(L, 1, 1, 0, 0, nil) == LUA_OK, lua_type(L, -1) == LUA_TSTRING else {
            return "(unprintable value)"
        }
        var len = 0
        let p = lua_tolstring(L, -1, &len)!
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }
}
