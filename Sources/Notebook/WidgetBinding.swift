import CLua
import Foundation
import LuaHost
import JouleCore

/// Where a session's widget models go: the kernel opens a comm per model and sends its changes;
/// `joule notebook run` has nobody to send to (it saves the registry's state at the end).
public protocol WidgetChannel: AnyObject {
    func open(_ model: WidgetModel)
    /// `keys` changed on the kernel's side (nil: all of them).
    func update(_ model: WidgetModel, keys: [String]?)
    /// Whether the front end's next change of `id` already waits (joule.widgets.superseded).
    func pendingUpdate(_ id: String) -> Bool
    /// The kernel closes the model's comm (`w:close()`).
    func close(_ model: WidgetModel)
}

/// The notebook backend of `joule.widgets` (LuaHost/WidgetsLibrary): ipywidgets models in a
/// `WidgetRegistry`, synced through the channel. No numerics here: values in, JSON out.
final class WidgetBinding {
    let registry = WidgetRegistry()
    weak var channel: WidgetChannel?
    unowned let session: LuaSession
    /// Output captures under way (innermost last): the sink each replaced, and its own (held
    /// here: the session holds its sink weakly).
    private var captures: [(saved: CellOutputSink?, sink: OutputWidgetSink)] = []
    private var changedRef: Int32 = LUA_NOREF, clickedRef: Int32 = LUA_NOREF

    init(session: LuaSession) { self.session = session }

    func model(_ call: LuaCall, _ n: Int = 1) throws -> WidgetModel {
        let id = try call.string(n)
        guard let m = registry.models[id] else { throw JouleError("no widget '\(id)'") }
        return m
    }

