import CLua
import EBM
import Foundation
import NN
import Tensor

/// An energy written in Lua, as an `EnergyModel`: a plain EBM (one logit, f = −E) with no
/// parameters, whose energies and input gradients come from calling the script's functions. It
/// holds no numerics: it calls Lua, checks what comes back, and hands it on, so that every sampler,
/// the OOD scores and the diagnostics take it wherever they take a network.
final class LuaEnergy: EnergyModel {
    /// One input's shape, (D) or (C, H, W).
    let shape: [Int]
    /// Where the script made it (`script.lua:12:`), for messages about what its functions return.
    let madeAt: String
    /// Registry references of the two functions; nil when not given.
    private let energyRef: Int32?
    private let gradRef: Int32?
    /// The interpreter the functions live in. Weak: the state owns every binding's closures (and so,
    /// through the samplers, this object); once it is gone the functions are too.
    private weak var owner: LuaState?
    /// Lua runs on one thread: the one that made the energy, which is the one running the script.
    private let thread = pthread_self()
    /// The input of the latest `forwardLogits`, for `backward`.
    private var lastInput: Tensor?
    /// ∂E/∂x of the latest `energyGradient`, reused from call to call.
    private let gradient = Tensor(shape: [0])

    init(shape: [Int], energyRef: Int32?, gradRef: Int32?, owner: LuaState, madeAt: String) {
        self.shape = shape; self.energyRef = energyRef; self.gradRef = gradRef; self.owner = owner; self.madeAt = madeAt
    }

    deinit {
        // Without the state (closed, or closing: its finalizers run when the weak reference is
        // already nil) there is no registry to release from.
        guard let L = owner?.L else { return }
        for ref in [energyRef, gradRef].compactMap({ $0 }) { luaL_unref(L, joule_registry_index(), ref) }
    }

    private var name: String { "joule.ebm.Energy (made at \(madeAt))" }

    // MARK: EnergyModel

    var classes: Int { 1 }
    var inputShape: [Int]? { shape }
    var namedParameters: [(name: String, parameter: Parameter)] { [] }
    var hyperparameters: [String: String] { ["energy": "lua", "shape": shape.map(String.init).joined(separator: ",")] }

    func load(stateDict: [String: Tensor]) throws {
        guard stateDict.isEmpty else { throw JouleError("\(name) has no parameters to load (got \(stateDict.count) tensors)") }
    }

    func forwardLogits(_ x: Tensor) throws -> Tensor {
        let (energy, _) = try evaluate(x, gradient: false)
        lastInput = x.copy()
        let logits = try energy.reshaped([x.shape[0], 1])
        logits.scale(by: -1)
        return logits
    }

    func backward(_ gradLogits: Tensor, weights: Bool) throws -> Tensor? {
        // A Lua energy has no weights: their gradients are nothing to accumulate.
        if weights { return nil }
        guard let x = lastInput else { throw JouleError("\(name): backward before any forward pass") }
        let n = x.shape[0]
        guard gradLogits.shape == [n, 1] else {
            throw JouleError("\(name): gradient to the logits has shape \(gradLogits.shape), the logits have [\(n), 1]")
        }
        // ∂L/∂x = ∂L/∂f · ∂f/∂x with f = −E.
        let (_, g) = try evaluate(x, gradient: true)
        return try g!.multiplying(try gradLogits.reshaped([n] + Array(repeating: 1, count: shape.count)).negated())
    }

    func energyGradient(_ x: Tensor, labels: [Int]?, energy: Tensor) throws -> Tensor {
        try checkLabels(labels, x)
        let (e, g) = try evaluate(x, gradient: true)
        try energy.assign(e)
        // Into a tensor of this model's, as the protocol has it: a caller that changes the gradient
        // in place must not change a tensor the script still holds (one it returns every call).
        try gradient.assign(g!)
        return gradient
    }

    private func checkLabels(_ labels: [Int]?, _ x: Tensor) throws {
        // One class: E(x, 0) is E(x); any other label is out of range.
        guard let labels else { return }
        if let bad = labels.first(where: { $0 != 0 }) {
            throw JouleError("\(name) is an energy of x alone (one class): label \(bad) out of range 0..<1; sample it unconditionally")
        }
        guard labels.count == x.shape.first else { throw JouleError("\(labels.count) labels for \(x.shape.first ?? 0) inputs") }
    }

    // MARK: calling Lua

