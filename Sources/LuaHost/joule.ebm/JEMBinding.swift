import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.JEM{ model = m, sampler = s, alpha = 0.1, lambda = 1, lr = 1e-4, ... }.
enum JEMBinding {
    static let typeName = "JEM"
    static let options = ["model", "sampler", "alpha", "lambda", "real_noise", "lr", "lr_step", "lr_gamma",
                          "clip", "beta1", "beta2", "seed", "guard"] + ObjectivesBinding.trainingOptions
    static let guardOptions = ["every", "energy_max", "gap_max", "window", "lr_factor", "extra_steps", "max_rollbacks"]

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
        lua.define(jemClass(context))
        lua.setFunction("JEM", qualified: "joule.ebm.JEM") { call in
            guard let o = try call.options(1, allowed: options) else { throw call.bad(1, "options table") }
            let model = try ModelBinding.model(o, required: "model").net()
            // Any sampler of the ChainSampler kind: the trainer asks nothing of it beyond the protocol.
            let sampler = try MarkovSamplerBinding.anySampler(o, "sampler")
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
            let jem = try JEM(model: model, sampler: sampler, config: c,
                              objective: try ObjectivesBinding.trainingObjective(call, o, config: c, rng: sampler.rng))
            jem.divergenceGuard = try divergenceGuard(o)
            let trainer = Trainer(jem: jem, rng: try EngineBindings.rng(o, context), scriptRNG: context.rng)
            call.push(object: trainer, type: typeName); return 1
        }
    }

    static func this(_ call: LuaCall) throws -> Trainer { try call.this(typeName) }

    /// `guard = { every, energy_max, gap_max, window, lr_factor, extra_steps, max_rollbacks }` (any
    /// subset; absent: the defaults) or `guard = false` (unguarded).
    static func divergenceGuard(_ o: LuaTable) throws -> DivergenceGuard? {
        var g = DivergenceGuard.Config()
        let on = try o.withField("guard") { slot -> Bool in
            let L = o.L
            switch lua_type(L, slot) {
            case LUA_TNIL: return true
            case LUA_TBOOLEAN: return lua_toboolean(L, slot) != 0
            case LUA_TTABLE:
                let t = LuaTable(call: o.call, position: o.position, index: slot)
                do { try t.rejectUnknownKeys(guardOptions) } catch let e as LuaArgumentError {
                    throw o.call.bad(o.position, message: "guard: \(e.message)")
                }
                g.every = try t.integer("every", 1...1_000_000, default: g.every)
                g.energyMax = Float(try t.number("energy_max", default: Double(g.energyMax)))
                g.gapMax = Float(try t.number("gap_max", default: Double(g.gapMax)))
                g.window = try t.integer("window", 1...100_000, default: g.window)
                g.lrFactor = Float(try t.number("lr_factor", default: Double(g.lrFactor)))
                g.extraSteps = try t.integer("extra_steps", 0...100_000, default: g.extraSteps)
                g.maxRollbacks = try t.integer("max_rollbacks", 1...1000, default: g.maxRollbacks)
                return true
            default:
                throw o.call.bad(o.position, message: "field 'guard': options table or false expected, got \(LuaCall.got(L, slot))")
            }
        }
        return on ? try DivergenceGuard(config: g) : nil
    }

    /// The line a rollback prints, and its fields in the table fit_epoch returns (and train_jem.lua logs).
    static func describe(_ e: DivergenceGuard.Event, lr: Float) -> String {
        var s = String(format: "guard: step %d: %@ = %.4g (%@); rolled back to step %d", e.step, e.quantity, e.value,
                       e.check, e.rolledBackTo)
        if e.lrScale.after != e.lrScale.before { s += String(format: ", lr %.3g → %.3g", lr * e.lrScale.before, lr * e.lrScale.after) }
        if e.sgldSteps.after != e.sgldSteps.before { s += ", SGLD steps \(e.sgldSteps.before) → \(e.sgldSteps.after)" }
        return s + " (rollback \(e.inARow) in a row)"
    }

    static func set(_ t: LuaTableBuilder, _ e: DivergenceGuard.Event, lr: Float) {
        t.set("event", "rollback"); t.set("step", e.step); t.set("rolled_back_to", e.rolledBackTo)
        t.set("check", e.check); t.set("quantity", e.quantity); t.set("value", e.value)
        t.set("lr_before", Double(lr * e.lrScale.before)); t.set("lr_after", Double(lr * e.lrScale.after))
        t.set("sgld_steps_before", e.sgldSteps.before); t.set("sgld_steps_after", e.sgldSteps.after)
        t.set("rollbacks", e.rollbacks); t.set("in_a_row", e.inARow)
    }

    static func set(_ t: LuaTableBuilder, _ s: JEM.StepStats) {
        t.set("loss", Double(s.terms.total)); t.set("px", Double(s.terms.px)); t.set("pyx", Double(s.terms.pyx))
        t.set("reg", Double(s.terms.reg)); t.set("cdiv", Double(s.terms.cdiv)); t.set("grad_norm", Double(s.gradNorm))
        t.set("accuracy", Double(s.accuracy)); t.set("energy_real", Double(s.energyReal))
        t.set("energy_sampled", Double(s.energySampled))
    }

    /// Checkpoint metadata: the run log's size when the checkpoint was saved.
    static let logBytesKey = "joule.log_bytes"

    static func jemClass(_ context: JouleContext) -> LuaClass {
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
            // jem:fit_epoch(split [, { batch_size = 32, max_batches = n, progress = true, stop_on_interrupt = true,
            // log = false }]) → the epoch's mean stats, with `interrupted = true` when Ctrl-C stopped it after a step
            // (the epoch stays unfinished: the next fit_epoch, also after a checkpoint and resume, continues it),
            // and `rollbacks`, the guard's events (each printed when it happens; with `log`, also appended
            // to the run's log.jsonl then, as { event = "rollback", ... }).
            let t = try this(call)
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: true)
            let o = try call.options(2, allowed: ["batch_size", "max_batches", "progress", "stop_on_interrupt", "log"])
            let batchSize = try o?.integer("batch_size", 1...Int.max) ?? 32
            let maxBatches = try o?.integer("max_batches", 1...Int.max)
            let showProgress = try o?.boolean("progress") ?? true
            let stopOnInterrupt = try o?.boolean("stop_on_interrupt") ?? true
            // Stopping between batches is handling interrupts: the first one lets the step finish.
            if stopOnInterrupt { LuaState.handleInterruptsPolitely() }
            let logEvents = try o?.boolean("log") ?? false
            let epoch = t.jem.epoch + 1
            var bar: ProgressBar?
            var sumLoss = 0.0, seen = 0
            var rollbacks: [DivergenceGuard.Event] = []
            var logFailure: Error?
            // The schedule's rate this epoch: the guard's events say what its factor did to it.
            let lr = t.jem.scheduler.lr(epoch: t.jem.epoch)
            let all = try t.jem.fitEpoch(images, labels: labels!, batchSize: batchSize, maxBatches: maxBatches, rng: t.rng,
                                         shouldStop: stopOnInterrupt ? { LuaState.interruptRequested } : nil,
                                         onBatch: { done, total, s in
                sumLoss += Double(s.terms.total); seen += 1
                guard showProgress else { return }
                if bar == nil { bar = ProgressBar(total: total, label: "epoch \(epoch)") }
                bar?.update(done, info: String(format: "loss=%.4g acc=%.3f", sumLoss / Double(seen), s.accuracy))
            }, onRollback: { e in
                rollbacks.append(e)
                ProgressBar.print(describe(e, lr: lr))
                guard logEvents else { return }
                call.pushTable { set($0, e, lr: lr) }
                defer { lua_settop(call.L, -2) }
                do { _ = try LogBinding.append(call, lua_gettop(call.L), to: context) } catch { logFailure = logFailure ?? error }
            })
            if let logFailure { throw logFailure }
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
                r.list("rollbacks", rollbacks) { set($0, $1, lr: lr) }
            }
            return 1
        }
        c.method("evaluate") { call in
            // jem:evaluate(split [, { batch_size = 256, samples = 32 }]) → { accuracy, energy_real, energy_sampled, cdiv, predictions }
            let t = try this(call)
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: true)
            let o = try call.options(2, allowed: ["batch_size", "samples"])
            let e = try t.jem.evaluate(images, labels: labels!, batchSize: try o?.integer("batch_size", 1...Int.max) ?? 256,
                                       sampledCount: try o?.integer("samples", 0...t.jem.sampler.maxChains) ?? 32)
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
            var info = call.isNil(2) ? [:] : try metadata(call, 2)
            if context.run.holds(checkpoint: dir) { info[logBytesKey] = "\(context.run.logBytes())" }
            try TrainingCheckpoint.save(t.jem, rngs: t.generators, to: dir, metadata: info)
            return 0
        }
        c.method("load_checkpoint") { call in
            // jem:load_checkpoint(dir) → info: restores weights, optimizer, schedule, counters, replay
            // buffer and every generator (the script's too); `dir` is a checkpoint or a run folder (its last/).
            let t = try this(call)
            let path = try call.string(1)
            var meta = try TrainingCheckpoint.restore(t.jem, rngs: t.generators, from: path)
            // Resuming in the checkpoint's own run folder: lines logged after it was saved go.
            if let s = meta.removeValue(forKey: logBytesKey), let bytes = Int(s), context.run.holds(checkpoint: TrainingCheckpoint.folder(path)) {
                try context.run.truncateLog(to: bytes)
            }
            pushMetadata(call, meta)
            return 1
        }
        c.method("epoch") { call in call.push(try this(call).jem.epoch); return 1 }
        c.method("rollbacks") { call in call.push(try this(call).jem.divergenceGuard?.rollbacks ?? 0); return 1 }
        c.method("steps") { call in call.push(try this(call).jem.step); return 1 }
        c.method("lr") { call in
            let j = try this(call).jem
            call.push(Double(j.learningRate)); return 1
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

extension JEMBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ebm.JEM", "joule.ebm.JEM{ model = m, sampler = s, alpha = 0.1, lambda = 1, lr = 1e-4, lr_step = 2, lr_gamma = 0.97, clip = 0.1 } → JEM",
     "Joint energy-based model training: loss = px + λ·pyx with px = α·mean(f_r² + f_s²) + mean(f_s) − mean(f_r) over real and sampled batches and pyx the cross-entropy; Adam (betas beta1 = 0, beta2 = 0.999), StepLR(lr_step, lr_gamma), global gradient-norm clipping. Other options: real_noise, seed, and guard = { every = 50, energy_max = 1000, gap_max = 100, window = 20, lr_factor = 0.5, extra_steps = 0, max_rollbacks = 4 } (the divergence guard, on by default; guard = false turns it off): fit_epoch checks each step for a non-finite loss, energy or gradient norm, |mean energy| above energy_max, or a mean |E(sampled) − E(real)| over `window` steps above gap_max, and then rolls back to the last good state (kept at each epoch's start and every `every` steps), reseeds the sampler, multiplies the learning rate by lr_factor and adds extra_steps SGLD steps; after max_rollbacks rollbacks in a row it raises an error. The objective (see joule.ebm.objectives): objective = \"ml\" (the above, default), \"dsm\" (sigma = 0.1 or a list) or \"ssm\" (eps = 0.1, projections = 1) or \"nce\" (noise fitted to the images nce_data, ratio = 1 noise inputs per real one, the log-normaliser trained with the weights), each with λ·pyx; gp = w > 0 adds w·mean‖∂E/∂x‖² of the real batch (gp_sampled = true: also of the sampled one). Saved in checkpoints; load_checkpoint refuses other settings."),
    ("JEM", "JEM", "A JEM trainer. Methods: step, fit_epoch, evaluate, save_checkpoint, load_checkpoint, epoch, steps, lr, rollbacks."),
    ("JEM:step", "jem:step(images, labels) → stats",
     "One training step on a batch: samples from the buffer (the model in evaluation mode), computes the losses, updates the model. Spectrally normalised layers advance their u, v exactly once per step, whatever the model's mode (see joule.nn.SpectralNorm); the model's mode is as before afterwards. Stats: loss, px, pyx, reg, cdiv, grad_norm, accuracy, energy_real, energy_sampled."),
    ("JEM:fit_epoch", "jem:fit_epoch(split [, { batch_size = 32, max_batches = n, progress = true, stop_on_interrupt = true, log = false }]) → stats",
     "One epoch over a split table ({ images, labels }) in seeded shuffled batches; returns the epoch's mean stats (with `interrupted = true` when an interrupt stopped it after a step; the next call continues the epoch) and `rollbacks`, the divergence guard's events this epoch (each also printed; with log = true appended to the run's log.jsonl as { event = \"rollback\", step, rolled_back_to, check, quantity, value, lr_before, lr_after, sgld_steps_before, sgld_steps_after })."),
    ("JEM:evaluate", "jem:evaluate(split [, { batch_size = 256, samples = 32 }]) → { accuracy, energy_real, energy_sampled, cdiv, predictions }",
     "Classification accuracy and mean energies of real and freshly sampled images on a split."),
    ("JEM:save_checkpoint", "jem:save_checkpoint(dir [, info])",
     "Writes dir/model.safetensors (weights, hyperparameters, `info`) and dir/state.safetensors (optimizer, schedule, replay buffer, generators) so a run can resume exactly."),
    ("JEM:load_checkpoint", "jem:load_checkpoint(dir) → info",
     "Restores everything save_checkpoint wrote (a checkpoint folder or a run folder's last/); returns the saved info."),
    ("JEM:epoch", "jem:epoch() → integer", "Completed epochs."),
    ("JEM:steps", "jem:steps() → integer", "Completed training steps."),
    ("JEM:lr", "jem:lr() → number", "The learning rate of the next step: the schedule's for the current epoch, times the guard's factor after rollbacks."),
    ("JEM:rollbacks", "jem:rollbacks() → integer", "How many times the divergence guard rolled training back."),
    ]
}
