import EBM
import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// joule.ebm.MALA, HMC, AnnealedLangevin and joule.ebm.sampler from Lua: sampling, acceptance,
/// training with every start, exact resume, the scripts' -p sampler= and -p start=, and bad input.
extension TrainingTests {
    func testMarkovSamplersFromLua() throws {
        let r = try lua("""
            local m = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 1 }
            local out = {}
            for _, s in ipairs{
              joule.ebm.MALA{ model = m, steps = 3, step_size = 1e-3, seed = 9 },
              joule.ebm.HMC{ model = m, steps = 2, step_size = 0.01, leapfrog = 3, mass = 2, seed = 9 },
              joule.ebm.AnnealedLangevin{ model = m, steps = 3, step_size = 1e-3, t0 = 4, seed = 9 },
              joule.ebm.sampler("mala", { model = m, steps = 2, step_size = 1e-3, start = 'pcd' }),
            } do
              local final, frames = s:sample{ labels = {0, 1, 2, 0}, steps = 4, keep_every = 2 }
              local a = s:acceptance()
              local ok = #a == 4
              for _, v in ipairs(a) do ok = ok and v >= 0 and v <= 1 end
              out[#out + 1] = table.concat(final:shape(), 'x') .. '/' .. table.concat(frames:shape(), 'x') .. '/'
                .. tostring(final:min() >= -1 and final:max() <= 1) .. '/' .. tostring(ok)
            end
            return table.concat(out, ' ')
            """)[0]
        XCTAssertEqual(r, Array(repeating: "4x1x56x56/3x4x1x56x56/true/true", count: 4).joined(separator: " "))
        // Vectors: no clamp unless asked.
        let v = try lua("""
            local m = joule.nn.Sequential{ joule.nn.Linear(3, 1), input_shape = {3} }
            local free = joule.ebm.MALA{ model = m, steps = 50, step_size = 1, conditional = false, seed = 2 }
            local boxed = joule.ebm.MALA{ model = m, steps = 50, step_size = 1, conditional = false, clamp = {-0.5, 0.5}, seed = 2 }
            local a, b = free:sample{ n = 8 }, boxed:sample{ n = 8 }
            return a:abs():max() > 0.5, b:abs():max() <= 0.5, free:config().clamp, boxed:config().clamp
            """)
        XCTAssertEqual(v, ["true", "true", "none", "-0.5,0.5"])
    }

    func testMarkovSamplerErrorsFromLua() {
        let m = "local m = joule.nn.ShallowCNN{ hidden = 2, classes = 3 }; "
        for (code, text) in [
            ("joule.ebm.MALA{ model = m, steps = 0 }", "MALA: steps must be in 1..."),
            ("joule.ebm.MALA{ model = m, step_size = 0 }", "MALA: step_size must be a positive number, got 0"),
            ("joule.ebm.HMC{ model = m, step_size = -1 }", "HMC: step_size must be a positive number, got -1"),
            ("joule.ebm.HMC{ model = m, leapfrog = 0 }", "HMC: leapfrog must be in 1...10000, got 0"),
            ("joule.ebm.HMC{ model = m, mass = -2 }", "HMC: mass must be positive numbers, got -2"),
            ("joule.ebm.HMC{ model = m, mass = joule.tensor.ones(5) }", "one per coordinate of a chain (3136), got 5"),
            ("joule.ebm.HMC{ model = m, mass = 'heavy' }", "field 'mass': a number, a tensor or a table of numbers expected"),
            ("joule.ebm.AnnealedLangevin{ model = m, t0 = 0.5 }", "t0 must be a number ≥ 1"),
            ("joule.ebm.MALA{ model = m, target_acceptance = 1 }", "target_acceptance must lie in (0, 1)"),
            ("joule.ebm.MALA{ model = m, start = 'pcdd' }", "unknown start 'pcdd' (did you mean 'pcd'?)"),
            ("joule.ebm.SGLD{ model = m, start = 'replya' }", "unknown start 'replya' (did you mean 'replay'?)"),
            ("joule.ebm.sampler('mla', { model = m })", "unknown sampler 'mla' (did you mean 'mala'?)"),
            ("joule.ebm.sampler('hmc', { model = m, noise = 1 })", "unknown option 'noise'"),
            ("joule.ebm.MALA{ model = m, clamp = {1, -1} }", "clamp must be {lo, hi} with lo < hi"),
            ("joule.ebm.MALA{ model = m, stepsize = 1 }", "did you mean 'step_size'?"),
            ("joule.ebm.MALA{ model = m }:sample{ n = 2, labels = {0, 1}, keep_every = 0 }", "keep_every"),
            ("local s = joule.ebm.MALA{ model = m }; local x = joule.tensor.zeros(3, 1, 56, 56); x:set(2, 1, 1, 1, 0/0); s:run(x, { labels = {0, 1, 2} })",
             "MALA: the energy of chain 2 of 3 is NaN"),
            ("local s = joule.ebm.HMC{ model = m }; local x = joule.tensor.zeros(3, 1, 56, 56); x:set(3, 1, 1, 1, 0/0); s:run(x, { labels = {0, 1, 2} })",
             "HMC: the energy of chain 3 of 3 is NaN"),
        ] {
            let message = luaError(m + code)
            XCTAssertTrue(message.contains(text), "\(code): \(message)")
            XCTAssertTrue(message.contains("snippet.lua:1:"), "\(code): the script's line: \(message)")
        }
    }

