import Foundation
import LuaHost
import Tensor
import XCTest
import Notebook

/// joule.widgets in a session without a front end (as `joule notebook run` runs it): ipywidgets 8
/// state, values and callbacks, refused changes, the saved widget state. (The key sets are checked
/// against ipywidgets itself in scripts/kernel-tests/test_widgets.py.)
final class WidgetTests: XCTestCase {
    /// Records what the kernel would send.
    final class Channel: WidgetChannel {
        var opened: [WidgetModel] = []
        var updates: [(String, [String]?)] = []
        func open(_ model: WidgetModel) { opened.append(model) }
        func update(_ model: WidgetModel, keys: [String]?) { updates.append((model.id, keys)) }
        func pendingUpdate(_ id: String) -> Bool { false }
        var closed: [String] = []
        func close(_ model: WidgetModel) { closed.append(model.id) }
    }

    final class Recorder: CellOutputSink {
        var displays: [[String: JSON]] = []
        var errors: [CellError] = []
        func stream(name: String, text: String) {}
        func display(data: [String: JSON]) { displays.append(data) }
        func clearOutput(wait: Bool) {}
        func error(_ e: CellError) { errors.append(e) }
        func input(prompt: String, password: Bool) throws -> String { "" }
    }

    func session() throws -> (LuaSession, Channel, Recorder) {
        let s = try LuaSession()
        let c = Channel(), r = Recorder()
        s.widgetChannel = c
        s.sink = r
        return (s, c, r)
    }

