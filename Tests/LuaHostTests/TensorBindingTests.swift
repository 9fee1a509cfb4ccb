import Foundation
import LuaHost
import Tensor
import XCTest

final class TensorBindingTests: LuaTestCase {
    func testCreationShapesAndElements() throws {
        let r = try lua("""
            local a = joule.tensor.zeros(2, 3)
            local b = joule.tensor.ones{4}
            local c = joule.tensor.full({2, 2}, 7.5)
            local d = joule.tensor{{1, 2, 3}, {4, 5, 6}}
            return a:numel(), #a, a:dim(), table.concat(a:shape(), 'x'), b:sum(), c:get(2, 1), d:get(2, 3), d:size(2)
            """)
        XCTAssertEqual(r, ["6", "2", "2", "2x3", "4.0", "7.5", "6.0", "3"])
    }

    func testTwoDimensionalBracketIndexIsAnError() {
        XCTAssertTrue(luaError("local d = joule.tensor{{1, 2}, {3, 4}}; return d[1]").contains("use t:get(i, j, ...)"))
    }

    func testNestedTableRoundTripAndSetters() throws {
        let r = try lua("""
            local t = joule.tensor{{1, 2}, {3, 4}, {5, 6}}
            t:set(3, 2, 60)
            local v = joule.tensor{10, 20, 30}
            v[2] = 25
            local back = t:totable()
            return back[3][2], #back, #back[1], v[2], v:totable()[3]
            """)
        XCTAssertEqual(r, ["60.0", "3", "2", "25.0", "30.0"])
    }

    func testArithmeticMatchesTensorModule() throws {
        let a = try Tensor(shape: [2, 2], values: [1, -2, 3, 4])
        let b = try Tensor(shape: [2, 2], values: [0.5, 2, -1, 8])
        let r = try lua("""
            local a = joule.tensor{{1, -2}, {3, 4}}
            local b = joule.tensor{{0.5, 2}, {-1, 8}}
            local function flat(t) local f = t:reshape(-1):totable(); return table.concat(f, ',') end
            return flat(a + b), flat(a - b), flat(a * b), flat(a / b), flat(a + 1), flat(10 - a), flat(2 * a), flat(1 / b), flat(-a), flat(a:matmul(b))
            """)
        func flat(_ t: Tensor) -> String { t.array.map { "\(Double($0))" }.joined(separator: ",") }
        XCTAssertEqual(r, [flat(try a.adding(b)), flat(try a.subtracting(b)), flat(try a.multiplying(b)),
                           flat(try a.dividing(b)), flat(a.adding(1)), flat(a.subtracted(from: 10)),
                           flat(a.multiplying(2)), flat(b.divided(into: 1)), flat(a.negated()), flat(try a.matmul(b))])
    }

    func testReductionsAndElementwise() throws {
        let r = try lua("""
            local t = joule.tensor{{1, -2, 3}, {4, -5, 6}}
            return t:sum(), t:mean(), t:min(), t:max(), t:norm(), table.concat(t:argmax(), ','), t:abs():sum(), t:clamp(-1, 1):sum()
            """)
        XCTAssertEqual(number(r[0]), 7, accuracy: 1e-6)
        XCTAssertEqual(number(r[1]), 7.0 / 6, accuracy: 1e-6)
        XCTAssertEqual(number(r[2]), -5)
        XCTAssertEqual(number(r[3]), 6)
        XCTAssertEqual(number(r[4]), (1 + 4 + 9 + 16 + 25 + 36.0).squareRoot(), accuracy: 1e-5)
        XCTAssertEqual(r[5], "3,3")
        XCTAssertEqual(number(r[6]), 21)
        XCTAssertEqual(number(r[7]), 1 - 1 + 1 + 1 - 1 + 1)
    }

