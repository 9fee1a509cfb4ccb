import CLua
import Foundation
import Tensor

/// A Lua error that reached the host: the message as Lua reports it (`script.lua:LINE: message`)
/// and the traceback, kept apart so callers can print either.
public struct LuaScriptError: Error, CustomStringConvertible {
    public let message: String
    public let traceback: String
    public init(message: String, traceback: String = "") {
        self.message = message
        self.traceback = traceback
    }
    public var description: String { traceback.isEmpty ? message : message + "\n" + traceback }
}

/// One Lua 5.4 interpreter with the standard libraries open.
///
/// Swift closures registered as Lua functions are owned here and live as long as the state.
public final class LuaState {
    public let L: OpaquePointer
    private var functions: [Unmanaged<LuaFunctionBox>] = []

    public static let release = String(cString: joule_lua_release())

    public init() {
        guard let L = luaL_newstate() else { fatalError("Lua: cannot allocate a state") }
        self.L = L
        luaL_openlibs(L)
    }

    deinit {
        lua_close(L)
        for f in functions { f.release() }
    }

    /// Runs a script file; the chunk gets `args` as `...`.
    public func run(file path: String, args: [String] = []) throws {
        // "@path" makes Lua name the chunk by its file, so messages read `path:LINE: message`.
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw LuaScriptError(message: "cannot open \(path) (no such file or not readable)")
        }
        try check(luaL_loadfilex(L, path, "t"))
        for a in args { lua_pushstring(L, a) }
        try check(joule_pcall(L, Int32(args.count), 0))
    }

    /// Runs a chunk of source code named `name` in messages; returns its results as strings.
    @discardableResult
    public func run(string source: String, name: String = "=(string)") throws -> [String] {
        let top = lua_gettop(L)
        try check(luaL_loadbufferx(L, source, source.utf8.count, name, "t"))
        try check(joule_pcall(L, 0, LUA_MULTRET))
        defer { lua_settop(L, top) }
        return (top + 1 ..< lua_gettop(L) + 1).map { describe(L, $0) }
    }

    /// Pops an error left by a failed load or call and throws it.
    private func check(_ status: Int32) throws {
        guard status != LUA_OK else { return }
        let text = lua_type(L, -1) == LUA_TSTRING ? String(cString: lua_tolstring(L, -1, nil))
                                                  : "(error object is a \(typeName(L, -1)) value)"
        lua_settop(L, -2)
        if let r = text.range(of: "\nstack traceback:") {
            throw LuaScriptError(message: String(text[..<r.lowerBound]),
                                 traceback: String(text[text.index(after: r.lowerBound)...]))
        }
        throw LuaScriptError(message: text)
    }

    /// Makes `f` callable from Lua: pushes it as a function value.
    /// A method sees `self` as argument #0 and its first argument as #1, as Lua's messages count.
    public func push(function name: String, isMethod: Bool = false, _ f: @escaping LuaFunction) {
        let box = Unmanaged.passRetained(LuaFunctionBox(name: name, isMethod: isMethod, body: f))
        functions.append(box)
        joule_push_swift_function(L, luaDispatch, box.toOpaque())
    }

    /// Sets `table[name] = f` for the table at the top of the stack.
    public func setFunction(_ name: String, qualified: String? = nil, isMethod: Bool = false,
                            _ f: @escaping LuaFunction) {
        push(function: qualified ?? name, isMethod: isMethod, f)
        lua_setfield(L, -2, name)
    }

    public func setGlobal(_ name: String) { lua_setglobal(L, name) }

    /// Installs the Ctrl-C handler for this state (see shim.h): one interrupt stops the script at
    /// its next instruction and long Swift calls at their next step (`Interruption`); for a script
    /// that handles interrupts itself (`handleInterruptsPolitely`) one asks politely, two stop it.
    /// (Never inlined: the C statics behind these must be used from this file's object only.)
    @inline(never) public func catchInterrupts() {
        joule_install_interrupt_handler(L)
        Interruption.stopRequested = { LuaState.stopNow() }
    }
    @inline(never) public func releaseInterrupts() {
        joule_remove_interrupt_handler()
        Interruption.stopRequested = { false }
    }
    @inline(never) public static func interruptCount() -> Int { Int(joule_interrupt_count()) }
    @inline(never) public static func handleInterruptsPolitely() { joule_interrupt_be_polite() }
    @inline(never) static func stopNow() -> Bool { joule_interrupt_stop_now() != 0 }
    public static var interruptRequested: Bool { interruptCount() > 0 }
}

/// The text `tostring` gives for the value at `index`; a failing `__tostring` gives its error
/// instead of unwinding through Swift.
func describe(_ L: OpaquePointer, _ index: Int32) -> String {
    let i = lua_absindex(L, index)
    lua_getglobal(L, "tostring")
    lua_pushvalue(L, i)
    defer { lua_settop(L, -2) }
    guard joule_pcall(L, 1, 1) == LUA_OK, let s = lua_tolstring(L, -1, nil) else {
        return "(unprintable \(typeName(L, i)))"
    }
    return String(cString: s)
}

/// The value's type as Lua messages name it: the metatable's `__name` for userdata (e.g. "Tensor").
func typeName(_ L: OpaquePointer, _ index: Int32) -> String {
    let t = luaL_getmetafield(L, index, "__name")
    if t == LUA_TSTRING {
        let s = String(cString: lua_tolstring(L, -1, nil))
        lua_settop(L, -2)
        return s
    }
    if t != LUA_TNIL { lua_settop(L, -2) }
    return String(cString: lua_typename(L, lua_type(L, index)))
}
