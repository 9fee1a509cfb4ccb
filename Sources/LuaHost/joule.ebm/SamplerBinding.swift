import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.SGLD{ model = m, steps = 60, step_size = 10, noise = 0.005, grad_clip = 0.03, ... }.
enum SamplerBinding {
    static let typeName = "SGLD"
    static let options = ["model", "steps", "step_size", "step_decay", "noise", "grad_clip", "fresh_fraction",
                          "init", "init_std", "start", "conditional", "buffer_per_class", "image_size", "shape", "precision", "seed"]

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(samplerClass())
        lua.setFunction("SGLD", qualified: "joule.ebm.SGLD") { call in
            guard let o = try call.options(1, allowed: options) else { throw call.bad(1, "options table") }
            call.push(object: try make(o, call, context), type: typeName); return 1
        }
    }

    static func make(_ o: LuaTable, _ call: LuaCall, _ context: JouleContext) throws -> SGLDSampler {
            let model = try EnergyBinding.model(o, required: "model")
            var c = SGLDSampler.Config()
            c.steps = try o.integer("steps", 0...SGLDSampler.maxSteps, default: c.steps)
            c.stepSize = Float(try o.number("step_size", default: Double(c.stepSize)))
            c.stepDecay = Float(try o.number("step_decay", default: Double(c.stepDecay)))
            c.noise = Float(try o.number("noise", default: Double(c.noise)))
            c.gradClip = Float(try o.number("grad_clip", default: Double(c.gradClip)))
            c.freshFraction = Float(try o.number("fresh_fraction", default: Double(c.freshFraction)))
            switch try o.string("init") ?? "uniform" {
            case "uniform": c.initial = .uniform
            case "gaussian": c.initial = .gaussian(std: Float(try o.number("init_std", default: 0.01)))
            case let other:
                throw call.bad(1, message: "field 'init': 'uniform' or 'gaussian' expected, got '\(other)'")
            }
            c.conditional = try o.boolean("conditional") ?? c.conditional
            if let s = try o.string("start") { c.start = try MarkovSamplerBinding.start(s, call) }
            c.bufferPerClass = try o.integer("buffer_per_class", 1...SGLDSampler.maxBufferPerClass, default: c.bufferPerClass)
            // The chains' shape: {C, H, W} or {D}; image_size = s is {1, s, s}; by default the model's.
            if let side = try o.integer("image_size", 1...4096) { c.imageShape = [1, side, side] }
            if let shape = try o.integers("shape", 1...(1 << 24)) { c.imageShape = shape }
            c.precision = try MarkovSamplerBinding.precision(o, call) ?? c.precision
            return try SGLDSampler(model: model, config: c, rng: try EngineBindings.rng(o, context))
    }

    static func this(_ call: LuaCall) throws -> SGLDSampler { try call.this(typeName) }

    static func samplerClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        ChainSamplerMethods.add(to: &c) { try this($0) }
        c.method("step") { call in
            // sampler:step(x, eps [, { labels, step_size }]): one SGLD step in place with given noise.
            let s = try this(call)
            let x = try call.tensor(1), eps = try call.tensor(2)
            let o = try call.options(3, allowed: ["labels", "step_size"])
            try s.step(x, noise: eps, labels: try o?.integers("labels", 0...Int.max),
                       stepSize: Float(try o?.number("step_size") ?? Double(s.config.stepSize)))
            return 0
        }
        c.method("sample_buffer") { call in
            // The synthesized batch of a JEM step: chains from the replay buffer, run and stored back.
            let s = try this(call)
            call.push(try s.sampleFromBuffer(count: try call.integer(1, 1...SGLDSampler.maxChains), labels: try EngineBindings.labels(call, 2)))
            return 1
        }
        c.method("config") { call in
            let s = try this(call), cfg = s.config
            call.pushTable { t in
                t.set("steps", cfg.steps); t.set("step_size", Double(cfg.stepSize)); t.set("step_decay", Double(cfg.stepDecay))
                t.set("noise", Double(cfg.noise)); t.set("grad_clip", Double(cfg.gradClip))
                t.set("fresh_fraction", Double(cfg.freshFraction)); t.set("conditional", cfg.conditional)
                t.set("buffer_per_class", cfg.bufferPerClass)
                t.set("shape", s.shape.map(Double.init))
                t.set("precision", cfg.precision.rawValue)
                // What runs: bf16 only where the CPU has AVX512-BF16; under auto, what was measured faster.
                t.set("running_precision", s.runningPrecision)
            }
            return 1
        }
        c.meta("__tostring") { call in
            let cfg = try call.object(1, typeName, as: SGLDSampler.self).config
            call.push("SGLD(steps \(cfg.steps), step_size \(cfg.stepSize), noise \(cfg.noise), grad_clip \(cfg.gradClip)\(cfg.precision == .auto ? "" : ", \(cfg.precision.rawValue)"))"); return 1
        }
        return c
    }
}

