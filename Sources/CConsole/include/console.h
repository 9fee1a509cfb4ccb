#ifndef JOULE_CONSOLE_H
#define JOULE_CONSOLE_H

// The C side of `joule`'s interactive console: line editing with libedit (Debian's libedit-dev,
// through its readline-compatible API) and Ctrl-C handling around each statement. One object file
// owns the statics below, so Swift reaches them through these functions only.

struct lua_State;

/// Sets up libedit: the program name for ~/.editrc, word breaks that keep `a.b:c` paths whole,
/// and completion through `joule_console_completer`. `history_limit` bounds the history.
void joule_console_editor_init(int history_limit);

/// Reads one line with editing; NULL at end of input (Ctrl-D). When Ctrl-C was pressed at the
/// prompt the result is NULL and `*interrupted` is 1. The line is malloc'ed: free it.
char *joule_console_readline(const char *prompt, int *interrupted);

void joule_console_add_history(const char *line);
/// 0 on success (errno-style codes otherwise).
int joule_console_read_history(const char *path);
int joule_console_write_history(const char *path);

/// Completion: the console sets this to a function that fills the candidates for the word
/// `line[start..<end]` (positions in characters, as libedit counts them; the cursor is at `end`) with `joule_console_add_candidate`; each candidate replaces
/// that whole word.
typedef void (*joule_console_completer_t)(const char *line, int start, int end);
extern joule_console_completer_t joule_console_completer;
void joule_console_add_candidate(const char *candidate);

/// Ctrl-C while a statement runs: the handler installed by `LuaState.catchInterrupts` (which
/// counts interrupts for `joule.interrupted()`) is kept and chained, and the statement is stopped
/// at its next Lua instruction with the error "interrupted" (as lua.c does).
void joule_console_begin_statement(struct lua_State *L);
/// Back at the prompt: removes the hook if it never fired; Ctrl-C then only cancels the line.
void joule_console_end_statement(struct lua_State *L);
/// Restores the default SIGINT action.
void joule_console_release_signals(void);

#endif
