import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.objectives: training objectives called on their own, each returning the loss of a
/// batch and adding ∂loss/∂θ into the model's gradients (model:zero_grad() and model:grads() as
/// for model:backward), for training loops written in Lua. The maths lives in EBM/Objectives.
enum ObjectivesBinding {
    static func install(_ lua: LuaState, _ context: JouleContext) {
        let L = lua.L
        lua_createtable(L, 0, 4)
        lua.setFunction("gradient_penalty", qualified: "joule.ebm.objectives.gradient_penalty") { call in
            let model = try ModelBinding.model(call, 1).net()
            let x = try call.tensor(2)
            let o = try call.options(3, allowed: ["weight"])
            let penalty = try GradientPenalty(weight: Float(try o?.number("weight") ?? 1))
            call.push(try penalty.addLossAndGradients(model: model, x)); return 1
        }
        lua.setFunction("dsm", qualified: "joule.ebm.objectives.dsm") { call in
            let model = try ModelBinding.model(call, 1).net()
            let x = try call.tensor(2)
            let o = try call.options(3, allowed: ["sigma", "noise", "seed"])
            let dsm = try DenoisingScoreMatching(sigmas: try sigmas(call, o), rng: try EngineBindings.rng(o, context))
            call.push(try dsm.addLossAndGradients(model: model, x, noise: try o?.tensor("noise"))); return 1
        }
        lua.setFunction("ml", qualified: "joule.ebm.objectives.ml") { call in
            let model = try ModelBinding.model(call, 1).net()
            let x = try call.tensor(2)
            guard let o = try call.options(3, allowed: ["sampled", "labels", "alpha", "lambda"]) else { throw call.bad(3, "options table") }
            guard let sampled = try o.tensor("sampled") else { throw call.bad(3, message: "field 'sampled': the sampled batch (a Tensor) is needed") }
            let alpha = try ObjectiveOptions.finite(Float(try o.number("alpha", default: 0.1)), "ml: alpha")
            let lambda = try ObjectiveOptions.finite(Float(try o.number("lambda", default: 1)), "ml: lambda")
            // Without the classifier's term the labels do not matter.
            let n = x.shape.first ?? 0
            guard let labels = try o.integers("labels", 0...Int.max) ?? (lambda == 0 ? [Int](repeating: 0, count: n) : nil) else {
                throw call.bad(3, message: "field 'labels': class ids of x are needed when lambda > 0")
            }
            let r = try ContrastiveML(alpha: alpha, lambda: lambda).addLossAndGradients(model: model, real: x, labels: labels, sampled: sampled)
            call.push(Double(r.terms.total)); return 1
        }
        lua.setFunction("ssm", qualified: "joule.ebm.objectives.ssm") { call in
            let model = try ModelBinding.model(call, 1).net()
            let x = try call.tensor(2)
            let o = try call.options(3, allowed: ["eps", "projections", "seed"])
            let ssm = try SlicedScoreMatching(epsilon: Float(try o?.number("eps") ?? 0.1),
                                              projections: try o?.integer("projections", 1...SlicedScoreMatching.maxProjections) ?? 1,
                                              rng: try EngineBindings.rng(o, context))
            call.push(try ssm.addLossAndGradients(model: model, x)); return 1
        }
        lua.setFunction("nce", qualified: "joule.ebm.objectives.nce") { call in
            let model = try ModelBinding.model(call, 1).net()
            let x = try call.tensor(2)
            guard let o = try call.options(3, allowed: ["data", "mean", "std", "log_z", "ratio", "noise", "seed"]) else {
                throw call.bad(3, "options table")
            }
            let noise: GaussianNoise
            if let data = try o.tensor("data") {
                noise = try GaussianNoise.fit(data)
            } else if let mean = try o.tensor("mean"), let std = try o.tensor("std") {
                noise = try GaussianNoise(mean: mean, std: std)
            } else {
                throw call.bad(3, message: "the noise: give 'data' (to fit it to) or 'mean' and 'std'")
            }
            let nce = try NoiseContrastiveEstimation(noise: noise, ratio: try o.integer("ratio", 1...NoiseContrastiveEstimation.maxRatio) ?? 1,
                                                     logNormalizer: Float(try o.number("log_z") ?? 0), rng: try EngineBindings.rng(o, context))
            call.push(try nce.addLossAndGradients(model: model, x, standardNoise: try o.tensor("noise")))
            call.push(Double(nce.logNormalizer.grad.data[0]))
            return 2
        }
        lua_setfield(L, -2, "objectives")
    }

    /// The options of joule.ebm.JEM that choose its objective (see `trainingObjective`).
    static let trainingOptions = ["objective", "sigma", "eps", "projections", "gp", "gp_sampled", "nce_data", "ratio"]

