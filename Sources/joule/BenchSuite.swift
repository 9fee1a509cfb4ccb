import ArchitectureFiles
import EBM
import Foundation
import JouleCore
import LuaHost
import NN
import Tensor

/// `joule bench --suite`: SGLD and a JEM iteration on every network of the benchmark suite — the
/// course network at hidden 16, 32, 64 and 128, `scripts/models/residual_ebm.lua`, the CIFAR-like
/// `scripts/models/wide3.lua` at 16 and 32, and the 2-D MLP of `scripts/models/mlp2d.lua` — in FP32
/// and, where the CPU runs it, with bf16 sampling. The settings are those of PyTorch's scripts that
/// `scripts/bench --suite` runs beside it (../shared/bench/torch_sgld_nets.py and
/// benchmarks/torch_jem_nets.py): unconditional SGLD, step 10, noise 0.005, gradient clamp 0.03,
/// `chains` chains × `suiteSteps` steps (the MLP: 1024 chains, whose work would otherwise be lost in
/// per-step overhead); a JEM iteration is that sampling from the replay buffer plus the px + pyx update.
extension BenchCommand {
    struct SuiteNetwork {
        let name: String, hidden: Int, chains: Int
        let model: EnergyNet
        /// Floating-point operations of one input's forward pass: 2 per multiply-add of the layers
        /// (their `Workload` operations; pointwise operations, a small share, count 2 as well).
        let forwardFlops: Double
    }

