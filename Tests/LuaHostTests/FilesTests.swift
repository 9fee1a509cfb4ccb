import Formats
import Foundation
import LuaHost
import Tensor
import XCTest

final class FilesTests: LuaTestCase {
    func testNpyRoundTripThroughLua() throws {
        let path = directory.appendingPathComponent("a.npy").path
        try lua("joule.seed(3); local t = joule.tensor.randn(4, 5, 6); t:save_npy('\(path)'); _G.s = t:sum()")
        let arrays = try Npy.read(path)
        XCTAssertEqual(arrays.count, 1)
        XCTAssertEqual(arrays[0].shape, [4, 5, 6])
        XCTAssertEqual(arrays[0].dtype, .float32)
        let r = try lua("local t = joule.load_npy('\(path)'); joule.seed(3); local u = joule.tensor.randn(4, 5, 6); return (t - u):abs():max(), table.concat(t:shape(), 'x')")
        XCTAssertEqual(r, ["0.0", "4x5x6"])
    }

    func testLoadNpyReturnsEveryArrayOfACourseSplit() throws {
        let path = directory.appendingPathComponent("split.npy").path
        let images = try Tensor(shape: [3, 1, 2, 2], values: (0..<12).map(Float.init))
        try Npy.write([NpyArray(images), NpyArray(ints: [4, 0, 41])], to: path)
        let r = try lua("local x, y = joule.load_npy('\(path)'); return table.concat(x:shape(), 'x'), table.concat(y:totable(), ',')")
        XCTAssertEqual(r, ["3x1x2x2", "4.0,0.0,41.0"])
    }

    func testMissingAndMalformedFiles() throws {
        XCTAssertTrue(luaError("joule.load_npy(DIR .. '/missing.npy')").contains("missing.npy: cannot read file"))
        let junk = directory.appendingPathComponent("junk.npy").path
        try Data("not numpy".utf8).write(to: URL(fileURLWithPath: junk))
        let m = luaError("joule.load_npy('\(junk)')")
        XCTAssertTrue(m.hasPrefix("snippet.lua:1: ") && m.contains("junk.npy") && m.contains("magic"), m)
    }

    func testFailedWriteLeavesNothingBehind() throws {
        // The destination's folder is a file: the write must fail and leave no stray file.
        let blocker = directory.appendingPathComponent("blocker")
        try Data().write(to: blocker)
        XCTAssertTrue(luaError("joule.tensor.ones(3):save_npy('\(blocker.path)/t.npy')").contains("blocker/t.npy"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["blocker"])
    }

    func testLogWritesJSONLines() throws {
        try lua("""
            joule.log{ epoch = 1, loss = 0.25, name = 'a"b', ok = true, hist = {1, 2}, t = joule.tensor{{1, 2}} }
            joule.log{ epoch = 2, loss = 0/0, nested = { x = 1 } }
            """)
        let text = try String(contentsOfFile: directory.appendingPathComponent("run/log.jsonl").path, encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let first = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as! [String: Any]
        XCTAssertEqual(first["epoch"] as? Int, 1)
        XCTAssertEqual(first["loss"] as? Double, 0.25)
        XCTAssertEqual(first["name"] as? String, "a\"b")
        XCTAssertEqual(first["ok"] as? Bool, true)
        XCTAssertEqual(first["hist"] as? [Int], [1, 2])
        XCTAssertEqual(first["t"] as? [[Double]], [[1, 2]])
        XCTAssertTrue(lines[0].hasPrefix("{\"epoch\":1,"), String(lines[0]))
        let second = try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as! [String: Any]
        XCTAssertTrue(second["loss"] is NSNull)
        XCTAssertEqual((second["nested"] as? [String: Any])?["x"] as? Int, 1)
        XCTAssertTrue(luaError("joule.log{ f = print }").contains("cannot write a function value as JSON"))
        XCTAssertTrue(luaError("local t = {}; t.t = t; joule.log{ t = t }").contains("too deeply"))
    }

    func testRunFolderIsCreatedOnlyWhenUsed() throws {
        try lua("local x = joule.tensor.ones(2):sum()")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("run").path))
        let r = try lua("return joule.run_dir()")
        XCTAssertEqual(r, [directory.appendingPathComponent("run").path])
    }

    func testDefaultRunFolderIsNamedByScriptAndTime() throws {
        var c = DateComponents()
        (c.year, c.month, c.day, c.hour, c.minute, c.second) = (2026, 3, 4, 5, 6, 7)
        let date = Calendar.current.date(from: c)!
        let folder = RunFolder(explicit: nil, script: "scripts/train_jem.lua", now: date)
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(directory.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        XCTAssertEqual(try folder.path(), "runs/train_jem-20260304-050607")
    }
}