    /// The objective a JEM's options ask for: `objective` = "ml" (default), "dsm" (with `sigma`),
    /// "ssm" (with `eps` and `projections`), "nce" (noise fitted to `nce_data`, `ratio`), and a gradient penalty of weight `gp` (> 0) on the real
    /// batch, also on the sampled one with `gp_sampled`; nil for the trainer's default. Random draws
    /// come from `rng`, the sampler's generator, which checkpoints save: resumes are exact.
    static func trainingObjective(_ call: LuaCall, _ o: LuaTable, config c: JEM.Config, rng: RNG) throws -> TrainingObjective? {
        let name = try o.string("objective") ?? "ml"
        var objective: TrainingObjective?
        switch name {
        case "ml": objective = nil
        case "dsm": objective = try DenoisingScoreMatching(sigmas: try sigmas(call, o), lambda: c.lambda, rng: rng)
        case "ssm":
            objective = try SlicedScoreMatching(epsilon: Float(try o.number("eps") ?? 0.1),
                                                projections: try o.integer("projections", 1...SlicedScoreMatching.maxProjections) ?? 1,
                                                lambda: c.lambda, rng: rng)
        case "nce":
            guard let data = try o.tensor("nce_data") else {
                throw call.bad(1, message: "field 'nce_data': objective 'nce' fits its noise to these images (the training split's)")
            }
            objective = try NoiseContrastiveEstimation(noise: try GaussianNoise.fit(data),
                                                       ratio: try o.integer("ratio", 1...NoiseContrastiveEstimation.maxRatio) ?? 1,
                                                       lambda: c.lambda, rng: rng)
        default: throw call.bad(1, message: "field 'objective': 'ml', 'dsm', 'ssm' or 'nce' expected, got '\(name)'")
        }
        let gp = try ObjectiveOptions.finite(Float(try o.number("gp") ?? 0), "gp")
        let onSampled = try o.boolean("gp_sampled") ?? false
        guard gp > 0 else { return objective }
        return Penalized(objective ?? ContrastiveML(alpha: c.alpha, lambda: c.lambda),
                         penalty: try GradientPenalty(weight: gp, onSampled: onSampled))
    }

    /// `sigma`: one noise level or a list of them (default 0.1).
    static func sigmas(_ call: LuaCall, _ o: LuaTable?) throws -> [Float] {
        guard let o, o.has("sigma") else { return [0.1] }
        let L = call.L
        return try o.withField("sigma") { s in
            if lua_type(L, s) == LUA_TNUMBER { return [Float(lua_tonumberx(L, s, nil))] }
            guard lua_type(L, s) == LUA_TTABLE else { throw o.bad("field 'sigma'", "number or list of numbers", s) }
            return try (0..<min(Int(lua_rawlen(L, s)), DenoisingScoreMatching.maxLevels + 1)).map { i in
                lua_rawgeti(L, s, lua_Integer(i + 1))
                defer { lua_settop(L, -2) }
                guard lua_type(L, -1) == LUA_TNUMBER else { throw o.bad("field 'sigma' element \(i + 1)", "number", -1) }
                return Float(lua_tonumberx(L, -1, nil))
            }
        }
    }
}

extension ObjectivesBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ebm.objectives", "joule.ebm.objectives",
     "Training objectives on a batch, for training steps written in Lua: gradient_penalty, dsm, ssm, nce and ml. Each returns the loss and adds ∂loss/∂θ to the model's gradients (model:zero_grad() first, model:grads() after); joule.ebm.JEM{ objective = … } trains with them."),
    ("joule.ebm.objectives.gradient_penalty", "joule.ebm.objectives.gradient_penalty(model, x [, { weight = 1 }]) → loss",
     "The gradient penalty weight·meanᵢ ‖∂E(xᵢ)/∂xᵢ‖² of E(x) = −logsumexp f(x) on the batch x; adds its exact (second-order) gradient to the model's parameter gradients. weight is a finite number ≥ 0."),
    ("joule.ebm.objectives.dsm", "joule.ebm.objectives.dsm(model, x [, { sigma = 0.1, noise, seed }]) → loss",
     "Denoising score matching: x̃ = x + σ·ε, loss = ½σ²·meanᵢ ‖−∂E(x̃ᵢ)/∂x̃ᵢ + (x̃ᵢ − xᵢ)/σ²‖², averaged over the levels when sigma is a list ({0.5, 0.1, 0.02}: multi-scale); adds its exact (second-order) gradient to the model's parameter gradients. ε is the tensor noise (x's shape, used for every level) or drawn from the generator of `seed` (else joule.seed's). Each σ must be a finite number > 0."),
    ("joule.ebm.objectives.ssm", "joule.ebm.objectives.ssm(model, x [, { eps = 0.1, projections = 1, seed }]) → loss",
     "Sliced score matching by finite differences (Pang et al. 2020): for random directions u (E[uuᵀ] = I), meanᵢ meanᵤ [(2E(x) − E(x+εu) − E(x−εu))/ε² + (E(x+εu) − E(x−εu))²/(8ε²)], which approaches sliced score matching E[uᵀ(∂s/∂x)u + ½(uᵀs)²] (s = −∂E/∂x) as ε → 0 and needs first-order gradients only; adds its gradient to the model's parameter gradients. Directions come from the generator of `seed` (else joule.seed's)."),
    ("joule.ebm.objectives.nce", "joule.ebm.objectives.nce(model, x, { data | mean, std, log_z = 0, ratio = 1, noise, seed }) → loss, d_log_z",
     "Noise-contrastive estimation with a learned log-normaliser c = log_z: log p(x) = −E(x) − c, noise q a Gaussian with one mean and std per input value (fitted to the tensor `data`, or given), ratio noise inputs per real one, G = log p − log(ratio·q); loss = −mean log σ(G(x)) − (1/N) Σ log σ(−G(y)) over the noise y. Adds its gradient to the model's parameter gradients and returns ∂loss/∂c (to update c in the script). `noise`: standard normal draws of shape (ratio·N, …) instead of the generator's."),
    ("joule.ebm.objectives.ml", "joule.ebm.objectives.ml(model, x, { sampled = t, labels, alpha = 0.1, lambda = 1 }) → loss",
     "JEM's contrastive maximum likelihood (the trainer's default objective): α·mean(f_r² + f_s²) + mean(f_s) − mean(f_r) with f = −E of x and of the sampled batch, plus λ·cross-entropy of x against labels (needed when lambda > 0); adds its gradient to the model's parameter gradients."),
    ]
}
