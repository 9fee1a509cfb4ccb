import ArgumentParser
import EBM
import LuaHost
import Foundation
import NN
import Tensor

/// Timings of the course configuration (hidden 32, 42 classes, 1×56×56), as medians over runs.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench",
        abstract: "Time a JEM iteration, SGLD, a MALA step and an HMC iteration, the classifier and start-up; compare with ../shared/bench/torch_jem_step.py.")

    @Option(help: "Timed repetitions (the median is reported).") var runs = 5
    @Option(help: "Chains per SGLD batch.") var chains = 32
    @Option(help: "SGLD steps per JEM iteration.") var steps = 60
    @Option(help: "Leapfrog steps per HMC iteration.") var leapfrog = 10
    @Flag(help: "Print one JSON object instead of a table.") var json = false
    @Flag(help: "Time only the second-order passes (Hessian-vector product, DSM, gradient penalty) against a first-order pass.")
    var secondOrder = false
    @Flag(help: "Time SGLD and a JEM iteration on every network of the benchmark suite (scripts/bench --suite runs PyTorch beside it).")
    var suite = false
    @Option(help: "SGLD steps per run in --suite (PyTorch's side uses the same).") var suiteSteps = 20
    @Option(help: "--suite: only these networks (comma-separated: shallow, residual, wide3, mlp2d; a hidden size narrows one, e.g. wide3:16).")
    var networks: String?
    @Option(help: "--suite: time FP32 under each of these kernel choices (comma-separated: default or a JOULE_KERNELS family, e.g. default,panel,winograd), their runs interleaved.")
    var kernels: String?
    @Flag(help: "Time only the course's JEM iteration in FP32 (scripts/bench --busy compares it on a quiet and a busy machine).")
    var jemOnly = false

    func run() throws {
        if secondOrder { return try timeSecondOrder() }
        if suite { return try runSuite() }
        let rng = RNG(seed: 0)
        let model = try ShallowCNN(hidden: 32, classes: 42, rng: rng)
        var sc = SGLDSampler.Config(); sc.steps = steps; sc.conditional = false; sc.precision = .fp32
        let sampler = try SGLDSampler(model: model, config: sc, rng: RNG(seed: 1))
        let jem = try JEM(model: model, sampler: sampler)
        let real = Tensor(shape: [chains, 1, 56, 56]); rng.fillUniform(real, -1, 1)
        let labels = (0..<chains).map { _ in rng.int(42) }
        let flops = Flops(model: model, height: 56, width: 56)

        _ = try jem.step(real, labels: labels)                      // warm-up: workspaces, buffer
        if jemOnly {
            let t = try median { _ = try jem.step(real, labels: labels) }
            print(json ? JSON.object(["jem_iteration_s": .double(t), "cpu": .string(Self.cpuName())]).serialized()
                       : String(format: "JEM iteration (%d × %d + update): %.4f s (median of %d)", chains, steps, t, runs))
            return
        }
        let chainsX = Tensor(shape: [chains, 1, 56, 56])
        func sgld(_ s: SGLDSampler) throws {
            rng.fillUniform(chainsX, -1, 1)
            try s.run(chainsX, labels: nil, steps: steps)
        }
        try sgld(sampler)
        // Peak memory of FP32 training (JEM and SGLD), before the bf16 trainer and the other tests allocate more.
        var usage = rusage(); getrusage(RUSAGE_SELF.rawValue, &usage)
        let peakMB = Double(usage.ru_maxrss) / 1024
        // The same iteration with bf16 sampling (the update stays FP32), and with auto (the default:
        // per layer the faster, measured here before the timing), on the same weights; their rounds
        // alternate with FP32's so that all see the same machine.
        let bf16 = Precision.bf16Unavailable == nil
        func trainer(_ precision: SamplingPrecision) throws -> (SGLDSampler, JEM) {
            var c = sc; c.precision = precision
            let s = try SGLDSampler(model: model, config: c, rng: RNG(seed: 1))
            return (s, try JEM(model: model, sampler: s))
        }
        let (sampler16, jem16) = try trainer(.bf16), (samplerAuto, jemAuto) = try trainer(.auto)
        if bf16 { _ = try jem16.step(real, labels: labels); _ = try jemAuto.step(real, labels: labels) }
        // MALA and HMC on the same chains and network (same precision rule as SGLD's): `steps` MALA steps
        // (one energy gradient each, plus the run's first) and steps / leapfrog HMC iterations
        // (leapfrog gradients each), so each run costs about one SGLD run.
        let hmcIterations = Swift.max(1, steps / leapfrog)
        func markov(_ precision: SamplingPrecision) throws -> (mala: MALASampler, hmc: HMCSampler) {
            var c = ChainSettings(); c.conditional = false; c.steps = steps; c.precision = precision
            var m = MALASampler.Config(); m.stepSize = 1e-4; m.chains = c
            var h = HMCSampler.Config(); h.stepSize = 1e-3; h.leapfrog = leapfrog; h.chains = c
            return (try MALASampler(model: model, config: m, rng: RNG(seed: 1)), try HMCSampler(model: model, config: h, rng: RNG(seed: 1)))
        }
        func chain(_ s: MarkovSampler, _ n: Int) throws {
            rng.fillUniform(chainsX, -1, 1)
            try s.run(chainsX, labels: nil, steps: n)
        }
        let fp32 = try markov(.fp32), half = try markov(.bf16)
        try chain(fp32.mala, 1); try chain(fp32.hmc, 1)
        let times = try interleavedMedians([{ _ = try jem.step(real, labels: labels) }, { try sgld(sampler) },
                                            { try chain(fp32.mala, steps) }, { try chain(fp32.hmc, hmcIterations) }]
            + (bf16 ? [{ _ = try jem16.step(real, labels: labels) }, { try sgld(sampler16) },
                       { try chain(half.mala, steps) }, { try chain(half.hmc, hmcIterations) },
                       { _ = try jemAuto.step(real, labels: labels) }, { try sgld(samplerAuto) }] : []))
        let (jemTime, sgldTime) = (times[0], times[1])
        let (malaStep, hmcIteration) = (times[2] / Double(steps), times[3] / Double(hmcIterations))
        let (jem16Time, sgld16Time): (Double?, Double?) = bf16 ? (times[4], times[5]) : (nil, nil)
        let (mala16Step, hmc16Iteration): (Double?, Double?) = bf16 ? (times[6] / Double(steps), times[7] / Double(hmcIterations)) : (nil, nil)
        let (jemAutoTime, sgldAutoTime): (Double?, Double?) = bf16 ? (times[8], times[9]) : (nil, nil)
        let snapshotTime = try guardSnapshot(model: model)
        let guardShare = snapshotTime / Double(DivergenceGuard.Config().every) / jemTime
        let luaTime = try Self.luaSGLD(chains: chains, steps: steps, runs: runs)
        let batch = Tensor(shape: [256, 1, 56, 56]); rng.fillUniform(batch, -1, 1)
        let forwardTime = try median { _ = try model.forwardLogits(batch) }
        let gemm = Self.gemmPeak(), bf16Peak = Self.bf16Peak()
        let startup = Self.startupTime()

        let sgldFlops = Double(steps) * flops.sgldStep(batch: chains)
        let jemFlops = sgldFlops + flops.trainingUpdate(batch: chains)
        let forwardFlops = flops.forward(batch: 256)
        if json {
            let result = JSON.object([
                "jem_iteration_s": .double(jemTime), "jem_gflops": .double(jemFlops / jemTime / 1e9),
                "sgld_s": .double(sgldTime), "sgld_gflops": .double(sgldFlops / sgldTime / 1e9),
                "sgld_lua_s": .double(luaTime), "sgld_lua_overhead": .double(luaTime / sgldTime - 1),
                "forward_images_per_s": .double(256 / forwardTime), "forward_gflops": .double(forwardFlops / forwardTime / 1e9),
                "startup_s": startup.map(JSON.double) ?? .null, "peak_rss_mb": .double(peakMB),
                "guard_snapshot_s": .double(snapshotTime), "guard_overhead": .double(guardShare),
                "jem_iteration_bf16_s": jem16Time.map(JSON.double) ?? .null, "sgld_bf16_s": sgld16Time.map(JSON.double) ?? .null,
                "bf16": .bool(bf16),
                "jem_iteration_auto_s": jemAutoTime.map(JSON.double) ?? .null, "sgld_auto_s": sgldAutoTime.map(JSON.double) ?? .null,
                "auto_precision": .string(samplerAuto.runningPrecision),
                "sgld_step_s": .double(sgldTime / Double(steps)), "mala_step_s": .double(malaStep),
                "hmc_iteration_s": .double(hmcIteration), "hmc_leapfrog": .int(leapfrog),
                "mala_step_bf16_s": mala16Step.map(JSON.double) ?? .null, "hmc_iteration_bf16_s": hmc16Iteration.map(JSON.double) ?? .null,
                "gemm_peak_gflops": .double(gemm), "bf16_gemm_peak_gflops": bf16Peak.map(JSON.double) ?? .null,
                "blas_kernel": .string(BLAS.coreName), "blas_threads": .int(BLAS.threads),
                "kernels": .string(Kernels.description), "target": .string(BuildTarget.current.description),
                "chains": .int(chains), "steps": .int(steps), "runs": .int(runs),
            ])
            print(result.serialized())
            return
        }
        func label(_ s: String) -> String { s.padding(toLength: 36, withPad: " ", startingAt: 0) }
        func row(_ name: String, _ seconds: Double, _ work: Double) -> String {
            label(name) + String(format: "%9.4f s  %6.1f GFLOP/s  %5.1f%% of GEMM peak", seconds, work / seconds / 1e9, 100 * work / seconds / 1e9 / gemm)
        }
        print("Joule bench — ShallowCNN hidden 32, 42 classes, 1×56×56; target \(BuildTarget.current.description); OpenBLAS \(BLAS.coreName), \(BLAS.threads) threads; median of \(runs)")
        print("GEMM kernels: \(Kernels.description)")
        print(label("GEMM peak (sgemm 2048³)") + String(format: "%9.1f GFLOP/s", gemm))
        if let bf16Peak { print(label("bf16 GEMM peak") + String(format: "%9.1f GFLOP/s", bf16Peak)) }
        print(row("JEM iteration (\(chains) × \(steps) + update)", jemTime, jemFlops))
        print(row("SGLD alone (\(chains) × \(steps))", sgldTime, sgldFlops))
        if let jem16Time, let sgld16Time {
            print(row("JEM iteration, bf16 sampling", jem16Time, jemFlops) + String(format: "  %.2f× FP32", jemTime / jem16Time))
            print(row("SGLD alone, bf16", sgld16Time, sgldFlops) + String(format: "  %.2f× FP32", sgldTime / sgld16Time))
        } else {
            print(label("bf16 sampling") + "  not measured: \(Precision.bf16Unavailable ?? "bf16 does not run here")")
        }
        if let jemAutoTime, let sgldAutoTime {
            print(row("JEM iteration, auto sampling", jemAutoTime, jemFlops) + String(format: "  %.2f× FP32", jemTime / jemAutoTime))
            print(row("SGLD alone, auto", sgldAutoTime, sgldFlops) + String(format: "  %.2f× FP32", sgldTime / sgldAutoTime))
        }
        print(label("auto precision runs") + "  " + samplerAuto.runningPrecision)
        let stepFlops = flops.sgldStep(batch: chains)
        print(row("SGLD step (\(chains) chains)", sgldTime / Double(steps), stepFlops))
        print(row("MALA step (\(chains) chains)", malaStep, stepFlops) + String(format: "  %.2f× an SGLD step", malaStep / (sgldTime / Double(steps))))
        print(row("HMC iteration (\(chains) chains, L = \(leapfrog))", hmcIteration, Double(leapfrog) * stepFlops)
              + String(format: "  %.2f× an SGLD step", hmcIteration / (sgldTime / Double(steps))))
        if let mala16Step, let hmc16Iteration {
            print(row("MALA step, bf16", mala16Step, stepFlops) + String(format: "  %.2f× FP32", malaStep / mala16Step))
            print(row("HMC iteration, bf16", hmc16Iteration, Double(leapfrog) * stepFlops) + String(format: "  %.2f× FP32", hmcIteration / hmc16Iteration))
        }
        print(row("SGLD as a Lua loop over energy_grad", luaTime, sgldFlops) + String(format: "  %+.1f%% vs built-in", 100 * (luaTime / sgldTime - 1)))
        print(label("divergence guard (per JEM step)") + String(format: "%9.4f s  %+.2f%% of a JEM iteration", snapshotTime / Double(DivergenceGuard.Config().every), 100 * guardShare))
        print(row("classifier forward (256 images)", forwardTime, forwardFlops) + String(format: "  %.0f images/s", 256 / forwardTime))
        if let startup { print(label("start-up + empty script") + String(format: "%9.4f s", startup)) }
        print(label("peak resident memory (training)") + String(format: "%9.1f MB", peakMB))
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(label("peak resident memory (all of bench)") + String(format: "%9.1f MB", Double(usage.ru_maxrss) / 1024))
    }

    /// Seconds the divergence guard takes to keep a good state of the course's trainer: weights, Adam,
    /// and a full class-conditional replay buffer (42 pools of 128 images of 56×56), the biggest part.
    private func guardSnapshot(model: ShallowCNN) throws -> Double {
        var sc = SGLDSampler.Config(); sc.steps = 0
        let sampler = try SGLDSampler(model: model, config: sc, rng: RNG(seed: 2))
        let jem = try JEM(model: model, sampler: sampler)
        let images = Tensor(shape: [sc.bufferPerClass, 1, 56, 56]); RNG(seed: 3).fillUniform(images, -1, 1)
        for c in 0..<model.classes { try sampler.buffer.store(images, pools: Array(repeating: c, count: sc.bufferPerClass)) }
        let g = try DivergenceGuard()
        return try median { g.keep(jem, batch: 0) }
    }

    /// Medians of `bodies`' times over `runs` rounds, each round running every body once in turn.
    func interleavedMedians(_ bodies: [() throws -> Void]) throws -> [Double] {
        var times = bodies.map { _ in [Double]() }
        for _ in 0..<max(runs, 1) {
            for (k, body) in bodies.enumerated() {
                let t = DispatchTime.now().uptimeNanoseconds
                try body()
                times[k].append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
            }
        }
        return times.map { $0.sorted()[$0.count / 2] }
    }

    private func median(_ body: @escaping () throws -> Void) throws -> Double { try interleavedMedians([body])[0] }

    /// The same SGLD written in Lua over `model:energy_grad`, as a user would write their own
    /// sampler: median seconds per run of `steps` steps on `chains` chains.
    static func luaSGLD(chains: Int, steps: Int, runs: Int) throws -> Double {
        let host = try ScriptHost(script: nil)
        _ = try host.lua.run(string: """
            local T = joule.tensor
            local model = joule.nn.ShallowCNN{ hidden = 32, classes = 42, seed = 0 }
            local sigma, c, eta = 0.005, 0.03, 10
            function sgld_loop(x)
              for s = 1, \(steps) do
                x = (x + T.randn(\(chains), 1, 56, 56) * sigma):clamp(-1, 1)
                local _, g = model:energy_grad(x)
                x = (x - g:clamp(-c, c) * eta):clamp(-1, 1)
              end
              return x
            end
            x0 = T.rand(\(chains), 1, 56, 56) * 2 - 1
            sgld_loop(x0)
            """, name: "=bench")
        var times: [Double] = []
        for _ in 0..<max(runs, 1) {
            let t = DispatchTime.now().uptimeNanoseconds
            _ = try host.lua.run(string: "sgld_loop(x0)", name: "=bench")
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }

    /// Best of three single-precision 2048³ GEMMs, in GFLOP/s.
    static func gemmPeak() -> Double {
        let n = 2048
        let a = Tensor(shape: [n, n], repeating: 0.5), b = Tensor(shape: [n, n], repeating: 0.25), c = Tensor(shape: [n, n])
        var best = Double.infinity
        for _ in 0..<3 {
            let t = DispatchTime.now().uptimeNanoseconds
            BLAS.gemm(m: n, n: n, k: n, a: a.data, b: b.data, c: c.data)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Best of twenty bf16 GEMMs on all cores, in GFLOP/s; nil where bf16 does not run. Per core M
    /// 1024, K 1152, N 512 (a 128 → 256-channel 3 × 3 layer's product), A's conversion to bf16
    /// included; a few milliseconds each, so fewer runs left the best ±8 % apart between processes. No sampling does its multiply-adds faster on this CPU, so it bounds
    /// what any implementation of a network's convolutions as products can reach (bench-suite.py
    /// sets it against the rate that twice PyTorch's speed would take).
    static func bf16Peak() -> Double? {
        guard BF16GEMM.isAvailable else { return nil }
        let (m, k, n, parts) = (1024, 1152, 512, Parallel.cores)
        let a = Tensor(shape: [parts * m, k]), b = Tensor(shape: [k, n]), c = Tensor(shape: [parts * m, n])
        RNG(seed: 3).fillUniform(a, -1, 1); RNG(seed: 4).fillUniform(b, -1, 1)
        let panels = UnsafeMutablePointer<UInt16>.allocate(capacity: BF16GEMM.packedCount(k: k, n: n))
        let scratch = UnsafeMutablePointer<UInt16>.allocate(capacity: parts * BF16GEMM.rowsCount(m: m, k: k))
        defer { panels.deallocate(); scratch.deallocate() }
        BF16GEMM.pack(b.data, k: k, n: n, rowStride: n, columnStride: 1, into: panels)
        var best = Double.infinity
        for _ in 0..<20 {
            let t = DispatchTime.now().uptimeNanoseconds
            Parallel.split(parts, parts: parts) { p, _ in
                BF16GEMM.multiply(m: m, n: n, k: k, a: a.data + p * m * k, lda: k, panels: panels,
                                  c: c.data + p * m * n, ldc: n, accumulate: false,
                                  scratch: scratch + p * BF16GEMM.rowsCount(m: m, k: k))
            }
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        return 2 * Double(parts * m * k * n) / best / 1e9
    }

    /// Median wall time of `joule run` on an empty script, in a fresh process each time.
    static func startupTime() -> Double? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("joule-bench-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("empty.lua")
        guard (try? Data().write(to: script)) != nil else { return nil }
        // posix_spawn and waitpid directly: Foundation's Process adds tens of milliseconds of its own.
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let args = [exe, "run", script.path, "-p", "run=\(dir.appendingPathComponent("run").path)"]
        // The child starts as a user's shell would start it: if this process chose the BLAS kernel
        // itself, the child must choose it too (re-execution included).
        var env = ProcessInfo.processInfo.environment
        if env["JOULE_BLAS_REEXEC"] != nil { env["OPENBLAS_CORETYPE"] = nil; env["JOULE_BLAS_REEXEC"] = nil }
        var envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var times: [Double] = []
        for _ in 0..<9 {
            var argv = args.map { strdup($0) } + [nil]
            defer { argv.forEach { free($0) } }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
            defer { posix_spawn_file_actions_destroy(&actions) }
            var pid: pid_t = 0
            let t = DispatchTime.now().uptimeNanoseconds
            guard posix_spawn(&pid, exe, &actions, nil, &argv, &envp) == 0 else { return nil }
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            guard status == 0 else { return nil }
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e9)
        }
        return times.sorted()[times.count / 2]
    }
}

/// Floating-point operations of the ShallowCNN passes, counted as 2 per multiply-add of the GEMMs.
struct Flops {
    /// Per image: multiply-adds of each conv layer (O · C·k·k · Ho·Wo) and of the linear layer.
    let layers: [Double]
    let linear: Double

    init(model: ShallowCNN, height: Int, width: Int) {
        var (h, w) = (height, width)
        var layers: [Double] = []
        for case let conv as Conv2d in model.cnnLayers.modules {
            h = (h + 2 * conv.padding - conv.kernel) / conv.stride + 1
            w = (w + 2 * conv.padding - conv.kernel) / conv.stride + 1
            layers.append(Double(conv.outChannels * conv.inChannels * conv.kernel * conv.kernel * h * w))
        }
        self.layers = layers
        linear = Double(model.fc.inFeatures * model.fc.outFeatures)
    }

    func forward(batch: Int) -> Double { 2 * Double(batch) * (layers.reduce(0, +) + linear) }
    /// Forward plus the gradient to the input through every layer.
    func sgldStep(batch: Int) -> Double { 2 * forward(batch: batch) }
    /// Forward of real and sampled batches together, weight gradients, and input gradients below
    /// the first layer.
    func trainingUpdate(batch: Int) -> Double {
        let b = 2 * batch
        return 3 * forward(batch: b) - 2 * Double(b) * layers[0]
    }
}
