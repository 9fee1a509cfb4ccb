import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// The second hostile-input campaign's classes (issue 28), one test per class: names from a file
/// obey the rules names from Lua obey; the work a network may ask for is bounded for the loader and
/// the builders alike; what can be saved loads back (or is refused when built); labels from a file
/// are class ids; histograms of any finite values; logging never costs a checkpoint and shows
/// images of any channel count; JSON keys arrive byte for byte or are refused.
final class HostileSecondRoundTests: LuaTestCase {
    /// A checkpoint of a small composed network, then the same file with its architecture replaced.
    func checkpoint(architecture edit: (String) -> String, inputShape: String? = nil, name: String) throws -> String {
        let plain = directory.appendingPathComponent("plain.safetensors").path
        try lua("""
            local nn = joule.nn
            nn.Sequential{ nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 3), input_shape = {1, 6, 6} }:save('\(plain)')
            """)
        var file = try SafeTensors.read(plain)
        file.metadata["architecture"] = edit(file.metadata["architecture"]!)
        if let s = inputShape { file.metadata["input_shape"] = s }
        let path = directory.appendingPathComponent(name).path
        try file.write(to: path)
        return path
    }

    func testNamesFromAFileObeyTheRulesOfNamesFromLua() throws {
        // "a" holding "body.weight" and "a.body" holding "weight" would name one parameter twice.
        let dotted = try checkpoint(architecture: { _ in
            #"{"type":"Sequential","names":["a","a.body"],"modules":[{"type":"Residual","body":{"type":"ReLU"}},{"type":"Linear","in":36,"out":3}]}"#
        }, name: "dotted.safetensors")
        let e = luaError("joule.nn.load('\(dotted)')")
        XCTAssertTrue(e.contains("module name \"a.body\" is not allowed"), e)
        for bad in ["a.body", "", "tab\\there"] {
            let lua = luaError("joule.nn.Sequential{ joule.nn.ReLU(), joule.nn.ReLU(), names = { 'a', '\(bad)' } }")
            XCTAssertTrue(lua.contains("field 'names': module name"), lua)
        }
        let control = try checkpoint(architecture: { _ in
            #"{"type":"Sequential","names":["a","b\u0001"],"modules":[{"type":"Flatten"},{"type":"Linear","in":36,"out":3}]}"#
        }, name: "control.safetensors")
        XCTAssertTrue(luaError("joule.nn.load('\(control)')").contains("is not allowed"))
    }

    /// A 1×1 convolution padded by 1024 feeding a 1024-wide pooling (the reproducer asked for
    /// minutes of work from a 711-byte file), and a network whose activations would take gigabytes:
    /// refused before anything runs, from a checkpoint and from Lua alike.
    func testTheWorkANetworkMayAskForIsBoundedWhereverItComesFrom() throws {
        let pooled = #"{"type":"Sequential","modules":[{"type":"Conv2d","in":1,"out":1,"kernel":1,"padding":1024},{"type":"AvgPool2d","kernel":1024,"stride":1},{"type":"Flatten"},{"type":"Linear","in":1,"out":3}]}"#
        let path = try checkpoint(architecture: { _ in pooled }, inputShape: "1,2048,2048", name: "pooled.safetensors")
        let started = Date()
        let e = luaError("joule.nn.load('\(path)')")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertTrue(e.contains("operations per input, more than"), e)
        let fromLua = luaError("""
            local nn = joule.nn
            local m = nn.Sequential{ nn.Conv2d(1, 1, 1, { padding = 1024 }), nn.AvgPool2d(1024, 1), nn.Flatten(), nn.Linear(1, 1) }
            m:energy(joule.tensor.zeros(1, 1, 2048, 2048))
            """)
        XCTAssertTrue(fromLua.contains("snippet.lua:3:") && fromLua.contains("operations per input"), fromLua)
        // Padded convolutions that each multiply the activations: floats, not operations, run out.
        let wide = luaError("""
            local nn = joule.nn
            nn.Sequential{ nn.Conv2d(1, 64, 1, { padding = 1024 }), nn.Flatten(), input_shape = { 1, 8, 8 } }
            """)
        XCTAssertTrue(wide.contains("floats per input, more than"), wide)
        // The bound is far above real networks: the course's at hidden 128 builds and runs.
        XCTAssertEqual(try lua("return joule.nn.ShallowCNN{ hidden = 128 }:energy(joule.tensor.zeros(1, 1, 56, 56)):size(1)"), ["1"])
    }

