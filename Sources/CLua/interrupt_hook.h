#ifndef JOULE_INTERRUPT_HOOK_H
#define JOULE_INTERRUPT_HOOK_H
/* The Lua hook that turns Ctrl-C into a Lua error "file:line: interrupted" at the next instruction;
   set from a signal handler (lua_sethook is async-signal-safe), by the host (shim.h) and the console
   (CConsole). It holds no state, so each C file may have its own copy. Include it after lua.h and
   lauxlib.h (the two targets find them under different paths). */

static inline void joule_interrupt_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    lua_sethook(L, NULL, 0, 0);
    // Level 0 is the interrupted function; when that is a C function, name its Lua caller.
    luaL_where(L, 0);
    if (lua_rawlen(L, -1) == 0) {
        lua_settop(L, -2);
        luaL_where(L, 1);
    }
    lua_pushstring(L, "interrupted");
    lua_concat(L, 2);
    lua_error(L);
}
#endif
