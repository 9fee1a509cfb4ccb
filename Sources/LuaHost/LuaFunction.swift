import CLua
import Foundation
import Tensor

/// A Swift function callable from Lua. It reads its arguments through `LuaCall`, pushes its
/// results and returns how many it pushed; a thrown error becomes a Lua error.
public typealias LuaFunction = (LuaCall) throws -> Int32

final class LuaFunctionBox {
    let name: String
    let isMethod: Bool
    let body: LuaFunction
    init(name: String, isMethod: Bool, body: @escaping LuaFunction) {
        self.name = name
        self.isMethod = isMethod
        self.body = body
    }
}

/// A bad argument: `position` counts as Lua does (`self` of a method is 0).
public struct LuaArgumentError: Error {
    public let position: Int
    public let message: String
}

/// An error that already carries its location (for example a Lua callback that failed inside a
/// binding): re-raised unchanged.
public struct LuaPassthroughError: Error {
    public let message: String
}

/// The one C-callable entry point for every Swift binding (see shim.h for why errors are raised
/// by the C trampoline and not here).
let luaDispatch: joule_swift_function = { L, box in
    guard let L, let box else { return 0 }
    let f = Unmanaged<LuaFunctionBox>.fromOpaque(box).takeUnretainedValue()
    let message: String
    var located = false
    do {
        return try f.body(LuaCall(L, name: f.name, isMethod: f.isMethod))
    } catch let e as LuaArgumentError {
        message = e.position == 0
            ? "bad self for '\(f.name)' (\(e.message); call it with ':')"
            : "bad argument #\(e.position) to '\(f.name)' (\(e.message))"
    } catch let e as JouleError {
        message = e.message
        // A Swift call stopped by Ctrl-C delivered the interrupt: the hook the signal installed
        // would otherwise replace this located message with a bare one.
        if e == Interruption.error { lua_sethook(L, nil, 0, 0) }
    } catch let e as LuaPassthroughError {
        message = e.message
        located = true
    } catch let e as LuaScriptError {
        message = e.message
        located = true
    } catch {
        message = "\(f.name): \(error)"
    }
    if located {
        lua_pushstring(L, message)
    } else {
        // Level 1 is the Lua code that called this binding: its `file:line:`.
        luaL_where(L, 1)
        lua_pushstring(L, message)
        lua_concat(L, 2)
    }
    return JOULE_LUA_ERROR
}