    func install() throws {
        let lua = session.lua, L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_getfield(L, joule_registry_index(), WidgetsLibrary.internalKey)
        let widgets = lua_gettop(L)
        lua_getfield(L, widgets, "changed"); changedRef = luaL_ref(L, joule_registry_index())
        lua_getfield(L, widgets, "clicked"); clickedRef = luaL_ref(L, joule_registry_index())
        lua_createtable(L, 0, 8)
        let backend = lua_gettop(L)
        func set(_ name: String, _ f: @escaping LuaFunction) {
            lua.push(function: "joule.widgets." + name, f)
            lua_setfield(L, backend, name)
        }
        set("create") { [unowned self] call in
            let kind = try call.string(1)
            guard WidgetSpec.kinds.contains(kind) else { throw JouleError("no widget kind '\(kind)'") }
            let layout = WidgetModel(id: WidgetRegistry.newID(), kind: "Layout", state: WidgetSpec.layoutState)
            let style = WidgetSpec.styleModel(kind).map { WidgetModel(id: WidgetRegistry.newID(), kind: "Style", state: WidgetSpec.styleState($0)) }
            let m = WidgetModel(id: WidgetRegistry.newID(), kind: kind, state: WidgetSpec.state(kind, layout: layout.id, style: style?.id)!)
            // The options first: a mistyped one is refused before any model exists.
            var change: [String: JSON] = [:]
            for key in try WidgetBinding.keys(call.L, call.index(2)) where !(kind == "Image" && key == "value") {
                lua_getfield(call.L, call.index(2), key)
                defer { lua_settop(call.L, -2) }
                guard let old = m.state[key], !WidgetSpec.isHeader(key), key != "layout", key != "style" else {
                    throw JouleError("joule.widgets.\(kind): no option '\(key)'\(suggestion(for: key, among: WidgetBinding.options(m)))")
                }
                change[key] = try WidgetBinding.json(call.L, -1, like: old, key: key)
            }
            try m.validate(change)
            m.state.merge(change) { $1 }
            if kind == "Image" {
                // The PNG (bytes, or empty) travels as a buffer, as ipywidgets sends bytes.
                lua_getfield(call.L, call.index(2), "value")
                m.buffers["value"] = LuaSession.bytes(call.L, -1) ?? Data()
                lua_settop(call.L, -2)
            }
            for x in [layout, style, m].compactMap({ $0 }) {
                registry.add(x)
                channel?.open(x)
            }
            call.push(m.id)
            return 1
        }
        set("get") { [unowned self] call in
            let m = try model(call)
            let key = try call.string(2)
            if let b = m.buffers[key] {
                b.withUnsafeBytes { _ = lua_pushlstring(call.L, $0.baseAddress?.assumingMemoryBound(to: CChar.self), b.count) }
            } else {
                LuaJSON.push(call.L, m.state[key] ?? .null)
            }
            return 1
        }
        set("set") { [unowned self] call in
            let m = try model(call)
            let key = try call.string(2)
            guard let old = m.state[key] else { throw JouleError("\(m.kind) has no '\(key)'\(suggestion(for: key, among: WidgetBinding.options(m)))") }
            let value = try WidgetBinding.json(call.L, call.index(3), like: old, key: key)
            try m.validate([key: value])
            m.state[key] = value
            channel?.update(m, keys: [key])
            return 0
        }
        set("set_bytes") { [unowned self] call in
            let m = try model(call)
            let key = try call.string(2)
            var len = 0
            guard let p = lua_tolstring(call.L, call.index(3), &len) else { throw JouleError("set_bytes: bytes expected") }
            m.buffers[key] = Data(bytes: p, count: len)
            channel?.update(m, keys: [key])
            return 0
        }
        set("capture_begin") { [unowned self] call in
            let m = try model(call)
            guard m.kind == "Output" else { throw JouleError("capture: \(m.kind) is not an Output") }
            session.syncOutput()
            let sink = OutputWidgetSink(model: m, binding: self)
            captures.append((session.sink, sink))
            session.sink = sink
            return 0
        }
        set("capture_end") { [unowned self] call in
            _ = try model(call)
            session.syncOutput()
            if !call.isNil(2) {
                // The error of the captured code, shown in the area.
                let text = try call.string(2)
                let lines = text.components(separatedBy: "\n")
                session.sink?.error(CellError(ename: "LuaError", evalue: lines[0], traceback: lines))
            }
            if let c = captures.popLast() { session.sink = c.saved }
            return 0
        }
        set("pending") { [unowned self] call in
            call.push(channel?.pendingUpdate(try call.string(1)) ?? false)
            return 1
        }
        set("close") { [unowned self] call in
            let m = try model(call)
            registry.remove(m.id)
            channel?.close(m)
            return 0
        }
        set("clear") { [unowned self] call in
            let m = try model(call)
            guard m.kind == "Output" else { throw JouleError("clear: \(m.kind) is not an Output") }
            session.syncOutput()
            OutputWidgetSink(model: m, binding: self).clearOutput(wait: false)
            return 0
        }
        lua_setfield(L, widgets, "backend")
    }

    // MARK: changes from the front end

    /// Applies a front end's `update` (WidgetModel.update); the keys that changed.
    func apply(_ m: WidgetModel, state: [String: JSON], buffers: [String: Data]) throws -> [String] {
        try m.update(state, buffers: buffers)
    }

    /// Runs the Lua callbacks of the changed keys (a value's on_change).
    func notify(_ m: WidgetModel, keys: [String]) {
        for key in keys where key == "value" || key == "index" {
            call(changedRef) { L in
                lua_pushstring(L, m.id); lua_pushstring(L, key)
                LuaJSON.push(L, m.state[key] ?? .null)
                return 3
            }
        }
    }

    func clicked(_ m: WidgetModel) {
        call(clickedRef) { L in lua_pushstring(L, m.id); return 1 }
    }

