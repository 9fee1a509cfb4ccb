import Data
import Foundation
import TestSupport
import XCTest

/// The sample-quality and robustness scripts as a user runs them, on a small glyph corpus: a model
/// trained for a few steps, scored by scripts/sample_quality.lua (the shipped feature network is found
/// from the binary's repository, as the test runs elsewhere), reported by scripts/report.lua, attacked
/// by scripts/evaluate.lua -p attack=pgd, and FID logged by train_jem.lua.
final class SampleQualityScriptTests: LuaTestCase {
    func script(_ name: String) -> String { TrainingTests.scripts.appendingPathComponent(name).path }

    func json(_ path: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent(path))) as! [String: Any]
    }

    func testSampleQualityReportPGDAndFIDLogging() throws {
        // 1,500 glyphs: test and validation splits of more than 64 images each (FID's minimum).
        let data = directory.appendingPathComponent("glyphs").path
        try GlyphCorpus.make(into: data, options: GlyphCorpus.Options(seed: 4, count: 1500))
        let train = try joule(["run", script("train_jem.lua"), "-p", "data=\(data)", "-p", "run=main/train", "-p", "epochs=1",
                               "-p", "max_batches=2", "-p", "fid_every=1", "-p", "fid_per_class=2", "-p", "tb_every=0"]
                              + TrainingTests.tiny, timeout: 600)
        XCTAssertEqual(train.status, 0, train.stderr)
        let log = try String(contentsOf: directory.appendingPathComponent("main/train/log.jsonl"), encoding: .utf8)
        let epoch = try XCTUnwrap(log.split(separator: "\n").first { $0.hasPrefix("{\"epoch\":1,") }, log)
        let line = try JSONSerialization.jsonObject(with: Data(epoch.utf8)) as! [String: Any]
        XCTAssertNotNil(line["val_acc"] as? Double)
        XCTAssertGreaterThan(line["fid"] as! Double, 0)
        XCTAssertTrue((0...1).contains(line["class_fidelity"] as! Double))

        let q = try joule(["run", script("sample_quality.lua"), "-p", "checkpoint=main/train", "-p", "data=\(data)",
                           "-p", "per_class=2", "-p", "unconditional=70", "-p", "steps=3", "-p", "out=main/sample_quality.json"],
                          timeout: 600)
        XCTAssertEqual(q.status, 0, q.stderr)
        XCTAssertTrue(q.stdout.contains("sample quality: main/sample_quality.json"), q.stdout)
        let r = try json("main/sample_quality.json")
        for key in ["fid", "kid", "precision", "recall", "density", "coverage", "class_fidelity", "diversity"] {
            XCTAssertNotNil(r[key] as? Double, key)
        }
        for key in ["precision", "recall", "coverage", "class_fidelity"] { XCTAssertTrue((0...1).contains(r[key] as! Double), key) }
        XCTAssertEqual(r["n"] as? Int, 84)
        let floor = try XCTUnwrap(r["floor"] as? [String: Any])
        let unconditional = try XCTUnwrap(r["unconditional"] as? [String: Any])
        XCTAssertEqual(unconditional["n"] as? Int, 70)
        // Three SGLD steps from noise are nowhere near glyphs; real validation images are.
        XCTAssertGreaterThan(r["fid"] as! Double, 5 * (floor["fid"] as! Double))
        XCTAssertGreaterThan(floor["class_fidelity"] as! Double, r["class_fidelity"] as! Double)

        // 8 steps, every one kept: 9 frames, the diagnostics on the last 5.
        let report = try joule(["run", script("report.lua"), "-p", "run=main", "-p", "data=\(data)", "-p", "steps=8", "-p", "keep_every=1",
                                "-p", "unconditional=4", "-p", "max_images=40"], timeout: 600)
        XCTAssertEqual(report.status, 0, report.stderr)
        let md = try String(contentsOf: directory.appendingPathComponent("main/report/report.md"), encoding: .utf8)
        XCTAssertTrue(md.contains("## How good are the samples?"), md)
        XCTAssertTrue(md.contains(String(format: "| FID | %.1f |", r["fid"] as! Double)), md)
        XCTAssertNotNil((try json("main/report/metrics.json"))["sample_quality"] as? [String: Any])
        // How the chains mixed, in the section on what the model draws.
        XCTAssertTrue(md.contains("| no class given | 5 × 4 | "), md)
        XCTAssertTrue(md.contains("| class given (classes differ, so R-hat also compares classes) | 5 × 32 | "), md)
        let mixing = try XCTUnwrap((try json("main/report/metrics.json"))["mixing_unconditional"] as? [String: Any])
        for key in ["energy_ess", "energy_rhat", "ess_median", "ess_min", "rhat_max"] {
            XCTAssertTrue((mixing[key] as? Double).map { $0.isFinite && $0 > 0 } ?? false, "\(key): \(mixing)")
        }

        let ev = try joule(["run", script("evaluate.lua"), "-p", "checkpoint=main/train", "-p", "data=\(data)", "-p", "attack=pgd",
                            "-p", "attack_n=24", "-p", "attack_steps=2", "-p", "out=ev.json"], timeout: 600)
        XCTAssertEqual(ev.status, 0, ev.stderr)
        let e = try json("ev.json")
        let pgd = try XCTUnwrap(e["pgd"] as? [String: Any])
        for norm in ["linf", "l2"] {
            let points = try XCTUnwrap(pgd[norm] as? [[String: Double]])
            XCTAssertEqual(points.count, 5)
            XCTAssertEqual(points[0]["epsilon"], 0)
            let acc = points.map { $0["accuracy"]! }
            for k in 1..<acc.count { XCTAssertLessThanOrEqual(acc[k], acc[k - 1], norm) }
        }
        let bad = try joule(["run", script("evaluate.lua"), "-p", "checkpoint=main/train", "-p", "data=\(data)", "-p", "attack=fgsm"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("unknown attack 'fgsm'"), bad.stderr)
    }

    /// FID during training comes from chains seeded by the epoch: a run resumed after epoch 1 logs the
    /// same epoch-2 numbers as one that never stopped.
    func testSampleQualityDuringTrainingIsTheSameAfterAResume() throws {
        let data = directory.appendingPathComponent("glyphs").path
        try GlyphCorpus.make(into: data, options: GlyphCorpus.Options(seed: 4, count: 1500))
        let common = ["-p", "data=\(data)", "-p", "max_batches=2", "-p", "fid_every=1", "-p", "fid_per_class=2", "-p", "tb_every=0"] + TrainingTests.tiny
        let whole = try joule(["run", script("train_jem.lua"), "-p", "run=whole", "-p", "epochs=2"] + common, timeout: 600)
        XCTAssertEqual(whole.status, 0, whole.stderr)
        let first = try joule(["run", script("train_jem.lua"), "-p", "run=part", "-p", "epochs=1"] + common, timeout: 600)
        XCTAssertEqual(first.status, 0, first.stderr)
        let rest = try joule(["run", script("train_jem.lua"), "-p", "run=part", "-p", "epochs=2", "-p", "resume=part"] + common, timeout: 600)
        XCTAssertEqual(rest.status, 0, rest.stderr)
        func epoch2(_ run: String) throws -> String {
            let log = try String(contentsOf: directory.appendingPathComponent("\(run)/log.jsonl"), encoding: .utf8)
            return String(try XCTUnwrap(log.split(separator: "\n").first { $0.hasPrefix("{\"epoch\":2,") }, log))
        }
        XCTAssertTrue(try epoch2("whole").contains("\"fid\":"))
        XCTAssertEqual(try epoch2("whole"), try epoch2("part"))
    }

    func testLoadJSONReadsWhatSaveJSONWrote() throws {
        let out = try lua("""
            joule.save_json(DIR .. "/t.json", { a = 1, b = { 2.5, "x", true }, c = { d = "e" } })
            local t = joule.load_json(DIR .. "/t.json")
            return t.a, t.b[1], t.b[2], t.b[3], t.c.d, math.type(t.a)
            """)
        XCTAssertEqual(out, ["1", "2.5", "x", "true", "e", "integer"])
        try Data("{\"a\": [1,".utf8).write(to: directory.appendingPathComponent("bad.json"))
        XCTAssertThrowsError(try lua("return joule.load_json(DIR .. '/bad.json')")) { e in
            XCTAssertTrue("\(e)".contains("bad.json: not valid JSON"), "\(e)")
        }
    }
}
