import CConsole
import CLua
import Foundation
import LuaHost

/// `joule`'s interactive Lua console: a prompt with line editing, history and completion
/// (libedit), multi-line statements, values shown as the console formats them, errors that leave
/// the session alive, and Ctrl-C that stops the running statement.
///
/// Everything runs in one `ScriptHost`, so a script run before (`joule -i SCRIPT`) leaves its
/// globals for the session.
public final class Console {
    public let host: ScriptHost
    public var lua: LuaState { host.lua }
    /// Where history is kept between sessions (nil: not kept).
    public let historyPath: String?
    public static let historyLimit = 1000

    private let formatter: Int32
    private var lastHistoryEntry: String?

    /// The console that the C completion callback talks to (one at a time).
    nonisolated(unsafe) static weak var active: Console?

    public init(host: ScriptHost, historyPath: String? = Console.defaultHistoryPath()) {
        self.host = host
        self.historyPath = historyPath
        formatter = ValuePrinter.install(host.lua.L)
        installHelp()
    }

    /// `$JOULE_HISTORY`, else `$HOME/.joule_history`; nil without either.
    public static func defaultHistoryPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let p = environment["JOULE_HISTORY"] { return p.isEmpty ? nil : p }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return (home as NSString).appendingPathComponent(".joule_history")
    }

    public static var banner: String {
        "Joule \(JouleModule.version) (\(LuaState.release)) · help() for help, ?name for a function's documentation, Ctrl-D to leave"
    }

    // MARK: the interactive loop

    /// Reads, runs and shows statements until end of input (Ctrl-D).
    public func interact(banner: Bool = true) {
        Console.active = self
        defer {
            saveHistory()
            joule_console_release_signals()
            Console.active = nil
        }
        joule_console_editor_init(Int32(Console.historyLimit))
        joule_console_completer = consoleComplete
        if let historyPath, FileManager.default.fileExists(atPath: historyPath) {
            _ = joule_console_read_history(historyPath)
        }
        if banner { write(Console.banner + "\n") }

        var buffer: [String] = []
        while true {
            fflush(stdout)
            var interrupted: Int32 = 0
            guard let raw = joule_console_readline(buffer.isEmpty ? "> " : ">> ", &interrupted) else {
                if interrupted != 0 {
                    // Ctrl-C at the prompt drops what was typed, as a shell does.
                    write("\n")
                    buffer = []
                    continue
                }
                write("\n")
                return
            }
            let line = String(cString: raw)
            free(raw)
            remember(line)

            if buffer.isEmpty {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                if trimmed.hasPrefix("?") {
                    showHelp(expression: String(trimmed.dropFirst()))
                    continue
                }
            }
            buffer.append(line)
            let chunk = buffer.joined(separator: "\n")
            if LuaChunk.status(lua, chunk) == .incomplete { continue }
            buffer = []
            evaluate(chunk)
        }
    }

    /// Runs one complete chunk as typed at the prompt: an expression shows its value(s), a
    /// statement runs; an error is shown and the session goes on. Returns false on error.
    @discardableResult
    public func evaluate(_ code: String) -> Bool {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        // The evaluator every front end uses: an expression shows its value(s), else statements run
        // (a chunk whose last lines are an expression shows those, as a notebook cell does).
        var status: Int32 = Evaluator.load(L, code, name: "=stdin") == nil ? LUA_ERRSYNTAX : LUA_OK
        if status == LUA_OK {
            lua.catchInterrupts()
            joule_console_begin_statement(L)
            status = joule_pcall(L, 0, LUA_MULTRET)
            joule_console_end_statement(L)
        }
        guard status == LUA_OK else {
            showError(at: -1)
            return false
        }
        let results = Int(lua_gettop(L) - top)
        guard results > 0 else { return true }
        // The first value is kept as `_` for the next statement (as Python's console does).
        lua_pushvalue(L, top + 1)
        lua_setglobal(L, "_")
        let texts = (1...results).map { ValuePrinter.format(L, top + Int32($0), formatter: formatter) }
        let separator = texts.contains { $0.contains("\n") } ? "\n" : "\t"
        write(texts.joined(separator: separator) + "\n")
        return true
    }

    /// The value of `expression` as the console shows it (errors are thrown).
    public func show(_ expression: String) throws -> String {
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        let code = "return " + expression
        var status = luaL_loadbufferx(L, code, code.utf8.count, "=stdin", "t")
        if status == LUA_OK { status = joule_pcall(L, 0, 1) }
        guard status == LUA_OK else {
            throw LuaScriptError(message: ValuePrinter.format(L, -1, formatter: formatter))
        }
        return ValuePrinter.format(L, -1, formatter: formatter)
    }

    /// The error message (and, when the error came from deeper than the statement itself, the
    /// traceback) on standard error.
    private func showError(at index: Int32) {
        let L = lua.L
        var text: String
        if lua_type(L, index) == LUA_TSTRING {
            var len = 0
            let p = lua_tolstring(L, index, &len)!
            text = String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        } else {
            text = ValuePrinter.format(L, index, formatter: formatter)
        }
        if let r = text.range(of: "\nstack traceback:") {
            let message = String(text[..<r.lowerBound])
            // The traceback only when Lua functions other than the statement itself were running
            // (C frames are the binding or `error` that raised it, and the console's own call).
            let frames = text[r.upperBound...].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0 != "[C]: in ?" && !$0.isEmpty }
            let interesting = frames.filter { !$0.hasPrefix("[C]") && !$0.hasSuffix("in main chunk") }
            text = interesting.isEmpty ? message
                : message + "\nstack traceback:\n" + frames.map { "\t" + $0 }.joined(separator: "\n")
        }
        fflush(stdout)
        FileHandle.standardError.write((text + "\n").data(using: .utf8)!)
    }

    private func write(_ text: String) {
        fputs(text, stdout)
        fflush(stdout)
    }

    // MARK: history

    private func remember(_ line: String) {
        guard !line.trimmingCharacters(in: .whitespaces).isEmpty, line != lastHistoryEntry else { return }
        lastHistoryEntry = line
        joule_console_add_history(line)
        saveHistory() // after every line: a session that is killed keeps what it typed
    }

    private func saveHistory() {
        guard let historyPath else { return }
        _ = joule_console_write_history(historyPath)
    }

    // MARK: completion

    /// Candidates for the word `line[start..<end]` (positions in Unicode scalars, as libedit counts
    /// characters; the cursor at `end`): the shared completer's matches, each turned into a
    /// replacement for the whole word.
    public func completions(line: String, start: Int, end: Int) -> [String] {
        let all = Array(line.unicodeScalars)
        let end = min(max(end, 0), all.count), wordStart = min(max(start, 0), end)
        let scalars = Array(all[..<end])
        let code = String(String.UnicodeScalarView(scalars))
        let result = LuaCompleter.complete(lua, code: code, cursor: scalars.count)
        guard result.start >= wordStart, result.start <= scalars.count else { return [] }
        let lead = String(String.UnicodeScalarView(scalars[wordStart..<result.start]))
        return result.matches.map { lead + $0 }
    }

    // MARK: help

    /// `help()`, `help(value)`, `help("joule.ebm.SGLD")`.
    private func installHelp() {
        let lua = self.lua
        lua.push(function: "help") { call in
            let L = call.L
            let text: String
            if call.count == 0 {
                text = Console.overview
            } else if call.type(1) == LUA_TSTRING {
                let name = String(cString: lua_tolstring(L, call.index(1), nil))
                text = JouleDocs.help(lua, expression: name) ?? "no documentation for '\(name)'"
            } else {
                text = JouleDocs.help(lua, valueAt: call.index(1))
                    ?? "no documentation for this \(String(cString: lua_typename(L, lua_type(L, call.index(1)))))"
                    + " (help() lists what is documented)"
            }
            fputs(text + "\n", stdout)
            fflush(stdout)
            return 0
        }
        lua.setGlobal("help")
    }

    func showHelp(expression: String) {
        let e = expression.trimmingCharacters(in: .whitespaces)
        if e.isEmpty { write(Console.overview + "\n"); return }
        write((JouleDocs.help(lua, expression: e) ?? "no documentation for '\(e)'") + "\n")
    }

    static var overview: String {
        var groups: [String: [String]] = [:]
        for name in JouleDocs.names where name.hasPrefix("joule.") {
            let parts = name.split(separator: ".")
            let group = parts.count > 2 ? parts[0...1].joined(separator: ".") : "joule"
            groups[group, default: []].append(name)
        }
        var text = """
            Joule's Lua console: type Lua statements or expressions; an expression shows its value.
              help(f) or ?name   documentation of a joule function, e.g. help(joule.ebm.SGLD), ?model:energy
              Tab                completes globals, fields and methods
              Ctrl-C             stops a running statement (or clears the line); Ctrl-D leaves
            Documented functions:
            """
        for group in groups.keys.sorted() {
            let names = groups[group]!.map { String($0.dropFirst(group.count + 1)) }
            text += "\n  \(group): " + names.joined(separator: ", ")
        }
        let types = JouleDocs.names.filter { !$0.hasPrefix("joule") && !$0.contains(":") }
        if !types.isEmpty { text += "\nTypes (methods: ?Type:method): " + types.joined(separator: ", ") }
        return text
    }
}

/// The C completion callback: asks the active console, hands the candidates to libedit.
private func consoleComplete(_ line: UnsafePointer<CChar>?, _ start: Int32, _ end: Int32) {
    guard let line, let console = Console.active else { return }
    for c in console.completions(line: String(cString: line), start: Int(start), end: Int(end)) {
        joule_console_add_candidate(c)
    }
}
