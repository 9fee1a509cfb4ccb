import Foundation
import Sweep
import Tensor
import XCTest

/// Sweep files read into a spec, expanded into runs with stable keys.
final class SpecTests: XCTestCase {
    func spec(_ source: String) throws -> SweepSpec {
        try SweepSpec(try SweepFile.evaluate(source: source), file: "s.lua")
    }

    func testGridSeedsAndFixedParameters() throws {
        let s = try spec("""
            return { script = "x.lua", params = { data = "d" }, grid = { b = {1, 2}, a = {0.5, "z"} },
                     repeats = 2, output = "out", metric = "m", plot = "b" }
            """)
        let runs = s.expand()
        XCTAssertEqual(runs.count, 8)
        XCTAssertEqual(runs[0].key, "a=0.5\nb=1\ndata=d\nseed=1")
        XCTAssertEqual(runs[1].key, "a=0.5\nb=1\ndata=d\nseed=2")
        XCTAssertEqual(runs[7].key, "a=z\nb=2\ndata=d\nseed=2")
        XCTAssertEqual(Set(runs.map(\.slug)).count, 8)
        XCTAssertTrue(runs[0].slug.hasPrefix("a=0.5,b=1,seed=1-"), runs[0].slug)
        XCTAssertEqual(runs[0].label, "a=0.5 b=1 seed=1")
        XCTAssertTrue(runs[0].directory.hasPrefix("out/runs/"))
        // Keys and folders do not depend on the process (no per-process hash seeds).
        XCTAssertEqual(RunSpec.hash("a=1"), RunSpec.hash("a=1"))
        XCTAssertEqual(RunSpec.hash("a=1\nb=2"), "f9a16e5a")
    }

    func testRandomSearchIsReproducible() throws {
        let src = """
            return { script = "x.lua", random = { samples = 5, seed = 7, lr = { log_uniform = {1e-5, 1e-2} },
                     h = { int = {1, 3} }, act = {"relu", "swish"} } }
            """
        let a = try spec(src).expand(), b = try spec(src).expand()
        XCTAssertEqual(a.map(\.key), b.map(\.key))
        XCTAssertGreaterThan(a.count, 1)
        for r in a {
            let lr = r.value("lr")!.number!
            XCTAssertTrue(lr >= 1e-5 && lr <= 1e-2, "\(lr)")
            XCTAssertTrue([1, 2, 3].contains(r.value("h")!.number!))
            XCTAssertTrue(["relu", "swish"].contains(r.value("act")!.text))
        }
    }

    func testMistakesAreNamed() {
        func message(_ src: String) -> String {
            do { _ = try spec(src); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("return { script = 'x.lua', gird = {} }").contains("unknown field 'gird' (did you mean 'grid'?)"))
        XCTAssertTrue(message("return { grid = { a = {1} } }").contains("names no script"))
        XCTAssertTrue(message("return { script = 'x.lua', grid = { a = {1, 1} } }").contains("grid.a lists 1 twice"))
        XCTAssertTrue(message("return { script = 'x.lua', grid = { a = {1} }, params = { a = 2 } }").contains("set by both params and grid"))
        XCTAssertTrue(message("return { script = 'x.lua', grid = { a = {1} }, plot = 'b' }").contains("plot.x names 'b'"))
        XCTAssertTrue(message("return { script = 'x.lua', random = { samples = 2, a = { gauss = {0, 1} } } }").contains("unknown distribution 'gauss'"))
        XCTAssertTrue(message("return 3").contains("must return a table"))
        XCTAssertTrue(message("return { script = 'x.lua', grid = { a = {print} } }").contains("is a function"))
        XCTAssertTrue(message("return {").contains("near <eof>"))
    }
}
