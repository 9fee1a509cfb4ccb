import CLua
import Foundation
import Tensor

/// joule.nn, joule.optim, joule.ebm, joule.data, joule.metrics and joule.ood: the engine as Lua sees it.
///
/// Class labels are the class ids stored in the data (0 … C−1), in Lua as elsewhere: they are
/// values, not positions. (Positions, such as Tensor:argmax's, count from 1 as Lua does.)
enum EngineBindings {
    static func install(_ lua: LuaState, _ context: JouleContext) {
        let L = lua.L
        let module = lua_gettop(L)
        lua_createtable(L, 0, 4)
        ModelBinding.install(lua, context)
        LossBinding.install(lua)
        lua_setfield(L, module, "nn")
        lua_createtable(L, 0, 4)
        OptimBinding.install(lua)
        lua_setfield(L, module, "optim")
        lua_createtable(L, 0, 4)
        SamplerBinding.install(lua, context)
        MarkovSamplerBinding.install(lua, context)
        JEMBinding.install(lua, context)
        EnergyBinding.install(lua, context)
        DiagnosticsBinding.install(lua)
        ObjectivesBinding.install(lua, context)
        lua_setfield(L, module, "ebm")
        lua_createtable(L, 0, 4)
        DataBinding.install(lua, context)
        lua_setfield(L, module, "data")
        lua_createtable(L, 0, 4)
        MetricsBinding.installMetrics(lua)
        lua_setfield(L, module, "metrics")
        lua_createtable(L, 0, 4)
        OODBinding.install(lua)
        lua_setfield(L, module, "ood")
    }

    /// A generator for an object that takes `seed` in its options: that seed, or one drawn from the
    /// module's generator so that `joule.seed` fixes every object a script makes.
    static func rng(_ options: LuaTable?, _ context: JouleContext) throws -> RNG {
        if let s = try options?.integer("seed") { return RNG(seed: UInt64(bitPattern: Int64(s))) }
        return RNG(seed: context.rng.next())
    }

    /// Optional class labels at argument `n` (a table or tensor of class ids).
    static func labels(_ call: LuaCall, _ n: Int) throws -> [Int]? {
        if call.isNil(n) { return nil }
        return try LuaTable.integerList(call, n, call.index(n), "labels", 0...Int.max)
    }

    /// A split as Lua holds it: `{ images = Tensor, labels = {...} }` (labels optional).
    static func split(_ call: LuaCall, _ n: Int, needLabels: Bool) throws -> (images: Tensor, labels: [Int]?) {
        let t = try call.table(n)
        guard let images = try t.tensor("images") else {
            throw call.bad(n, message: "split table needs 'images' (a Tensor)")
        }
        let labels = try t.integers("labels", 0...Int.max)
        if needLabels && labels == nil { throw call.bad(n, message: "split table needs 'labels'") }
        return (images, labels)
    }
}
