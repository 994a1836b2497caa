/* test_sandbox.c - cmocka tests for mw_sandbox: limits and lockdown */

/*
 * Adversarial scripts in the spirit of Redis's "Try trick" tests: each code
 * string is loaded in text mode and run through mw_sandbox_pcall, and the
 * returned failure class is checked exactly. The fixture creates a sandbox
 * with a 4 MiB memory cap and a require folder holding one module; teardown
 * asserts the Lua stack is balanced. No rule is loaded and no jansson value
 * is built, but jansson is routed through cmocka's allocator like every unit.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>

#include "mw_sandbox.h"

#define MEM_CAP (4u * 1024 * 1024)
#define BUDGET 200000

static void *json_test_malloc(size_t n)
{
    return test_malloc(n);
}

static void json_test_free(void *p)
{
    test_free(p);
}

struct fx {
    struct mw_sandbox *sb;
    lua_State *L;
    char dir[64];
    char mod[128];
    char msg[256];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    /* time: generous, so memory and instruction cases end on their own cap
     * under sanitizers too */
    struct mw_sandbox_limits lim = {
        .mem_max = MEM_CAP, .insn_per_call = BUDGET, .time_per_event_us = 30 * 1000000};
    FILE *fp;

    json_set_alloc_funcs(json_test_malloc, json_test_free);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/mw_test_sandbox_XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->mod, sizeof f->mod, "%s/mymod.lua", f->dir);
    fp = fopen(f->mod, "w");
    assert_non_null(fp);
    fputs("local M = {}\nfunction M.twice(x) return 2 * x end\nM.name = ...\nreturn M\n",
          fp);
    fclose(fp);
    f->sb = mw_sandbox_new(&lim, f->dir);
    assert_non_null(f->sb);
    f->L = mw_sandbox_lua(f->sb);
    assert_ptr_equal(mw_sandbox_from_lua(f->L), f->sb);
    assert_int_equal(lua_gettop(f->L), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    int top = lua_gettop(f->L);
    mw_sandbox_free(f->sb);
    unlink(f->mod);
    rmdir(f->dir);
    free(f);
    assert_int_equal(top, 0);
    return 0;
}

/* Loads code and runs it with nres results; returns the failure class.
 * A load (syntax) error counts as MW_FAIL_SCRIPT. */
static enum mw_fail run(struct fx *f, const char *code, int nres)
{
    int top = lua_gettop(f->L);
    enum mw_fail r;

    f->msg[0] = '\0';
    if (luaL_loadbufferx(f->L, code, strlen(code), "=test", "t") != LUA_OK) {
        snprintf(f->msg, sizeof f->msg, "%s", lua_tostring(f->L, -1));
        lua_pop(f->L, 1);
        return MW_FAIL_SCRIPT;
    }
    r = mw_sandbox_pcall(f->sb, 0, nres, 0, f->msg, sizeof f->msg);
    /* balanced: results on success, nothing on failure */
    if (r == MW_FAIL_NONE)
        assert_int_equal(lua_gettop(f->L), top + nres);
    else
        assert_int_equal(lua_gettop(f->L), top);
    return r;
}

#define EXPECT_FAIL(f, code, want) expect_fail((f), (code), (want), __LINE__)

static void expect_fail(struct fx *f, const char *code, enum mw_fail want, int line)
{
    enum mw_fail got = run(f, code, 0);
    if (got != want)
        fail_msg("line %d: `%s`: got %s (%s), want %s", line, code, mw_fail_name(got),
                 f->msg, mw_fail_name(want));
}

/* Runs code in a forked child with a watchdog, so a script that escapes the
 * instruction budget fails the test instead of hanging it. Returns the
 * failure class, or -1 when the child hung (killed by SIGALRM) or crashed.
 * With close_after, the child also closes the sandbox (lua_close runs the
 * pending finalizers) before reporting. */
