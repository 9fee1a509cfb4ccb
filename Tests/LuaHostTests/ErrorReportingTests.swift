import Foundation
import LuaHost
import XCTest

final class ErrorReportingTests: LuaTestCase {
    func testLuaErrorsNameFileAndLine() {
        XCTAssertEqual(luaError("local x = 1\nlocal y = 2\nerror('boom')"), "snippet.lua:3: boom")
    }

    func testSwiftErrorsBecomeLuaErrorsAtTheCallingLine() {
        let m = luaError("local a = joule.tensor.zeros(2)\nlocal b = joule.tensor.zeros(3)\nlocal c = a + b")
        XCTAssertTrue(m.hasPrefix("snippet.lua:3: "), m)
        XCTAssertTrue(m.contains("[2]") && m.contains("[3]"), m)
    }

    func testTracebackIsKeptApart() throws {
        do {
            try makeHost().lua.run(string: "local function f() error('deep') end\nf()", name: "@t.lua")
            XCTFail("no error")
        } catch let e as LuaScriptError {
            XCTAssertEqual(e.message, "t.lua:1: deep")
            XCTAssertTrue(e.traceback.hasPrefix("stack traceback:"), e.traceback)
            XCTAssertTrue(e.traceback.contains("t.lua:2:"), e.traceback)
        }
    }

    func testBindingErrorsCanBeCaughtAndTheHostGoesOn() throws {
        let r = try lua("""
            local ok, msg = pcall(joule.tensor.zeros, -1)
            local ok2, msg2 = pcall(function() return joule.tensor.ones(2) + joule.tensor.ones(3) end)
            return ok, msg, ok2, joule.tensor.ones(3):sum()
            """)
        XCTAssertEqual(r[0], "false")
        XCTAssertEqual(r[1], "bad argument #1 to 'tensor.zeros' (positive integer expected, got -1)")
        XCTAssertEqual(r[2], "false")
        XCTAssertEqual(r[3], "3.0")
    }

    func testNonStringErrorsAndFailingTostring() {
        XCTAssertTrue(luaError("error({})").contains("error object is a table value"))
        let m = luaError("error(setmetatable({}, {__tostring = function() return 'custom' end}))")
        XCTAssertTrue(m.contains("custom"), m)
    }

    func testMissingScriptFile() throws {
        XCTAssertThrowsError(try makeHost().lua.run(file: directory.appendingPathComponent("nope.lua").path)) {
            XCTAssertTrue("\($0)".contains("cannot open"), "\($0)")
        }
    }

    func testSyntaxErrorNamesLine() throws {
        let path = directory.appendingPathComponent("bad.lua").path
        try "local a = 1\nlocal = 2\n".write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try makeHost().lua.run(file: path)) { e in
            XCTAssertTrue((e as? LuaScriptError)?.message.hasPrefix("\(path):2:") == true, "\(e)")
        }
    }

    func testScriptArgumentsAndUndeclaredParameters() throws {
        let path = directory.appendingPathComponent("args.lua").path
        try "result = table.concat(arg, ',') .. '|' .. select('#', ...)".write(toFile: path, atomically: true, encoding: .utf8)
        let host = try makeHost(args: ["a", "b c"])
        try host.run(file: path)
        XCTAssertEqual(try host.lua.run(string: "return result"), ["a,b c|2"])
        XCTAssertThrowsError(try makeHost(parameters: ["lr=1"]).run(file: path)) {
            XCTAssertTrue("\($0)".contains("never calls joule.params"), "\($0)")
        }
    }
}
