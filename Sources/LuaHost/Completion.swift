import CLua
import Foundation

/// Tab completion over a live Lua state, shared by the Jupyter kernel and the console.
///
/// Given the text and a cursor, it completes the dotted or colon path that ends at the cursor:
/// `pri` → globals and keywords, `joule.ebm.S` → fields of the table `joule.ebm`, `model:en` →
/// methods of the userdata (or table) `model`. Only raw reads are made (no `__index` functions run,
/// no Lua code), so completing can never raise a Lua error or change the state.
///
/// Positions count Unicode scalars (code points), as the Jupyter protocol (5.2+) does.
public enum LuaCompleter {
    public static let keywords = ["and", "break", "do", "else", "elseif", "end", "false", "for", "function",
                                  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
                                  "true", "until", "while"]

    /// Candidates for the word ending at `cursor` in `code`: each match replaces `start..<end`.
    public static func complete(_ lua: LuaState, code: String, cursor: Int) -> (matches: [String], start: Int, end: Int) {
        let scalars = Array(code.unicodeScalars)
        let end = Swift.max(0, Swift.min(cursor, scalars.count))
        guard let path = path(before: end, in: scalars) else { return ([], end, end) }
        let start = end - path.partial.unicodeScalars.count
        let names = candidates(lua, path)
        return (names.filter { $0.hasPrefix(path.partial) }, start, end)
    }

    /// A dotted path before the cursor: `owner` (e.g. ["joule", "ebm"]), how the last part is
    /// reached ("." or ":", nil for a bare name) and the partial name typed so far.
    public struct Path: Equatable {
        public var owner: [String]
        public var separator: Character?
        public var partial: String
    }

    /// A character of a Lua name (ASCII letters, digits, underscore).
    public static func isIdentifierScalar(_ u: Unicode.Scalar) -> Bool { isIdentifier(u) }