    /// Calls a Lua function of the library; an error (a callback's) goes to the sink as an error.
    private func call(_ ref: Int32, _ args: (OpaquePointer) -> Int32) {
        let L = session.lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        lua_rawgeti(L, joule_registry_index(), lua_Integer(ref))
        let n = args(L)
        if joule_pcall(L, n, 0) != LUA_OK {
            let text = (LuaSession.string(L, -1) ?? "")
            session.syncOutput()
            let lines = text.components(separatedBy: "\n")
            session.sink?.error(CellError(ename: "LuaError", evalue: lines[0], traceback: lines))
        }
    }

    // MARK: Lua ⇄ JSON

    static func options(_ m: WidgetModel) -> [String] {
        m.state.keys.filter { !WidgetSpec.isHeader($0) && !$0.hasPrefix("_") && $0 != "layout" && $0 != "style" }.sorted()
    }

    static func keys(_ L: OpaquePointer, _ i: Int32) throws -> [String] {
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            lua_settop(L, -2)
            guard lua_type(L, -1) == LUA_TSTRING else { lua_settop(L, -2); throw JouleError("widget options are named (name = value)") }
            out.append((LuaSession.string(L, -1) ?? ""))
        }
        return out.sorted()
    }

    /// A Lua value as JSON (LuaJSON's conversion); `like` (the key's current value) tells a list
    /// from an object for an empty table and a float from an integer. Numbers must be finite.
    static func json(_ L: OpaquePointer, _ index: Int32, like: JSON?, key: String) throws -> JSON {
        let v: JSON
        do { v = try LuaJSON.value(L, index) } catch let e as JouleError { throw JouleError("'\(key)': \(e.message)") }
        func finite(_ j: JSON) -> Bool {
            switch j {
            case .double(let d): return d.isFinite
            case .array(let a): return a.allSatisfy(finite)
            case .object(let o): return o.values.allSatisfy(finite)
            default: return true
            }
        }
        guard finite(v) else { throw JouleError("'\(key)' must be a finite number") }
        switch (v, like) {
        case (.int(let i), .double?): return .double(Double(i))
        case (.object(let o), .array?) where o.isEmpty: return .array([])
        default: return v
        }
    }
}

/// What an Output widget's capture writes: the area's `outputs` (nbformat outputs), sent to the
/// front end after each change. Streams arrive on the capture thread, hence the lock.
final class OutputWidgetSink: CellOutputSink {
    let model: WidgetModel
    unowned let binding: WidgetBinding
    private static let lock = NSLock()
    init(model: WidgetModel, binding: WidgetBinding) { self.model = model; self.binding = binding }

    /// Changes the outputs and sends them, under the lock throughout (the capture thread's
    /// streams and the main thread's pictures may meet here).
    private func change(_ f: (inout [JSON]) -> Void) {
        OutputWidgetSink.lock.lock()
        defer { OutputWidgetSink.lock.unlock() }
        var outputs = model.state["outputs"]?.array ?? []
        f(&outputs)
        model.state["outputs"] = .array(outputs)
        binding.channel?.update(model, keys: ["outputs"])
    }

    func stream(name: String, text: String) {
        change { o in
            if let last = o.last, last["output_type"]?.string == "stream", last["name"]?.string == name, let old = last["text"]?.string {
                o[o.count - 1]["text"] = .string(old + text)
            } else {
                o.append(.object(["output_type": .string("stream"), "name": .string(name), "text": .string(text)]))
            }
        }
    }

    func display(data: [String: JSON]) {
        change { $0.append(.object(["output_type": .string("display_data"), "data": .object(data), "metadata": .object([:])])) }
    }

    func clearOutput(wait: Bool) { change { $0 = [] } }

    func error(_ e: CellError) {
        change { $0.append(.object(["output_type": .string("error"), "ename": .string(e.ename), "evalue": .string(e.evalue),
                                   "traceback": .array(e.traceback.map(JSON.string))])) }
    }

    func input(prompt: String, password: Bool) throws -> String {
        throw JouleError("io.read: no input inside a widget's Output area")
    }
}
