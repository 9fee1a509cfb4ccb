import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.MALA{...}, joule.ebm.HMC{...} and joule.ebm.AnnealedLangevin{...}: the samplers of the
/// literature. They share their chain options (steps, start, clamp, buffer, ...) and their methods.
enum MarkovSamplerBinding {
    static let typeNames = ["MALA", "HMC", "AnnealedLangevin"]
    /// Options of every such sampler.
    static let chainOptions = ["model", "steps", "conditional", "start", "init", "init_std", "fresh_fraction", "buffer_per_class",
                               "image_size", "shape", "clamp", "precision", "seed"]
    static let kernelOptions = ["MALA": ["step_size", "adapt_steps", "target_acceptance"],
                                "HMC": ["step_size", "leapfrog", "mass"],
                                "AnnealedLangevin": ["step_size", "t0"]]

    static func install(_ lua: LuaState, _ context: JouleContext) {
        for name in typeNames {
            lua.define(samplerClass(name))
            lua.setFunction(name, qualified: "joule.ebm.\(name)") { call in
                guard let o = try call.options(1, allowed: chainOptions + kernelOptions[name]!) else { throw call.bad(1, "options table") }
                call.push(object: try make(name, o, call, context), type: name); return 1
            }
        }
        lua.setFunction("sampler", qualified: "joule.ebm.sampler") { call in
            // joule.ebm.sampler(name, options): what scripts' `-p sampler=` calls.
            let name = try call.string(1)
            guard let type = byName[name] else {
                let names = byName.keys.sorted()
                throw call.bad(1, message: "unknown sampler '\(name)'\(suggestion(for: name, among: names)) (one of \(names.joined(separator: ", ")))")
            }
            if type == SamplerBinding.typeName {
                guard let o = try call.options(2, allowed: SamplerBinding.options) else { throw call.bad(2, "options table") }
                call.push(object: try SamplerBinding.make(o, call, context), type: type); return 1
            }
            guard let o = try call.options(2, allowed: chainOptions + kernelOptions[type]!) else { throw call.bad(2, "options table") }
            call.push(object: try make(type, o, call, context), type: type); return 1
        }
    }

    /// The samplers by the names `joule.ebm.sampler` and the scripts' `-p sampler=` take.
    static let byName = ["sgld": SamplerBinding.typeName, "mala": "MALA", "hmc": "HMC", "annealed": "AnnealedLangevin"]

    static func make(_ name: String, _ o: LuaTable, _ call: LuaCall, _ context: JouleContext) throws -> MarkovSampler {
                let model = try EnergyBinding.model(o, required: "model")
                let chains = try chainSettings(o, call)
                let rng = try EngineBindings.rng(o, context)
                let sampler: MarkovSampler
                switch name {
                case "MALA":
                    var c = MALASampler.Config()
                    c.chains = chains
                    c.stepSize = Float(try o.number("step_size", default: Double(c.stepSize)))
                    c.adaptSteps = try o.integer("adapt_steps", 0...SGLDSampler.maxSteps, default: c.adaptSteps)
                    c.targetAcceptance = Float(try o.number("target_acceptance", default: Double(c.targetAcceptance)))
                    sampler = try MALASampler(model: model, config: c, rng: rng)
                case "HMC":
                    var c = HMCSampler.Config()
                    c.chains = chains
                    c.stepSize = Float(try o.number("step_size", default: Double(c.stepSize)))
                    c.leapfrog = try o.integer("leapfrog", Int.min...Int.max, default: c.leapfrog)
                    c.mass = try mass(o) ?? c.mass
                    sampler = try HMCSampler(model: model, config: c, rng: rng)
                default:
                    var c = AnnealedLangevinSampler.Config()
                    c.chains = chains
                    c.stepSize = Float(try o.number("step_size", default: Double(c.stepSize)))
                    c.t0 = Float(try o.number("t0", default: Double(c.t0)))
                    sampler = try AnnealedLangevinSampler(model: model, config: c, rng: rng)
                }
                return sampler
    }

    /// The sampler in field `key` of `o`: SGLD or any of these (what joule.ebm.JEM takes).
    static func anySampler(_ o: LuaTable, _ key: String) throws -> ChainSampler {
        for type in [SamplerBinding.typeName] + typeNames {
            if let s = try? o.object(key, type, as: AnyObject.self), let sampler = s as? ChainSampler { return sampler }
        }
        // SGLD named first: it is the default, and the message says what else would do.
        throw o.call.bad(o.position, message: "field '\(key)': SGLD expected, got \(o.withField(key) { LuaCall.got(o.L, $0) }) (any sampler: \(([SamplerBinding.typeName] + typeNames).joined(separator: ", ")))")
    }

