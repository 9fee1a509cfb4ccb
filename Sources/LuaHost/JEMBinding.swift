import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.JEM{ model = m, sampler = s, alpha = 0.1, lambda = 1, lr = 1e-4, ... }.
enum JEMBinding {
    static let typeName = "JEM"
    static let options = ["model", "sampler", "alpha", "lambda", "real_noise", "lr", "lr_step", "lr_gamma",
                          "clip", "beta1", "beta2", "seed"]

    /// A JEM and the generator that shuffles its epochs.
    final class Trainer {
        let jem: JEM
        let rng: RNG
        init(jem: JEM, rng: RNG) { self.jem = jem; self.rng = rng }
    }

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(jemClass())
        lua.setFunction("JEM", qualified: "joule.ebm.JEM") { call in
            guard let o = try call.options(1, allowed: options) else { throw call.bad(1, "options table") }
            guard let model = try o.object("model", ModelBinding.typeName, as: ShallowCNN.self) else {
                throw call.bad(1, message: "field 'model': ShallowCNN expected, got nil")
            }
            guard let sampler = try o.object("sampler", SamplerBinding.typeName, as: SGLDSampler.self) else {
                throw call.bad(1, message: "field 'sampler': SGLD expected, got nil")
            }
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
            let trainer = Trainer(jem: try JEM(model: model, sampler: sampler, config: c), rng: try EngineBindings.rng(o, context))
            call.push(object: trainer, type: typeName); return 1
        }
    }

    static func this(_ call: LuaCall) throws -> Trainer {
        guard let t = LuaObjects.get(call.L, 1, type: typeName, as: Trainer.self) else {
            throw LuaArgumentError(position: 0, message: "JEM expected, got \(LuaCall.got(call.L, 1))")
        }
        return t
    }

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
            // jem:fit_epoch(split [, { batch_size = 32, progress = true }]) → the epoch's mean stats.
            let t = try this(call)
            let (images, labels) = try EngineBindings.split(call, 1, needLabels: true)
            let o = try call.options(2, allowed: ["batch_size", "progress"])
            let batchSize = try o?.integer("batch_size", 1...Int.max) ?? 32
            let showProgress = try o?.boolean("progress") ?? true
            let epoch = t.jem.epoch + 1
            var bar: ProgressBar?
            var sumLoss = 0.0
            let all = try t.jem.fitEpoch(images, labels: labels!, batchSize: batchSize, rng: t.rng) { done, total, s in
                sumLoss += Double(s.terms.total)
                guard showProgress else { return }
                if bar == nil { bar = ProgressBar(total: total, label: "epoch \(epoch)") }
                bar?.update(done, info: String(format: "loss=%.4g acc=%.3f", sumLoss / Double(done), s.accuracy))
            }
            bar?.done()
            func mean(_ f: (JEM.StepStats) -> Float) -> Double { all.reduce(0.0) { $0 + Double(f($1)) } / Double(all.count) }
            call.pushTable { r in
                r.set("loss", mean { $0.terms.total }); r.set("px", mean { $0.terms.px }); r.set("pyx", mean { $0.terms.pyx })
                r.set("reg", mean { $0.terms.reg }); r.set("cdiv", mean { $0.terms.cdiv }); r.set("grad_norm", mean { $0.gradNorm })
                r.set("accuracy", mean { $0.accuracy }); r.set("energy_real", mean { $0.energyReal })
                r.set("energy_sampled", mean { $0.energySampled }); r.set("batches", all.count)
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
}