    func testSliceIndexReshapeAndCatCopy() throws {
        let r = try lua("""
            local t = joule.tensor{{1, 2}, {3, 4}, {5, 6}, {7, 8}}
            local s = t:slice(2, 3)
            local g = t:index{4, 1}
            local c = joule.tensor.cat{s, g}
            local m = t:reshape(2, -1)
            s:set(1, 1, 100)   -- slices are copies
            return table.concat(s:shape(), 'x'), s:get(2, 2), g:get(1, 1), #c, m:size(2), t:get(2, 1)
            """)
        XCTAssertEqual(r, ["2x2", "6.0", "7.0", "4", "4", "3.0"])
        XCTAssertTrue(luaError("return joule.tensor.zeros(4, 2):reshape(3, 3)").contains("cannot reshape"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(4, 2):slice(3, 5)").contains("bad argument #2 to 'Tensor:slice'"))
    }

    func testSeedMakesRandomTensorsRepeat() throws {
        let r = try lua("""
            joule.seed(7); local a = joule.tensor.randn(1000)
            joule.seed(7); local b = joule.tensor.randn(1000)
            joule.seed(8); local c = joule.tensor.randn(1000)
            local u = joule.tensor.rand(1000)
            return (a - b):abs():max(), (a - c):abs():max(), a:mean(), u:min() >= 0 and u:max() < 1
            """)
        XCTAssertEqual(number(r[0]), 0)
        XCTAssertGreaterThan(number(r[1]), 0.1)
        XCTAssertEqual(number(r[2]), 0, accuracy: 0.15)
        XCTAssertEqual(r[3], "true")
    }

    func testTostringAndUnknownMethodSuggestion() throws {
        let r = try lua("return tostring(joule.tensor.ones(2, 2))")
        XCTAssertTrue(r[0].hasPrefix("Tensor(2×2"), r[0])
        XCTAssertTrue(luaError("local t = joule.tensor.ones(2); return t:sise(1)").contains("did you mean 'size'?"))
    }

    func testRequireGivesTheSameModule() throws {
        XCTAssertEqual(try lua("return require('joule') == joule, joule.version ~= nil"), ["true", "true"])
    }

    /// What an energy written in Lua needs: broadcasting operators, reductions along a dimension,
    /// powers, transposes and matrix-vector products, each the Tensor module's (its tests hold
    /// those to NumPy).
    func testBroadcastingReductionsAndTransposeReachLua() throws {
        let r = try lua("""
            local x = joule.tensor{{1, 2, 3}, {4, 5, 6}}
            local mu = joule.tensor{1, 1, 1}
            local col = joule.tensor{{2}, {4}}
            local function flat(t) return table.concat(t:reshape(-1):totable(), ',') end
            return flat(x - mu), flat(x / col), flat(col * mu), flat(x ^ 2), flat(2 ^ joule.tensor{1, 3}), flat(x:pow(col)),
                   flat(x:sum(2)), table.concat(x:sum(-1, true):shape(), 'x'), flat(x:mean(1)), flat(x:max(2)), flat(x:min(1)),
                   x:logsumexp(), flat(x:logsumexp(2)), flat(x:transpose()), table.concat(x:transpose(1, 2):shape(), 'x'),
                   flat(x:matmul(joule.tensor{1, 0, -1})), x:sum(), x:max()
            """)
        XCTAssertEqual(Array(r[0...5]), ["0.0,1.0,2.0,3.0,4.0,5.0", "0.5,1.0,1.5,1.0,1.25,1.5", "2.0,2.0,2.0,4.0,4.0,4.0",
                                         "1.0,4.0,9.0,16.0,25.0,36.0", "2.0,8.0", "1.0,4.0,9.0,256.0,625.0,1296.0"])
        XCTAssertEqual(Array(r[6...10]), ["6.0,15.0", "2x1", "2.5,3.5,4.5", "3.0,6.0", "1.0,2.0,3.0"])
        XCTAssertEqual(number(r[11]), log((1...6).map { exp(Double($0)) }.reduce(0, +)), accuracy: 1e-5)
        let lse = r[12].split(separator: ",").map { Double($0)! }
        XCTAssertEqual(lse[0], log(exp(1.0) + exp(2) + exp(3)), accuracy: 1e-5)
        XCTAssertEqual(lse[1], log(exp(4.0) + exp(5) + exp(6)), accuracy: 1e-5)
        XCTAssertEqual(Array(r[13...16]), ["1.0,4.0,2.0,5.0,3.0,6.0", "3x2", "-2.0,-2.0", "21.0"])
        XCTAssertEqual(r[17], "6.0", "no argument: the whole tensor, as before")
    }

    func testShapeAndDimensionErrorsNameTheLine() {
        var m = luaError("local a = joule.tensor.zeros(4, 3)\nlocal b = a * joule.tensor.zeros(2, 3)")
        XCTAssertTrue(m.hasPrefix("snippet.lua:2: mul: shapes [4, 3] and [2, 3] do not broadcast"), m)
        m = luaError("local a = joule.tensor.zeros(4, 3)\nreturn a:sum(3)")
        XCTAssertTrue(m.hasPrefix("snippet.lua:2: bad argument #1 to 'Tensor:sum' (dimension 3 out of range for a 2-D tensor of shape [4, 3]"), m)
        XCTAssertTrue(luaError("return joule.tensor.zeros(4, 3):mean(0)").contains("dimension 0 out of range"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(4, 3):sum(1, 'yes')").contains("boolean expected"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(4):transpose()").contains("no two dimensions to swap"))
        // A vector times a vector is a 0-D tensor: a number for item(), no dimension to reduce.
        let dot = "local v = joule.tensor{1, 2, 3}:matmul(joule.tensor{4, 5, 6})\n"
        XCTAssertEqual(try lua(dot + "return v:item(), v:dim(), v:sum()"), ["32.0", "0", "32.0"])
        XCTAssertTrue(luaError(dot + "return v:sum(1)").contains("dimension 1 out of range for a 0-D tensor"))
        XCTAssertTrue(luaError(dot + "return v:transpose(-1, 1)").contains("out of range for a 0-D tensor"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(4, 3):matmul(joule.tensor.zeros(4))").contains("do not chain"))
        // Shapes that broadcast to more than the cap are refused before anything is allocated.
        XCTAssertTrue(luaError("return joule.tensor.zeros(100000, 1) + joule.tensor.zeros(1, 100000)").contains("add: the result would have shape [100000, 100000], more than"))
        XCTAssertTrue(luaError("return joule.tensor.zeros(100000, 1):matmul(joule.tensor.zeros(1, 100000))").contains("matmul: the result would have shape [100000, 100000]"))
    }
}
