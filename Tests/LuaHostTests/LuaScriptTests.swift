import Foundation
import LuaHost
import XCTest

/// Runs the Lua test scripts in Tests/LuaScripts; a script fails with its own `file:line` message.
/// A script's first line may hold the parameters it expects: `-- joule run NAME.lua -p k=v ...`.
final class LuaScriptTests: LuaTestCase {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("LuaScripts")

    func runScript(_ name: String) throws {
        let path = Self.folder.appendingPathComponent(name).path
        let source = try String(contentsOfFile: path, encoding: .utf8)
        let header = source.prefix { $0 != "\n" }
        let parameters = header.hasPrefix("-- joule run")
            ? header.components(separatedBy: " -p ").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) } : []
        let host = try makeHost(parameters: parameters)
        do { try host.run(file: path) } catch let e as LuaScriptError { XCTFail(e.description) }
    }

    func testScriptsFolderHoldsTheScripts() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.folder.path).filter { $0.hasSuffix(".lua") }
        XCTAssertEqual(Set(names), ["tensor_api.lua", "sgld_in_lua.lua", "params_and_log.lua"],
                       "a new script needs a test case here")
    }

    func testTensorAPI() throws { try runScript("tensor_api.lua") }
    func testSGLDWrittenInLua() throws { try runScript("sgld_in_lua.lua") }
    func testParamsAndLog() throws { try runScript("params_and_log.lua") }
}
