import CLua
import Foundation

/// `joule.widgets`: sliders, a dropdown, a checkbox, a button, labels, Output and Image areas and
/// boxes, and `interact`. The widget objects, their callbacks and `interact` live here, in Lua;
/// where their state lives is the backend's business: the notebook kernel's (Notebook/WidgetBinding)
/// keeps ipywidgets models and syncs them with the front end, this file's own keeps plain values and
/// prints a short text form (the console, `joule run`, where nothing can show a slider).
///
/// Backend functions: create(kind, props) → id, get(id, key), set(id, key, value),
/// set_bytes(id, key, bytes), capture_begin(id), capture_end(id, error), clear(id), pending(id), close(id). The
/// internals (registry field `joule.widgets.internal`) hold `backend`, and `changed(id, key, value)`
/// and `clicked(id)`, which the backend calls for the front end's changes.
public enum WidgetsLibrary {

    public static let internalKey = "joule.widgets.internal"

    static func install(_ lua: LuaState) {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let source = EmbeddedLua.widgets
        guard luaL_loadbufferx(L, source, source.utf8.count, "@joule/widgets.lua", "t") == LUA_OK,
              joule_pcall(L, 0, 1) == LUA_OK else {
            fatalError("joule.widgets: \(String(cString: lua_tolstring(L, -1, nil)))")
        }
        lua_setfield(L, joule_registry_index(), internalKey)
    }
}