    /// Energies (N), and ∂E/∂x of x's shape when `gradient`, from the script's functions, checked.
    private func evaluate(_ x: Tensor, gradient: Bool) throws -> (Tensor, Tensor?) {
        guard x.rank == shape.count + 1, Array(x.shape.dropFirst()) == shape, x.shape[0] > 0 else {
            throw JouleError("\(name) takes a batch of shape (N, \(shape.map(String.init).joined(separator: ", "))), got \(x.shape)")
        }
        let ref: Int32, what: String
        if gradient || energyRef == nil {
            guard let g = gradRef else {
                throw JouleError("\(name) has no energy_grad, and this needs ∂E/∂x: Joule derives no gradient from a Lua energy; give energy_grad = function(x) return energies, gradients end")
            }
            (ref, what) = (g, "energy_grad")
        } else {
            (ref, what) = (energyRef!, "energy")
        }
        let results = try call(ref, what, x, results: what == "energy_grad" ? 2 : 1)
        let n = x.shape[0]
        let energy = results[0]
        guard let energy else { throw JouleError("\(name): \(what) must return a Tensor of \(n) energies, got \(describeResult(0))") }
        guard energy.shape == [n] else {
            throw JouleError("\(name): \(what) returned energies of shape \(energy.shape); a batch of \(n) needs shape [\(n)] (one energy per input: sum over the other dimensions, e.g. t:sum(2))")
        }
        if let i = (0..<n).first(where: { energy[$0].isNaN || energy[$0] == -.infinity }) {
            throw JouleError("\(name): \(what) returned energy \(formatNumber(Double(energy[i]))) for input \(i + 1) of \(n)")
        }
        guard what == "energy_grad" else { return (energy, nil) }
        guard let grad = results[1] else {
            throw JouleError("\(name): energy_grad must return energies and gradients (two Tensors), got \(describeResult(1)) as the second result")
        }
        guard grad.shape == x.shape else {
            throw JouleError("\(name): energy_grad returned gradients of shape \(grad.shape); they must have the shape of x, \(x.shape)")
        }
        if let i = (0..<grad.count).first(where: { !grad[$0].isFinite }) {
            throw JouleError("\(name): energy_grad returned gradient \(formatNumber(Double(grad[i]))) for input \(i / grad.itemSize + 1) of \(n)")
        }
        return (energy, gradient ? grad : nil)
    }

    /// What the latest call returned in position `i`, for messages (set by `call`).
    private var resultTypes: [String] = []
    private func describeResult(_ i: Int) -> String { i < resultTypes.count ? resultTypes[i] : "nothing" }

    /// Calls the function `ref` with a copy of x (the caller moves x in place afterwards: a script
    /// that keeps its argument must not see it change) and returns its tensor results (nil where
    /// the result is not a tensor).
    private func call(_ ref: Int32, _ what: String, _ x: Tensor, results: Int32) throws -> [Tensor?] {
        guard let L = owner?.L else { throw JouleError("\(name): its Lua state is closed") }
        guard pthread_equal(thread, pthread_self()) != 0 else {
            throw JouleError("\(name) is called from another thread: a Lua energy runs on the script's thread only")
        }
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 4) != 0 else { throw JouleError("\(name): Lua stack exhausted") }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(ref))
        LuaObjects.push(L, x.copy(), type: TensorBinding.typeName)
        guard joule_pcall(L, 1, results) == LUA_OK else {
            // The error already names its own file and line; say whose function raised it.
            let text = lua_type(L, -1) == LUA_TSTRING ? LuaCall.stringValue(L, -1) : "error object is a \(LuaCall.got(L, -1))"
            throw LuaPassthroughError(message: text.components(separatedBy: "\nstack traceback:")[0] + " (in the \(what) of \(name))")
        }
        resultTypes = (0..<Int(results)).map { LuaCall.got(L, top + 1 + Int32($0)) }
        return (0..<results).map { LuaObjects.get(L, top + 1 + $0, type: TensorBinding.typeName, as: Tensor.self) }
    }
}

