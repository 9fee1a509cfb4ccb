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
        let model = try ShallowCNN(hidden: 32, classes: 42, rng: rng)
        let x = Tensor(shape: [chains, 1, 56, 56]); rng.fillUniform(x, -1, 1)
        let v = Tensor(shape: x.shape); rng.fillNormal(v)
        let energy = Tensor(shape: [0])
        let gradLogits = Tensor(shape: [0])
        let dsm = try DenoisingScoreMatching(sigmas: [0.1], rng: RNG(seed: 1))
        let gp = try GradientPenalty(weight: 1)
        let bodies: [(String, () throws -> Void)] = [
            ("first-order pass (E, ∂E/∂x, ∂E/∂θ)", {
                let logits = try model.forwardLogits(x)
                try Energies.compute(of: logits, labels: nil, into: energy, gradLogits: gradLogits)
                _ = try model.backward(gradLogits, weights: true)
                _ = try model.backward(gradLogits, weights: false)
            }),
            ("Hessian-vector product", { _ = try model.hessianVectorProduct(x, v, labels: nil) }),
            ("weight gradient of vᵀ∂E/∂x", { try model.accumulateWeightGradientOfInputGradient(x, direction: v, labels: nil) }),
            ("gradient penalty step", { try gp.addLossAndGradients(model: model, x) }),
            ("DSM step (one σ)", { try dsm.addLossAndGradients(model: model, x) }),
        ]
        for (_, body) in bodies { try body() }   // warm-up: workspaces
        var times = bodies.map { _ in [Double]() }
        for _ in 0..<max(runs, 1) {
            for (k, (_, body)) in bodies.enumerated() {
                let t = DispatchTime.now().uptimeNanoseconds
                try body()
                times[k].append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            }
        }
        let medians = times.map { $0.sorted()[$0.count / 2] }
        if json {
            var o: [String: JSON] = ["chains": .int(chains), "runs": .int(runs), "kernels": .string(Kernels.description),
                                     "cpu": .string(Self.cpuName())]
            for (k, key) in ["first_order_s", "hvp_s", "weight_gradient_of_vdedx_s", "gp_step_s", "dsm_step_s"].enumerated() {
                o[key] = .double(medians[k])
            }
            print(JSON.object(o).serialized())
            return
        }
        print("Joule bench --second-order — ShallowCNN hidden 32, 42 classes, \(chains) images of 1×56×56; median of \(runs)")
        print("CPU: \(Self.cpuName()); GEMM kernels: \(Kernels.description)")
        for (k, (name, _)) in bodies.enumerated() {
            print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: "%9.4f s  %5.2f× a first-order pass", medians[k], medians[k] / medians[0]))
        }
    }

    /// The CPU's model name, as lscpu shows it.
    static func cpuName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
