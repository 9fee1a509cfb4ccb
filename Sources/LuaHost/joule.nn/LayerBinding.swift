import CLua
import EBM
import Foundation
import NN
import Tensor

/// The modules of joule.nn: every layer kind NN declares (`LayerType.all`: its arguments, ranges and
/// documentation, read here by one generic constructor; kinds that wrap one module, Residual(m) and
/// SpectralNorm(layer [, options]), take it first), Sequential{ m1, m2, … [, names, input_shape] },
/// spectral_norm(model) and from_file. Each gives a model object: a whole
/// network is an energy model.
enum LayerBinding {
    static func install(_ lua: LuaState, _ context: JouleContext) {
        func define(_ name: String, _ make: @escaping (LuaCall) throws -> Module) {
            lua.setFunction(name, qualified: "joule.nn.\(name)") { call in
                call.push(object: LuaModel(try make(call)), type: ModelBinding.typeName); return 1
            }
        }
        // Every layer kind from its declaration (NN's LayerType): positional arguments, then an
        // options table; the same ranges the loader of checkpoints checks.
        for layer in LayerType.all { define(layer.name) { call in try make(layer, call, context) } }
        lua.setFunction("spectral_norm", qualified: "joule.nn.spectral_norm") { call in
            // spectral_norm(model [, { seed }]): a new model, every Conv2d and Linear wrapped.
            let o = try call.options(2, allowed: ["seed"])
            let source = try ModelBinding.model(call, 1).net()
            ModelBinding.push(call, try source.spectrallyNormalised(rng: try EngineBindings.rng(o, context)))
            return 1
        }
        lua.setFunction("from_file", qualified: "joule.nn.from_file") { call in
            // from_file(path [, options]): the model a Lua file returns; a file that returns a
            // function is called with `options` (scripts pass { classes, channels, hidden }).
            let options = call.isNil(2) ? nil : try call.table(2)
            try modelFromFile(call, try call.string(1)) {
                if let options { lua_pushvalue(call.L, options.index) } else { lua_createtable(call.L, 0, 0) }
            }
            return 1
        }
        lua.setFunction("Sequential", qualified: "joule.nn.Sequential") { call in
            let (modules, names, shape) = try sequential(call)
            let s = Sequential(modules, names: names)
            try Architecture.check(s)
            let m = LuaModel(s, inputShape: shape)
            if shape != nil { _ = try m.net() }   // a declared shape is checked now, by running one input
            call.push(object: m, type: ModelBinding.typeName); return 1
        }
    }

    /// Runs the Lua file `path` and leaves the model it returns on the stack; a returned function
    /// is called with the table `pushOptions` pushes.
    static func modelFromFile(_ call: LuaCall, _ path: String, pushOptions: () -> Void) throws {
        let L = call.L
        guard FileManager.default.isReadableFile(atPath: path) else { throw JouleError("cannot open \(path) (no such file or not readable)") }
        func check(_ status: Int32) throws {
            guard status != LUA_OK else { return }
            let text = lua_type(L, -1) == LUA_TSTRING ? LuaCall.stringValue(L, -1) : "\(path): error object is a \(LuaCall.got(L, -1))"
            throw LuaPassthroughError(message: text.components(separatedBy: "\nstack traceback:")[0])
        }
        try check(luaL_loadfilex(L, path, "t"))
        try check(joule_pcall(L, 0, 1))
        if lua_type(L, -1) == LUA_TFUNCTION {
            pushOptions()
            try check(joule_pcall(L, 1, 1))
        }
        guard ModelBinding.model(L, -1) != nil else {
            throw JouleError("\(path) returned \(LuaCall.got(L, -1)), not a joule.nn model (or a function making one)")
        }
    }

    /// Sequential{ m1, m2, …, names = { … }, input_shape = { C, H, W } }: the modules in order.
    private static func sequential(_ call: LuaCall) throws -> ([Module], [String]?, [Int]?) {
        let t = try call.table(1)
        let L = call.L
        let n = t.length
        guard n > 0 else { throw call.bad(1, message: "Sequential needs at least one module") }
        let allowed = ["names", "input_shape"]
        lua_pushnil(L)
        while lua_next(L, t.index) != 0 {
            lua_settop(L, -2)
            if lua_type(L, -1) == LUA_TNUMBER, let i = LuaCall.integerValue(L, -1), (1...n).contains(i) { continue }
            let key = lua_type(L, -1) == LUA_TSTRING ? LuaCall.stringValue(L, -1) : LuaCall.got(L, -1)
            if lua_type(L, -1) == LUA_TSTRING, allowed.contains(key) { continue }
            lua_settop(L, -2)
            throw call.bad(1, message: "unknown option '\(key)'\(suggestion(for: key, among: allowed)) (Sequential takes a list of modules, names and input_shape)")
        }
        let modules = try (1...n).map { i -> Module in
            lua_rawgeti(L, t.index, lua_Integer(i))
            defer { lua_settop(L, -2) }
            guard let m = ModelBinding.model(L, -1) else {
                throw call.bad(1, message: "element \(i): a joule.nn module expected, got \(LuaCall.got(L, -1))")
            }
            return m.module
        }
        var names: [String]?
        if let list = try PlotBinding.strings(t, "names") {
            do { try Sequential.checkNames(list, count: n) } catch { throw call.bad(1, message: "field 'names': \(error)") }
            names = list
        }
        let shape = try t.integers("input_shape", 1...(1 << 24))
        if let s = shape, s.count != 1 && s.count != 3 {
            throw call.bad(1, message: "field 'input_shape': {C, H, W} or {D} expected, got \(s.count) numbers")
        }
        return (modules, names, shape)
    }