    /// The suite's networks, the Lua ones read from `scripts/models/` under the working directory.
    func suiteNetworks() throws -> [SuiteNetwork] {
        let models = "scripts/models"
        guard FileManager.default.fileExists(atPath: "\(models)/wide3.lua") else {
            throw JouleError("bench --suite reads the networks in \(models)/ (residual_ebm.lua, wide3.lua, mlp2d.lua): run it from the repository's folder")
        }
        // Each network is built only when chosen (`--networks`): the wide ones take a while to initialise.
        var list: [(String, Int, Int, () throws -> EnergyNet)] = []
        for h in [16, 32, 64, 128] { list.append(("shallow", h, chains, { try ShallowCNN(hidden: h, classes: 42, rng: RNG(seed: 0)) })) }
        list.append(("residual", 16, chains, { try Self.luaNetwork("\(models)/residual_ebm.lua", hidden: 16, classes: 42, shape: [1, 56, 56]) }))
        for h in [16, 32] { list.append(("wide3", h, chains, { try Self.luaNetwork("\(models)/wide3.lua", hidden: h, classes: 10, shape: [3, 32, 32]) })) }
        list.append(("mlp2d", 64, 1024, { try Self.luaNetwork("\(models)/mlp2d.lua", hidden: 64, classes: 1, shape: [2]) }))
        if let wanted = networks?.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            list = list.filter { name, h, _, _ in wanted.contains(name) || wanted.contains("\(name):\(h)") }
            guard !list.isEmpty else { throw JouleError("--networks \(networks!): no network of the suite (shallow, residual, wide3, mlp2d) matches") }
        }
        return try list.map { name, h, n, make in
            let model = try make(), s = model.inputShape!
            let start = Workload(shape: s.count == 3 ? [s[1], s[2], s[0]] : s)
            return SuiteNetwork(name: name, hidden: h, chains: n, model: model,
                                forwardFlops: 2 * model.root.workload(after: start).operations)
        }
    }

    /// The network a model file of scripts/models makes, as `joule.nn.from_file` makes it for a
    /// script (through a weights file: the Lua state keeps its own objects).
    static func luaNetwork(_ path: String, hidden: Int, classes: Int, shape: [Int]) throws -> EnergyNet {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("joule-suite-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let host = try ScriptHost(script: nil)
        _ = try host.lua.run(string: """
            local m = joule.nn.from_file(\(LuaLiteral.string(path)), { hidden = \(hidden), classes = \(classes), channels = \(shape.count == 3 ? shape[0] : 1) })
            joule.nn.Sequential{ m, input_shape = { \(shape.map(String.init).joined(separator: ", ")) } }:save(\(LuaLiteral.string(file)))
            """, name: "=bench")
        let net = try EnergyNets.load(from: file)
        // The wrapping Sequential's names ("0.…") are irrelevant to timing; its input shape is not.
        return try EnergyNet(net.root, inputShape: shape)
    }

    /// One network's medians per sampling precision: SGLD and the JEM iteration in FP32, then bf16
    /// and auto (what auto chose, measured before the timing) where the CPU has bf16 and the chains
    /// are images, their rounds interleaved so that all see the same machine.
    func timeSuite(_ net: SuiteNetwork) throws -> [(precision: SamplingPrecision, sgld: Double, jem: Double, arithmetic: String)] {
        let model = net.model, shape = model.inputShape!
        func trainer(_ precision: SamplingPrecision) throws -> (SGLDSampler, JEM) {
            var sc = SGLDSampler.Config(); sc.steps = suiteSteps; sc.conditional = false; sc.precision = precision
            let s = try SGLDSampler(model: model, config: sc, rng: RNG(seed: 1))
            return (s, try JEM(model: model, sampler: s))
        }
        let rng = RNG(seed: 2)
        let real = Tensor(shape: [net.chains] + shape), x = Tensor(shape: [net.chains] + shape)
        rng.fillUniform(real, -1, 1)
        let labels = (0..<net.chains).map { _ in rng.int(model.classes) }
        let precisions: [SamplingPrecision] = Precision.bf16Unavailable == nil && shape.count == 3 ? [.fp32, .bf16, .auto] : [.fp32]
        let trainers = try precisions.map(trainer)
        var bodies: [() throws -> Void] = []
        for (sampler, jem) in trainers {
            bodies.append { rng.fillUniform(x, -1, 1); try sampler.run(x, labels: nil, steps: suiteSteps) }
            bodies.append { _ = try jem.step(real, labels: labels) }
        }
        for body in bodies { try body() }   // warm-up: workspaces, the replay buffer, packed weights, auto's choice
        let t = try interleavedMedians(bodies)
        return precisions.indices.map { (precisions[$0], t[2 * $0], t[2 * $0 + 1], trainers[$0].0.runningPrecision) }
    }

    /// FP32 SGLD and JEM medians of one network under each kernel choice (nil: the default), every
    /// round running all choices in turn so that they see the same machine. Forcing a choice makes
    /// the layers choose their kernels again and repack their weights at the next pass: a few
    /// milliseconds at most, inside each timed run.
    func timeSuite(_ net: SuiteNetwork, kernels choices: [String?]) throws -> [(sgld: Double, jem: Double)] {
        let model = net.model, shape = model.inputShape!
        var sc = SGLDSampler.Config(); sc.steps = suiteSteps; sc.conditional = false; sc.precision = .fp32
        let sampler = try SGLDSampler(model: model, config: sc, rng: RNG(seed: 1))
        let jem = try JEM(model: model, sampler: sampler)
        let rng = RNG(seed: 2)
        let real = Tensor(shape: [net.chains] + shape), x = Tensor(shape: [net.chains] + shape)
        rng.fillUniform(real, -1, 1)
        let labels = (0..<net.chains).map { _ in rng.int(model.classes) }
        var bodies: [() throws -> Void] = []
        for choice in choices {
            bodies.append { try Kernels.force(choice); rng.fillUniform(x, -1, 1); try sampler.run(x, labels: nil, steps: suiteSteps) }
            bodies.append { try Kernels.force(choice); _ = try jem.step(real, labels: labels) }
        }
        defer { try? Kernels.force(nil) }
        for body in bodies { try body() }   // warm-up
        let t = try interleavedMedians(bodies)
        return choices.indices.map { (t[2 * $0], t[2 * $0 + 1]) }
    }

    func runSuite() throws {
        let networks = try suiteNetworks()
        if let kernels { return try runSuite(networks, kernels: kernels) }
        let peak = Self.gemmPeak(), bf16Peak = Self.bf16Peak()
        var rows: [JSON] = []
        if !json {
            print("Joule bench --suite — \(suiteSteps) SGLD steps; median of \(runs); \(Self.cpuName()); OpenBLAS \(BLAS.coreName), \(BLAS.threads) threads")
            print("GEMM kernels: \(Kernels.description); FP32 GEMM peak (sgemm 2048³) \(String(format: "%.1f", peak)) GFLOP/s"
                  + (bf16Peak.map { String(format: "; bf16 GEMM peak %.1f GFLOP/s", $0) } ?? ""))
        }
        for net in networks {
            let t = try timeSuite(net)
            let sgldFlops = Double(suiteSteps) * 2 * net.forwardFlops * Double(net.chains)
            // The update: a forward of the real and sampled batches, their input and weight gradients.
            let jemFlops = sgldFlops + 3 * net.forwardFlops * Double(2 * net.chains)
            var o: [String: JSON] = ["net": .string(net.name), "hidden": .int(net.hidden), "chains": .int(net.chains)]
            for r in t {
                let suffix = r.precision == .fp32 ? "" : "_\(r.precision.rawValue)"
                o["sgld\(suffix)_s"] = .double(r.sgld); o["jem\(suffix)_s"] = .double(r.jem)
                if r.precision == .auto { o["auto_precision"] = .string(r.arithmetic) }
            }
            let fp32 = t[0]
            o["sgld_flops"] = .double(sgldFlops); o["jem_flops"] = .double(jemFlops)
            o["sgld_gflops"] = .double(sgldFlops / fp32.sgld / 1e9); o["jem_gflops"] = .double(jemFlops / fp32.jem / 1e9)
            rows.append(.object(o))
            guard !json else { continue }
            let name = "\(net.name) h\(net.hidden) (\(net.chains) chains)".padding(toLength: 30, withPad: " ", startingAt: 0)
            var line = name + String(format: "SGLD %8.4f s (%5.1f%% of peak)  JEM %8.4f s (%5.1f%%)", fp32.sgld, 100 * sgldFlops / fp32.sgld / 1e9 / peak,
                                             fp32.jem, 100 * jemFlops / fp32.jem / 1e9 / peak)
            for r in t.dropFirst() {
                line += "   \(r.precision.rawValue): " + String(format: "SGLD %8.4f s  JEM %8.4f s", r.sgld, r.jem)
                if r.precision == .auto { line += " (\(r.arithmetic))" }
            }
            print(line)
        }
        if json {
            print(JSON.object(["networks": .array(rows), "steps": .int(suiteSteps), "runs": .int(runs), "cpu": .string(Self.cpuName()),
                               "gemm_peak_gflops": .double(peak), "bf16_gemm_peak_gflops": bf16Peak.map(JSON.double) ?? .null,
                               "blas_kernel": .string(BLAS.coreName), "blas_threads": .int(BLAS.threads),
                               "kernels": .string(Kernels.description), "bf16": .bool(Precision.bf16Unavailable == nil)]).serialized())
        }
    }

    /// `--suite --kernels a,b,…`: FP32 SGLD and JEM per network under each kernel choice, interleaved.
    private func runSuite(_ networks: [SuiteNetwork], kernels: String) throws {
        let names = kernels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let choices: [String?] = try names.map { $0 == "default" ? nil : try Kernels.family(named: $0).name }
        print("Joule bench --suite --kernels \(kernels) — \(suiteSteps) SGLD steps, FP32; median of \(runs), the choices' runs interleaved; "
              + "\(Self.cpuName()); OpenBLAS \(BLAS.coreName), \(BLAS.threads) threads")
        for net in networks {
            let t = try timeSuite(net, kernels: choices)
            for (name, (sgld, jem)) in zip(names, t) {
                let label = "\(net.name) h\(net.hidden) (\(net.chains) chains)".padding(toLength: 30, withPad: " ", startingAt: 0)
                print(label + name.padding(toLength: 10, withPad: " ", startingAt: 0)
                      + String(format: "SGLD %8.4f s (%.2f× the first)  JEM %8.4f s (%.2f×)", sgld, sgld / t[0].sgld, jem, jem / t[0].jem))
            }
        }
    }
}
