import CLua
import Foundation
import NN

/// Documentation of every `joule` function and method: a signature line and one paragraph. The
/// kernel's `inspect`, the console's `help(...)` / `?name` and the README draw on it.
///
/// Names are qualified as Lua code spells them: `joule.ebm.SGLD` for module functions,
/// `SGLD:sample` for methods of a userdata type (its metatable's `__name`), and the bare type
/// name (`Tensor`) for the type itself.
public enum JouleDocs {
    /// Name → (signature, text).
    public static let entries: [String: (signature: String, text: String)] = {
        var d: [String: (String, String)] = [:]
        // Layers document themselves where they are declared (NN's LayerType).
        for t in LayerType.all { d["joule.nn.\(t.name)"] = (t.signature, t.documentation) }
        for (name, sig, text) in table {
            d[name] = (sig, text)
            // Composed models have the preset's methods.
            if name.hasPrefix("ShallowCNN:") { d["Model" + name.dropFirst("ShallowCNN".count)] = (sig, text) }
        }
        return d
    }()

    /// The documentation of `name` (`joule.ebm.SGLD`, `SGLD:sample`, `Tensor`) as text: the
    /// signature, a blank line, the paragraph; nil when there is none.
    public static func lookup(_ name: String) -> String? {
        var key = name.trimmingCharacters(in: .whitespacesAndNewlines)
        while key.hasSuffix("(") || key.hasSuffix(")") { key.removeLast() }
        if let e = entries[key] { return e.signature + "\n\n" + e.text }
        // `Tensor.add` for `Tensor:add`, `require("joule").x` style `joule.x` already covered.
        if let dot = key.lastIndex(of: "."), let e = entries[key.replacingCharacters(in: dot...dot, with: ":")],
           !key.hasPrefix("joule.") {
            return e.signature + "\n\n" + e.text
        }
        return nil
    }

    /// Documentation for an expression typed at a prompt or under the cursor: a `joule` path
    /// (`joule.ebm.SGLD`), a global or field holding a `joule` function or object (`nn.ShallowCNN`
    /// after `nn = joule.nn`, `model`), or a method on such an object (`model:energy`). Lua is only
    /// read (raw), never run.
    public static func help(_ lua: LuaState, expression: String) -> String? {
        let expr = expression.trimmingCharacters(in: .whitespacesAndNewlines)
        if let d = lookup(expr) { return d }
        let scalars = Array(expr.unicodeScalars)
        guard let path = LuaCompleter.path(before: scalars.count, in: scalars), !path.partial.isEmpty else { return nil }
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 64) != 0 else { return nil }
        if path.separator == ":" {
            // model:energy → the type of `model`, then its method.
            guard LuaCompleter.resolve(L, path.owner) else { return nil }
            guard let type = userTypeName(L, -1) else { return nil }
            return lookup("\(type):\(path.partial)")
        }
        guard LuaCompleter.resolve(L, path.owner + [path.partial]) else { return nil }
        return help(lua, valueAt: -1)
    }

    /// Documentation for the value at `index`: a `joule` function (found by identity in the
    /// module), a method of a bound type, or a bound object (its type's documentation).
    public static func help(_ lua: LuaState, valueAt index: Int32) -> String? {
        guard let name = qualifiedName(lua, valueAt: index) else { return nil }
        return lookup(name)
    }

    /// The documented name of the value at `index`, e.g. "joule.ebm.SGLD", "SGLD:sample" or
    /// "Tensor"; nil for values that are not part of the `joule` API.
    public static func qualifiedName(_ lua: LuaState, valueAt index: Int32) -> String? {
        let L = lua.L
        let value = lua_absindex(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 64) != 0 else { return nil }
        if lua_type(L, value) == LUA_TUSERDATA || lua_type(L, value) == LUA_TTABLE,
           let type = userTypeName(L, value), entries[type] != nil {
            return type
        }
        // The module itself and anything in it (three levels: joule.ebm.SGLD).
        lua_getglobal(L, "package")
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        lua_pushstring(L, "loaded"); lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        lua_pushstring(L, "joule"); lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        if lua_rawequal(L, -1, value) != 0 { return "joule" }
        if let found = search(L, lua_gettop(L), value, prefix: "joule", depth: 3) { return found }
        // Methods of the bound types.
        for (name, _, _) in table where !name.contains(".") && !name.contains(":") {
            lua_settop(L, top)
            guard lua_getfield(L, joule_registry_index(), name) == LUA_TTABLE else { continue }
            lua_pushstring(L, "__methods")
            guard lua_rawget(L, -2) == LUA_TTABLE else { continue }
            let methods = lua_gettop(L)
            lua_pushnil(L)
            while lua_next(L, methods) != 0 {
                if lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, value) != 0 {
                    return "\(name):\(String(cString: lua_tolstring(L, -2, nil)))"
                }
                lua_settop(L, -2)
            }
        }
        return nil
    }

    private static func search(_ L: OpaquePointer, _ table: Int32, _ value: Int32, prefix: String, depth: Int) -> String? {
        var subtables: [String] = []
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            defer { lua_settop(L, -2) }
            guard lua_type(L, -2) == LUA_TSTRING else { continue }
            let key = String(cString: lua_tolstring(L, -2, nil))
            if lua_rawequal(L, -1, value) != 0 { lua_settop(L, -3); return "\(prefix).\(key)" }
            if lua_type(L, -1) == LUA_TTABLE { subtables.append(key) }
        }
        guard depth > 1 else { return nil }
        for key in subtables.sorted() {
            lua_pushstring(L, key)
            lua_rawget(L, table)
            let sub = lua_gettop(L)
            if let found = search(L, sub, value, prefix: "\(prefix).\(key)", depth: depth - 1) { return found }
            lua_settop(L, sub - 1)
        }
        return nil
    }

    /// The `__name` of the value's metatable (bound userdata types), read raw.
    static func userTypeName(_ L: OpaquePointer, _ index: Int32) -> String? {
        let i = lua_absindex(L, index)
        guard lua_getmetatable(L, i) != 0 else { return nil }
        defer { lua_settop(L, -3) }
        lua_pushstring(L, "__name")
        guard lua_rawget(L, -2) == LUA_TSTRING else { return nil }
        return String(cString: lua_tolstring(L, -1, nil))
    }

    /// Every documented name, sorted (for `help()` with no argument and for tests).
    public static var names: [String] { entries.keys.sorted() }

    // MARK: the text

    /// Every namespace documents its functions beside their bindings (`documentation` in each file).
    static let table: [(String, String, String)] =
        JouleModule.documentation
        + ParamsBinding.documentation
        + LogBinding.documentation
        + TensorBoardBinding.documentation
        + ResultBinding.documentation
        + ProgressBinding.documentation
        + TensorBinding.documentation
        + LayerBinding.documentation
        + ModelBinding.documentation
        + LossBinding.documentation
        + OptimBinding.documentation
        + SamplerBinding.documentation
        + MarkovSamplerBinding.documentation
        + MarkovSamplerBinding.methodDocumentation
        + JEMBinding.documentation
        + EnergyBinding.documentation
        + DiagnosticsBinding.documentation
        + ObjectivesBinding.documentation
        + DataBinding.documentation
        + MetricsBinding.documentation
        + SampleQualityBinding.documentation
        + RobustnessBinding.documentation
        + OODBinding.documentation
        + PlotBinding.documentation
        + WidgetsLibrary.documentation
}