    /// Training from Lua with a sampler and start, straight or stopped, checkpointed and resumed in new
    /// objects: the same numbers and the same files.
    func luaTraining(sampler: String, epochs: Int, split: Int?, name: String) throws -> String {
        try lua("""
            joule.seed(3)
            local function trainer()
              local m = joule.nn.ShallowCNN{ hidden = 3, classes = 3 }
              local s = \(sampler)
              return joule.ebm.JEM{ model = m, sampler = s, lr = 1e-3, lr_step = 1, lr_gamma = 0.5 }
            end
            local x = joule.tensor.rand(40, 1, 16, 16) * 2 - 1
            local y = {}
            for i = 1, 40 do y[i] = (i - 1) % 3 end
            local train = { images = x, labels = y }
            local jem, losses = trainer(), {}
            for epoch = 1, \(epochs) do
              if epoch == \(split.map { $0 + 1 } ?? -1) then
                jem:save_checkpoint(DIR .. '/half-\(name)')
                joule.tensor.rand(5)
                jem = trainer()
                jem:load_checkpoint(DIR .. '/half-\(name)')
              end
              local s = jem:fit_epoch(train, { batch_size = 8, progress = false })
              losses[#losses + 1] = string.format('%.9g/%.9g', s.loss, joule.tensor.rand(1):item())
            end
            jem:save_checkpoint(DIR .. '/\(name)')
            return table.concat(losses, ' ')
            """)[0]
    }

