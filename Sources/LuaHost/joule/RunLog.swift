import CLua
import Foundation
import Tensor

/// The folder a run writes into: `-p run=DIR`, or `runs/<script>-<yyyymmdd-hhmmss>`. It is created
/// when first used, so scripts that write nothing leave nothing behind.
public final class RunFolder {
    private let chosen: String
    private var created = false
    /// The run's TensorBoard event file and step (TensorBoardBinding.swift), opened on first use.
    public private(set) lazy var events = RunEvents(folder: self)

    public init(explicit: String?, script: String?, now: Date = Date()) {
        if let explicit, !explicit.isEmpty {
            chosen = explicit
        } else {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_US_POSIX")
            f.dateFormat = "yyyyMMdd-HHmmss"
            let stem = script.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "session"
            chosen = "runs/\(stem)-\(f.string(from: now))"
        }
    }

    /// The run folder of a checkpoint given as `-p resume=DIR`: DIR itself, or its parent when DIR
    /// is a run's `last/` or `best/` checkpoint.
    public static func resumed(_ path: String?) -> String? {
        guard var p = path, !p.isEmpty else { return nil }
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        let ns = p as NSString
        guard ["last", "best"].contains(ns.lastPathComponent) else { return p }
        let parent = ns.deletingLastPathComponent
        return parent.isEmpty ? "." : parent
    }

    /// The folder's path, created on first request.
    public func path() throws -> String {
        if !created {
            do {
                try FileManager.default.createDirectory(atPath: chosen, withIntermediateDirectories: true)
            } catch {
                throw JouleError("cannot create run folder \(chosen): \(error.localizedDescription)")
            }
            created = true
        }
        return chosen
    }

    /// Whether `checkpoint` is a folder directly in this run folder (its last/ or best/).
    public func holds(checkpoint: String) -> Bool {
        let parent = URL(fileURLWithPath: checkpoint).standardizedFileURL.deletingLastPathComponent()
        return parent.path == URL(fileURLWithPath: chosen).standardizedFileURL.path
    }

    /// The size of `log.jsonl` now (0 when there is none): a checkpoint records it, so that a resume
    /// drops the lines logged after that checkpoint was saved (a kill between logging and saving)
    /// instead of repeating them.
    public func logBytes() -> Int {
        var st = stat()
        return stat(chosen + "/log.jsonl", &st) == 0 ? Int(st.st_size) : 0
    }

    /// Cuts `log.jsonl` back to `bytes` when it is longer.
    public func truncateLog(to bytes: Int) throws {
        let file = chosen + "/log.jsonl"
        guard bytes >= 0, logBytes() > bytes else { return }
        guard truncate(file, off_t(bytes)) == 0 else { throw JouleError("cannot truncate \(file): \(String(cString: strerror(errno)))") }
    }

