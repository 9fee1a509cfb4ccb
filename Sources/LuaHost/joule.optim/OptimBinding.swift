import CLua
import EBM
import Foundation
import NN
import Tensor

/// Training steps written in Lua: model:zero_grad / backward / grads, and joule.optim (Adam, StepLR,
/// clip_grad_norm); the losses are joule.nn's (LossBinding). The built-in JEM uses the same Swift pieces.
enum OptimBinding {
    static let adamType = "Adam"
    static let stepLRType = "StepLR"

    /// StepLR's epoch counter, bound to the optimizer whose rate it sets.
    final class Schedule {
        let schedule: StepLR
        let optimizer: Adam
        var epoch = 0
        init(_ schedule: StepLR, _ optimizer: Adam) { self.schedule = schedule; self.optimizer = optimizer }
    }

    static func install(_ lua: LuaState) {
        lua.define(adamClass())
        lua.define(stepLRClass())
        lua.setFunction("Adam", qualified: "joule.optim.Adam") { call in
            // joule.optim.Adam{ model = m, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 }
            guard let o = try call.options(1, allowed: ["model", "lr", "beta1", "beta2", "eps"]) else { throw call.bad(1, "options table") }
            let model = try ModelBinding.model(o, required: "model").module
            let lr = try o.number("lr", default: 1e-3), b1 = try o.number("beta1", default: 0.9)
            let b2 = try o.number("beta2", default: 0.999), eps = try o.number("eps", default: 1e-8)
            guard lr > 0, (0..<1).contains(b1), (0..<1).contains(b2), eps > 0 else {
                throw call.bad(1, message: "lr and eps must be positive, beta1 and beta2 in [0, 1)")
            }
            call.push(object: Adam(parameters: model.parameters, lr: Float(lr), beta1: Float(b1), beta2: Float(b2), eps: Float(eps)),
                      type: adamType)
            return 1
        }
        lua.setFunction("StepLR", qualified: "joule.optim.StepLR") { call in
            // joule.optim.StepLR{ optimizer = adam, step_size = 2, gamma = 0.97 }: :step() after each epoch.
            guard let o = try call.options(1, allowed: ["optimizer", "step_size", "gamma"]) else { throw call.bad(1, "options table") }
            let adam = try o.object(required: "optimizer", adamType, as: Adam.self)
            let gamma = try o.number("gamma", default: 0.1)
            guard gamma > 0 else { throw call.bad(1, message: "field 'gamma' must be positive") }
            let s = StepLR(baseLR: adam.lr, stepSize: try o.integer("step_size", 1...Int.max, default: 1), gamma: Float(gamma))
            call.push(object: Schedule(s, adam), type: stepLRType); return 1
        }
        lua.setFunction("clip_grad_norm", qualified: "joule.optim.clip_grad_norm") { call in
            // joule.optim.clip_grad_norm(model, max_norm) → the norm before clipping.
            let model = try ModelBinding.model(call, 1).module
            let maxNorm = try call.number(2)
            guard maxNorm > 0, maxNorm.isFinite else { throw call.bad(2, message: "positive number expected, got \(maxNorm)") }
            call.push(Double(GradientClipping.clipGlobalNorm(model.parameters, maxNorm: Float(maxNorm)))); return 1
        }
    }

    /// model:zero_grad(), model:backward(x, grad_logits), model:grads().
    static func addModelMethods(_ c: inout LuaClass) {
        c.method("zero_grad") { call in try ModelBinding.this(call).module.zeroGradients(); return 0 }
        c.method("backward") { call in
            // Accumulates every parameter's gradient of a loss whose gradient to logits(x) is grad_logits.
            try ModelBinding.net(call).accumulateGradients(try call.tensor(1), gradLogits: try call.tensor(2)); return 0
        }
        c.method("grads") { call in
            // The live gradient tensors under the parameters' PyTorch names.
            let model = try ModelBinding.this(call).module
            call.pushTable { t in for (name, p) in model.namedParameters { t.set(name, p.grad) } }
            return 1
        }
    }

    static func adamClass() -> LuaClass {
        var c = LuaClass(name: adamType)
        func this(_ call: LuaCall) throws -> Adam { try call.this(adamType) }
        c.method("step") { call in try this(call).update(); return 0 }
        c.method("zero_grad") { call in for p in try this(call).parameters { p.grad.zero() }; return 0 }
        c.method("lr") { call in
            // adam:lr() → the rate; adam:lr(x) sets it.
            let a = try this(call)
            if !call.isNil(1) {
                let lr = try call.number(1)
                guard lr > 0, lr.isFinite else { throw call.bad(1, message: "positive number expected, got \(lr)") }
                a.lr = Float(lr)
            }
            call.push(Double(a.lr)); return 1
        }
        c.method("steps") { call in call.push(try this(call).step); return 1 }
        return c
    }

    static func stepLRClass() -> LuaClass {
        var c = LuaClass(name: stepLRType)
        func this(_ call: LuaCall) throws -> Schedule { try call.this(stepLRType) }
        c.method("step") { call in
            let s = try this(call)
            s.epoch += 1
            s.optimizer.lr = s.schedule.lr(epoch: s.epoch)
            call.push(Double(s.optimizer.lr)); return 1
        }
        c.method("lr") { call in call.push(Double(try this(call).optimizer.lr)); return 1 }
        return c
    }
}

extension OptimBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.optim
    ("joule.optim", "joule.optim",
     "Optimisers for training steps written in Lua: joule.optim.Adam, joule.optim.StepLR and joule.optim.clip_grad_norm (the pieces joule.ebm.JEM uses inside)."),
    ("joule.optim.Adam", "joule.optim.Adam{ model = m, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } → Adam",
     "Adam over the model's parameters with PyTorch's update rule. Methods: step() applies one update from the accumulated gradients, zero_grad(), lr([new]) reads or sets the rate, steps() counts updates."),
    ("joule.optim.StepLR", "joule.optim.StepLR{ optimizer = adam, step_size = 1, gamma = 0.1 } → StepLR",
     "Multiplies the optimizer's rate by gamma every step_size epochs. Methods: step() after each epoch (returns the new rate), lr()."),
    ("Adam", "Adam", "An Adam optimiser (joule.optim.Adam). Methods: step, zero_grad, lr, steps."),
    ("Adam:step", "adam:step()", "One Adam update of every parameter from its accumulated gradient."),
    ("Adam:zero_grad", "adam:zero_grad()", "Sets the gradients of the optimiser's parameters to zero."),
    ("Adam:lr", "adam:lr([new]) → rate", "The learning rate; with an argument, sets it first."),
    ("Adam:steps", "adam:steps() → integer", "How many updates have been applied (Adam's bias correction counts them)."),
    ("StepLR", "StepLR", "A step schedule of an optimiser's rate (joule.optim.StepLR). Methods: step, lr."),
    ("StepLR:step", "schedule:step() → rate", "Ends an epoch: the rate becomes base·gamma^⌊epochs/step_size⌋; returns it."),
    ("StepLR:lr", "schedule:lr() → rate", "The optimiser's current rate."),
    ("joule.optim.clip_grad_norm", "joule.optim.clip_grad_norm(model, max_norm) → norm",
     "Scales all gradients so their global L2 norm is at most max_norm, as torch.nn.utils.clip_grad_norm_; returns the norm before clipping."),
    ]
}
