import CLua
import Foundation
import LuaHost
import JouleCore

/// Where a running cell's outputs go: the notebook runner collects them into the cell, the kernel
/// publishes them on IOPub.
public protocol CellOutputSink: AnyObject {
    /// Text written to "stdout" or "stderr".
    func stream(name: String, text: String)
    /// A rich output (`display_data`): MIME type → data (text, or base64 for images).
    func display(data: [String: JSON])
    /// `joule.clear_output(wait)`.
    func clearOutput(wait: Bool)
    /// An error that is not the cell's own (a widget callback's).
    func error(_ e: CellError)
    /// A line typed by the user for `io.read`; throws when there is nobody to ask.
    func input(prompt: String, password: Bool) throws -> String
}

/// What running one cell gave.
public struct CellOutcome {
    /// The cell's value as `execute_result` data (nil when it has none).
    public var result: [String: JSON]?
    public var error: CellError?
    public var ok: Bool { error == nil }
}

public struct CellError: Error {
    public var ename: String
    public var evalue: String
    public var traceback: [String]
}

/// One Lua state with the `joule` module in which cells run one after another, as a notebook runs
/// them: globals persist, a cell's final expression is its value (as the Lua REPL shows it), figures
/// and `joule.display(x)` become pictures, `io.read` asks the sink.
public final class LuaSession {
    public let host: ScriptHost
    public var lua: LuaState { host.lua }
    /// Where outputs of the cell now running go.
    public weak var sink: CellOutputSink?
    /// Set while a cell runs (for `joule.display` to order its pictures after earlier text).
    private var capture: OutputCapture?
    private var reprRef: Int32 = LUA_NOREF
    /// `joule.widgets`' models (the notebook backend).
    public private(set) var widgets: WidgetRegistry!
    var widgetBinding: WidgetBinding!
    /// Where widget models are opened and synced (the kernel); nil in `joule notebook run`.
    public var widgetChannel: WidgetChannel? {
        get { widgetBinding.channel }
        set { widgetBinding.channel = newValue }
    }
    private var declaredRef: Int32 = LUA_NOREF

    /// `parameters` are `key=value` texts as `-p` gives them (seen by `joule.params`).
    public init(parameters: [String] = [], notebookPath: String? = nil) throws {
        host = try ScriptHost(script: notebookPath, parameters: parameters)
        try installHelpers()
        widgetBinding = WidgetBinding(session: self)
        widgets = widgetBinding.registry
        try widgetBinding.install()
    }

    /// Hands on the output captured so far (before a picture or an Output area's switch).
    func syncOutput() { capture?.sync() }

    func displayData(_ data: [String: JSON]) {
        capture?.sync()
        sink?.display(data: data)
    }

    /// Runs `body` (a widget callback between cells) with standard output and error captured
    /// for the sink, as a cell's are.
    public func withCapturedOutput(_ body: () -> Void) {
        guard capture == nil else { return body() }
        // As for a cell: an interrupt that came after the last one ended must not stop this.
        lua_sethook(lua.L, nil, 0, 0)
        lua.catchInterrupts()
        let c = OutputCapture { [weak self] stream, text in self?.sink?.stream(name: stream, text: text) }
        do { try c.begin() } catch { return body() }
        capture = c
        body()
        c.end()
        capture = nil
    }

    /// A front end's change of widget `id`: applied (or refused whole), the keys that changed.
    public func widgetUpdate(_ id: String, state: [String: JSON], buffers: [String: Data]) throws -> [String] {
        guard let m = widgets.models[id] else { throw NotebookError("no widget '\(id)'") }
        return try widgetBinding.apply(m, state: state, buffers: buffers)
    }

    /// Runs the callbacks for a change of widget `id` (their output captured as a cell's).
    public func widgetNotify(_ id: String, keys: [String]) {
        guard let m = widgets.models[id] else { return }
        withCapturedOutput { widgetBinding.notify(m, keys: keys) }
    }