    /// Networks that joule.nn builds and saves load back, or are refused when built.
    func testWhatCanBeSavedLoadsBackOrIsRefusedWhenBuilt() throws {
        for slope in ["1e35", "1e39", "-1e31", "0/0"] {
            let e = luaError("joule.nn.LeakyReLU(\(slope))")
            XCTAssertTrue(e.contains("within ±1e+30"), "\(slope): \(e)")
        }
        XCTAssertTrue(luaError("joule.nn.ELU(2e30)").contains("within ±1e+30"))
        let many = luaError("""
            local m = {}
            for i = 1, 100001 do m[i] = joule.nn.ReLU() end
            m[#m + 1] = joule.nn.Linear(4, 2)
            joule.nn.Sequential(m)
            """)
        XCTAssertTrue(many.contains("more than 100000 modules"), many)
        // At the edge of the range: saved and loaded back, the same slope.
        let out = try lua("""
            local nn = joule.nn
            local m = nn.Sequential{ nn.Linear(4, 4), nn.LeakyReLU(1e30), nn.Linear(4, 2), nn.ELU(-1e30), nn.Linear(2, 2) }
            m:save(DIR .. '/edge.safetensors')
            local back = nn.load(DIR .. '/edge.safetensors')
            local x = joule.tensor.randn(3, 4)
            return (m:logits(x) - back:logits(x)):norm()
            """)
        XCTAssertEqual(out, ["0.0"])
    }

