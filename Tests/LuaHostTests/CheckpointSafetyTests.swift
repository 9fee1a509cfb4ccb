import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// Hostile weight files through the Lua API, checkpoints killed at every stage of a save, a full
/// disk, and resumes that must not repeat log lines.
final class CheckpointSafetyTests: LuaTestCase {
    func write(_ header: String, _ data: [UInt8], to name: String) throws -> String {
        var out = Data()
        var n = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(Data(header.utf8))
        out.append(contentsOf: data)
        let path = directory.appendingPathComponent(name).path
        try out.write(to: URL(fileURLWithPath: path))
        return path
    }

    func testHostileWeightFilesAreRefusedByNameAndShape() throws {
        // A 0-d tensor where the first convolution's weight (a 4-d tensor) is expected.
        _ = try write(#"{"cnn_layers.0.weight":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"fc_layers.1.weight":{"dtype":"F32","shape":[],"data_offsets":[4,8]}}"#,
                      [UInt8](repeating: 0, count: 8), to: "scalar.safetensors")
        XCTAssertTrue(luaError("joule.nn.load(DIR .. '/scalar.safetensors')").contains("expected 4 dimensions"))
        // Small files whose first layer says hidden = 4096 (over the parameter limit) or 1024 (a model
        // of 1.6 GB): refused from the header, before the model is built.
        func wide(_ h: Int) throws -> String {
            let w0 = h * 25 * 4, fc = 4 * h * 4
            _ = try write(#"{"cnn_layers.0.weight":{"dtype":"F32","shape":[\#(h),1,5,5],"data_offsets":[0,\#(w0)]},"fc_layers.1.weight":{"dtype":"F32","shape":[1,\#(4 * h)],"data_offsets":[\#(w0),\#(w0 + fc)]}}"#,
                          [UInt8](repeating: 0, count: w0 + fc), to: "wide\(h).safetensors")
            return luaError("joule.nn.load(DIR .. '/wide\(h).safetensors')")
        }
        let huge = try wide(4096)
        XCTAssertTrue(huge.contains("ShallowCNN(hidden 4096, classes 1) has 6341967873 parameters"), huge)
        let large = try wide(1024)
        XCTAssertTrue(large.contains("weight 'cnn_layers.0.bias' missing or not of shape [1024] (ShallowCNN(hidden 1024, classes 1)"), large)
        // data_offsets near Int.max, through model:load.
        let big = Int.max - 7
        _ = try write(#"{"cnn_layers.0.weight":{"dtype":"F32","shape":[1],"data_offsets":[\#(big),\#(big + 4)]}}"#, [0, 0, 0, 0], to: "offsets.safetensors")
        XCTAssertTrue(luaError("joule.nn.ShallowCNN{ hidden = 2, classes = 2 }:load(DIR .. '/offsets.safetensors')").contains("gap"))
        // A file of another model's shapes, through model:load: nothing allocated for its tensors.
        try SafeTensors(tensors: ["cnn_layers.0.weight": Tensor(shape: [3, 1, 5, 5])]).write(to: directory.appendingPathComponent("other.safetensors").path)
        XCTAssertTrue(luaError("joule.nn.ShallowCNN{ hidden = 2, classes = 2 }:load(DIR .. '/other.safetensors')").contains("weight 'cnn_layers.0.weight' has shape [3, 1, 5, 5], the model needs [2, 1, 5, 5]"))
    }

    static let trainer = """
        local m = joule.nn.ShallowCNN{ hidden = 4, classes = 2, seed = 1 }
        local s = joule.ebm.SGLD{ model = m, steps = 1, image_size = 16, buffer_per_class = 4 }
        local jem = joule.ebm.JEM{ model = m, sampler = s }
        local x = joule.tensor.rand(4, 1, 16, 16)
        """

    /// Runs `code` in a `joule run` child with `environment` added; returns the process.
    func start(_ code: String, environment: [String: String] = [:]) throws -> Process {
        let path = directory.appendingPathComponent("script-\(UUID().uuidString).lua").path
        try code.write(toFile: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = try jouleExecutable()
        p.arguments = ["run", path, "-p", "run=" + directory.appendingPathComponent("run").path]
        p.currentDirectoryURL = directory
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        watchdog(p, seconds: 60)
        return p
    }

    func checkpointStep(_ dir: String) throws -> String {
        try lua(Self.trainer + "return jem:load_checkpoint(\(luaString(dir))).step")[0]
    }

    func luaString(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'" }

    /// A save killed at each stage leaves a complete checkpoint: the old one before the swap,
    /// the new one after; the next save removes what the killed one left behind.
    func testKilledSaveLeavesACompleteCheckpointAtEveryStage() throws {
        let ck = directory.appendingPathComponent("run/last").path
        let first = try start(Self.trainer + "jem:save_checkpoint(\(luaString(ck)), { step = 0 })")
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        // "aside": where the exchange is missing, killed between moving the old folder aside and
        // renaming the new one in; the next reader puts the old one back.
        for (stage, expected) in [("between-files", "0"), ("before-swap", "0"), ("after-swap", "1"), ("aside", "0")] {
            let marker = directory.appendingPathComponent("stopped-\(stage)").path
            let p = try start(Self.trainer + """
                jem:load_checkpoint(\(luaString(ck)))
                jem:step(x, { 0, 1, 0, 1 })
                jem:save_checkpoint(\(luaString(ck)), { step = 1 })
                """, environment: ["JOULE_TEST_STOP_AT": stage, "JOULE_TEST_STOP_MARKER": marker]
                    .merging(stage == "aside" ? ["JOULE_TEST_NO_EXCHANGE": "1"] : [:]) { $1 })
            var waited = 0
            while !FileManager.default.fileExists(atPath: marker) && waited < 600 && p.isRunning { usleep(100_000); waited += 1 }
            XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the save never reached \(stage)")
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(try checkpointStep(ck), expected, stage)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("run").path).filter { $0.hasSuffix(".tmp") }
            XCTAssertEqual(leftovers.count, 1, "\(stage): the killed save's staging folder: \(leftovers)")
            // The next save to the same folder removes the dead process's staging folder (and puts
            // the step-0 checkpoint back for the next stage).
            let next = try start(Self.trainer + "jem:save_checkpoint(\(luaString(ck)), { step = 0 })")
            next.waitUntilExit()
            let after = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("run").path).filter { $0.hasSuffix(".tmp") }
            XCTAssertEqual(after, [], stage)
            XCTAssertEqual(try checkpointStep(ck), "0", stage)
        }
    }

    /// A full disk: the save fails with the system's message, the previous checkpoint stays, and
    /// no temporary file or folder is left to keep the disk full.
    func testFullDiskKeepsThePreviousCheckpointAndLeavesNothing() throws {
        let mount = directory.appendingPathComponent("small").path
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let m = Process()
        m.executableURL = URL(fileURLWithPath: "/bin/mount")
        m.arguments = ["-t", "tmpfs", "-o", "size=160k", "tmpfs", mount]
        m.standardError = FileHandle.nullDevice
        guard (try? m.run()) != nil else { throw XCTSkip("cannot run mount: full-disk test skipped") }
        m.waitUntilExit()
        guard m.terminationStatus == 0 else { throw XCTSkip("cannot mount a small tmpfs here (needs root): full-disk test skipped") }
        defer {
            let u = Process()
            u.executableURL = URL(fileURLWithPath: "/bin/umount")
            u.arguments = [mount]
            try? u.run(); u.waitUntilExit()
        }
        let ck = mount + "/last"
        // hidden = 4 fits (about 40 KB); hidden = 24 does not (over 1 MB).
        try lua(Self.trainer + "jem:save_checkpoint(\(luaString(ck)), { size = 'small' })")
        let message = luaError("""
            local m = joule.nn.ShallowCNN{ hidden = 24, classes = 2, seed = 1 }
            local jem = joule.ebm.JEM{ model = m, sampler = joule.ebm.SGLD{ model = m, steps = 1, image_size = 16, buffer_per_class = 4 } }
            jem:save_checkpoint(\(luaString(ck)))
            """)
        XCTAssertTrue(message.contains("No space left on device"), message)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount).sorted(), ["last"])
        XCTAssertEqual(try lua(Self.trainer + "return jem:load_checkpoint(\(luaString(ck))).size"), ["small"])
        // Small files too (AtomicFile): the failed write leaves no temporary file.
        XCTAssertTrue(luaError("joule.tensor.zeros(1000, 100):save_npy(\(luaString(mount + "/big.npy")))").contains("No space left on device"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mount).sorted(), ["last"])
    }

    /// Killed between logging an epoch and saving its checkpoint: the resumed run logs that epoch
    /// once, not twice.
    func testResumeDropsLogLinesWrittenAfterItsCheckpoint() throws {
        let run = directory.appendingPathComponent("run").path
        func body(_ resume: Bool) -> String { Self.trainer + """
            local resume = \(resume)
            if resume then jem:load_checkpoint(\(luaString(run + "/last"))) end
            for epoch = jem:epoch() + 1, 3 do
              jem:fit_epoch({ images = x, labels = { 0, 1, 0, 1 }, n = 4 }, { batch_size = 4, progress = false })
              joule.log{ epoch = epoch }
              if epoch == 2 and not resume then os.exit(9) end   -- killed before the save
              jem:save_checkpoint(\(luaString(run + "/last")))
            end
            """ }
        let first = directory.appendingPathComponent("first.lua").path, second = directory.appendingPathComponent("second.lua").path
        try body(false).write(toFile: first, atomically: true, encoding: .utf8)
        try body(true).write(toFile: second, atomically: true, encoding: .utf8)
        let killed = try joule(["run", first, "-p", "run=" + run])
        XCTAssertEqual(killed.status, 9)
        let resumed = try joule(["run", second, "-p", "run=" + run])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        let log = try String(contentsOfFile: run + "/log.jsonl", encoding: .utf8)
        XCTAssertEqual(log, "{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n")
    }
}