    /// A front end's custom message for widget `id` (a button's click).
    public func widgetCustom(_ id: String, content: JSON) throws {
        guard let m = widgets.models[id] else { throw NotebookError("no widget '\(id)'") }
        guard content["event"]?.string == "click", m.kind == "Button" else {
            throw NotebookError("widget \(id) (\(m.kind)): unknown custom message \(content.serialized())")
        }
        withCapturedOutput { widgetBinding.clicked(m) }
    }

    // MARK: running cells

    /// Runs `code` as one cell named `name` in messages (e.g. "cell[3]"). Output captured from
    /// standard output and error goes to the sink while it runs.
    public func execute(_ code: String, name: String = "cell", captureOutput: Bool = true) -> CellOutcome {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        // A stale interrupt (one that arrived after the last cell ended) must not stop this one.
        lua_sethook(L, nil, 0, 0)
        lua.catchInterrupts()
        var capture: OutputCapture?
        if captureOutput {
            let c = OutputCapture { [weak self] stream, text in self?.sink?.stream(name: stream, text: text) }
            do { try c.begin(); capture = c } catch { return CellOutcome(result: nil, error: CellError(ename: "JouleError", evalue: "\(error)", traceback: ["\(error)"])) }
        }
        self.capture = capture
        defer {
            capture?.end()
            self.capture = nil
        }

        guard let chunk = Evaluator.load(lua.L, code, name: "=" + name) else {
            // The syntax error is on the stack.
            return CellOutcome(result: nil, error: errorOnStack(L, interrupted: false))
        }
        _ = chunk
        let status = joule_pcall(L, 0, LUA_MULTRET)
        let interrupted = LuaState.interruptCount() > 0
        fflush(stdout)
        if status != LUA_OK {
            capture?.sync()
            return CellOutcome(result: nil, error: errorOnStack(L, interrupted: interrupted))
        }
        capture?.sync()
        var texts: [String] = []
        var result: [String: JSON]?
        let n = lua_gettop(L) - top
        if n > 0 {
            for i in (top + 1)...(top + n) {
                let data = represent(i)
                if data.isEmpty { continue }
                if data["image/png"] != nil || data["application/vnd.jupyter.widget-view+json"] != nil { sink?.display(data: data) } else { texts.append(data["text/plain"]?.string ?? "") }
            }
            if !texts.isEmpty { result = ["text/plain": .string(texts.joined(separator: "\t"))] }
        }
        return CellOutcome(result: result, error: nil)
    }

    private func errorOnStack(_ L: OpaquePointer, interrupted: Bool) -> CellError {
        var len = 0
        let text: String
        if lua_type(L, -1) == LUA_TSTRING, let p = lua_tolstring(L, -1, &len) {
            text = String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        } else {
            text = "(error object is a \(String(cString: lua_typename(L, lua_type(L, -1)))) value)"
        }
        lua_settop(L, -2)
        var message = text, trace: [String] = []
        if let r = text.range(of: "\nstack traceback:") {
            message = String(text[..<r.lowerBound])
            trace = text[text.index(after: r.lowerBound)...].components(separatedBy: "\n")
                // Frames of the host's own calls say nothing to the reader.
                .filter { !$0.hasPrefix("\t[C]: in ?") }
        }
        let ename = interrupted || message.hasSuffix("interrupted") ? "Interrupted" : "LuaError"
        return CellError(ename: ename, evalue: message, traceback: [message] + trace)
    }

    // MARK: values