    static func isIdentifier(_ u: Unicode.Scalar) -> Bool {
        (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "_"
    }

    /// The path that ends at `end`, or nil where nothing completes (inside a string or comment, after
    /// a call or index, after a number).
    public static func path(before end: Int, in scalars: [Unicode.Scalar]) -> Path? {
        if insideStringOrComment(Array(scalars[..<end])) { return nil }
        var i = end
        while i > 0, isIdentifier(scalars[i - 1]) || scalars[i - 1] == "." || scalars[i - 1] == ":" { i -= 1 }
        let text = String(String.UnicodeScalarView(scalars[i..<end]))
        // `a..b` is concatenation: only the part after the last `..` is a path.
        let token = text.components(separatedBy: "..").last ?? text
        var parts: [String] = []
        var seps: [Character] = []
        var current = ""
        for c in token {
            if c == "." || c == ":" { parts.append(current); seps.append(c); current = "" } else { current.append(c) }
        }
        parts.append(current)
        // A colon may only introduce the last part (`a:b.c` is not a path); no part may be empty
        // except the one being typed; names do not start with a digit.
        if let colon = seps.firstIndex(of: ":"), colon != seps.count - 1 { return nil }
        for (k, p) in parts.enumerated() where k < parts.count - 1 && p.isEmpty { return nil }
        for p in parts where p.first?.isNumber == true { return nil }
        return Path(owner: Array(parts.dropLast()), separator: seps.last, partial: parts.last!)
    }

    /// True when the end of `prefix` lies inside a string literal or a comment (a rough scan of Lua's
    /// short strings, long brackets and `--` comments).
    static func insideStringOrComment(_ s: [Unicode.Scalar]) -> Bool {
        var i = 0
        var quote: Unicode.Scalar?
        while i < s.count {
            let c = s[i]
            if let q = quote {
                if c == "\\" { i += 2; continue }
                if c == q || c == "\n" { quote = nil }
                i += 1; continue
            }
            if c == "\"" || c == "'" { quote = c; i += 1; continue }
            if c == "-", i + 1 < s.count, s[i + 1] == "-" {
                // A long comment `--[==[ ... ]==]` or a line comment.
                if let (close, after) = longBracket(s, i + 2) {
                    guard let e = find(close, in: s, from: after) else { return true }
                    i = e + close.count; continue
                }
                guard let nl = s[i...].firstIndex(of: "\n") else { return true }
                i = nl + 1; continue
            }
            if c == "[", let (close, after) = longBracket(s, i) {
                guard let e = find(close, in: s, from: after) else { return true }
                i = e + close.count; continue
            }
            i += 1
        }
        return quote != nil
    }

    /// `[[` or `[==[` at `i`: the closing bracket and the index after the opening one.
    private static func longBracket(_ s: [Unicode.Scalar], _ i: Int) -> ([Unicode.Scalar], Int)? {
        guard i < s.count, s[i] == "[" else { return nil }
        var j = i + 1, level = 0
        while j < s.count, s[j] == "=" { level += 1; j += 1 }
        guard j < s.count, s[j] == "[" else { return nil }
        return (["]"] + Array(repeating: "=", count: level) + ["]"], j + 1)
    }

    private static func find(_ needle: [Unicode.Scalar], in s: [Unicode.Scalar], from: Int) -> Int? {
        guard needle.count <= s.count else { return nil }
        var i = from
        while i + needle.count <= s.count {
            if Array(s[i..<i + needle.count]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Every name that may follow `path.owner` and its separator (unfiltered, sorted).
    static func candidates(_ lua: LuaState, _ path: Path) -> [String] {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 64) != 0 else { return [] }
        if path.owner.isEmpty {
            pushGlobals(L)
            var names = Set(keys(L, lua_gettop(L), functionsOnly: false))
            names.formUnion(keywords)
            return names.sorted()
        }
        guard resolve(L, path.owner) else { return [] }
        let value = lua_gettop(L)
        let methodsOnly = path.separator == ":"
        var names = Set<String>()
        if lua_type(L, value) == LUA_TTABLE {
            names.formUnion(keys(L, value, functionsOnly: methodsOnly))
        }
        // Inherited names: a metatable's `__methods` (userdata bound from Swift) or its `__index`
        // table, following `__index` tables up to a few levels (Lua classes).
        if methodsOnly || lua_type(L, value) == LUA_TTABLE {
            lua_pushvalue(L, value)
            for _ in 0..<8 {
                guard lua_getmetatable(L, -1) != 0 else { break }
                let meta = lua_gettop(L)
                lua_pushstring(L, "__methods")
                if lua_rawget(L, meta) == LUA_TTABLE { names.formUnion(keys(L, lua_gettop(L), functionsOnly: true)) }
                lua_settop(L, meta)
                lua_pushstring(L, "__index")
                guard lua_rawget(L, meta) == LUA_TTABLE else { break }
                names.formUnion(keys(L, lua_gettop(L), functionsOnly: methodsOnly))
            }
        }
        return names.sorted()
    }

    static func pushGlobals(_ L: OpaquePointer) {
        lua_rawgeti(L, joule_registry_index(), lua_Integer(LUA_RIDX_GLOBALS))
    }

    /// Pushes the value `names` reaches from the globals with raw reads (and `__index` tables);
    /// false (with nothing pushed) when a step is not a table or the field is nil.
    @discardableResult
    public static func resolve(_ L: OpaquePointer, _ names: [String]) -> Bool {
        let top = lua_gettop(L)
        pushGlobals(L)
        for name in names {
            guard rawField(L, name) else { lua_settop(L, top); return false }
        }
        lua_copy(L, -1, top + 1)
        lua_settop(L, top + 1)
        return true
    }

    /// Replaces the value on top with its field `name` (raw, then along `__index` tables and
    /// `__methods`); false when there is none.
    static func rawField(_ L: OpaquePointer, _ name: String) -> Bool {
        let holder = lua_gettop(L)
        var current = holder
        for _ in 0..<8 {
            if lua_type(L, current) == LUA_TTABLE {
                lua_pushstring(L, name)
                if lua_rawget(L, current) != LUA_TNIL { lua_copy(L, -1, holder); lua_settop(L, holder); return true }
                lua_settop(L, -2)
            }
            guard lua_getmetatable(L, current) != 0 else { break }
            let meta = lua_gettop(L)
            lua_pushstring(L, "__methods")
            if lua_rawget(L, meta) == LUA_TTABLE {
                lua_pushstring(L, name)
                if lua_rawget(L, -2) != LUA_TNIL { lua_copy(L, -1, holder); lua_settop(L, holder); return true }
            }
            lua_settop(L, meta)
            lua_pushstring(L, "__index")
            guard lua_rawget(L, meta) == LUA_TTABLE else { break }
            current = lua_gettop(L)
        }
        lua_settop(L, holder - 1)
        return false
    }

    /// String keys of the table at `index` that are Lua names (not keywords).
    static func keys(_ L: OpaquePointer, _ index: Int32, functionsOnly: Bool) -> [String] {
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, index) != 0 {
            defer { lua_settop(L, -2) }
            guard lua_type(L, -2) == LUA_TSTRING else { continue }
            if functionsOnly && lua_type(L, -1) != LUA_TFUNCTION { continue }
            var len = 0
            guard let p = lua_tolstring(L, -2, &len) else { continue }
            let key = String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
            guard let first = key.unicodeScalars.first, !(first >= "0" && first <= "9"),
                  key.unicodeScalars.allSatisfy(isIdentifier), !keywords.contains(key) else { continue }
            out.append(key)
        }
        return out
    }
}

/// Whether a piece of Lua source is a whole chunk, for the console's continuation prompt and the
/// kernel's `is_complete`: Lua's own parser decides (an unfinished block fails at `<eof>`).
public enum LuaChunk {
    public enum Status: Equatable {
        case complete
        /// More lines are needed (an open `function`, `do`, string, or an expression cut short).
        case incomplete
        /// A syntax error that more input cannot fix; the message is Lua's.
        case invalid(String)
    }

    public static func status(_ lua: LuaState, _ code: String) -> Status {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        // An expression (`1 +` is unfinished, `x` is complete) or a block of statements.
        if luaL_loadbufferx(L, "return " + code, ("return " + code).utf8.count, "=stdin", "t") == LUA_OK { return .complete }
        lua_settop(L, top)
        let status = luaL_loadbufferx(L, code, code.utf8.count, "=stdin", "t")
        if status == LUA_OK { return .complete }
        var len = 0
        let message = lua_tolstring(L, -1, &len).map {
            String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self)
        } ?? "syntax error"
        if status == LUA_ERRSYNTAX && message.hasSuffix("<eof>") { return .incomplete }
        return .invalid(message)
    }
}
