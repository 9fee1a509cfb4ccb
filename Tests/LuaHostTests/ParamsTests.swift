import Foundation
import LuaHost
import XCTest

final class ParamsTests: LuaTestCase {
    let declare = "local p = joule.params{ epochs = 3, step_size = 10.0, name = 'jem', conditional = true }\n"
    let show = "return math.type(p.epochs), p.epochs, math.type(p.step_size), p.step_size, p.name, p.conditional"

    func testDefaultsWithoutOverrides() throws {
        XCTAssertEqual(try lua(declare + show), ["integer", "3", "float", "10.0", "jem", "true"])
    }

    func testOverridesAreTypedByTheDefault() throws {
        let r = try lua(declare + show, parameters: ["epochs=5", "step_size=2", "name=ebm", "conditional=no"])
        XCTAssertEqual(r, ["integer", "5", "float", "2.0", "ebm", "false"])
        // An integral float text is still an integer parameter; a string parameter keeps its text.
        XCTAssertEqual(try lua(declare + show, parameters: ["epochs=1e2", "name=42"])[1], "100")
        XCTAssertEqual(try lua(declare + "return math.type(p.name), p.name", parameters: ["name=42"]), ["nil", "42"])
    }

    func testUnknownNameIsRejectedWithSuggestion() {
        let m = luaError(declare + show, parameters: ["stepsize=5"])
        XCTAssertEqual(m, "snippet.lua:1: unknown parameter 'stepsize' (did you mean 'step_size'?)")
        let far = luaError(declare + show, parameters: ["learning_rate=5"])
        XCTAssertTrue(far.contains("unknown parameter 'learning_rate' (known: conditional, epochs, name, step_size)"), far)
    }

    func testWrongTypesAreRejected() {
        XCTAssertTrue(luaError(declare, parameters: ["epochs=2.5"]).contains("parameter 'epochs' expects an integer, got '2.5'"))
        XCTAssertTrue(luaError(declare, parameters: ["step_size=fast"]).contains("parameter 'step_size' expects a number, got 'fast'"))
        XCTAssertTrue(luaError(declare, parameters: ["conditional=maybe"]).contains("parameter 'conditional' expects true or false"))
        XCTAssertTrue(luaError("joule.params{ x = {} }").contains("bad argument #1 to 'joule.params' (default of 'x' must be a number, boolean or string, got table)"))
        XCTAssertTrue(luaError("joule.params{ 1, 2 }").contains("parameter names must be strings"))
    }

    func testMalformedOrRepeatedOverridesFailBeforeTheScriptRuns() {
        XCTAssertThrowsError(try makeHost(parameters: ["epochs"])) { XCTAssertTrue("\($0)".contains("key=value")) }
        XCTAssertThrowsError(try makeHost(parameters: ["a=1", "a=2"])) { XCTAssertTrue("\($0)".contains("given twice")) }
    }

    func testRunIsAHostParameter() throws {
        let dir = directory.appendingPathComponent("chosen").path
        let host = try ScriptHost(script: nil, parameters: ["run=\(dir)"])
        XCTAssertEqual(try host.lua.run(string: "joule.params{ a = 1 }; return joule.run_dir()"), [dir])
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) && isDir.boolValue)
    }

    func testSuggestionPicksTheClosestName() throws {
        let m = luaError("joule.params{ steps = 60, step_size = 10, seed = 1 }", parameters: ["step=3"])
        XCTAssertTrue(m.contains("did you mean 'steps'?"), m)
    }
}