    func testSliderStateReferencesItsLayoutAndStyleModels() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("w = joule.widgets.FloatLogSlider{ description = 'step size', min = -3, max = 0, value = 0.01 }").ok)
        XCTAssertEqual(c.opened.map { $0.state["_model_name"]?.string }, ["LayoutModel", "SliderStyleModel", "FloatLogSliderModel"])
        let w = c.opened[2].state
        XCTAssertEqual(w["layout"], .string("IPY_MODEL_" + c.opened[0].id))
        XCTAssertEqual(w["style"], .string("IPY_MODEL_" + c.opened[1].id))
        XCTAssertEqual(w["_model_module"], .string("@jupyter-widgets/controls"))
        XCTAssertEqual(w["_model_module_version"], .string("2.0.0"))
        XCTAssertEqual(w["_view_name"], .string("FloatLogSliderView"))
        // Integers given for float keys stay floats (the front end's types).
        XCTAssertEqual(w["min"], .double(-3))
        XCTAssertEqual(w["value"], .double(0.01))
        XCTAssertEqual(w["base"], .double(10))
        XCTAssertEqual(w["description"], .string("step size"))
        XCTAssertEqual(s.execute("w.value").result?["text/plain"]?.string, "0.01")
    }

    func testOptionsAreCheckedWithASuggestion() throws {
        let (s, c, _) = try session()
        let r = s.execute("joule.widgets.IntSlider{ vlaue = 3 }")
        XCTAssertEqual(r.error?.evalue.contains("no option 'vlaue' (did you mean 'value'?)"), true, r.error?.evalue ?? "")
        XCTAssertTrue(c.opened.isEmpty, "no model is made for refused options")
        XCTAssertNotNil(s.execute("joule.widgets.IntSlider{ value = 'three' }").error)
        XCTAssertNotNil(s.execute("joule.widgets.Dropdown{ options = { 'a' }, value = 'b' }").error)
        XCTAssertTrue(c.opened.isEmpty)
    }

    func testSettingAValueSyncsAndRunsCallbacks() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("w = joule.widgets.IntSlider{}\nseen = {}\nw:on_change(function(v) seen[#seen + 1] = v end)\nw.value = 7\nw.value = 7").ok)
        let id = c.opened.last!.id
        XCTAssertEqual(c.updates.filter { $0.0 == id }.map { $0.1 ?? [] }, [["value"], ["value"]])
        // The same value again changes nothing, so the callback ran once.
        XCTAssertEqual(s.execute("#seen, seen[1]").result?["text/plain"]?.string, "1\t7")
    }

    func testDropdownValueIsTheChosenLabel() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("d = joule.widgets.Dropdown{ options = { 'a', 'b', 'c' }, value = 'b' }").ok)
        let m = c.opened.last!
        XCTAssertEqual(m.state["_options_labels"], .array([.string("a"), .string("b"), .string("c")]))
        XCTAssertEqual(m.state["index"], .int(1))
        XCTAssertTrue(s.execute("d.value = 'c'").ok)
        XCTAssertEqual(m.state["index"], .int(2))
        // A front end's change of the index is the value's change.
        XCTAssertTrue(s.execute("got = nil\nd:on_change(function(v) got = v end)").ok)
        XCTAssertEqual(try s.widgetUpdate(m.id, state: ["index": .int(0)], buffers: [:]), ["index"])
        s.widgetNotify(m.id, keys: ["index"])
        XCTAssertEqual(s.execute("got, d.value").result?["text/plain"]?.string, "a\ta")
    }

    func testFrontEndChangesAreCheckedWhole() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("w = joule.widgets.IntSlider{ value = 3 }").ok)
        let m = c.opened.last!
        for bad: [String: JSON] in [["value": .string("x")], ["value": .double(2.5)], ["value": .int(4), "nope": .int(1)],
                                    ["_model_name": .string("Other")], ["value": .null]] {
            XCTAssertThrowsError(try s.widgetUpdate(m.id, state: bad, buffers: [:]), "\(bad)")
            XCTAssertEqual(m.state["value"], .int(3), "\(bad) changed the state")
        }
        XCTAssertThrowsError(try s.widgetUpdate("no-such-id", state: ["value": .int(1)], buffers: [:]))
        XCTAssertEqual(try s.widgetUpdate(m.id, state: ["value": .double(5)], buffers: [:]), ["value"])
        XCTAssertEqual(m.state["value"], .int(5))
    }

    func testCallbackErrorsGoToTheSinkAndTheSessionLivesOn() throws {
        let (s, c, r) = try session()
        XCTAssertTrue(s.execute("w = joule.widgets.IntSlider{}\nw:on_change(function(v) error('no ' .. v) end)").ok)
        let m = c.opened.last!
        _ = try s.widgetUpdate(m.id, state: ["value": .int(4)], buffers: [:])
        s.widgetNotify(m.id, keys: ["value"])
        XCTAssertEqual(r.errors.count, 1)
        XCTAssertTrue(r.errors[0].evalue.contains("no 4"), r.errors[0].evalue)
        XCTAssertEqual(s.execute("1 + 1").result?["text/plain"]?.string, "2")
    }

    func testOutputCapturesPrintsFiguresAndErrors() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("""
            out = joule.widgets.Output{}
            out:capture(function() print('hello') joule.display(joule.plot.grid(joule.tensor.zeros{ 1, 1, 4, 4 })) end)
            out:capture(function() error('oops') end)
            """).ok)
        let m = c.opened.first { $0.kind == "Output" }!
        let outputs = m.state["outputs"]?.array ?? []
        XCTAssertEqual(outputs.map { $0["output_type"]?.string }, ["stream", "display_data", "error"])
        XCTAssertEqual(outputs[0]["text"], .string("hello\n"))
        XCTAssertNotNil(outputs[1]["data"]?["image/png"])
        XCTAssertTrue(outputs[2]["evalue"]?.string?.contains("oops") ?? false)
        XCTAssertTrue(s.execute("out:clear()").ok)
        XCTAssertEqual(m.state["outputs"], .array([]))
    }

    func testImageBytesAndSavedWidgetState() throws {
        let (s, c, r) = try session()
        XCTAssertTrue(s.execute("img = joule.widgets.Image{ value = joule.plot.grid(joule.tensor.zeros{ 2, 1, 4, 4 }) }\nbox = joule.widgets.VBox{ children = { img } }\nbox").ok)
        let image = c.opened.first { $0.kind == "Image" }!
        let png = try XCTUnwrap(image.buffers["value"])
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertNil(image.state["value"], "bytes travel as buffers, not in the JSON state")
        let box = c.opened.last!
        XCTAssertEqual(box.state["children"], .array([.string("IPY_MODEL_" + image.id)]))
        // The cell's value is the box's view.
        XCTAssertEqual(r.displays.last?["application/vnd.jupyter.widget-view+json"]?["model_id"], .string(box.id))
        // The notebook metadata: every model, base64 buffers inline.
        let meta = try XCTUnwrap(s.widgets.metadata?["application/vnd.jupyter.widget-state+json"])
        XCTAssertEqual(meta["version_major"], .int(2))
        XCTAssertEqual(meta["version_minor"], .int(0))
        let state = try XCTUnwrap(meta["state"]?.object)
        XCTAssertEqual(Set(state.keys), Set(c.opened.map(\.id)))
        let saved = try XCTUnwrap(state[image.id])
        XCTAssertEqual(saved["model_name"], .string("ImageModel"))
        XCTAssertEqual(saved["buffers"]?.array?.first?["path"], .array([.string("value")]))
        XCTAssertEqual(saved["buffers"]?.array?.first?["data"]?.string.flatMap { Data(base64Encoded: $0) }, png)
    }

    func testInteractBuildsControlsAndReruns() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("ui = joule.widgets.interact(function(a) print(a.n, a.k, a.on) end, { n = {0, 10, 2}, k = {'x', 'y'}, on = true, f = {0.0, 1.0} })").ok)
        let kinds = c.opened.filter { !["Layout", "Style"].contains($0.kind) }.map(\.kind)
        XCTAssertEqual(kinds, ["FloatSlider", "Dropdown", "IntSlider", "Checkbox", "Output", "VBox"])
        let output = c.opened.first { $0.kind == "Output" }!
        XCTAssertEqual(output.state["outputs"]?.array?.first?["text"], .string("4\tx\ttrue\n"))
        XCTAssertTrue(s.execute("ui.controls.k.value = 'y'").ok)
        XCTAssertEqual(output.state["outputs"]?.array?.first?["text"], .string("4\ty\ttrue\n"))
    }

    func testClosedWidgetsAreNeitherSyncedNorSaved() throws {
        let (s, c, _) = try session()
        XCTAssertTrue(s.execute("a = joule.widgets.Checkbox{}\nb = joule.widgets.Label{ value = 'kept' }\na:close()").ok)
        let a = c.opened.first { $0.kind == "Checkbox" }!, b = c.opened.first { $0.kind == "Label" }!
        XCTAssertEqual(c.closed, [a.id])
        XCTAssertThrowsError(try s.widgetUpdate(a.id, state: ["value": .bool(true)], buffers: [:]))
        let saved = s.widgets.metadata?["application/vnd.jupyter.widget-state+json"]?["state"]?.object ?? [:]
        XCTAssertNil(saved[a.id])
        XCTAssertNotNil(saved[b.id])
        XCTAssertNotNil(s.execute("a.value = true").error, "a closed widget has no state to set")
    }

    func testOutsideANotebookWidgetsPrintATextForm() throws {
        let host = try ScriptHost(script: nil)
        let lines = try host.lua.run(string: """
            local s = joule.widgets.IntSlider{ description = 'steps', value = 64 }
            s.value = 80
            return tostring(joule.widgets.HBox{ children = { s, joule.widgets.Dropdown{ options = { 'a', 'b' } } } })
            """)
        XCTAssertEqual(lines, [#"HBox(IntSlider(description="steps", value=80), Dropdown(value="a"))"#])
    }
}
