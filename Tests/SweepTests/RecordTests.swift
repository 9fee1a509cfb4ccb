import Foundation
import JouleCore
import Sweep
import XCTest

/// What a run leaves in its folder, read back: result tables and status records.
final class RecordTests: XCTestCase {
    var output: String!

    override func setUpWithError() throws {
        output = NSTemporaryDirectory() + "joule-records-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: output) }

    func makeRun(_ x: String = "1") throws -> RunSpec {
        let r = RunSpec(params: [("x", .string(x)), ("B", .string("a/b"))], varying: ["x"], output: output)
        try FileManager.default.createDirectory(atPath: r.directory, withIntermediateDirectories: true)
        return r
    }

    /// A list in a result table is shown as its JSON text, which reads back as the same list: quotes,
    /// backslashes and control characters in its strings and keys are escaped.
    func testResultListsKeepTheirJSON() throws {
        let r = try makeRun()
        let list = #"["say \"hi\"\\",{"k\"ey":"a\nb","n":[1,2.5,-0.0]},null,true]"#
        try Data(#"{"tags":\#(list),"loss":0.25,"steps":3,"nested":{"ok":false}}"#.utf8)
            .write(to: URL(fileURLWithPath: r.directory + "/result.json"))
        let table = try Results.read(r)
        XCTAssertEqual(table["loss"], .number(0.25))
        XCTAssertEqual(table["steps"], .number(3))
        XCTAssertEqual(table["nested.ok"], .bool(false))
        guard case .string(let text) = try XCTUnwrap(table["tags"]) else { return XCTFail("tags: \(String(describing: table["tags"]))") }
        XCTAssertEqual(try JSON.parse(text), try JSON.parse(list))
        XCTAssertEqual(text, list)
    }

    /// Without result.json the last line of log.jsonl is the result; a line that is not JSON is named.
    func testTheLogsLastLineIsTheResultWithoutAResultFile() throws {
        let r = try makeRun()
        try Data("{\"step\":1,\"loss\":2.0}\n\n{\"step\":2,\"loss\":1.5}\n".utf8).write(to: URL(fileURLWithPath: r.directory + "/log.jsonl"))
        XCTAssertEqual(try Results.read(r), ["step": .number(2), "loss": .number(1.5)])
        try Data("{\"step\":1}\n{\"step\":\n".utf8).write(to: URL(fileURLWithPath: r.directory + "/log.jsonl"))
        XCTAssertThrowsError(try Results.read(r)) { e in XCTAssertTrue("\(e)".contains("log.jsonl:2: not a JSON object"), "\(e)") }
        XCTAssertEqual(try Results.read(try makeRun("2")), [:])
    }

    /// status.json keeps the layout Foundation's encoder gave it, reads back field for field, and a
    /// record of another run or a damaged one reads as none.
    func testStatusRecordsRoundTripInTheirFileLayout() throws {
        let r = try makeRun()
        var s = RunStatus(run: r, state: .failed, backend: "local")
        s.exitStatus = 3
        s.error = "exit 3: \"bad\"\n\tat line 1"
        s.started = Date(timeIntervalSince1970: 1_000_000_000)
        s.seconds = 1.25
        s.host = "node1"
        try s.write(r)
        XCTAssertEqual(RunStatus.read(r), s)
        let text = try String(contentsOfFile: RunStatus.path(r), encoding: .utf8)
        XCTAssertEqual(text, """
            {
              "backend" : "local",
              "error" : "exit 3: \\"bad\\"\\n\\tat line 1",
              "exit_status" : 3,
              "host" : "node1",
              "key" : "B=a/b\\nx=1",
              "params" : {
                "B" : "a/b",
                "x" : "1"
              },
              "seconds" : 1.25,
              "started" : "2001-09-09T01:46:40Z",
              "status" : "failed"
            }

            """)
        XCTAssertNil(RunStatus.read(try makeRun("2")))
        try Data(text.replacingOccurrences(of: "\"exit_status\" : 3", with: "\"exit_status\" : \"3\"").utf8)
            .write(to: URL(fileURLWithPath: RunStatus.path(r)))
        XCTAssertNil(RunStatus.read(r))
    }
}
