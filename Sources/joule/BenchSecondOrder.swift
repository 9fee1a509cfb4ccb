import ArchitectureFiles
import EBM
import Foundation
import NN
import Tensor

/// `joule bench --second-order`: what the second-order passes cost against a first-order gradient
/// pass (forward, then the gradients to the input and to every weight) on the same batch of the
/// course network. The input Hessian-vector product and the weight gradient of vᵀ∂E/∂x each run a
/// forward pass with tangents (two convolutions per layer) and a backward pass with tangents; a
/// DSM or gradient-penalty step adds the first-order input gradient that gives v.
extension BenchCommand {
    func timeSecondOrder() throws {
        let rng = RNG(seed: 0)
        // The course network, and a composed residual network on 3×32×32 (the reference's cnn3).
        let cnn3 = try Architecture.build(try JSON.parse("""
            {"type": "Sequential", "modules": [
              {"type": "Conv2d", "in": 3, "out": 16, "kernel": 3, "padding": 1}, {"type": "LeakyReLU", "negative_slope": 0.2},
              {"type": "Residual", "body": {"type": "Sequential", "modules": [
                {"type": "Conv2d", "in": 16, "out": 16, "kernel": 3, "padding": 1}, {"type": "SiLU"},
                {"type": "Conv2d", "in": 16, "out": 16, "kernel": 3, "padding": 1}]}},
              {"type": "Conv2d", "in": 16, "out": 32, "kernel": 4, "stride": 2, "padding": 1}, {"type": "SiLU"},
              {"type": "AvgPool2d", "kernel": 2},
              {"type": "Conv2d", "in": 32, "out": 48, "kernel": 3, "padding": 1, "bias": false}, {"type": "ELU", "alpha": 1},
              {"type": "MaxPool2d", "kernel": 2}, {"type": "AdaptiveAvgPool2d"}, {"type": "Flatten"},
              {"type": "Linear", "in": 48, "out": 10}]}
            """), rng: rng)
        let models: [(String, EnergyNet, [Int])] = [
            ("ShallowCNN hidden 32, 42 classes, 1×56×56", try ShallowCNN(hidden: 32, classes: 42, rng: rng), [1, 56, 56]),
            ("residual cnn3, 10 classes, 3×32×32", try EnergyNet(cnn3, inputShape: [3, 32, 32]), [3, 32, 32]),
        ]
        var results: [String: JSON] = ["chains": .int(chains), "runs": .int(runs), "kernels": .string(Kernels.description),
                                       "cpu": .string(Self.cpuName())]
        if !json {
            print("Joule bench --second-order — \(chains) inputs per batch; median of \(runs)")
            print("CPU: \(Self.cpuName()); GEMM kernels: \(Kernels.description)")
        }
        for (name, model, shape) in models {
            let medians = try secondOrderMedians(model, shape: shape, rng: rng)
            let keys = ["first_order_s", "hvp_s", "weight_gradient_of_vdedx_s", "gp_step_s", "dsm_step_s"]
            let tag = model is ShallowCNN ? "shallowcnn" : "cnn3"
            for (k, key) in keys.enumerated() { results["\(tag).\(key)"] = .double(medians[k]) }
            guard !json else { continue }
            print(name)
            for (k, row) in ["first-order pass (E, ∂E/∂x, ∂E/∂θ)", "Hessian-vector product", "weight gradient of vᵀ∂E/∂x",
                             "gradient penalty step", "DSM step (one σ)"].enumerated() {
                print("  " + row.padding(toLength: 38, withPad: " ", startingAt: 0)
                      + String(format: "%9.4f s  %5.2f× a first-order pass", medians[k], medians[k] / medians[0]))
            }
        }
        if json { print(JSON.object(results).serialized()) }
    }

    /// Median seconds of a first-order pass, a Hessian-vector product, the weight gradient of
    /// vᵀ∂E/∂x, a gradient-penalty step and a DSM step on one batch, their rounds interleaved.
    private func secondOrderMedians(_ model: EnergyNet, shape: [Int], rng: RNG) throws -> [Double] {
        let x = Tensor(shape: [chains] + shape); rng.fillUniform(x, -1, 1)
        let v = Tensor(shape: x.shape); rng.fillNormal(v)
        let energy = Tensor(shape: [0]), gradLogits = Tensor(shape: [0])
        let dsm = try DenoisingScoreMatching(sigmas: [0.1], rng: RNG(seed: 1))
        let gp = try GradientPenalty(weight: 1)
        let bodies: [() throws -> Void] = [
            {
                let logits = try model.forwardLogits(x)
                try Energies.compute(of: logits, labels: nil, into: energy, gradLogits: gradLogits)
                _ = try model.backward(gradLogits, weights: true)
                _ = try model.backward(gradLogits, weights: false)
            },
            { _ = try model.hessianVectorProduct(x, v, labels: nil) },
            { try model.accumulateWeightGradientOfInputGradient(x, direction: v, labels: nil) },
            { try gp.addLossAndGradients(model: model, x) },
            { try dsm.addLossAndGradients(model: model, x) },
        ]
        for body in bodies { try body() }   // warm-up: workspaces
        return try interleavedMedians(bodies)
    }

    /// The CPU's model name, as lscpu shows it.
    static func cpuName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