    /// A start's name, with a suggestion for a misspelt one.
    static func start(_ name: String, _ call: LuaCall) throws -> ChainStart {
        guard let s = ChainStart(rawValue: name) else {
            let names = ChainStart.allCases.map(\.rawValue)
            throw call.bad(1, message: "field 'start': unknown start '\(name)'\(suggestion(for: name, among: names)) (one of \(names.joined(separator: ", ")))")
        }
        return s
    }

    /// The `precision` field of SGLD's and the Markov samplers' options.
    static func precision(_ o: LuaTable, _ call: LuaCall) throws -> SamplingPrecision? {
        guard let name = try o.string("precision") else { return nil }
        guard let p = SamplingPrecision(rawValue: name) else {
            let names = SamplingPrecision.allCases.map(\.rawValue)
            throw call.bad(1, message: "field 'precision': \(SamplingPrecision.choices) expected, got '\(name)'\(suggestion(for: name, among: names))")
        }
        return p
    }

    static func chainSettings(_ o: LuaTable, _ call: LuaCall) throws -> ChainSettings {
        var c = ChainSettings()
        c.steps = try o.integer("steps", Int.min...Int.max, default: c.steps)
        c.conditional = try o.boolean("conditional") ?? c.conditional
        if let s = try o.string("start") { c.start = try start(s, call) }
        switch try o.string("init") ?? "uniform" {
        case "uniform": c.initial = .uniform
        case "gaussian": c.initial = .gaussian(std: Float(try o.number("init_std", default: 0.01)))
        case let other: throw call.bad(1, message: "field 'init': 'uniform' or 'gaussian' expected, got '\(other)'")
        }
        c.freshFraction = Float(try o.number("fresh_fraction", default: Double(c.freshFraction)))
        c.bufferPerClass = try o.integer("buffer_per_class", 1...SGLDSampler.maxBufferPerClass, default: c.bufferPerClass)
        if let side = try o.integer("image_size", 1...4096) { c.shape = [1, side, side] }
        if let shape = try o.integers("shape", 1...(1 << 24)) { c.shape = shape }
        c.precision = try precision(o, call) ?? c.precision
        // clamp = { lo, hi } (a box), false (none), true or absent (the default: [−1, 1] for images, none for vectors).
        c.bounds = try o.withField("clamp") { slot -> ChainSettings.Bounds in
            let L = o.L
            switch lua_type(L, slot) {
            case LUA_TNIL: return .automatic
            case LUA_TBOOLEAN: return lua_toboolean(L, slot) != 0 ? .automatic : .unbounded
            case LUA_TTABLE:
                let v = try LuaTable(call: call, position: o.position, index: slot).numbers()
                guard v.count == 2 else { throw call.bad(1, message: "field 'clamp': { lo, hi } expected, got \(v.count) numbers") }
                return .box(Float(v[0]), Float(v[1]))
            default: throw call.bad(1, message: "field 'clamp': { lo, hi } or a boolean expected, got \(LuaCall.got(L, slot))")
            }
        }
        return c
    }

    /// mass = a number, or a tensor / table with one value per coordinate of a chain.
    static func mass(_ o: LuaTable) throws -> [Float]? {
        try o.withField("mass") { slot -> [Float]? in
            let L = o.L
            switch lua_type(L, slot) {
            case LUA_TNIL: return nil
            case LUA_TNUMBER: return [Float(lua_tonumberx(L, slot, nil))]
            case LUA_TTABLE: return try LuaTable(call: o.call, position: o.position, index: slot).numbers().map { Float($0) }
            default:
                if let t = LuaObjects.get(L, slot, type: TensorBinding.typeName, as: Tensor.self) { return t.array }
                throw o.call.bad(o.position, message: "field 'mass': a number, a tensor or a table of numbers expected, got \(LuaCall.got(L, slot))")
            }
        }
    }

    static func samplerClass(_ typeName: String) -> LuaClass {
        var c = LuaClass(name: typeName)
        func this(_ call: LuaCall) throws -> MarkovSampler { try call.this(typeName) }
        ChainSamplerMethods.add(to: &c) { try this($0) }
        c.method("config") { call in
            let s = try this(call)
            call.pushTable { t in
                for (k, v) in s.hyperparameters {
                    let key = String(k.drop(while: { $0 != "." }).dropFirst())
                    guard !key.isEmpty else { continue }
                    if let i = Int(v) { t.set(key, i) } else if let d = Double(v) { t.set(key, d) } else if v == "true" || v == "false" { t.set(key, v == "true") } else { t.set(key, v) }
                }
                if let m = s as? MALASampler { t.set("adapted_step_size", m.stepSize) }
            }
            return 1
        }
        c.meta("__tostring") { call in
            let s = try call.object(1, typeName, as: MarkovSampler.self)
            let h = s.hyperparameters, k = s.key
            var parts = ["steps \(s.steps)", "step_size \(h["\(k).step_size"] ?? "?")", "start \(s.settings.start.rawValue)"]
            if let l = h["hmc.leapfrog"] { parts.append("leapfrog \(l)") }
            if let t = h["annealed.t0"] { parts.append("t0 \(t)") }
            call.push("\(typeName)(\(parts.joined(separator: ", ")))"); return 1
        }
        return c
    }
}

