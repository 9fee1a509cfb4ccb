import CLua
import EBM
import Foundation
import NN
import Tensor

/// The modules of joule.nn, with PyTorch's arguments and defaults:
/// Conv2d(in, out, kernel [, { stride, padding, bias, seed }]), Linear(in, out [, { bias, seed }]),
/// SiLU(), ReLU(), LeakyReLU([slope]), ELU([alpha]), Tanh(), Sigmoid(), AvgPool2d(k [, stride]),
/// MaxPool2d(k [, stride]), AdaptiveAvgPool2d(1), Flatten(), Sequential{ m1, m2, … [, names, input_shape] },
/// Residual(m). Each gives a model object: a whole network is an energy model.
enum LayerBinding {
    static let sizes = 1...(1 << 20), kernels = 1...1024

    static func install(_ lua: LuaState, _ context: JouleContext) {
        func define(_ name: String, _ make: @escaping (LuaCall) throws -> Module) {
            lua.setFunction(name, qualified: "joule.nn.\(name)") { call in
                call.push(object: LuaModel(try make(call)), type: ModelBinding.typeName); return 1
            }
        }
        define("Conv2d") { call in
            let (i, o, k) = (try call.integer(1, sizes), try call.integer(2, sizes), try call.integer(3, kernels))
            let opts = try call.options(4, allowed: ["stride", "padding", "bias", "seed"])
            try checkSize([o, i, k, k], call)
            return Conv2d(i, o, kernel: k, stride: try opts?.integer("stride", kernels) ?? 1,
                          padding: try opts?.integer("padding", 0...1024) ?? 0, bias: try opts?.boolean("bias") ?? true,
                          rng: try EngineBindings.rng(opts, context))
        }
        define("Linear") { call in
            let (i, o) = (try call.integer(1, sizes), try call.integer(2, sizes))
            let opts = try call.options(3, allowed: ["bias", "seed"])
            try checkSize([o, i], call)
            return Linear(i, o, bias: try opts?.boolean("bias") ?? true, rng: try EngineBindings.rng(opts, context))
        }
        define("SiLU") { _ in Swish() }
        define("ReLU") { _ in Activation(.relu) }
        define("LeakyReLU") { call in Activation(.leakyReLU(slope: try setting(call, 1, default: 0.01))) }
        define("ELU") { call in Activation(.elu(alpha: try setting(call, 1, default: 1))) }
        define("Tanh") { _ in Activation(.tanh) }
        define("Sigmoid") { _ in Activation(.sigmoid) }
        for (name, kind) in [("AvgPool2d", Pool2d.Kind.average), ("MaxPool2d", .max)] {
            define(name) { call in
                let k = try call.integer(1, kernels)
                return Pool2d(kind, kernel: k, stride: try call.integer(2, kernels, default: k))
            }
        }
        define("AdaptiveAvgPool2d") { call in
            guard try call.integer(1, default: 1) == 1 else { throw call.bad(1, message: "only output size 1 (global average pooling) is supported") }
            return AdaptiveAvgPool2d()
        }
        define("Flatten") { _ in Flatten() }
        define("Residual") { call in
            let r = Residual(try ModelBinding.model(call, 1).module)
            try Architecture.check(r)
            return r
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

    /// A layer's real-valued setting, in the range a checkpoint can hold (`Architecture.setting`).
    private static func setting(_ call: LuaCall, _ n: Int, default d: Double) throws -> Float {
        do { return try Architecture.setting(try call.number(n, default: d), "the setting") } catch let e as JouleError {
            throw call.bad(n, message: e.message)
        }
    }

    /// Refuses layers too large to allocate before the allocation.
    private static func checkSize(_ dims: [Int], _ call: LuaCall) throws {
        var n = 1
        for d in dims {
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow, p <= Architecture.maxParameters else {
                throw JouleError("a layer of \(dims.map(String.init).joined(separator: "×")) weights is too large")
            }
            n = p
        }
    }
}