    /// Appends one line to `log.jsonl` in the run folder.
    public func appendLog(_ line: String) throws {
        let file = try path() + "/log.jsonl"
        let fd = open(file, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard fd >= 0 else { throw JouleError("cannot open \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // One write call per line: with O_APPEND a line is never interleaved with another writer's.
        let bytes = Array((line + "\n").utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else {
            throw JouleError("cannot write \(file): \(String(cString: strerror(errno)))")
        }
    }
}

/// Lua values as `JSON` values (written by JSON's one writer), and as the short `key=value` text
/// shown on the terminal. The one conversion from Lua to JSON: logs, results, save_json, widgets.
public enum LuaJSON {
    /// Keys that read best first in a log line; the rest follow alphabetically.
    static let leading = ["epoch", "step", "iteration", "iter", "batch"]

    /// How everything Lua hands over is written (log.jsonl, result.json, save_json): one line, keys
    /// of every object in log order.
    static let style = JSON.Style(keyOrder: { a, b in
        let ia = leading.firstIndex(of: a) ?? leading.count, ib = leading.firstIndex(of: b) ?? leading.count
        return ia != ib ? ia < ib : a < b
    })

    /// The one conversion from JSON to Lua (load_json, widget state): objects become tables with
    /// string keys, arrays lists, null nil (so a null inside an array leaves a hole).
    public static func push(_ L: OpaquePointer, _ v: JSON) {
        // One slot per level of nesting; the parser bounds the depth (JSON.maxDepth).
        lua_checkstack(L, 4)
        switch v {
        case .null: lua_pushnil(L)
        case .bool(let b): lua_pushboolean(L, b ? 1 : 0)
        case .int(let n): lua_pushinteger(L, lua_Integer(n))
        case .double(let d): lua_pushnumber(L, d)
        case .string(let s): let u = Array(s.utf8); lua_pushlstring(L, u, u.count)
        case .array(let a):
            lua_createtable(L, Int32(clamping: a.count), 0)
            for (k, x) in a.enumerated() { push(L, x); lua_rawseti(L, -2, lua_Integer(k + 1)) }
        case .object(let o):
            lua_createtable(L, 0, Int32(clamping: o.count))
            for (k, x) in o { push(L, x); let u = Array(k.utf8); lua_pushlstring(L, u, u.count); lua_rotate(L, -2, 1); lua_settable(L, -3) }
        }
    }

    /// The value at `index` as JSON text.
    static func encode(_ L: OpaquePointer, _ index: Int32) throws -> String { try value(L, index).serialized(style) }

    /// nil, booleans, numbers (integers stay integers), UTF-8 strings, tensors, and tables that are
    /// lists (keys 1...n) or have string keys only, nested at most 32 deep.
    public static func value(_ L: OpaquePointer, _ index: Int32, depth: Int = 0) throws -> JSON {
        let i = lua_absindex(L, index)
        guard depth < 32 else { throw JouleError("table nested too deeply (or cyclic) for JSON") }
        switch lua_type(L, i) {
        case LUA_TNIL: return .null
        case LUA_TBOOLEAN: return .bool(lua_toboolean(L, i) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(L, i) != 0 { return .int(Int(lua_tointegerx(L, i, nil))) }
            return .double(lua_tonumberx(L, i, nil))
        case LUA_TSTRING: return .string(try text(L, i, what: "string"))
        case LUA_TTABLE:
            let n = Int(lua_rawlen(L, i))
            let fields = try self.fields(L, i, depth: depth, listLength: n)
            if n > 0 && fields.isEmpty {
                return .array(try (1...n).map { k -> JSON in
                    lua_rawgeti(L, i, lua_Integer(k)); defer { lua_settop(L, -2) }
                    return try value(L, -1, depth: depth + 1)
                })
            }
            guard n == 0 else { throw JouleError("cannot write a table mixing a list and named fields as JSON") }
            return .object(fields)
        default:
            if let t = LuaObjects.get(L, i, type: TensorBinding.typeName, as: Tensor.self) {
                return t.count == 1 ? .double(Double(t[0])) : tensorJSON(t)
            }
            throw JouleError("cannot write a \(typeName(L, i)) value as JSON")
        }
    }

    /// The named fields of the table at absolute index `i`; keys 1...listLength (its list part) are
    /// passed over, any other key that is not a string is an error. Each value is converted while
    /// lua_next has its key on the stack, never looked up again by a key turned into text: a key
    /// holding a NUL byte would find another key's value.
    /// `each` sees every field's key with its value on top of the stack.
    static func fields(_ L: OpaquePointer, _ i: Int32, depth: Int, listLength n: Int,
                       each: (String) throws -> Void = { _ in }) throws -> [String: JSON] {
        var fields: [String: JSON] = [:]
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            defer { lua_settop(L, -2) }
            if lua_type(L, -2) != LUA_TSTRING {
                if n > 0, lua_isinteger(L, -2) != 0, (1...n).contains(Int(lua_tointegerx(L, -2, nil))) { continue }
                let k = LuaCall.got(L, -2)
                lua_settop(L, -2)  // the value; the defer then pops the key, as the loop ends here
                throw JouleError("cannot write table key \(k) as JSON (keys must be strings)")
            }
            let k = try text(L, -2, what: "key")
            // Distinct Lua strings that are the same Unicode text (é composed and decomposed) would
            // become one key: refused rather than one of them lost.
            guard fields[k] == nil else {
                throw JouleError("cannot write the key \(k.debugDescription) as JSON: the table has another key that is the same Unicode text")
            }
            fields[k] = try value(L, -1, depth: depth + 1)
            try each(k)
        }
        return fields
    }

    /// String keys in log order; other keys are an error (JSON objects have string keys).
    static func tableKeys(_ L: OpaquePointer, _ i: Int32) throws -> [String] {
        var keys: [String] = []
        let n = Int(lua_rawlen(L, i))
        lua_pushnil(L)
        while lua_next(L, i) != 0 {
            lua_settop(L, -2)
            if lua_type(L, -1) == LUA_TSTRING {
                do { keys.append(try text(L, -1, what: "key")) } catch { lua_settop(L, -2); throw error }
            } else if !(lua_isinteger(L, -1) != 0 && (1...Swift.max(n, 1)).contains(Int(lua_tointegerx(L, -1, nil))) && n > 0) {
                let k = LuaCall.got(L, -1)
                lua_settop(L, -2)
                throw JouleError("cannot write table key \(k) as JSON (keys must be strings)")
            }
        }
        return ordered(keys)
    }

    /// A Lua string as JSON text: JSON holds Unicode text, so bytes that are not UTF-8 are refused
    /// rather than replaced (two keys differing only there would become one, and a value would change).
    static func text(_ L: OpaquePointer, _ i: Int32, what: String) throws -> String {
        var len = 0
        let p = lua_tolstring(L, i, &len)!
        let bytes = UnsafeRawBufferPointer(start: p, count: len)
        guard let s = String(validating: bytes, as: UTF8.self) else {
            let shown = String(decoding: bytes.prefix(40), as: UTF8.self).debugDescription
            throw JouleError("cannot write the \(what) \(shown) as JSON: it is not valid UTF-8 text")
        }
        return s
    }

    static func ordered(_ keys: [String]) -> [String] { keys.sorted(by: style.keyOrder) }

    static func tensorJSON(_ t: Tensor) -> JSON {
        var offset = 0
        func build(_ d: Int) -> JSON {
            if t.rank == 0 { return .double(Double(t[0])) }
            return .array((0..<t.shape[d]).map { _ -> JSON in
                if d + 1 == t.rank { defer { offset += 1 }; return .double(Double(t[offset])) }
                return build(d + 1)
            })
        }
        return build(0)
    }

    /// `value` as shown on the terminal: numbers to four significant digits.
    static func short(_ L: OpaquePointer, _ i: Int32) -> String {
        switch lua_type(L, i) {
        case LUA_TNUMBER:
            if lua_isinteger(L, i) != 0 { return String(lua_tointegerx(L, i, nil)) }
            return String(format: "%.4g", lua_tonumberx(L, i, nil))
        case LUA_TSTRING: return LuaCall.stringValue(L, i)
        case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? "true" : "false"
        default:
            if let t = LuaObjects.get(L, i, type: TensorBinding.typeName, as: Tensor.self), t.count == 1 {
                return String(format: "%.4g", Double(t[0]))
            }
            return (try? encode(L, i)) ?? typeName(L, i)
        }
    }
}

enum LogBinding {
    /// Appends the table at `index` (named values) as one JSON line to the run's `log.jsonl`, and
    /// its numbers as TensorBoard scalars (RunEvents.log); returns it as `key=value` text for the terminal.
    static func append(_ call: LuaCall, _ index: Int32, to context: JouleContext) throws -> String {
        let L = call.L
        let i = lua_absindex(L, index)
        let keys = try LuaJSON.tableKeys(L, i)
        guard !keys.isEmpty else { throw call.bad(1, message: "table of named values expected") }
        var shown: [String: String] = [:], numbers: [String: Double] = [:], step: Int64?, event: String?
        // The list part, if any, is not logged; values are read beside their keys (LuaJSON.fields).
        let fields = try LuaJSON.fields(L, i, depth: 0, listLength: Int(lua_rawlen(L, i))) { k in
            shown[k] = LuaJSON.short(L, -1)
            if k == "step", lua_isinteger(L, -1) != 0 {
                step = Int64(lua_tointegerx(L, -1, nil))
            } else if k == "event", lua_type(L, -1) == LUA_TSTRING {
                event = LuaCall.stringValue(L, -1)
            } else if let v = RunEvents.scalar(L, -1) {
                numbers[k] = v
            }
        }
        try context.run.appendLog(JSON.object(fields).serialized(LuaJSON.style))
        let scalars = keys.compactMap { k in numbers[k].map { (k, $0) } }
        // An event's line (the guard's { event = "rollback", ... }) keeps its numbers apart from the curves.
        try context.run.events.log(event.map { e in scalars.map { (e + "/" + $0.0, $0.1) } } ?? scalars, step: step)
        return keys.map { "\($0)=\(shown[$0] ?? "")" }.joined(separator: "  ")
    }

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.setFunction("log", qualified: "joule.log") { call in
            let t = try call.table(1)
            ProgressBar.print(try append(call, t.index, to: context))
            return 0
        }
        lua.setFunction("save_json", qualified: "joule.save_json") { call in
            // joule.save_json(path, value): value (tables, numbers, strings, booleans) as JSON, written
            // to a temporary name and renamed.
            let path = try call.string(1)
            guard !call.isNil(2) else { throw call.bad(2, "table or value") }
            try AtomicFile.write(Data((try LuaJSON.encode(call.L, call.index(2)) + "\n").utf8), to: path)
            return 0
        }
        lua.setFunction("load_json", qualified: "joule.load_json") { call in
            // joule.load_json(path) → the value a JSON file holds (null reads as nil).
            let path = try call.string(1)
            guard let data = FileManager.default.contents(atPath: path) else { throw JouleError("\(path): cannot read the file") }
            do { LuaJSON.push(call.L, try JSON.parse(data)) } catch let e as JSON.ParseError { throw JouleError("\(path): not valid JSON (\(e))") }
            return 1
        }
        lua.setFunction("run_dir", qualified: "joule.run_dir") { call in
            call.push(try context.run.path()); return 1
        }
    }
}

extension LogBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.log", "joule.log{ key = value, ... }",
     "Appends one JSON line to the run folder's log.jsonl, writes its numbers as TensorBoard scalars (at its `step`, else the count of lines; a line with an `event` name files them under `<event>/<key>`) and prints `key=value` pairs on the terminal (numbers to four digits). Values may be numbers, strings, booleans, tables or one-element tensors."),
    ("joule.save_json", "joule.save_json(path, value)",
     "Writes a value (tables, numbers, strings, booleans, tensors) as JSON to `path`, through a temporary file and a rename."),
    ("joule.load_json", "joule.load_json(path) → value",
     "Reads a JSON file (what joule.save_json, the scripts' result files and log lines hold) into Lua values: objects become tables, arrays lists, null nil."),
    ("joule.run_dir", "joule.run_dir() → path",
     "The run folder (`-p run=DIR`, by default runs/<script>-<date-time>), created on first use."),
    ]
}
