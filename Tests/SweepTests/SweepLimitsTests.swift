import Foundation
import LuaHost
import Sweep
import TestSupport
import XCTest

/// Sweep files that ask for absurd things are refused before anything is enumerated; one Ctrl-C
/// stops a sweep file that loops.
final class SweepLimitsTests: XCTestCase {
    func spec(_ source: String) throws -> SweepSpec {
        try SweepSpec(try SweepFile.evaluate(source: source), file: "s.lua")
    }

    func testHugeSweepsAndBadRangesAreRefused() {
        // 10^9 runs: ten values on each of nine axes.
        let axes = (1...9).map { "p\($0) = {0,1,2,3,4,5,6,7,8,9}" }.joined(separator: ", ")
        assertThrowsMessage("more than 100000") { _ = try spec("return { script = 'x.lua', grid = { \(axes) } }") }
        assertThrowsMessage("more than 100000") { _ = try spec("return { script = 'x.lua', grid = { a = {1,2,3,4,5,6,7,8,9,10} }, random = { samples = 100000, b = { uniform = {0, 1} } } }") }
        assertThrowsMessage("repeats is 1000000000") { _ = try spec("return { script = 'x.lua', repeats = 1000000000 }") }
        assertThrowsMessage("random.samples is 1000000000") { _ = try spec("return { script = 'x.lua', random = { samples = 1000000000, b = { uniform = {0, 1} } } }") }
        assertThrowsMessage("within ±2^53") { _ = try spec("return { script = 'x.lua', random = { samples = 2, n = { int = {math.mininteger, math.maxinteger} } } }") }
        assertThrowsMessage("needs finite numbers") { _ = try spec("return { script = 'x.lua', random = { samples = 2, u = { uniform = {-math.huge, math.huge} } } }") }
        assertThrowsMessage("needs finite numbers") { _ = try spec("return { script = 'x.lua', random = { samples = 2, u = { uniform = {-1e308, 1e308} } } }") }
        assertThrowsMessage("needs finite numbers") { _ = try spec("return { script = 'x.lua', random = { samples = 2, u = { normal = {0, 0/0} } } }") }
        // The widest int range allowed draws within it.
        let s = try? spec("return { script = 'x.lua', random = { samples = 50, n = { int = {-(1 << 53), 1 << 53} } } }")
        let values = s?.expand().compactMap { r -> Double? in if case .int(let i)? = r.value("n") { return Double(i) }; return nil } ?? []
        XCTAssertEqual(values.count, 50)
        XCTAssertTrue(values.allSatisfy { abs($0) <= 0x1p53 })
    }

    /// Started by a shell that ignores SIGINT (as background jobs are), a sweep file that loops
    /// still stops at one Ctrl-C.
    func testOneInterruptStopsASweepFileThatLoops() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-loop-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "io.stderr:write('reading\\n') while true do end\n".write(to: dir.appendingPathComponent("loop.lua"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "trap '' INT; exec \"$0\" sweep loop.lua", try jouleExecutable().path]
        p.currentDirectoryURL = dir
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 30) { if p.isRunning { kill(pid, SIGKILL) } }
        _ = err.fileHandleForReading.availableData
        kill(pid, SIGINT)
        let rest = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit)
        XCTAssertEqual(p.terminationStatus, 130, rest)
        XCTAssertTrue(rest.contains("loop.lua:1: interrupted"), rest)
    }
}
