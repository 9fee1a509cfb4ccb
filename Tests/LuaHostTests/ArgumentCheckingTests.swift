import Foundation
import LuaHost
import XCTest

/// Every binding is fed wrong types, nil, negative, fractional and absurd values in every argument
/// position. The host must survive each call, and each failure must name the script line and, for a
/// value of the wrong type, the argument and the binding.
final class ArgumentCheckingTests: LuaTestCase {
    /// Calls with valid arguments (Lua expressions); `T` is a 2×3 tensor, `DIR` a temporary folder.
    let calls: [(function: String, args: [String])] = [
        ("joule.tensor.zeros", ["2", "3"]),
        ("joule.tensor.ones", ["{2, 3}"]),
        ("joule.tensor.full", ["{2, 2}", "1.5"]),
        ("joule.tensor.randn", ["3", "4"]),
        ("joule.tensor.rand", ["3"]),
        ("joule.tensor.new", ["{{1, 2}, {3, 4}}"]),
        ("joule.tensor.cat", ["{T, T}"]),
        ("T:get", ["1", "2"]),
        ("T:set", ["1", "2", "5"]),
        ("T:size", ["2"]),
        ("T:slice", ["1", "2"]),
        ("T:index", ["{2, 1}"]),
        ("T:reshape", ["3", "2"]),
        ("T:add", ["T"]),
        ("T:sub", ["1"]),
        ("T:mul", ["T"]),
        ("T:div", ["2"]),
        ("T:clamp", ["-1", "1"]),
        ("T:matmul", ["joule.tensor.ones(3, 2)"]),
        ("T:fill", ["0.5"]),
        ("T:save_npy", ["DIR .. '/t.npy'"]),
        ("joule.load_npy", ["DIR .. '/t.npy'"]),
        ("joule.seed", ["3"]),
        ("joule.params", ["{ a = 1 }"]),
        ("joule.log", ["{ x = 1 }"]),
        ("joule.progress", ["10", "'label'"]),
    ]

    let badValues = ["nil", "'x'", "{}", "-3", "0", "0.5", "1e300", "2^62", "math.huge", "0/0", "-0.0",
                     "true", "print", "io.stdout", "joule.tensor.zeros(1)", "{{1}, 2}", "{-1, 2}"]

    func testEveryBindingWithEveryBadValue() throws {
        // Bad paths are valid strings: keep whatever they write inside the temporary folder.
        let cwd = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(directory.path)
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        let host = try makeHost()
        try host.lua.run(string: "DIR = '\(directory.path)'; T = joule.tensor.ones(2, 3); T:save_npy(DIR .. '/t.npy')")
        var failures = 0
        for (function, args) in calls {
            let name = function.hasPrefix("joule.tensor.") ? String(function.dropFirst(6))
                     : function.hasPrefix("T:") ? "Tensor:" + function.dropFirst(2) : function
            for position in args.indices {
                let validType = try host.lua.run(string: "return type(\(args[position]))")[0]
                for bad in badValues {
                    var a = args
                    a[position] = bad
                    let code = "T = joule.tensor.ones(2, 3)\nreturn \(function)(\(a.joined(separator: ", ")))"
                    do {
                        try host.lua.run(string: code, name: "@check.lua")
                    } catch let e as LuaScriptError {
                        failures += 1
                        XCTAssertTrue(e.message.hasPrefix("check.lua:2: "), "\(function) #\(position + 1) = \(bad): \(e.message)")
                        let badType = try host.lua.run(string: "return type(\(bad))")[0]
                        // Arithmetic takes a tensor or a number: a mismatch of shapes is not a type error.
                        let alternatives = ["T:add", "T:sub", "T:mul", "T:div"].contains(function) ? ["number", "userdata"] : []
                        if badType != validType && badType != "nil" && !(alternatives.contains(badType) && alternatives.contains(validType)) {
                            XCTAssertTrue(e.message.contains("bad argument #\(position + 1) to '\(name)'"),
                                          "\(function) #\(position + 1) = \(bad): \(e.message)")
                        }
                    }
                }
            }
        }
        XCTAssertGreaterThan(failures, 200, "bad values were accepted silently")
        // The host is still in working order.
        XCTAssertEqual(try host.lua.run(string: "return joule.tensor.ones(4):sum()"), ["4.0"])
    }

    func testAbsurdSizesAreRefusedBeforeAllocating() {
        for shape in ["1e9, 1e9", "2^31, 2", "{65536, 65536, 2}", "2^40", "3037000500, 3037000500"] {
            let m = luaError("return joule.tensor.zeros(\(shape))")
            XCTAssertTrue(m.contains("bad argument #1 to 'tensor.zeros'") && m.contains("too large"), "\(shape): \(m)")
        }
        XCTAssertTrue(luaError("return joule.tensor.zeros(2, -3)").contains("bad argument #2 to 'tensor.zeros' (positive integer expected, got -3)"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(2.5)").contains("(positive integer expected, got 2.5)"))
        XCTAssertTrue(luaError("return joule.tensor.zeros()").contains("bad argument #1 to 'tensor.zeros' (positive integer or shape table expected, got no value)"))
    }

    func testMethodsCalledWithADotSayHow() {
        let m = luaError("local t = joule.tensor.ones(2); return t.sum(5)")
        XCTAssertTrue(m.contains("bad self for 'Tensor:sum' (Tensor expected, got 5; call it with ':')"), m)
    }

    func testRaggedAndDeepTables() {
        XCTAssertTrue(luaError("return joule.tensor{{1, 2}, {3}}").contains("ragged table: element [2] has 1 entries, expected 2"))
        XCTAssertTrue(luaError("return joule.tensor{{1, 'a'}, {3, 4}}").contains("element [1][2]: number expected, got string"))
        XCTAssertTrue(luaError("local t = 1; for i = 1, 40 do t = {t} end; return joule.tensor(t)").contains("nested deeper"))
        XCTAssertTrue(luaError("return joule.tensor{}").contains("empty table"))
    }

    func testOutOfRangeIndices() {
        XCTAssertTrue(luaError("return joule.tensor.ones(2, 3):get(3, 1)").contains("bad argument #1 to 'Tensor:get' (integer in 1...2 expected, got 3)"))
        XCTAssertTrue(luaError("return joule.tensor.ones(2, 3):get(1)").contains("bad argument #2 to 'Tensor:get'"))
        XCTAssertTrue(luaError("local v = joule.tensor.ones(3); return v[0]").contains("out of range 1...3"))
        XCTAssertTrue(luaError("local v = joule.tensor.ones(3); v.x = 1").contains("cannot set field 'x' of a Tensor"))
        XCTAssertTrue(luaError("return joule.tensor.ones(2, 3):index{1, 7}").contains("element 2"))
    }

    func testGarbageCollectionOfManyTensors() throws {
        // Userdata finalizers release the Swift tensors; a leak or a double release would show here.
        XCTAssertEqual(try lua("""
            for i = 1, 2000 do local t = joule.tensor.zeros(64, 64) + i end
            collectgarbage(); collectgarbage()
            local t = joule.tensor.ones(3); local mt = getmetatable(t)
            mt.__gc(t)           -- a finalizer called by hand leaves a dead tensor, not a dangling one
            return pcall(t.sum, t)
            """)[0], "false")
    }
}