extension SamplerBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.ebm
    ("joule.ebm", "joule.ebm", "Sampling and training: joule.ebm.SGLD (Langevin sampler with replay buffer, the course's), joule.ebm.MALA, joule.ebm.HMC and joule.ebm.AnnealedLangevin (samplers of the literature), and joule.ebm.JEM (joint energy-based model training)."),
    ("joule.ebm.SGLD", "joule.ebm.SGLD{ model = m, steps = 60, step_size = 10, noise = 0.005, grad_clip = 0.03, ... } → SGLD",
     "A stochastic-gradient Langevin sampler for `model` with a replay buffer. Each step: x ← clamp(x + noise·ε), g ← clamp(∂E/∂x, ±grad_clip), x ← clamp(x − step_size·g) in [−1, 1]. Other options: step_decay, start (where a training step's chains start: 'replay' (default), 'noise', 'cd' (the real batch) or 'pcd' (persistent chains), as for joule.ebm.MALA), fresh_fraction (0.05: chains restarted from noise), init ('uniform' or 'gaussian', init_std), conditional, buffer_per_class (128), shape ({C, H, W} or {D}: one chain's shape; by default the model's input shape), image_size (s: shape {1, s, s}), precision ('auto' (default): per convolution shape whichever of 'fp32' and 'bf16' runs faster on this CPU, measured once and cached; 'bf16': the steps' convolutions in bfloat16 with FP32 accumulation, where the CPU has AVX512-BF16; 'fp32': exact FP32, as PyTorch's reference; the model itself and its training stay FP32), seed."),
    ("SGLD", "SGLD", "A Langevin sampler with replay buffer. Methods: sample, run, step, sample_buffer, buffer_size, config."),
    ("SGLD:sample", "sampler:sample{ n = 8, labels = {...}, steps = 256, keep_every = 32 } → final [, frames]",
     "Draws `n` new samples from fresh noise (class-conditional when labels are given), running `steps` steps. With keep_every k it also returns the chain's frames (F, N, 1, H, W) every k steps and at the end, for joule.plot.chains."),
    ("SGLD:run", "sampler:run(x [, { labels, steps, keep_every }]) → [frames]",
     "Runs SGLD on the batch x in place (from wherever x starts); returns the frames when keep_every is given."),
    ("SGLD:step", "sampler:step(x, eps [, { labels, step_size }])",
     "One SGLD step on x in place with the given noise ε (same shape as x): for writing your own sampler loop in Lua."),
    ("SGLD:sample_buffer", "sampler:sample_buffer(n [, labels]) → Tensor",
     "The synthesized batch of a JEM step: chains drawn from the replay buffer (a fraction fresh), run for `steps` steps and stored back."),
    ("SGLD:buffer_size", "sampler:buffer_size() → integer", "How many chains the replay buffer holds now."),
    ("SGLD:acceptance", "sampler:acceptance() → nil", "SGLD has no Metropolis test, so no acceptance (MALA and HMC give each chain's share of accepted proposals)."),
    ("SGLD:config", "sampler:config() → table", "The sampler's settings: steps, step_size, step_decay, noise, grad_clip, fresh_fraction, conditional, buffer_per_class, shape, precision (and running_precision: what this CPU runs, e.g. 'bf16 in 4 of 5 convolutions (fp32 in the rest)')."),
    ]
}
