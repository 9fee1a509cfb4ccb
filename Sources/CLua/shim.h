#include <lua.h>
#include <lualib.h>
#include <lauxlib.h>
#include <signal.h>

// Lua raises errors with longjmp. Swift frames must never be jumped over (their cleanups would be
// skipped), so Swift bindings never call lua_error themselves: they push the message and return
// JOULE_LUA_ERROR to this trampoline, which raises the error after Swift has returned.
#define JOULE_LUA_ERROR (-1)

typedef int (*joule_swift_function)(lua_State *L, void *box);

static inline int joule_trampoline(lua_State *L) {
    joule_swift_function f = (joule_swift_function)lua_touserdata(L, lua_upvalueindex(1));
    void *box = lua_touserdata(L, lua_upvalueindex(2));
    int n = f(L, box);
    if (n == JOULE_LUA_ERROR) return lua_error(L);
    return n;
}

/// Pushes a Lua function that calls `f(L, box)` through the trampoline.
static inline void joule_push_swift_function(lua_State *L, joule_swift_function f, void *box) {
    lua_pushlightuserdata(L, (void *)f);
    lua_pushlightuserdata(L, box);
    lua_pushcclosure(L, joule_trampoline, 2);
}

/// Message handler for lua_pcall: the error message followed by a traceback (as lua.c does).
static inline int joule_message_handler(lua_State *L) {
    const char *msg = lua_tolstring(L, 1, NULL);
    if (msg == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) {
            msg = lua_tolstring(L, -1, NULL);
        } else {
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
        }
    }
    luaL_traceback(L, L, msg, 1);
    return 1;
}

/// Calls the function below `nargs` arguments under joule_message_handler; the error (message and
/// traceback) or the results are left on the stack.
static inline int joule_pcall(lua_State *L, int nargs, int nresults) {
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, joule_message_handler);
    lua_insert(L, base);
    int status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

static inline const char *joule_lua_release(void) { return LUA_RELEASE; }

static inline int joule_upvalue_index(int i) { return lua_upvalueindex(i); }
static inline int joule_registry_index(void) { return LUA_REGISTRYINDEX; }

// Ctrl-C: one interrupt stops the script with a Lua error at the next instruction (and long Swift
// calls at their next step, through joule_interrupt_stop_now). A script that handles interrupts
// itself — it called joule.interrupted() or trains with fit_epoch, which stops between batches —
// is "polite": for it the first interrupt only raises the flag it polls, so a training step can
// finish and save, and a second one stops it.
// The hook is installed from the signal handler, which is what lua.c does (lua_sethook is
// async-signal-safe).
// These statics exist once per object file that uses them (Swift compiles a module's files into
// separate objects), so Swift must touch them from one file only: LuaState.swift, through
// functions it never inlines.
static volatile sig_atomic_t joule_interrupts = 0;
static volatile sig_atomic_t joule_interrupt_polite = 0;
static lua_State *joule_interrupt_state = NULL;

#include "interrupt_hook.h"

static inline void joule_interrupt_handler(int sig) {
    joule_interrupts++;
    if (joule_interrupts >= 2) signal(sig, SIG_DFL); // a third Ctrl-C kills the process outright
    if ((joule_interrupts >= 2 || !joule_interrupt_polite) && joule_interrupt_state != NULL)
        lua_sethook(joule_interrupt_state, joule_interrupt_hook,
                    LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static inline void joule_install_interrupt_handler(lua_State *L) {
    joule_interrupt_state = L;
    joule_interrupts = 0;
    joule_interrupt_polite = 0;
    signal(SIGINT, joule_interrupt_handler);
}

static inline void joule_remove_interrupt_handler(void) {
    signal(SIGINT, SIG_DFL);
    joule_interrupt_state = NULL;
}

static inline int joule_interrupt_count(void) { return (int)joule_interrupts; }
static inline void joule_interrupt_be_polite(void) { joule_interrupt_polite = 1; }
/// Whether running work should stop now: any interrupt, or a second one for a polite script.
static inline int joule_interrupt_stop_now(void) {
    return joule_interrupts >= 2 || (joule_interrupts >= 1 && !joule_interrupt_polite);
}

/* lua_gc is variadic, which Swift cannot call: an incremental collection step worth `kb` kilobytes
   of allocation, so that memory Lua does not see (tensor storage) still paces the collector. */
static inline int joule_gc_step(lua_State *L, int kb) { return lua_gc(L, LUA_GCSTEP, kb); }
