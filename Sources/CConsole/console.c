#include "console.h"

#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <unistd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <editline/readline.h>
#include <lua5.4/lua.h>
#include <lua5.4/lauxlib.h>
#include "../CLua/interrupt_hook.h"

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

static volatile sig_atomic_t prompt_interrupted = 0;

// One byte of input; -1 at end of input, on an error, or when Ctrl-C was pressed at the prompt.
// The flag is checked before each read and at least every 100 ms while waiting, so a Ctrl-C that
// arrives while libedit is busy between two reads still ends the line (a blocking read would miss
// it).
static int interruptible_byte(int fd) {
    for (;;) {
        if (prompt_interrupted) return -1;
        struct pollfd p = { .fd = fd, .events = POLLIN, .revents = 0 };
        int r = poll(&p, 1, 100);
        if (r <= 0) continue; // timeout or EINTR: check the flag again
        unsigned char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1) return c;
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        return -1;
    }
}

// libedit reads keys through this (rl_getc_function). It stores the result as one wide
// character, so a UTF-8 sequence is decoded here into its code point.
static int interruptible_getc(FILE *stream) {
    int fd = fileno(stream);
    int c = interruptible_byte(fd);
    if (c < 0x80) return c; // ASCII, or -1
    int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
    int code = more == 3 ? c & 0x07 : more == 2 ? c & 0x0F : c & 0x1F;
    if (more == 0) return 0xFFFD; // a stray continuation byte
    for (int i = 0; i < more; i++) {
        int b = interruptible_byte(fd);
        if (b < 0) return -1;
        if ((b & 0xC0) != 0x80) return 0xFFFD;
        code = (code << 6) | (b & 0x3F);
    }
    return code;
}

void joule_console_editor_init(int history_limit) {
    // libedit edits wide characters, decoded by the locale: without a UTF-8 one, typing `×`
    // rings the bell. Only LC_CTYPE changes (numbers keep the C locale's format).
    const char *locale = setlocale(LC_CTYPE, "");
    if (locale == NULL || strcmp(nl_langinfo(CODESET), "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
    rl_readline_name = "joule";
    rl_getc_function = interruptible_getc;
    rl_initialize();
    rl_completer_word_break_characters = word_breaks;
    rl_basic_word_break_characters = word_breaks;
    rl_attempted_completion_function = attempted_completion;
    rl_completion_append_character = '\0';
    if (history_limit > 0) stifle_history(history_limit);
}

// MARK: signals

static lua_State *volatile running_state = NULL;
static struct sigaction chained; // the LuaHost handler in force when the statement began

static void statement_handler(int sig) {
    lua_State *L = running_state;
    if (L != NULL) lua_sethook(L, joule_interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
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
    if (L != NULL && lua_gethook(L) == joule_interrupt_hook) lua_sethook(L, NULL, 0, 0);
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