    func testResumeFromLuaWithEachSamplerAndStart() throws {
        let samplers = [
            "joule.ebm.MALA{ model = m, steps = 3, step_size = 1e-3, adapt_steps = 20, image_size = 16, buffer_per_class = 8, start = 'pcd' }",
            "joule.ebm.HMC{ model = m, steps = 2, leapfrog = 2, step_size = 0.01, image_size = 16, buffer_per_class = 8, start = 'cd' }",
            "joule.ebm.AnnealedLangevin{ model = m, steps = 3, step_size = 1e-3, image_size = 16, buffer_per_class = 8, start = 'replay' }",
            "joule.ebm.SGLD{ model = m, steps = 3, image_size = 16, buffer_per_class = 8, start = 'pcd' }",
            "joule.ebm.MALA{ model = m, steps = 2, step_size = 1e-3, image_size = 16, buffer_per_class = 8, start = 'noise' }",
        ]
        for (k, s) in samplers.enumerated() {
            let straight = try luaTraining(sampler: s, epochs: 3, split: nil, name: "straight\(k)")
            let resumed = try luaTraining(sampler: s, epochs: 3, split: 2, name: "resumed\(k)")
            XCTAssertEqual(resumed, straight, s)
            for file in ["model.safetensors", "state.safetensors"] {
                let a = try Data(contentsOf: directory.appendingPathComponent("straight\(k)/\(file)"))
                let b = try Data(contentsOf: directory.appendingPathComponent("resumed\(k)/\(file)"))
                XCTAssertTrue(a == b, "\(file) differs between the straight and the resumed run with \(s)")
            }
        }
        // The sampler's state is in the checkpoint: MALA's adapted step size and persistent chains.
        let state = try SafeTensors.read(directory.appendingPathComponent("straight0/state.safetensors").path)
        XCTAssertNotNil(state.tensors["sampler.persistent"])
        XCTAssertEqual(state.metadata["sampler.mala.adapted"], "20")
        let w = try SafeTensors.read(directory.appendingPathComponent("straight0/model.safetensors").path)
        XCTAssertEqual(w.metadata["sampler"], "mala")
        XCTAssertEqual(w.metadata["mala.start"], "pcd")
        // A checkpoint of one sampler does not load into a trainer with another's state.
        let message = luaError("""
            local m = joule.nn.ShallowCNN{ hidden = 3, classes = 3 }
            local s = joule.ebm.HMC{ model = m, steps = 2, image_size = 16, buffer_per_class = 8 }
            joule.ebm.JEM{ model = m, sampler = s }:load_checkpoint(DIR .. '/straight0')
            """)
        XCTAssertTrue(message.contains("unexpected sampler state"), message)
    }

    /// The quick-start preset (scripts/demo's settings, shortened) trains with the replay, CD and PCD
    /// starts and each sampler; sample.lua samples with MALA and prints its acceptance.
    func testTrainScriptWithEachSamplerAndStart() throws {
        let data = try makeCourseFolder()
        let preset = ["-p", "epochs=1", "-p", "max_batches=3", "-p", "lr=0.001", "-p", "tb_every=0"] + Self.tiny
        for (sampler, start) in [("sgld", "cd"), ("sgld", "pcd"), ("mala", "replay"), ("mala", "pcd"), ("hmc", "cd"), ("annealed", "noise")] {
            let run = "q-\(sampler)-\(start)"
            let r = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=\(run)", "-p", "sampler=\(sampler)",
                               "-p", "start=\(start)", "-p", "adapt_steps=4", "-p", "leapfrog=2"] + preset)
            XCTAssertEqual(r.status, 0, "\(sampler)/\(start): \(r.stderr)")
            let log = try String(contentsOf: directory.appendingPathComponent("\(run)/log.jsonl"), encoding: .utf8)
            XCTAssertTrue(log.hasPrefix("{\"epoch\":1,\"step\":3,"), log)
            let w = try SafeTensors.read(directory.appendingPathComponent("\(run)/last/model.safetensors").path)
            XCTAssertEqual(w.metadata[sampler == "sgld" ? "sgld.start" : "\(sampler).start"], start, "\(sampler)/\(start)")
            XCTAssertEqual(log.contains("\"acceptance\":"), sampler == "mala" || sampler == "hmc" || sampler == "annealed", log)
        }
        let s = try joule(["run", script("sample.lua"), "-p", "checkpoint=q-mala-pcd", "-p", "run=s", "-p", "n=3",
                           "-p", "steps=4", "-p", "sampler=mala", "-p", "mc_step_size=0.0001", "-p", "keep_every=2"])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertTrue(s.stdout.contains("MALA(steps 4"), s.stdout)
        XCTAssertTrue(s.stdout.contains("mean acceptance"), s.stdout)
        let typo = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "sampler=hcm"] + preset)
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stderr.contains("unknown sampler 'hcm' (did you mean 'hmc'?)") && typo.stderr.contains("train_jem.lua:"), typo.stderr)
        let start = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "start=cdd"] + preset)
        XCTAssertEqual(start.status, 1)
        XCTAssertTrue(start.stderr.contains("unknown start 'cdd' (did you mean 'cd'?)"), start.stderr)
    }
}
