#include "console.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>

// MARK: line editing

joule_console_completer_t joule_console_completer = NULL;

static char **candidates = NULL;
static size_t candidate_count = 0, candidate_capacity = 0;

void joule_console_add_candidate(const char *candidate) {
    if (candidate_count == candidate_capacity) {
        size_t capacity = candidate_capacity ? 2 * candidate_capacity : 64;
        char **grown = realloc(candidates, capacity * sizeof *grown);
        if (grown == NULL) return;
        candidates = grown;
        candidate_capacity = capacity;
    }
    char *copy = strdup(candidate);
    if (copy != NULL) candidates[candidate_count++] = copy;
}

static void clear_candidates(void) {
    for (size_t i = 0; i < candidate_count; i++) free(candidates[i]);
    candidate_count = 0;
}

// rl_completion_matches calls this with state 0, 1, 2, ... until it returns NULL; libedit frees
// what it returns.
static char *next_candidate(const char *text, int state) {
    (void)text;
    static size_t next;
    if (state == 0) next = 0;
    if (next < candidate_count) return strdup(candidates[next++]);
    return NULL;
}

static char **attempted_completion(const char *text, int start, int end) {
    rl_attempted_completion_over = 1; // never fall back to file names
    clear_candidates();
    if (joule_console_completer == NULL || rl_line_buffer == NULL) return NULL;
    joule_console_completer(rl_line_buffer, start, end);
    if (candidate_count == 0) return NULL;
    return rl_completion_matches(text, next_candidate);
}

// Everything that cannot be part of a Lua name or a `.`/`:` path separates words.
static char word_breaks[] = " \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";

void joule_console_editor_init(int history_limit) {
    rl_readline_name = "joule";
    rl_initialize();
    rl_completer_word_break_characters = word_breaks;
    rl_basic_word_break_characters = word_breaks;
    rl_attempted_completion_function = attempted_completion;
    rl_completion_append_character = '\0';
    if (history_limit > 0) stifle_history(history_limit);
}

// MARK: signals

static volatile sig_atomic_t prompt_interrupted = 0;
static lua_State *volatile running_state = NULL;
static struct sigaction chained; // the LuaHost handler in force when the statement began

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
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

static void statement_handler(int sig) {
    lua_State *L = running_state;
    if (L != NULL) lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
    // The host's own handler counts the interrupt (joule.interrupted(), fit_epoch's early stop);
    // after its second one it restores the default action, so a third Ctrl-C kills a statement
    // stuck in native code.
    if (!(chained.sa_flags & SA_SIGINFO) && chained.sa_handler != SIG_DFL && chained.sa_handler != SIG_IGN
        && chained.sa_handler != statement_handler)
        chained.sa_handler(sig);
}

static void prompt_handler(int sig) {
    (void)sig;
    prompt_interrupted = 1;
}

static void install(void (*handler)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a read at the prompt returns, and libedit gives up the line
    sigaction(SIGINT, &sa, NULL);
}

void joule_console_begin_statement(lua_State *L) {
    sigaction(SIGINT, NULL, &chained);
    running_state = L;
    install(statement_handler);
}

void joule_console_end_statement(lua_State *L) {
    install(prompt_handler);
    running_state = NULL;
    if (L != NULL && lua_gethook(L) == interrupt_hook) lua_sethook(L, NULL, 0, 0);
}

void joule_console_release_signals(void) {
    running_state = NULL;
    signal(SIGINT, SIG_DFL);
}

char *joule_console_readline(const char *prompt, int *interrupted) {
    install(prompt_handler);
    prompt_interrupted = 0;
    char *line = readline(prompt);
    *interrupted = prompt_interrupted;
    if (prompt_interrupted && line != NULL) {
        free(line);
        line = NULL;
    }
    return line;
}

void joule_console_add_history(const char *line) { add_history(line); }

int joule_console_read_history(const char *path) { return read_history(path); }

int joule_console_write_history(const char *path) {
    errno = 0;
    int status = write_history(path);
    return status == 0 ? 0 : (errno ? errno : -1);
}
