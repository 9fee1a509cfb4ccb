import XCTest
import TensorBoard

final class CRC32CTests: XCTestCase {
    /// The check value of CRC-32C and the test vectors of RFC 3720 (iSCSI), appendix B.4.
    func testKnownVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    /// Slicing-by-8 against the bit-at-a-time definition, over lengths that end at every offset
    /// within an 8-byte block.
    func testTablesAgreeWithBitwiseDefinition() {
        func bitwise(_ bytes: [UInt8]) -> UInt32 {
            var c: UInt32 = 0xFFFF_FFFF
            for b in bytes {
                c ^= UInt32(b)
                for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
            }
            return ~c
        }
        var state: UInt32 = 12345
        for n in 0..<70 {
            let bytes = (0..<n).map { _ -> UInt8 in state = state &* 1_103_515_245 &+ 12345; return UInt8(state >> 24) }
            XCTAssertEqual(CRC32C.checksum(bytes), bitwise(bytes), "length \(n)")
            XCTAssertEqual(CRC32C.checksum(bytes[...]), bitwise(bytes), "slice of length \(n)")
        }
    }

    /// TensorFlow's mask: rotate right 15, add 0xa282ead8; unmasking (subtract, rotate left) gives it back.
    func testMask() {
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x0000_8000), 0xA282_EAD9)
        XCTAssertEqual(CRC32C.masked(1), 0xA284_EAD8)
        for crc: UInt32 in [0xE306_9283, 0xFFFF_FFFF, 0x1234_5678] {
            let m = CRC32C.masked(crc) &- 0xA282_EAD8
            XCTAssertEqual((m << 15) | (m >> 17), crc)
        }
    }
}

final class TFRecordTests: XCTestCase {
    func testFraming() {
        let data = Array("hello".utf8)
        let r = TFRecord.frame(data)
        XCTAssertEqual(r.count, 8 + 4 + 5 + 4)
        XCTAssertEqual(Array(r[0..<8]), [5, 0, 0, 0, 0, 0, 0, 0])
        func u32(_ i: Int) -> UInt32 { r[i..<(i + 4)].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        XCTAssertEqual(u32(8), CRC32C.masked(CRC32C.checksum([5, 0, 0, 0, 0, 0, 0, 0])))
        XCTAssertEqual(Array(r[12..<17]), data)
        XCTAssertEqual(u32(17), CRC32C.masked(CRC32C.checksum(data)))
    }

    /// Reading back stops at a record cut anywhere or corrupted, keeping the whole ones before it.
    func testCutAndCorruptFiles() {
        let records = [Array("first".utf8), [], Array(repeating: 7, count: 300)]
        let file = records.flatMap(TFRecord.frame)
        XCTAssertEqual(TFRecord.records(file).records, records)
        XCTAssertTrue(TFRecord.records(file).clean)
        let ends = records.map { TFRecord.frame($0).count }.reduce(into: [0]) { $0.append($0.last! + $1) }
        for cut in 0..<file.count {
            let whole = ends.lastIndex(where: { $0 <= cut })!
            let back = TFRecord.records(Array(file[..<cut]))
            XCTAssertEqual(back.records, Array(records[..<whole]), "cut at \(cut)")
            XCTAssertEqual(back.clean, ends.contains(cut), "cut at \(cut)")
        }
        var bad = file
        bad[ends[1] + 12] ^= 1  // the second (empty) record's data checksum
        XCTAssertEqual(TFRecord.records(bad).records, [records[0]])
        var huge = file
        huge[7] = 0x7F  // a length of 2^62 and more, its checksum then wrong too
        XCTAssertEqual(TFRecord.records(huge).records, [])
    }
}

final class EventTests: XCTestCase {
    /// The version record, byte for byte: wall_time (field 1, fixed64), file_version (3); step 0 is
    /// proto3's default, so it is left out, as protobuf's serializers do.
    func testFileVersionEncoding() {
        let e = Event(wallTime: 1.5, step: 0, .fileVersion("brain.Event:2")).encoded()
        XCTAssertEqual(e, [0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x1A, 13] + Array("brain.Event:2".utf8))
        XCTAssertEqual(Event(wallTime: 1.5, step: 2, .fileVersion("")).encoded(),
                       [0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x02, 0x1A, 0], "a oneof member is written even when empty")
    }

