import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.JEM{ model = m, sampler = s, alpha = 0.1, lambda = 1, lr = 1e-4, ... }.
enum JEMBinding {
    static let typeName = "JEM"
    static let options = ["model", "sampler", "alpha", "lambda", "real_noise", "lr", "lr_step", "lr_gamma",
                          "clip", "beta1", "beta2", "seed"]

    /// A JEM, the generator that shuffles its epochs, and the script's generator (`joule.seed`),
    /// which checkpoints save and restore with the rest.
    final class Trainer {
        let jem: JEM
        let rng: RNG
        let scriptRNG: RNG
        init(jem: JEM, rng: RNG, scriptRNG: RNG) { self.jem = jem; self.rng = rng; self.scriptRNG = scriptRNG }
        /// Every generator a checkpoint holds besides the sampler's.
        var generators: [String: RNG] { ["shuffle": rng, "joule": scriptRNG] }
    }

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(jemClass())
        lua.setFunction("JEM", qualified: "joule.ebm.JEM") { call in
            guard let o = try call.options(1, allowed: options) else { throw call.bad(1, "options table") }
            let model = try ModelBinding.model(o, required: "model").net()
            let sampler = try o.object(required: "sampler", SamplerBinding.typeName, as: SGLDSampler.self)
            var c = JEM.Config()
            func float(_ key: String, _ d: Float) throws -> Float { Float(try o.number(key, default: Double(d))) }
            c.alpha = try float("alpha", c.alpha)
            c.lambda = try float("lambda", c.lambda)
            c.realNoise = try float("real_noise", c.realNoise)
            c.lr = try float("lr", c.lr)
            c.lrStep = try o.integer("lr_step", 1...Int.max, default: c.lrStep)
            c.lrGamma = try float("lr_gamma", c.lrGamma)
            c.clip = try float("clip", c.clip)
            c.beta1 = try float("beta1", c.beta1)
            c.beta2 = try float("beta2", c.beta2)
            let trainer = Trainer(jem: try JEM(model: model, sampler: sampler, config: c), rng: try EngineBindings.rng(o, context),
                                  scriptRNG: context.rng)
            call.push(object: trainer, type: typeName); return 1
        }
    }

    static func this(_ call: LuaCall) throws -> Trainer { try call.this(typeName) }

    static func set(_ t: LuaTableBuilder, _ s: JEM.StepStats) {
        t.set("loss", Double(s.terms.total)); t.set("px", Double(s.terms.px)); t.set("pyx", Double(s.terms.pyx))
        t.set("reg", Double(s.terms.reg)); t.set("cdiv", Double(s.terms.cdiv)); t.set("grad_norm", Double(s.gradNorm))
        t.set("accuracy", Double(s.accuracy)); t.set("energy_real", Double(s.energyReal))
        t.set("energy_sampled", Double(s.energySampled))
    }

    static func jemClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        c.method("step") { call in
            // jem:step(images, labels) → { loss, px, pyx, reg, cdiv, grad_norm, accuracy, energy_real, energy_sampled }
            let t = try this(call)
            guard let labels = try EngineBindings.labels(call, 2) else { throw call.bad(2, "table of labels") }
            let stats = try t.jem.step(try call.tensor(1), labels: labels)
            call.pushTable { set($0, stats) }
            return 1
        }
        c.method("fit_epoch") { call in
            // jem:fit_epoch(split [, { batch_size = 32, max_batches = n, progress = true, stop_on_interrupt = true }])
            // → the epoch's mean stats, with `interrupted = true` when Ctrl-C stopped it after a step
            // (the epoch stays unfinished: the next fit_epoch, also after a checkpoint and resume, continues it).
            let t = try this(call)
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: true)
            let o = try call.options(2, allowed: ["batch_size", "max_batches", "progress", "stop_on_interrupt"])
            let batchSize = try o?.integer("batch_size", 1...Int.max) ?? 32
            let maxBatches = try o?.integer("max_batches", 1...Int.max)
            let showProgress = try o?.boolean("progress") ?? true
            let stopOnInterrupt = try o?.boolean("stop_on_interrupt") ?? true
            let epoch = t.jem.epoch + 1
            var bar: ProgressBar?
            var sumLoss = 0.0, seen = 0
            let all = try t.jem.fitEpoch(images, labels: labels!, batchSize: batchSize, maxBatches: maxBatches, rng: t.rng,
                                         shouldStop: stopOnInterrupt ? { LuaState.interruptRequested } : nil) { done, total, s in
                sumLoss += Double(s.terms.total); seen += 1
                guard showProgress else { return }
                if bar == nil { bar = ProgressBar(total: total, label: "epoch \(epoch)") }
                bar?.update(done, info: String(format: "loss=%.4g acc=%.3f", sumLoss / Double(seen), s.accuracy))
            }
            let interrupted = t.jem.epochInProgress != nil
            bar?.done(info: interrupted ? "interrupted" : nil)
            let m = JEM.StepStats.mean(all)
            func value(_ f: (JEM.StepStats) -> Float) -> Double { m.map { Double(f($0)) } ?? .nan }
            call.pushTable { r in
                r.set("loss", value { $0.terms.total }); r.set("px", value { $0.terms.px }); r.set("pyx", value { $0.terms.pyx })
                r.set("reg", value { $0.terms.reg }); r.set("cdiv", value { $0.terms.cdiv }); r.set("grad_norm", value { $0.gradNorm })
                r.set("accuracy", value { $0.accuracy }); r.set("energy_real", value { $0.energyReal })
                r.set("energy_sampled", value { $0.energySampled }); r.set("batches", all.count)
                r.set("interrupted", interrupted)
            }
            return 1
        }
        c.method("evaluate") { call in
            // jem:evaluate(split [, { batch_size = 256, samples = 32 }]) → { accuracy, energy_real, energy_sampled, cdiv, predictions }
            let t = try this(call)
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: true)
            let o = try call.options(2, allowed: ["batch_size", "samples"])
            let e = try t.jem.evaluate(images, labels: labels!, batchSize: try o?.integer("batch_size", 1...Int.max) ?? 256,
                                       sampledCount: try o?.integer("samples", 0...Int.max) ?? 32)
            call.pushTable { r in
                r.set("accuracy", e.accuracy); r.set("energy_real", e.meanEnergyReal)
                r.set("energy_sampled", e.meanEnergySampled); r.set("cdiv", e.contrastiveDivergence)
            }
            call.push(e.predictions)
            lua_setfield(call.L, -2, "predictions")
            return 1
        }
        c.method("save_checkpoint") { call in
            // jem:save_checkpoint(dir [, info]): the weights (dir/model.safetensors, hyperparameters and
            // `info` as metadata) and the whole training state (dir/state.safetensors), each written to
            // a temporary name and renamed.
            let t = try this(call)
            let dir = try call.string(1)
            let info = call.isNil(2) ? [:] : try metadata(call, 2)
            try TrainingCheckpoint.save(t.jem, rngs: t.generators, to: dir, metadata: info)
            return 0
        }
        c.method("load_checkpoint") { call in
            // jem:load_checkpoint(dir) → info: restores weights, optimizer, schedule, counters, replay
            // buffer and every generator (the script's too); `dir` is a checkpoint or a run folder (its last/).
            let t = try this(call)
            let meta = try TrainingCheckpoint.restore(t.jem, rngs: t.generators, from: try call.string(1))
            pushMetadata(call, meta)
            return 1
        }
        c.method("epoch") { call in call.push(try this(call).jem.epoch); return 1 }
        c.method("steps") { call in call.push(try this(call).jem.step); return 1 }
        c.method("lr") { call in
            let j = try this(call).jem
            call.push(Double(j.scheduler.lr(epoch: j.epoch))); return 1
        }
        c.meta("__tostring") { call in
            let j = try call.object(1, typeName, as: Trainer.self).jem
            call.push("JEM(epoch \(j.epoch), step \(j.step), alpha \(j.config.alpha), lambda \(j.config.lambda), lr \(j.config.lr))"); return 1
        }
        return c
    }

    /// A table of names to strings, numbers or booleans, as checkpoint metadata (numbers in full
    /// precision, so they read back equal).
    static func metadata(_ call: LuaCall, _ n: Int) throws -> [String: String] {
        let t = try call.table(n)
        let L = call.L
        var out: [String: String] = [:]
        for key in try LuaJSON.tableKeys(L, t.index) {
            lua_pushstring(L, key); lua_rawget(L, t.index)
            defer { lua_settop(L, -2) }
            switch lua_type(L, -1) {
            case LUA_TNUMBER:
                out[key] = lua_isinteger(L, -1) != 0 ? String(lua_tointegerx(L, -1, nil)) : "\(lua_tonumberx(L, -1, nil))"
            case LUA_TBOOLEAN: out[key] = lua_toboolean(L, -1) != 0 ? "true" : "false"
            case LUA_TSTRING: out[key] = LuaCall.stringValue(L, -1)
            default: throw call.bad(n, message: "info '\(key)': string, number or boolean expected, got \(LuaCall.got(L, -1))")
            }
        }
        return out
    }

    /// Metadata back as Lua values: integers and other numbers as numbers, true/false as booleans.
    static func pushMetadata(_ call: LuaCall, _ meta: [String: String]) {
        call.pushTable { t in
            for (k, v) in meta {
                if let i = Int(v) { t.set(k, i) }
                else if let d = Double(v), !v.isEmpty, v.first!.isNumber || v.first == "-" || v.first == "." { t.set(k, d) }
                else if v == "true" || v == "false" { t.set(k, v == "true") }
                else { t.set(k, v) }
            }
        }
    }
}