    /// `layer` from a Lua call: its positional arguments, then its options (and `seed` for layers
    /// that draw weights), each read with its range; the parameter count checked before allocation.
    private static func make(_ layer: LayerType, _ call: LuaCall, _ context: JouleContext) throws -> Module {
        // A kind that wraps a module takes it first; its own arguments follow.
        let child = layer.child == nil ? nil : try ModelBinding.model(call, 1).module
        let shift = child == nil ? 0 : 1
        let optionsAt = (layer.arguments.compactMap(\.position).max() ?? 0) + 1 + shift
        let allowed = layer.arguments.filter { $0.position == nil }.map(\.key) + (layer.drawsWeights ? ["seed"] : [])
        let opts = allowed.isEmpty ? nil : try call.options(optionsAt, allowed: allowed)
        var args = LayerType.Arguments()
        for arg in layer.arguments {
            var value: LayerType.Value?
            if let n = arg.position.map({ $0 + shift }) {
                if call.isNil(n) && arg.optional {
                    value = arg.defaultValue
                } else {
                    switch arg.kind {
                    case .integer(let r): value = .integer(try call.integer(n, r))
                    case .setting: value = .setting(try setting(call, n))
                    case .boolean: value = .boolean(try call.boolean(n))
                    }
                }
            } else {
                switch arg.kind {
                case .integer(let r): value = try opts?.integer(arg.key, r).map { .integer($0) }
                case .setting:
                    if let x = try opts?.number(arg.key) {
                        do { value = .setting(try Architecture.setting(x, "field '\(arg.key)'")) } catch let e as JouleError {
                            throw call.bad(optionsAt, message: e.message)
                        }
                    }
                case .boolean: value = try opts?.boolean(arg.key).map { .boolean($0) }
                }
                value = value ?? arg.defaultValue
            }
            if let value { args.values[arg.key] = value }
        }
        _ = try layer.parameterCount(args)
        let rng = layer.drawsWeights ? try EngineBindings.rng(opts, context) : RNG(seed: 0)
        if let child, let wrap = layer.wrap {
            let m = try wrap(args, child, rng)
            try Architecture.check(m)
            return m
        }
        return try layer.make(args, rng)
    }

    /// A layer's real-valued setting, in the range a checkpoint can hold (`Architecture.setting`).
    private static func setting(_ call: LuaCall, _ n: Int) throws -> Float {
        do { return try Architecture.setting(try call.number(n), "the setting") } catch let e as JouleError {
            throw call.bad(n, message: e.message)
        }
    }
}

extension LayerBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.nn
    ("joule.nn", "joule.nn", "Networks composed of modules with PyTorch's semantics and state_dict names — Conv2d, Linear, SiLU, ReLU, LeakyReLU, ELU, Tanh, Sigmoid, AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Flatten, Sequential, Residual, SpectralNorm (and joule.nn.spectral_norm, which wraps a whole model's) — any of which is an energy model; the preset joule.nn.ShallowCNN (the course's network); joule.nn.load (any of them from a weights file); losses joule.nn.cross_entropy and joule.nn.logsumexp."),
    ("joule.nn.from_file", "joule.nn.from_file(path [, options]) → model",
     "The model a Lua file returns (scripts/models/ has some). A file may instead return a function of an options table, which is called with `options`; the scripts' `-p model=FILE.lua` passes { classes, channels, hidden }."),
    ("joule.nn.Sequential", "joule.nn.Sequential{ m1, m2, ... [, names = {...}] [, input_shape = {C, H, W} or {D}] } → Model",
     "The modules in order; their parameters are named 0.weight, 1.bias, … as in PyTorch (or by `names`). A network that ends with (N, C) logits is an energy model: model:energy, SGLD, JEM, OOD scores, optimisers and checkpoints take it. `input_shape` declares the inputs (SGLD starts chains there); a network starting with Linear declares its own. A module object stands in one place of a network (make another for a second layer; weights are not shared), and networks nest at most 64 levels deep."),
    ("joule.nn.spectral_norm", "joule.nn.spectral_norm(model [, { seed }]) → Model",
     "A new model like `model` with every Conv2d and Linear wrapped in joule.nn.SpectralNorm (as applying torch.nn.utils.parametrizations.spectral_norm to each): its weights copied in as the originals (parametrizations.weight.original; the ShallowCNN's become cnn_layers.N.parametrizations.weight.original), u and v drawn as PyTorch does (from `seed`, else joule.seed's generator) and 15 power iterations run. It starts in training mode; `model` is unchanged. Layers already wrapped keep their u and v."),
    ]
}