    func testLabelsFromAFileAreClassIdsAndAmbiguousImagesAreRefused() throws {
        let dir = directory.appendingPathComponent("huge")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 9, count: 2 * 8 * 8), shape: [2, 8, 8]), NpyArray(ints: [0, 8_000_000_000_000_000])],
                      to: dir.appendingPathComponent("train.npy").path)
        let show = try joule(["data", "show", dir.path, "--out", directory.appendingPathComponent("show.png").path])
        XCTAssertTrue(show.exited)
        XCTAssertEqual(show.status, 1, show.stderr)
        XCTAssertTrue(show.stderr.contains("label 8000000000000000 at 1 is not a class id in 0...99999"), show.stderr)
        XCTAssertTrue(luaError("joule.data.load_split('\(dir.path)/train.npy')").contains("is not a class id"))
        try Npy.write([NpyArray(uint8: [UInt8](repeating: 9, count: 2 * 8 * 3), shape: [2, 1, 8, 3])],
                      to: dir.appendingPathComponent("rows.npy").path)
        let rows = luaError("joule.data.load_split('\(dir.path)/rows.npy')")
        XCTAssertTrue(rows.contains("are ambiguous"), rows)
    }

    /// What a diverged model's energies look like: many equal values of large magnitude.
    func testHistogramsOfAnyFiniteValues() throws {
        let out = try lua("""
            local t = joule.tensor.full({64}, 1e20)
            local a = joule.tb.histogram('e/big', t)
            local b = joule.tb.histogram('e/ends', { 3e38, -3e38, 0, 1 / 0 })
            return a, b
            """)
        XCTAssertEqual(out, ["64", "3"])
    }

    /// Two-channel images: TensorBoard shows them channel by channel, and training writes its
    /// checkpoints whatever the pictures do.
    func testTrainingOnTwoChannelImagesKeepsItsCheckpointsAndShowsTheImages() throws {
        let dir = directory.appendingPathComponent("two")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rng = RNG(seed: 4)
        for (split, n) in [("train", 16), ("val", 8), ("test", 8)] {
            let pixels = (0..<(n * 12 * 12 * 2)).map { _ in UInt8(rng.int(256)) }
            try Npy.write([NpyArray(uint8: pixels, shape: [n, 12, 12, 2]), NpyArray(ints: (0..<n).map { $0 % 2 })],
                          to: dir.appendingPathComponent("\(split).npy").path)
        }
        let model = directory.appendingPathComponent("two.lua").path
        try """
            return function(o)
              local nn = joule.nn
              return nn.Sequential{ nn.Conv2d(o.channels, 4, 3), nn.SiLU(), nn.Flatten(), nn.Linear(4 * 10 * 10, o.classes) }
            end
            """.write(toFile: model, atomically: true, encoding: .utf8)
        let train = try joule(["run", TrainingTests.scripts.appendingPathComponent("train_jem.lua").path, "-p", "data=\(dir.path)",
                               "-p", "run=two-run", "-p", "epochs=2", "-p", "tb_every=1", "-p", "model=\(model)"] + TrainingTests.tiny)
        XCTAssertEqual(train.status, 0, train.stderr)
        XCTAssertFalse(train.stderr.contains("warning"), train.stderr)
        for file in ["best/model.safetensors", "last/model.safetensors", "last/state.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("two-run/\(file)").path), file)
        }
        let events = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("two-run").path)
            .filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(events.count, 1)
        let bytes = try Data(contentsOf: directory.appendingPathComponent("two-run/" + events[0]))
        XCTAssertNotNil(bytes.range(of: Data("samples/generated".utf8)), "the samples' picture is in the event file")
        // A grid of 2-channel images: each image's channels side by side, 2·N grey tiles.
        let grid = try lua("""
            local w, h = joule.tb.image('two', joule.tensor.rand(3, 2, 5, 5), { nrow = 6, padding = 0 })
            return w, h
            """)
        XCTAssertEqual(grid, ["30", "5"])
    }

    /// Keys that hold NUL bytes or bytes that are not UTF-8: each written as itself, or refused.
    func testJSONKeysArriveByteForByteOrAreRefused() throws {
        try lua(#"joule.save_json(DIR .. '/k.json', { ['a\0b'] = 1, a = 2, ['\0'] = 'x\0y' })"#)
        let text = try String(contentsOf: directory.appendingPathComponent("k.json"), encoding: .utf8)
        let back = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        XCTAssertEqual(back?["a\u{0}b"] as? Int, 1)
        XCTAssertEqual(back?["a"] as? Int, 2)
        XCTAssertEqual(back?["\u{0}"] as? String, "x\u{0}y")
        for code in [#"joule.save_json(DIR .. '/u.json', { ['\xff'] = 1, ['\xfe'] = 2 })"#, #"joule.log{ ['k\xff'] = 1 }"#,
                     #"joule.save_json(DIR .. '/v.json', { k = 'v\xc3' })"#] {
            let e = luaError(code)
            XCTAssertTrue(e.contains("snippet.lua:1:") && e.contains("is not valid UTF-8"), e)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("u.json").path))
    }

    /// joule.log reads each value beside its key (a key holding a NUL byte once logged the value of
    /// the key cut at the NUL), in the one writer's line: leading keys, then sorted; Lua floats keep
    /// their ".0". Two spellings of one Unicode text are refused rather than merged into one key.
    func testLogLinesKeepKeysByteForByteAndRefuseKeysThatAreOneText() throws {
        try lua(#"joule.log{ ['a\0b'] = 1, a = 2, zeta = 0.5, epoch = 3, step = 4.0, s = 'x\0y' }"#)
        let text = try String(contentsOfFile: directory.appendingPathComponent("run/log.jsonl").path, encoding: .utf8)
        XCTAssertEqual(text, #"{"epoch":3,"step":4.0,"a":2,"a\u0000b":1,"s":"x\u0000y","zeta":0.5}"# + "\n")
        let e = luaError(#"joule.save_json(DIR .. '/n.json', { ['\xc3\xa9'] = 1, ['e\xcc\x81'] = 2 })"#)
        XCTAssertTrue(e.contains("snippet.lua:1:") && e.contains("same Unicode text"), e)
    }
}