extension MarkovSamplerBinding {
    static let chainOptionsText = "Chain options (all three): steps (60), start ('replay' (default): the replay buffer with fresh_fraction (0.05) new chains; 'noise': fresh noise each step; 'cd': the training batch's real images (contrastive divergence); 'pcd': persistent chains carried across training steps, saved in checkpoints), init ('uniform' or 'gaussian' with init_std), conditional (true: E(x, y) with one buffer per class), buffer_per_class (128), shape ({C, H, W} or {D}; default the model's) or image_size, clamp ({lo, hi}, or false; default [−1, 1] for images, none for vectors), precision ('auto' (default): per convolution shape the faster of 'fp32' and 'bf16' on this CPU, measured once; or either), seed."
    static let methodsText = "Methods: sample, run, acceptance, buffer_size, config."

    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ebm.MALA", "joule.ebm.MALA{ model = m, steps = 60, step_size = 0.01, adapt_steps = 0, target_acceptance = 0.574, ... } → MALA",
     "The Metropolis-adjusted Langevin algorithm: proposal x' = x − h·∂E/∂x + √(2h)·ξ (h = step_size, BlackJAX's convention), accepted per chain by Metropolis–Hastings with both proposal densities; one energy-and-gradient evaluation per step. With adapt_steps = k the step size moves toward target_acceptance during the sampler's first k steps (counted across runs, saved in checkpoints) and stays fixed after, so the chain after the warm-up is a valid Markov chain. In a clamp box the proposal is projected into the box: exact only away from its faces. " + chainOptionsText),
    ("MALA", "MALA", "A Metropolis-adjusted Langevin sampler. " + methodsText),
    ("joule.ebm.HMC", "joule.ebm.HMC{ model = m, steps = 60, step_size = 0.01, leapfrog = 10, mass = 1, ... } → HMC",
     "Hamiltonian Monte Carlo: each of `steps` iterations draws a momentum p ~ N(0, M) (mass: a number or a tensor/table with one value per coordinate of a chain; diagonal), runs `leapfrog` leapfrog steps of size step_size and accepts per chain by the Metropolis test on the change of E(x) + ½pᵀM⁻¹p; leapfrog gradient evaluations per iteration (the start's is reused). In a clamp box positions are reflected at the faces (momentum flipped), which keeps the chain exact. " + chainOptionsText),
    ("HMC", "HMC", "A Hamiltonian Monte Carlo sampler. " + methodsText),
    ("joule.ebm.AnnealedLangevin", "joule.ebm.AnnealedLangevin{ model = m, steps = 60, step_size = 0.01, t0 = 10, ... } → AnnealedLangevin",
     "Unadjusted Langevin dynamics on E(x)/T with T falling geometrically from t0 at the first step to 1 at the last: x ← x − h·∂E/∂x/T + √(2h)·ξ (h = step_size). t0 = 1 is plain unadjusted Langevin (ULA), which no test corrects: its acceptance is 1. " + chainOptionsText),
    ("AnnealedLangevin", "AnnealedLangevin", "An annealed (unadjusted) Langevin sampler. " + methodsText),
    ("joule.ebm.sampler", "joule.ebm.sampler(name, options) → sampler",
     "A sampler by name: 'sgld' (joule.ebm.SGLD), 'mala', 'hmc' or 'annealed' (joule.ebm.AnnealedLangevin), with that sampler's options; what the scripts' -p sampler= uses. An unknown name is an error with a suggestion."),
    ]
    /// The methods, documented once for each of the three types.
    static let methodDocumentation: [(String, String, String)] = typeNames.flatMap { t in [
        ("\(t):sample", "sampler:sample{ n = 8, labels = {...}, steps = 256, keep_every = 32 } → final [, frames]",
         "Draws `n` new samples from fresh noise (class-conditional when labels are given), running `steps` steps (the sampler's own by default). With keep_every k it also returns the frames (F, N, ...) every k steps and at the end, for joule.plot.chains."),
        ("\(t):run", "sampler:run(x [, { labels, steps, keep_every }]) → [frames]",
         "Runs the chains of the batch x in place (from wherever x starts); returns the frames when keep_every is given."),
        ("\(t):acceptance", "sampler:acceptance() → { a1, ..., aN }",
         "Per chain, the share of its proposals accepted in the latest run (sample, run or a training step); nil before any run."),
        ("\(t):buffer_size", "sampler:buffer_size() → integer", "How many chains the replay buffer holds now."),
        ("\(t):config", "sampler:config() → table", "The sampler's settings under their option names (and, for MALA, adapted_step_size: the step size in use now)."),
    ] }
}
