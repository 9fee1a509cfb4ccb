import Foundation
import Plot
import TensorBoard
import XCTest

/// joule.log's numbers and joule.tb's values in the run's event file, byte for byte as the Event
/// encoder writes them; bad arguments give one located message. (scripts/kernel-tests/test_tensorboard.py
/// reads the same files with TensorBoard's own reader.)
final class TensorBoardBindingTests: LuaTestCase {
    func records() throws -> [[UInt8]] {
        let run = directory.appendingPathComponent("run")
        let files = try FileManager.default.contentsOfDirectory(atPath: run.path).filter { $0.hasPrefix("events.out.tfevents.") }
        XCTAssertEqual(files.count, 1, "\(files)")
        let back = TFRecord.records([UInt8](try Data(contentsOf: run.appendingPathComponent(files[0]))))
        XCTAssertTrue(back.clean)
        return back.records
    }

    /// An event as Joule wrote it, compared with the encoding of the event expected, at the wall
    /// time the record holds (field 1, the first nine bytes).
    func assertEvent(_ record: [UInt8], step: Int64, _ values: [SummaryValue], file: StaticString = #filePath, line: UInt = #line) {
        guard record.count > 9, record[0] == 0x09 else { return XCTFail("no wall time first", file: file, line: line) }
        let bits = record[1..<9].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let expected = Event(wallTime: Double(bitPattern: bits), step: step, .summary(values)).encoded()
        XCTAssertEqual(record, expected, file: file, line: line)
    }

    func testLogLinesBecomeScalarEvents() throws {
        try lua("""
            joule.log{ step = 3, loss = 0.5, name = "x", flag = true, acc = joule.tensor.full({1}, 0.25) }
            joule.log{ loss = 0.125, epoch = 2 }
            joule.log{ note = "no numbers" }
            joule.log{ loss = 1 }
            joule.log{ event = "rollback", step = 2, lr_after = 0.5 }
            """)
        let r = try records()
        XCTAssertEqual(r.count, 5)  // the version record, then one event per line with numbers
        XCTAssertEqual(r[0].suffix(13), Array("brain.Event:2".utf8)[...])
        // Keys in log order (epoch first, then alphabetical); strings and booleans are no curves.
        assertEvent(r[1], step: 3, [SummaryValue(tag: "acc", .scalar(0.25)), SummaryValue(tag: "loss", .scalar(0.5))])
        // Without a step field, the count of lines.
        assertEvent(r[2], step: 2, [SummaryValue(tag: "epoch", .scalar(2)), SummaryValue(tag: "loss", .scalar(0.125))])
        assertEvent(r[3], step: 4, [SummaryValue(tag: "loss", .scalar(1))])
        // An event's numbers apart from the curves.
        assertEvent(r[4], step: 2, [SummaryValue(tag: "rollback/lr_after", .scalar(0.5))])
    }

    func testTBValuesAtTheLatestLogStep() throws {
        let out = try lua("""
            joule.log{ step = 7, loss = 1 }
            joule.tb.text("t", "hello")
            joule.tb.scalar("s", 3, { step = 9 })
            return joule.tb.histogram("h", { 1, 2, 3, 0 / 0 }, { bins = 2 }), joule.tb.image("i", joule.tensor.zeros(3, 5))
            """)
        XCTAssertEqual(out, ["3", "5", "3"])
        let r = try records()
        XCTAssertEqual(r.count, 6)
        assertEvent(r[2], step: 7, [SummaryValue(tag: "t", .text("hello"))])
        assertEvent(r[3], step: 9, [SummaryValue(tag: "s", .scalar(3))])
        assertEvent(r[4], step: 7, [SummaryValue(tag: "h", .histogram(Histogram([1, 2, 3], bins: 2)))])
        // The image's PNG is its message's last field: from the PNG signature to the end of the record.
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        let at = try XCTUnwrap((0...(r[5].count - 8)).first { Array(r[5][$0..<($0 + 8)]) == signature })
        let png = try PNGImage(data: Data(r[5][at...]))
        XCTAssertEqual([png.width, png.height], [5, 3])
        assertEvent(r[5], step: 7, [SummaryValue(tag: "i", .image(png: Array(r[5][at...]), width: 5, height: 3, colorspace: 1))])
    }

    func testBadArguments() {
        XCTAssertTrue(luaError("joule.tb.scalar('', 1)").contains("tag must not be empty"))
        XCTAssertTrue(luaError("joule.tb.scalar('s', 'x')").contains("bad argument #2 to 'joule.tb.scalar' (number expected"))
        XCTAssertTrue(luaError("joule.tb.scalar('s')").contains("value expected"))
        XCTAssertTrue(luaError("joule.tb.scalar('s', 1, { stp = 2 })").contains("did you mean 'step'"))
        XCTAssertTrue(luaError("joule.tb.scalar('s', 1, { step = -1 })").contains("step"))
        XCTAssertTrue(luaError("joule.tb.histogram('h', { 1, 'a' })").contains("element 2"))
        XCTAssertTrue(luaError("joule.tb.histogram('h', { 1 }, { bins = 0 })").contains("bins"))
        XCTAssertTrue(luaError("joule.tb.image('i', joule.plot.grid(joule.tensor.zeros(1, 4, 4)), { nrow = 2 })")
            .contains("option 'nrow' is for tensors"))
        XCTAssertTrue(luaError("joule.tb.image('i', joule.tensor.zeros(2, 2, 4, 4, 4))").contains("snippet.lua:1:"))
        XCTAssertTrue(luaError("joule.tb.text('t', 'x', {}, 4)").contains("unexpected argument"))
    }
}