static int run_watchdog(struct fx *f, const char *code, bool close_after, int *sig)
{
    pid_t pid = fork();
    int status;

    assert_true(pid >= 0);
    if (pid == 0) {
        int r;
        alarm(5);
        r = (int)run(f, code, 0);
        if (close_after)
            mw_sandbox_free(f->sb);
        _exit(r);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return -1;
}

#define EXPECT_NO_HANG(f, code, close_after, want)                                       \
    expect_no_hang((f), (code), (close_after), (want), __LINE__)

static void expect_no_hang(struct fx *f, const char *code, bool close_after, int want,
                           int line)
{
    int sig = 0;
    int got = run_watchdog(f, code, close_after, &sig);
    if (got < 0)
        fail_msg("line %d: `%s` %s (signal %d)", line, code,
                 sig == SIGALRM ? "hung: escaped the instruction budget" : "crashed",
                 sig);
    if (want >= 0 && got != want)
        fail_msg("line %d: `%s`: got %s, want %s", line, code,
                 mw_fail_name((enum mw_fail)got), mw_fail_name((enum mw_fail)want));
}

static lua_Integer run_int(struct fx *f, const char *code)
{
    enum mw_fail r = run(f, code, 1);
    lua_Integer v;
    if (r != MW_FAIL_NONE)
        fail_msg("`%s`: %s: %s", code, mw_fail_name(r), f->msg);
    assert_true(lua_isinteger(f->L, -1));
    v = lua_tointeger(f->L, -1);
    lua_pop(f->L, 1);
    return v;
}

/* ------------------------------------------------------------------------ */

static void test_normal_computation(void **state)
{
    struct fx *f = *state;
    assert_int_equal(run_int(f, "local s = 0 for i = 1, 100 do s = s + i end return s"),
                     5050);
    assert_int_equal(run_int(f, "return #string.rep('ab', 10) + math.max(1, 2)"), 22);
    assert_int_equal(
        run_int(f, "local t = {3, 1, 2} table.sort(t) return t[1] * 100 + t[3]"), 103);
    assert_int_equal(run_int(f, "return utf8.len('h\\u{e9}')"), 2);
    assert_int_equal(run_int(f, "return type(os.time()) == 'number' and 1 or 0"), 1);
    /* several results, and arguments */
    assert_int_equal(run(f, "return 1, 'two', nil", 3), MW_FAIL_NONE);
    assert_int_equal(lua_tointeger(f->L, 1), 1);
    assert_string_equal(lua_tostring(f->L, 2), "two");
    assert_true(lua_isnil(f->L, 3));
    lua_settop(f->L, 0);
    assert_int_equal(luaL_loadstring(f->L, "local a, b = ... return a + b"), LUA_OK);
    lua_pushinteger(f->L, 40);
    lua_pushinteger(f->L, 2);
    assert_int_equal(mw_sandbox_pcall(f->sb, 2, 1, 0, NULL, 0), MW_FAIL_NONE);
    assert_int_equal(lua_tointeger(f->L, -1), 42);
    lua_pop(f->L, 1);
}

static void test_script_error(void **state)
{
    struct fx *f = *state;
    EXPECT_FAIL(f, "error('boom')", MW_FAIL_SCRIPT);
    assert_non_null(strstr(f->msg, "boom"));
    assert_null(strchr(f->msg, '\n')); /* first line only */
    EXPECT_FAIL(f, "error({})", MW_FAIL_SCRIPT);
    EXPECT_FAIL(f, "error()", MW_FAIL_SCRIPT);
    EXPECT_FAIL(f, "local x = nil; return x.y", MW_FAIL_SCRIPT);
    EXPECT_FAIL(f, "this is not lua", MW_FAIL_SCRIPT);
    /* a caught script error is just a value */
    assert_int_equal(run_int(f, "local ok = pcall(error, 'x') return ok and 1 or 0"), 0);
    assert_int_equal(run_int(f, "local ok, e = xpcall(function() error('x') end, "
                                "function(m) return 'handled' end) "
                                "return (not ok and e == 'handled') and 1 or 0"),
                     1);
    /* stack is restored below the function, with values already there */
    lua_pushinteger(f->L, 7);
    EXPECT_FAIL(f, "error('x')", MW_FAIL_SCRIPT);
    assert_int_equal(lua_gettop(f->L), 1);
    lua_pop(f->L, 1);
}

static void test_infinite_loop(void **state)
{
    struct fx *f = *state;
    EXPECT_FAIL(f, "while true do end", MW_FAIL_INSTRUCTIONS);
    assert_non_null(strstr(f->msg, "instruction budget exceeded"));
    EXPECT_FAIL(f, "local i = 0 repeat i = i + 1 until false", MW_FAIL_INSTRUCTIONS);
    EXPECT_FAIL(f, "for i = 1, math.maxinteger do end", MW_FAIL_INSTRUCTIONS);
    /* a loop in a C callback (gsub with a Lua function) */
    EXPECT_FAIL(f,
                "string.gsub(string.rep('a', 1000), 'a', "
                "function() while true do end end)",
                MW_FAIL_INSTRUCTIONS);
    /* the budget is per call: the next call runs normally */
    assert_int_equal(run_int(f, "return 1"), 1);
}

static void test_pcall_cannot_swallow_limit(void **state)
{
    struct fx *f = *state;
    EXPECT_FAIL(f, "pcall(function() while true do end end) return 1",
                MW_FAIL_INSTRUCTIONS);
    EXPECT_FAIL(f, "while true do pcall(function() while true do end end) end",
                MW_FAIL_INSTRUCTIONS);
    EXPECT_FAIL(f, "while true do pcall(function() for i = 1, 10 do end end) end",
                MW_FAIL_INSTRUCTIONS);
    EXPECT_FAIL(
        f, "xpcall(function() while true do end end, function() return 1 end) return 1",
        MW_FAIL_INSTRUCTIONS);
    EXPECT_FAIL(f, "local function f() pcall(f) end while true do pcall(f) end",
                MW_FAIL_INSTRUCTIONS);
    /* nothing leaks from one call to the next */
    assert_int_equal(run_int(f, "local ok = pcall(error, 'x') return ok and 1 or 0"), 0);
}

static void test_memory_bomb(void **state)
{
    struct fx *f = *state;
    size_t base;

    lua_gc(f->L, LUA_GCCOLLECT);
    base = mw_sandbox_mem_used(f->sb);
    assert_true(base > 0 && base < MEM_CAP);

    EXPECT_FAIL(f, "local s = string.rep('x', 64 * 1024 * 1024) return #s",
                MW_FAIL_MEMORY);
    assert_true(mw_sandbox_mem_used(f->sb) <= MEM_CAP);
    lua_gc(f->L, LUA_GCCOLLECT);
    if (mw_sandbox_mem_used(f->sb) > base + 16 * 1024)
        fail_msg("memory after a failed call and GC %zu, baseline %zu",
                 mw_sandbox_mem_used(f->sb), base);
    EXPECT_FAIL(f, "local s = 'x' while true do s = s .. s end", MW_FAIL_MEMORY);
    /* a table of integers grows 16 bytes a step: with this budget the
     * instruction limit and the memory cap are close; either classifies it */
    {
        enum mw_fail got = run(f, "local t = {} for i = 1, 1e9 do t[i] = i end", 0);
        assert_true(got == MW_FAIL_MEMORY || got == MW_FAIL_INSTRUCTIONS);
    }
    EXPECT_FAIL(f, "local t = {} for i = 1, 1e9 do t[i] = {} end", MW_FAIL_MEMORY);
    /* pcall cannot catch it either */
    EXPECT_FAIL(f, "pcall(string.rep, 'x', 64 * 1024 * 1024) return 1", MW_FAIL_MEMORY);
    EXPECT_FAIL(
        f,
        "local ok = pcall(function() local s = 'x' while true do s = s .. s end end)"
        " return ok",
        MW_FAIL_MEMORY);

    /* still usable, and memory back near the baseline after a GC */
    assert_int_equal(run_int(f, "return #string.rep('y', 1024 * 1024)"), 1024 * 1024);
    lua_gc(f->L, LUA_GCCOLLECT);
    if (mw_sandbox_mem_used(f->sb) > base + 16 * 1024)
        fail_msg("memory after GC %zu, baseline %zu", mw_sandbox_mem_used(f->sb), base);
}

/* Regression: the allocator sets mem_tripped when an allocation is refused, but Lua
 * then runs an emergency collection and retries; when the retry succeeds no
 * error is raised, yet the flag stays set for the rest of the call. The next
 * ordinary error a script catches with pcall is then re-raised as a memory
 * failure. Expected: the script's own pcall returns false and the call
 * succeeds. */
static void test_memory_flag_cleared_after_emergency_gc(void **state)
{
    struct fx *f = *state;
    /* ~2.5 MiB of garbage, then 2 MiB of allocations (string.rep's buffer
     * and its result): over the 4 MiB cap until the garbage is collected */
    const char *prefix = "local t = {}\n"
                         "for i = 1, 2500 do t[i] = string.rep('g', 1000) .. i end\n"
                         "t = nil\n"
                         "local s = string.rep('y', 1024 * 1024)\n";
    char code[512];
    enum mw_fail r;

    /* without the pcall the script succeeds: the memory is really there */
    snprintf(code, sizeof code, "%sreturn #s", prefix);
    assert_int_equal(run_int(f, code), 1024 * 1024);
    lua_gc(f->L, LUA_GCCOLLECT);
    /* an ordinary caught error afterwards must stay ordinary */
    snprintf(code, sizeof code,
             "%slocal ok = pcall(error, 'ordinary')\n"
             "return (ok == false and #s == 1024 * 1024) and 1 or 0",
             prefix);
    r = run(f, code, 1);
    if (r != MW_FAIL_NONE)
        fail_msg("got %s (%s), want none", mw_fail_name(r), f->msg);
    assert_int_equal(lua_tointeger(f->L, -1), 1);
    lua_pop(f->L, 1);
}

/* Regression: an error raised by the count hook invokes the current message
 * handler while Lua has hooks disabled (allowhook = 0 inside a hook), so an
 * xpcall handler that loops runs forever: the host hangs. Same when the
 * handler is entered for an ordinary error and loops until the budget trips:
 * the hook's error re-enters the handler with hooks off. Expected: the call
 * fails with MW_FAIL_INSTRUCTIONS. */
static void test_xpcall_handler_cannot_escape_budget(void **state)
{
    struct fx *f = *state;
    EXPECT_NO_HANG(f,
                   "xpcall(function() error('x') end, function() while true do end end) "
                   "return 1",
                   false, MW_FAIL_INSTRUCTIONS);
    EXPECT_NO_HANG(f,
                   "xpcall(function() while true do end end, "
                   "function() while true do end end) return 1",
                   false, MW_FAIL_INSTRUCTIONS);
    EXPECT_NO_HANG(f,
                   "while true do xpcall(function() while true do end end, "
                   "function() while true do end end) end",
                   false, MW_FAIL_INSTRUCTIONS);
}

/* Regression: Lua runs __gc finalizers with hooks disabled (lgc.c GCTM sets
 * allowhook = 0), and also from lua_close and from any host-side
 * allocation outside mw_sandbox_pcall, where no budget applies. A finalizer
 * that loops hangs the host. Expected: the call fails (BLOCKED if __gc is
 * refused by setmetatable, or INSTRUCTIONS), and closing the state
 * terminates. */
static void test_gc_finalizer_cannot_escape_budget(void **state)
{
    struct fx *f = *state;
    EXPECT_NO_HANG(f,
                   "setmetatable({}, {__gc = function() while true do end end}) "
                   "local t = {} for i = 1, 200000 do t[i] = {} end return 1",
                   false, -1);
    EXPECT_NO_HANG(f,
                   "setmetatable({}, {__gc = function() while true do end end}) return 1",
                   true, -1);
}

static void test_blocked_functions(void **state)
{
    struct fx *f = *state;
    EXPECT_FAIL(f, "os.execute('true')", MW_FAIL_BLOCKED);
    assert_non_null(strstr(f->msg, "os.execute"));
    EXPECT_FAIL(f, "os.exit(1)", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "return os.getenv('HOME')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "os.remove('/tmp/x')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "os.rename('/tmp/x', '/tmp/y')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "return os.tmpname()", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "dofile('/etc/passwd')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "loadfile('/etc/passwd')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "load('return 1')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "load(string.char(27) .. 'Lua')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "string.dump(function() end)", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "return ('x'):dump()", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "collectgarbage()", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "collectgarbage('count')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('os')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('io')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('debug')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('../etc/passwd')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('a..b')", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('/etc/passwd')", MW_FAIL_BLOCKED);
    /* pcall cannot swallow a blocked call */
    EXPECT_FAIL(f, "pcall(os.execute, 'true') return 1", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "local ok = pcall(require, 'os') return ok", MW_FAIL_BLOCKED);
}

static void test_missing_libraries(void **state)
{
    struct fx *f = *state;
    /* io, coroutine, debug, package are absent: reading one is blocked (a
     * coroutine could swallow the instruction kill), even inside pcall */
    EXPECT_FAIL(f, "io.open('/etc/passwd')", MW_FAIL_BLOCKED);
    assert_non_null(strstr(f->msg, "blocked: global 'io' is not available"));
    assert_int_equal(
        run_int(f, "return (rawget(_G, 'io') == nil and rawget(_G, 'coroutine') == nil "
                   "and rawget(_G, 'debug') == nil and rawget(_G, 'package') == nil "
                   "and loadstring == nil) and 1 or 0"),
        1);
    EXPECT_FAIL(f, "coroutine.wrap(function() end)()", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "local ok = pcall(function() return coroutine end) return 1",
                MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "debug.sethook()", MW_FAIL_BLOCKED);
    /* os keeps only the harmless functions */
    assert_int_equal(run_int(f,
                             "return (os.clock and os.date and os.time and os.difftime "
                             "and os.setlocale == nil) and 1 or 0"),
                     1);
    /* bytecode cannot be loaded by the host's text-mode loaders either */
    EXPECT_FAIL(f, "\x1bLua", MW_FAIL_SCRIPT);
}

static void test_require_module(void **state)
{
    struct fx *f = *state;
    assert_int_equal(run_int(f, "return require('mymod').twice(21)"), 42);
    assert_int_equal(run_int(f, "return require('mymod') == require('mymod') and 1 or 0"),
                     1);
    /* modules are read-only to the rule: a write is a blocked operation */
    EXPECT_FAIL(f, "require('mymod').twice = nil", MW_FAIL_BLOCKED);
    EXPECT_FAIL(f, "require('nosuchmod')", MW_FAIL_BLOCKED);
}

static void test_deep_recursion(void **state)
{
    struct fx *f = *state;
    enum mw_fail r;

    /* Lua recursion: stack overflow or the memory cap, never a crash */
    r = run(f, "local function f(n) return 1 + f(n + 1) end return f(1)", 0);
    if (r != MW_FAIL_SCRIPT && r != MW_FAIL_MEMORY)
        fail_msg("Lua recursion: %s (%s)", mw_fail_name(r), f->msg);
    /* C recursion through metamethods */
    r = run(f,
            "local t = setmetatable({}, {__index = function(t, k) return t[k] end}) "
            "return t.x",
            0);
    if (r != MW_FAIL_SCRIPT && r != MW_FAIL_MEMORY)
        fail_msg("C recursion: %s (%s)", mw_fail_name(r), f->msg);
    EXPECT_FAIL(f,
                "local s = string.rep('(', 100000) .. string.rep(')', 100000) "
                "string.gsub(s, '%b()', '')",
                MW_FAIL_NONE);
    /* recursion inside pcall: caught as an ordinary error, or a limit */
    r = run(f,
            "local function f() return 1 + f() end "
            "local ok = pcall(f) return ok and 1 or 0",
            1);
    if (r == MW_FAIL_NONE) {
        assert_int_equal(lua_tointeger(f->L, -1), 0);
        lua_pop(f->L, 1);
    } else if (r != MW_FAIL_MEMORY) {
        fail_msg("recursion in pcall: %s (%s)", mw_fail_name(r), f->msg);
    }
    assert_int_equal(run_int(f, "return 5"), 5);
}

static void test_fail_names(void **state)
{
    (void)state;
    assert_string_equal(mw_fail_name(MW_FAIL_NONE), "none");
    assert_string_equal(mw_fail_name(MW_FAIL_MEMORY), "memory");
    assert_string_equal(mw_fail_name(MW_FAIL_INSTRUCTIONS), "instructions");
    assert_string_equal(mw_fail_name(MW_FAIL_BLOCKED), "blocked");
    assert_string_equal(mw_fail_name(MW_FAIL_SCRIPT), "script");
    assert_string_equal(mw_fail_name(MW_FAIL__COUNT), "unknown");
}

static void test_default_limits(void **state)
{
    struct mw_sandbox *sb = mw_sandbox_new(NULL, NULL);
    (void)state;
    assert_non_null(sb);
    assert_int_equal(mw_sandbox_call_budget(sb), MW_SANDBOX_DEFAULT_INSN);
    assert_true(mw_sandbox_mem_used(sb) > 0);
    mw_sandbox_free(sb);
    mw_sandbox_free(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_normal_computation),
        T(test_script_error),
        T(test_infinite_loop),
        T(test_pcall_cannot_swallow_limit),
        T(test_memory_bomb),
        T(test_memory_flag_cleared_after_emergency_gc),
        T(test_xpcall_handler_cannot_escape_budget),
        T(test_gc_finalizer_cannot_escape_budget),
        T(test_blocked_functions),
        T(test_missing_libraries),
        T(test_require_module),
        T(test_deep_recursion),
        T(test_fail_names),
        T(test_default_limits),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
