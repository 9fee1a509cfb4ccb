import CLua
import EBM
import Foundation
import Tensor

/// joule.metrics.pgd and robust_accuracy: classification under projected-gradient attacks (`PGD`).
enum RobustnessBinding {
    static func config(_ o: LuaTable?) throws -> PGD.Config {
        var c = PGD.Config()
        if let name = try o?.string("norm") {
            guard let n = PGD.Norm(rawValue: name) else {
                throw JouleError("PGD: unknown norm '\(name)'\(suggestion(for: name, among: PGD.Norm.allCases.map(\.rawValue))) (linf or l2)")
            }
            c.norm = n
        }
        c.steps = try o?.integer("steps", 1...PGD.maxSteps) ?? c.steps
        if let a = try o?.number("step_size") {
            guard a.isFinite, a >= 0 else { throw JouleError("PGD: step_size must be a non-negative number, got \(a)") }
            c.stepSize = Float(a)
        }
        return c
    }

    static func install(_ lua: LuaState) {
        lua.setFunction("pgd", qualified: "joule.metrics.pgd") { call in
            let model = try ModelBinding.model(call, 1).net()
            let o = try call.options(4, allowed: ["norm", "epsilon", "steps", "step_size"])
            var c = try config(o)
            let eps = try o?.number("epsilon") ?? 0
            guard eps.isFinite, eps >= 0 else { throw JouleError("PGD: epsilon must be a non-negative number, got \(eps)") }
            c.epsilon = Float(eps)
            call.push(try PGD.attack(model: model, images: try call.tensor(2), labels: try SampleQualityBinding.labels(call, 3, "labels"), config: c))
            return 1
        }
        lua.setFunction("robust_accuracy", qualified: "joule.metrics.robust_accuracy") { call in
            let model = try ModelBinding.model(call, 1).net()
            let o = try call.options(4, allowed: ["norm", "epsilons", "steps", "step_size", "batch_size"])
            guard let eps = try o?.numbers("epsilons") else { throw JouleError("robust_accuracy: give epsilons = { … }") }
            guard eps.allSatisfy({ $0.isFinite && $0 >= 0 }) else { throw JouleError("robust_accuracy: epsilons must be non-negative numbers, got \(eps)") }
            call.push(try PGD.robustAccuracy(model: model, images: try call.tensor(2), labels: try SampleQualityBinding.labels(call, 3, "labels"),
                                             epsilons: eps.map(Float.init), config: try config(o),
                                             batchSize: try o?.integer("batch_size", 1...100_000) ?? 256))
            return 1
        }
    }
}

extension RobustnessBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
        ("joule.metrics.pgd", "joule.metrics.pgd(model, images, labels [, { norm = \"linf\" | \"l2\", epsilon = 0, steps = 10, step_size }]) → images",
         "A projected-gradient attack (Madry et al. 2018) on a classifier: steps moves up each image's own cross-entropy gradient (its sign for linf, its direction for l2; step_size by default 2.5·epsilon/steps), projected onto the epsilon-ball around the image and onto [-1, 1]. No random start: deterministic, and epsilon 0 returns the images."),
        ("joule.metrics.robust_accuracy", "joule.metrics.robust_accuracy(model, images, labels, { epsilons = { … }, norm, steps, step_size, batch_size = 256 }) → list",
         "Accuracy under PGD at each epsilon (increasing): an image counts as correct at epsilon only if it survives the attacks at every epsilon up to it (a perturbation within a smaller ball is within the larger one), so the list never rises. At epsilon 0 it is the plain accuracy."),
    ]
}