    /// The MIME bundle for the value at `index`: `image/png` (base64) and `text/plain` for a
    /// figure, `text/plain` otherwise (tables readably, depth-limited; tensors by their summary).
    public func represent(_ index: Int32) -> [String: JSON] {
        let L = lua.L
        let i = lua_absindex(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var data: [String: JSON] = [:]
        lua_rawgeti(L, joule_registry_index(), lua_Integer(reprRef))
        lua_pushvalue(L, i)
        if joule_pcall(L, 1, 3) == LUA_OK {
            if let id = LuaSession.string(L, -1) {
                return WidgetRegistry.viewData(id, text: LuaSession.string(L, -3) ?? "widget")
            }
            lua_settop(L, -2)
            if let s = LuaSession.string(L, -2) { data["text/plain"] = .string(s) }
            if lua_type(L, -1) == LUA_TSTRING, let png = LuaSession.bytes(L, -1) {
                data["image/png"] = .string(png.base64EncodedString())
            }
        } else {
            data["text/plain"] = .string(LuaSession.string(L, -1) ?? "(unprintable value)")
        }
        return data
    }

    static func string(_ L: OpaquePointer, _ i: Int32) -> String? {
        guard let d = bytes(L, i) else { return nil }
        return String(decoding: d, as: UTF8.self)
    }

    static func bytes(_ L: OpaquePointer, _ i: Int32) -> Data? {
        guard lua_type(L, i) == LUA_TSTRING || lua_type(L, i) == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { return nil }
        return Data(bytes: p, count: len)
    }

    /// Evaluates `expression` (Jupyter's user_expressions) to its MIME bundle, or an error.
    public func evaluate(_ expression: String) -> Result<[String: JSON], CellError> {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let code = "return " + expression
        guard luaL_loadbufferx(L, code, code.utf8.count, "=expression", "t") == LUA_OK,
              joule_pcall(L, 0, 1) == LUA_OK else {
            return .failure(errorOnStack(L, interrupted: false))
        }
        return .success(represent(-1))
    }

    // MARK: parameters

    /// Names declared by `joule.params{...}` in this session so far.
    public func declaredParameterNames() -> [String] {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(declaredRef))
        guard joule_pcall(L, 0, 1) == LUA_OK, lua_type(L, -1) == LUA_TTABLE else { return [] }
        var names: [String] = []
        let n = luaL_len(L, -1)
        if n > 0 {
            for i in 1...n {
                lua_rawgeti(L, -1, i)
                if let s = LuaSession.string(L, -1) { names.append(s) }
                lua_settop(L, -2)
            }
        }
        return names
    }

    /// Whether the global `name` holds a value.
    public func hasGlobal(_ name: String) -> Bool {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(LUA_RIDX_GLOBALS))
        lua_getfield(L, -1, name)
        return lua_type(L, -1) != LUA_TNIL
    }

    // MARK: helpers written in Lua


    private func installHelpers() throws {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let source = EmbeddedLua.notebook
        guard luaL_loadbufferx(L, source, source.utf8.count, "@joule/notebook.lua", "t") == LUA_OK else {
            throw NotebookError("notebook helpers: \(LuaSession.string(L, -1) ?? "?")")
        }
        lua.push(function: "joule.display") { [unowned self] call in
            let data = self.represent(call.index(1))
            self.capture?.sync()
            self.sink?.display(data: data)
            return 0
        }
        lua.push(function: "joule.clear_output") { [unowned self] call in
            self.capture?.sync()
            self.sink?.clearOutput(wait: lua_toboolean(call.L, call.index(1)) != 0)
            return 0
        }
        lua.push(function: "io.read") { [unowned self] call in
            self.capture?.sync()
            guard let sink = self.sink else { throw JouleError("io.read: there is no input here") }
            call.push(try sink.input(prompt: "", password: false))
            return 1
        }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(ValuePrinter.install(L, maxDepth: 3, maxItems: 40)))
        lua.push(function: "joule.set_params") { call in
            try Parameters.pushConverted(call, key: try call.string(1), value: 2, default: 3)
            return 1
        }
        guard joule_pcall(L, 5, 2) == LUA_OK else {
            throw NotebookError("notebook helpers: \(LuaSession.string(L, -1) ?? "?")")
        }
        declaredRef = luaL_ref(L, joule_registry_index())
        reprRef = luaL_ref(L, joule_registry_index())
    }
}

