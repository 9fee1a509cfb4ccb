import CLua
import Foundation
import Tensor

/// Swift objects inside Lua userdata: the userdata holds one retained reference, which its `__gc`
/// releases. The metatable's `__name` is the type name Lua messages use ("Tensor", "ShallowCNN").
enum LuaObjects {
    private typealias Slot = UnsafeMutableRawPointer?

    static func push(_ L: OpaquePointer, _ object: AnyObject, type: String) {
        let raw = lua_newuserdatauv(L, MemoryLayout<Slot>.size, 0)!
        raw.storeBytes(of: Unmanaged.passRetained(object).toOpaque(), as: Slot.self)
        luaL_setmetatable(L, type)
        // The collector sees only this small userdata, not the tensor's storage: without this, a
        // loop that makes a tensor per step would pile up garbage (a gigabyte in a 60-step SGLD loop).
        if let t = object as? Tensor, t.count >= 1024 { joule_gc_step(L, Int32(min(t.count / 256, 1 << 20))) }
    }

    /// The object at `index` if it is userdata of `type` and still alive.
    static func get<T: AnyObject>(_ L: OpaquePointer, _ index: Int32, type: String, as: T.Type = T.self) -> T? {
        guard let raw = luaL_testudata(L, index, type),
              let p = raw.load(as: Slot.self) else { return nil }
        return Unmanaged<AnyObject>.fromOpaque(p).takeUnretainedValue() as? T
    }

    /// `__gc`: releases the reference and clears the slot, so a resurrected userdata reads as dead
    /// instead of dangling.
    static func collect(_ L: OpaquePointer, _ index: Int32) {
        guard let raw = lua_touserdata(L, index), lua_rawlen(L, index) == MemoryLayout<Slot>.size,
              let p = raw.load(as: Slot.self) else { return }
        raw.storeBytes(of: nil, as: Slot.self)
        Unmanaged<AnyObject>.fromOpaque(p).release()
    }
}

/// A userdata type: its metatable, methods and metamethods.
public struct LuaClass {
    public let name: String
    public var methods: [(String, LuaFunction)] = []
    public var metamethods: [(String, LuaFunction)] = []
    /// Called for keys that are not methods (e.g. numeric indexing); nil when there is none.
    public var fallbackIndex: LuaFunction?

    public init(name: String) { self.name = name }

    public mutating func method(_ n: String, _ f: @escaping LuaFunction) { methods.append((n, f)) }
    public mutating func meta(_ n: String, _ f: @escaping LuaFunction) { metamethods.append((n, f)) }
}

extension LuaState {
    /// Creates the metatable of `cls` in the registry.
    public func define(_ cls: LuaClass) {
        luaL_newmetatable(L, cls.name)
        let meta = lua_gettop(L)
        lua_createtable(L, 0, Int32(cls.methods.count))
        for (n, f) in cls.methods { setFunction(n, qualified: "\(cls.name):\(n)", isMethod: true, f) }
        // The methods table stays reachable as `__methods` (completion and help read it raw, even
        // when `__index` is a function).
        lua_pushvalue(L, -1)
        lua_setfield(L, meta, "__methods")
        if let fallback = cls.fallbackIndex {
            // __index(self, key): a method if one has that name, else the fallback.
            lua_pushvalue(L, -1)
            let methodsRef = luaL_ref(L, joule_registry_index())
            push(function: "\(cls.name).__index") { call in
                let L = call.L
                lua_rawgeti(L, joule_registry_index(), lua_Integer(methodsRef))
                lua_pushvalue(L, 2)
                if lua_rawget(L, -2) != LUA_TNIL { return 1 }
                lua_settop(L, 2)
                return try fallback(call)
            }
            lua_setfield(L, meta, "__index")
            lua_settop(L, meta)
        } else {
            lua_setfield(L, meta, "__index")
        }
        for (n, f) in cls.metamethods { setFunction(n, qualified: "\(cls.name).\(n)", f) }
        push(function: "\(cls.name).__gc") { call in
            LuaObjects.collect(call.L, 1)
            return 0
        }
        lua_setfield(L, meta, "__gc")
        lua_settop(L, meta - 1)
    }
}
