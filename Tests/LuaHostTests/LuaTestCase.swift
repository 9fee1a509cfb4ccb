import Foundation
import LuaHost
import Tensor
import XCTest

/// Runs Lua snippets through a fresh host whose run folder is a temporary directory.
class LuaTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("luahost-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func makeHost(parameters: [String] = [], args: [String] = []) throws -> ScriptHost {
        try ScriptHost(script: nil, parameters: parameters, args: args,
                       runFolder: RunFolder(explicit: directory.appendingPathComponent("run").path, script: nil))
    }

    /// The snippet's results as `tostring` shows them; `DIR` in the code is the temporary directory.
    @discardableResult
    func lua(_ code: String, parameters: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        try makeHost(parameters: parameters).lua.run(string: prelude + code, name: "@snippet.lua")
    }

    /// The message of the error the snippet raises; fails the test when it raises none.
    func luaError(_ code: String, parameters: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let out = try lua(code, parameters: parameters)
            XCTFail("expected an error, got \(out)", file: file, line: line)
            return ""
        } catch let e as LuaScriptError {
            return e.message
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
            return ""
        }
    }

    /// Lines in snippets count from 1: the prelude shares the first line.
    var prelude: String { "local DIR = '\(directory.path)'; " }

    func number(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> Double {
        guard let d = Double(s) else { XCTFail("not a number: \(s)", file: file, line: line); return .nan }
        return d
    }
}
