import EBM
import Formats
import Foundation
import Tensor
import XCTest

/// The diagnostics where users look: train_jem.lua logs them with its TensorBoard pictures, sample.lua
/// prints them and writes diagnostics.json, both from the chains they keep anyway.
extension TrainingTests {
    func testScriptsReportHowTheChainsMixed() throws {
        let data = try makeCourseFolder()
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=jem", "-p", "epochs=1",
                               "-p", "max_batches=2", "-p", "tb_every=1", "-p", "sampler=mala", "-p", "mc_step_size=0.001"] + Self.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertFalse(train.stderr.contains("warning"), train.stderr)
        // The pictures' 16 chains of 256 steps, every 8th kept (33 frames): the second half, 17 draws.
        let printed = try XCTUnwrap(train.stdout.split(separator: "\n").first { $0.hasPrefix("chains of the TensorBoard pictures (16 × 17 draws): energy ESS ") },
                                    train.stdout)
        XCTAssertFalse(printed.contains("nan"), String(printed))
        // TensorBoard has the curves; log.jsonl keeps one line per epoch (resume and sweeps compare them).
        let events = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("jem").path)
            .filter { $0.hasPrefix("events.out.tfevents.") }
        let bytes = try Data(contentsOf: directory.appendingPathComponent("jem/" + events[0]))
        for key in ["energy_ess", "energy_rhat", "ess_median", "ess_min", "rhat_max", "acceptance"] {
            XCTAssertNotNil(bytes.range(of: Data("diagnostics/\(key)".utf8)), "TensorBoard has diagnostics/\(key)")
        }
        let log = try String(contentsOf: directory.appendingPathComponent("jem/log.jsonl"), encoding: .utf8)
        XCTAssertEqual(log.split(separator: "\n").count, 1, log)

        // sample.lua: 4 chains of one class, 9 frames, the last 5 diagnosed.
        let sample = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem", "-p", "run=s", "-p", "n=4", "-p", "class=1",
                                "-p", "steps=16", "-p", "keep_every=2", "-p", "sampler=hmc", "-p", "mc_step_size=0.001", "-p", "leapfrog=2"])
        XCTAssertEqual(sample.status, 0, sample.stderr)
        XCTAssertTrue(sample.stdout.contains("diagnostics of 4 chains × 5 kept frames (after 4 left out): energy ESS "), sample.stdout)
        XCTAssertFalse(sample.stdout.contains("several classes"), sample.stdout)
        XCTAssertTrue(sample.stdout.contains("diagnostics.json"), sample.stdout)
        let d = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("s/diagnostics.json")))
                              as? [String: Any])
        let chain = try Npy.read(directory.appendingPathComponent("s/chain.npy").path)[0].tensor()
        XCTAssertEqual(chain.shape, [9, 4, 1, 56, 56])
        let s = try Diagnostics.summary(frames: try chain.items(4..<9))
        XCTAssertEqual(d["draws"] as? Int, 5)
        XCTAssertEqual(d["chains"] as? Int, 4)
        XCTAssertEqual(d["warmup"] as? Int, 4)
        XCTAssertEqual(try XCTUnwrap(d["ess_median"] as? Double), s.essMedian, accuracy: 1e-9 * s.essMedian)
        XCTAssertEqual(try XCTUnwrap(d["ess_min"] as? Double), s.essMin, accuracy: 1e-9 * s.essMin)
        XCTAssertEqual(try XCTUnwrap(d["rhat_max"] as? Double), s.rhatMax, accuracy: 1e-9)
        let energy = try XCTUnwrap(d["energy"] as? [String: Any])
        XCTAssertTrue((energy["ess"] as? Double).map { $0 > 0 && $0.isFinite } ?? false, "\(energy)")
        XCTAssertEqual((d["acceptance_per_chain"] as? [Double])?.count, 4)

        // Chains of several classes: said so; too few frames: said why, no file.
        let mixed = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem", "-p", "run=m", "-p", "n=4", "-p", "steps=16",
                               "-p", "keep_every=2"])
        XCTAssertEqual(mixed.status, 0, mixed.stderr)
        XCTAssertTrue(mixed.stdout.contains("(chains of several classes: R-hat includes their differences)"), mixed.stdout)
        let few = try joule(["run", script("sample.lua"), "-p", "checkpoint=jem", "-p", "run=f", "-p", "n=4", "-p", "steps=6",
                             "-p", "keep_every=4"])
        XCTAssertEqual(few.status, 0, few.stderr)
        XCTAssertTrue(few.stdout.contains("diagnostics need 4 kept frames after the 1 left out and 2 chains: 3 frames, 4 chains"), few.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("f/diagnostics.json").path))
    }
}