/// joule.ebm.Energy{ shape = {D} or {C, H, W}, energy = function(x) … end, energy_grad = function(x) … end }
/// and the energy object's methods; and the one reader of "a model" for the bindings that take
/// either a network or a Lua energy (samplers, OOD scores, diagnostics).
enum EnergyBinding {
    static let typeName = "Energy"

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(energyClass())
        lua.setFunction("Energy", qualified: "joule.ebm.Energy") { [weak lua] call in
            guard let lua, let o = try call.options(1, allowed: ["shape", "energy", "energy_grad"]) else { throw call.bad(1, "options table") }
            guard let shape = try o.integers("shape", 1...(1 << 24)) else {
                throw call.bad(1, message: "field 'shape': {D} or {C, H, W} expected, got nil")
            }
            guard shape.count == 1 || shape.count == 3 else {
                throw call.bad(1, message: "field 'shape': {D} or {C, H, W} expected, got \(shape.count) numbers")
            }
            try LuaCall.checkSize(shape, call, 1)
            let L = call.L
            func ref(_ key: String) throws -> Int32? {
                try o.withField(key) { slot in
                    switch lua_type(L, slot) {
                    case LUA_TNIL: return nil
                    case LUA_TFUNCTION:
                        lua_pushvalue(L, slot)
                        return luaL_ref(L, joule_registry_index())
                    default: throw call.bad(1, message: "field '\(key)': function expected, got \(LuaCall.got(L, slot))")
                    }
                }
            }
            let energy = try ref("energy"), grad = try ref("energy_grad")
            guard energy != nil || grad != nil else {
                throw call.bad(1, message: "give 'energy' (a function of a batch x returning its energies) and/or 'energy_grad' (returning energies and ∂E/∂x)")
            }
            luaL_where(L, 1)
            // "script.lua:12: " as Lua prefixes messages; kept as "script.lua:12".
            let madeAt = LuaCall.stringValue(L, -1).trimmingCharacters(in: CharacterSet(charactersIn: ": "))
            lua_settop(L, -2)
            call.push(object: LuaEnergy(shape: shape, energyRef: energy, gradRef: grad, owner: lua, madeAt: madeAt), type: typeName)
            return 1
        }
    }

    static func energyClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        func this(_ call: LuaCall) throws -> LuaEnergy { try call.this(typeName) }
        c.method("energy") { call in call.push(try this(call).energy(try call.tensor(1))); return 1 }
        c.method("energy_grad") { call in
            let e = Tensor(shape: [0])
            let g = try this(call).energyGradient(try call.tensor(1), labels: nil, energy: e)
            // The model reuses its gradient tensor on the next call: Lua gets its own copy.
            call.push(e); call.push(g.copy()); return 2
        }
        c.method("logits") { call in call.push(try this(call).logits(try call.tensor(1))); return 1 }
        c.method("classes") { call in call.push(try this(call).classes); return 1 }
        c.method("input_shape") { call in call.push(try this(call).shape); return 1 }
        c.meta("__tostring") { call in
            guard let e = LuaObjects.get(call.L, 1, type: typeName, as: LuaEnergy.self) else { call.push(typeName); return 1 }
            call.push("Energy(shape {\(e.shape.map(String.init).joined(separator: ", "))})"); return 1
        }
        return c
    }

    /// The energy model in field `key` of an options table: a network (joule.nn) or a Lua energy.
    static func model(_ o: LuaTable, required key: String) throws -> EnergyModel {
        if let e = try? o.object(key, typeName, as: LuaEnergy.self) { return e }
        if o.withField(key, { ModelBinding.model(o.L, $0) }) != nil { return try ModelBinding.model(o, required: key).net() }
        return try o.withField(key) { slot in
            throw o.bad("field '\(key)'", "\(ModelBinding.typeName) or \(typeName)", slot)
        }
    }

    /// The energy model at argument `n`: a network or a Lua energy.
    static func model(_ call: LuaCall, _ n: Int) throws -> EnergyModel {
        if let e = LuaObjects.get(call.L, call.index(n), type: typeName, as: LuaEnergy.self) { return e }
        if let m = ModelBinding.model(call.L, call.index(n)) { return try m.net() }
        throw call.bad(n, "\(ModelBinding.typeName) or \(typeName)")
    }
}

extension EnergyBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ebm.Energy", "joule.ebm.Energy{ shape = {D} or {C, H, W}, energy = function(x) … end, energy_grad = function(x) … end } → Energy",
     "An energy written in Lua, usable wherever a model is (samplers, joule.ood.scores, joule.ebm.diagnostics): `energy(x)` gets a batch x (N, …) of the given shape and returns its energies, a Tensor (N); `energy_grad(x)` returns the energies and ∂E/∂x (N, …) — samplers need it (Joule derives no gradient from Lua, and a Lua energy gives no second derivatives). Give either or both (energy alone serves energies and px scores; energy_grad alone serves everything). It is a plain EBM: one class, logits −E, no parameters. Write it with tensor arithmetic: a Gaussian with precision P is `local d = x - mu; return 0.5 * (d:matmul(P) * d):sum(2)`; a network's energy with a temperature T and a prior: `energy = function(x) return net:energy(x) / T + 0.5 * (x * x):sum(2) end` (and energy_grad likewise from net:energy_grad). A wrong shape, a NaN energy or gradient, or a Lua error in the functions stops the caller with a message naming the line."),
    ("Energy", "Energy", "An energy written in Lua (joule.ebm.Energy). Methods: energy, energy_grad, logits, classes, input_shape."),
    ("Energy:energy", "e:energy(x) → Tensor (N)", "The energies of a batch, as the energy function (or energy_grad) returns them, checked."),
    ("Energy:energy_grad", "e:energy_grad(x) → energy, grad", "Energies and ∂E/∂x of a batch from the energy_grad function, checked (gradients of x's shape, finite)."),
    ("Energy:logits", "e:logits(x) → Tensor (N, 1)", "−E as the one logit of each input."),
    ("Energy:classes", "e:classes() → 1", "A Lua energy is a plain EBM: one class."),
    ("Energy:input_shape", "e:input_shape() → {D} or {C, H, W}", "The shape of one input, as given."),
    ]
}