    /// A scalar: step (2) 300 as a two-byte varint, summary (5) → value (1) → tag (1), simple_value
    /// (2, fixed32), written even when 0 (a oneof member); wall time 0 left out.
    func testScalarEncoding() {
        let e = Event(wallTime: 0, step: 300, .summary([SummaryValue(tag: "loss", .scalar(0))])).encoded()
        let value: [UInt8] = [0x0A, 4] + Array("loss".utf8) + [0x15, 0x00, 0x00, 0x00, 0x00]
        XCTAssertEqual(e, [0x10, 0xAC, 0x02, 0x2A, UInt8(value.count + 2), 0x0A, UInt8(value.count)] + value)
        XCTAssertEqual(Event(wallTime: 0, step: -1, .summary([])).encoded(),
                       [0x10] + [UInt8](repeating: 0xFF, count: 9) + [0x01, 0x2A, 0], "a negative int64 as ten bytes")
    }

    func testHistogramBuckets() {
        let h = Histogram([0, 1, 2, 3, 4, .nan, .infinity], bins: 4)
        XCTAssertEqual(h.count, 5)
        XCTAssertEqual(h.min, 0); XCTAssertEqual(h.max, 4)
        XCTAssertEqual(h.sum, 10); XCTAssertEqual(h.sumSquares, 30)
        XCTAssertEqual(h.bucketLimits, [1, 2, 3, 4])
        // Right-closed: (−∞, 1] holds 0 and 1, (1, 2] holds 2, ...
        XCTAssertEqual(h.bucketCounts, [2, 1, 1, 1])
        let constant = Histogram([2, 2, 2], bins: 3)
        XCTAssertEqual(constant.bucketCounts.reduce(0, +), 3)
        XCTAssertEqual(constant.bucketLimits.last, 2.5)
        let empty = Histogram([Float.nan], bins: 3)
        XCTAssertEqual(empty.count, 0)
        XCTAssertEqual(empty.bucketCounts, [])
        // Values whose unit-wide bucket would be below their precision (a diverged model's energies),
        // at the ends of Float's range, and neighbouring subnormals: counted, never a trap.
        for values: [Float] in [[1e20, 1e20, 1e20], [-3e38, -3e38], [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, 0],
                                [.leastNonzeroMagnitude, 2 * .leastNonzeroMagnitude], [1e-30, 1e30]] {
            let h = Histogram(values, bins: 7)
            XCTAssertEqual(h.bucketCounts.reduce(0, +), Double(values.count), "\(values)")
            XCTAssertTrue(h.bucketLimits.allSatisfy(\.isFinite), "\(values): \(h.bucketLimits)")
            XCTAssertEqual(h.bucketLimits, h.bucketLimits.sorted(), "\(values)")
            XCTAssertLessThan(h.bucketLimits.first!, h.bucketLimits.last!, "\(values)")
        }
    }

    func testEventFileAppendsWholeRecords() throws {
        let dir = NSTemporaryDirectory() + "tb-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = try EventFile(folder: dir)
        XCTAssertTrue((f.path as NSString).lastPathComponent.hasPrefix("events.out.tfevents."))
        try f.write([SummaryValue(tag: "a", .scalar(2))], step: 1)
        // Readable while the writer is open: each event is in the file once written.
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: f.path)))
        let back = TFRecord.records(bytes)
        XCTAssertTrue(back.clean)
        XCTAssertEqual(back.records.count, 2)
        XCTAssertEqual(Array(back.records[0].suffix(13)), Array("brain.Event:2".utf8))
    }
}
