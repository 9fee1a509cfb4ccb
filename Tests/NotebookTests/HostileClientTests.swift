import Foundation
import LuaHost
import Notebook
import Tensor
import XCTest

/// What a front end (or a person at one) sends the kernel may be anything: it is refused or answered,
/// and the session lives on.
final class HostileClientTests: XCTestCase {
    final class Channel: WidgetChannel {
        var opened: [WidgetModel] = []
        func open(_ model: WidgetModel) { opened.append(model) }
        func update(_ model: WidgetModel, keys: [String]?) {}
        func pendingUpdate(_ id: String) -> Bool { false }
        func close(_ model: WidgetModel) {}
    }

    /// Every number a client sends for an integer key is checked before it becomes one: a whole
    /// double out of Int's range (1e300, 2^63) once trapped the kernel.
    func testWholeNumbersOutOfIntegerRangeAreRefused() throws {
        let s = try LuaSession()
        let c = Channel()
        s.widgetChannel = c
        XCTAssertTrue(s.execute("w = joule.widgets.IntSlider{ value = 3 }").ok)
        let m = try XCTUnwrap(c.opened.last { $0.kind == "IntSlider" })
        for key in ["value", "min", "max", "step"] {
            for d in [1e300, -1e300, 0x1p63, -0x1p64, 0x1p64, .infinity, -.infinity, .nan, 1.5] {
                let before = m.state[key]
                XCTAssertThrowsError(try s.widgetUpdate(m.id, state: [key: .double(d)], buffers: [:]), "\(key) = \(d)") { e in
                    XCTAssertTrue("\(e)".contains("'\(key)' cannot be"), "\(e)")
                }
                XCTAssertEqual(m.state[key], before, "\(key) = \(d) changed the state")
            }
        }
        // The edges Int holds are taken, as integers.
        XCTAssertEqual(try s.widgetUpdate(m.id, state: ["value": .double(-0x1p63)], buffers: [:]), ["value"])
        XCTAssertEqual(m.state["value"], .int(Int.min))
        XCTAssertEqual(try s.widgetUpdate(m.id, state: ["value": .double(0x1p63 - 1024)], buffers: [:]), ["value"])
        XCTAssertEqual(m.state["value"], .int(Int(0x1p63 - 1024)))
        s.widgetNotify(m.id, keys: ["value"])
        XCTAssertEqual(s.execute("math.type(w.value), w.value").result?["text/plain"]?.string,
                       "integer\t9223372036854774784")
    }

    /// History search with `*` and `?` over a cell of megabytes: answered (it once recursed once per
    /// character, past the stack), and as a shell glob answers.
    func testHistorySearchOfALongCellNeitherRecursesNorCrawls() {
        let long = String(repeating: "x", count: 2_000_000) + "y"
        let start = Date()
        XCTAssertTrue(JupyterKernel.glob("*y", long))
        XCTAssertTrue(JupyterKernel.glob("x*x?", long))
        XCTAssertFalse(JupyterKernel.glob("*z*", long))
        XCTAssertFalse(JupyterKernel.glob("*x*x*x*x*x*z", long))
        XCTAssertTrue(JupyterKernel.glob("*?*?*y", long))
        XCTAssertLessThan(Date().timeIntervalSince(start), 20)

        // Against a plain recursive matcher on short texts.
        func reference(_ p: ArraySlice<Character>, _ t: ArraySlice<Character>) -> Bool {
            guard let c = p.first else { return t.isEmpty }
            if c == "*" { return reference(p.dropFirst(), t) || (!t.isEmpty && reference(p, t.dropFirst())) }
            guard let d = t.first, c == "?" || c == d else { return false }
            return reference(p.dropFirst(), t.dropFirst())
        }
        var state: UInt64 = 7
        func draw(_ n: Int) -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) % n }
        let letters: [Character] = ["a", "b", "*", "?"]
        for _ in 0..<5000 {
            let p = String((0..<draw(6)).map { _ in letters[draw(4)] })
            let t = String((0..<draw(8)).map { _ in letters[draw(2)] })
            XCTAssertEqual(JupyterKernel.glob(p, t), reference(Array(p)[...], Array(t)[...]), "\(p) against \(t)")
        }
    }

    /// interact's {min, max, step} with a step that is not positive: one clear error at the caller's line.
    func testInteractRefusesAStepOfZero() throws {
        let s = try LuaSession()
        for spec in ["{0, 10, 0}", "{0.0, 1.0, 0.0}", "{0, 10, -1}", "{0.0, 1.0, 0/0}"] {
            let r = s.execute("local x = 1\nui = joule.widgets.interact(function() end, { n = \(spec) })", name: "cell[4]")
            XCTAssertEqual(r.error?.evalue.hasPrefix("cell[4]:2: joule.widgets.interact: 'n' needs a positive step"), true,
                           "\(spec): \(r.error?.evalue ?? "no error")")
        }
        let direct = s.execute("w = joule.widgets.IntSlider{ step = 0 }", name: "cell[5]")
        XCTAssertEqual(direct.error?.evalue.hasPrefix("cell[5]:1: joule.widgets.IntSlider: step must be a positive number"), true,
                       direct.error?.evalue ?? "no error")
        XCTAssertEqual(s.execute("1 + 1").result?["text/plain"]?.string, "2")
    }
}
