/* test_sandbox_hostile.c - cmocka tests for mw_sandbox: error classes of hostile
 * chunks, and that nothing is left on the stack or allocated afterwards
 *
 * Each case loads a chunk (text mode) into a fresh sandbox and runs it with
 * mw_sandbox_pcall under a small budget and cap; the failure class must be
 * the expected one, pcall/xpcall inside the chunk must not change it, and
 * the stack must be back to empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lauxlib.h>

#include "mw_sandbox.h"

static const struct {
    const char *name;
    const char *src;
    enum mw_fail want;
} cases[] = {
    {"ok", "return 1 + 1", MW_FAIL_NONE},
    {"infinite loop", "while true do end", MW_FAIL_INSTRUCTIONS},
    {"loop in pcall", "while true do pcall(function() while true do end end) end",
     MW_FAIL_INSTRUCTIONS},
    {"loop in xpcall",
     "xpcall(function() while true do end end, function() return 1 end) "
     "while true do end",
     MW_FAIL_INSTRUCTIONS},
    {"coroutine", "return coroutine.wrap(function() end)", MW_FAIL_BLOCKED},
    {"coroutine in pcall", "pcall(function() return coroutine end) return 1",
     MW_FAIL_BLOCKED},
    {"io", "return io.open('/etc/passwd')", MW_FAIL_BLOCKED},
    {"debug", "return debug.sethook", MW_FAIL_BLOCKED},
    {"package", "return package.loadlib", MW_FAIL_BLOCKED},
    {"os.execute", "return os.execute('true')", MW_FAIL_BLOCKED},
    {"os.time allowed", "return os.time() > 0", MW_FAIL_NONE},
    {"load", "return load('return 1')", MW_FAIL_BLOCKED},
    {"string.dump", "return string.dump(print)", MW_FAIL_BLOCKED},
    {"require outside lua/", "return require('../etc/passwd')", MW_FAIL_BLOCKED},
    {"require unknown", "return require('socket')", MW_FAIL_BLOCKED},
    {"memory bomb", "local s = 'x' while true do s = s .. s end", MW_FAIL_MEMORY},
    {"memory bomb in pcall",
     "while true do pcall(function() local s = 'x' "
     "while true do s = s .. s end end) end",
     MW_FAIL_MEMORY},
    {"table bomb", "local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(4096) .. i end",
     MW_FAIL_MEMORY},
    {"api write", "local mw = require('moonwatch') mw.eq = nil", MW_FAIL_BLOCKED},
    {"api nested write", "require('moonwatch.mitre').tactics.TA0001 = 'x'",
     MW_FAIL_BLOCKED},
    {"api rawset", "rawset(require('moonwatch'), 'eq', 1)", MW_FAIL_BLOCKED},
    {"api write in pcall", "pcall(function() require('moonwatch').all = 1 end) return 1",
     MW_FAIL_BLOCKED},
    {"api metatable", "setmetatable(require('moonwatch'), {})", MW_FAIL_SCRIPT},
    {"api reads work",
     "local m = require('moonwatch.mitre') "
     "assert(m.tactics.TA0001 == 'Initial Access') "
     "assert(#m.techniques.T1078.tactics > 0) "
     "local n = 0 for _ in pairs(m.tactics) do n = n + 1 end assert(n > 5)",
     MW_FAIL_NONE},
    {"own globals are free", "x = 1 rawset(_G, 'y', 2) return x + y", MW_FAIL_NONE},
    {"script error", "error('boom')", MW_FAIL_SCRIPT},
    {"undefined global is nil", "assert(undefined_thing == nil)", MW_FAIL_NONE},
};

static int l_nop(lua_State *L)
{
    (void)L;
    return 0;
}

static int l_fake_host(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_nop);
    lua_setfield(L, -2, "log");
    return 1;
}

/* The host preloads "moonwatch.host" (src/lua/mw_lapi.c); do the same here, or
 * moonwatch.lua's probe for it would be a blocked require. */
static void preload_host(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, "mw.preload");
    lua_pushcfunction(L, l_fake_host);
    lua_setfield(L, -2, "moonwatch.host");
    lua_pop(L, 1);
}

static void test_cases(void **state)
{
    /* time: generous, so each case ends on its own cap under sanitizers too */
    struct mw_sandbox_limits lim = {.mem_max = 4u * 1024 * 1024,
                                    .insn_per_call = 200000,
                                    .insn_load = 200000,
                                    .time_per_event_us = 30 * 1000000};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mw_sandbox *sb = mw_sandbox_new(&lim, "lua");
        lua_State *L;
        char msg[512] = "";
        assert_non_null(sb);
        L = mw_sandbox_lua(sb);
        preload_host(L);
        assert_int_equal(
            luaL_loadbufferx(L, cases[i].src, strlen(cases[i].src), cases[i].name, "t"),
            LUA_OK);
        enum mw_fail f = mw_sandbox_pcall(sb, 0, 0, 0, msg, sizeof(msg));
        if (f != cases[i].want)
            fail_msg("%s: got %s (%s), want %s", cases[i].name, mw_fail_name(f), msg,
                     mw_fail_name(cases[i].want));
        assert_int_equal(lua_gettop(L), 0);
        /* the state stays usable after a failure */
        assert_int_equal(luaL_loadstring(L, "return 42"), LUA_OK);
        assert_int_equal(mw_sandbox_pcall(sb, 0, 1, 0, msg, sizeof(msg)), MW_FAIL_NONE);
        assert_int_equal(lua_tointeger(L, -1), 42);
        lua_pop(L, 1);
        mw_sandbox_free(sb);
    }
}

static void test_bytecode_refused(void **state)
{
    struct mw_sandbox *sb = mw_sandbox_new(NULL, "lua");
    lua_State *L = mw_sandbox_lua(sb);
    static const char chunk[] = "\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08";
    (void)state;
    assert_int_not_equal(luaL_loadbufferx(L, chunk, sizeof(chunk) - 1, "=b", "t"),
                         LUA_OK);
    assert_non_null(strstr(lua_tostring(L, -1), "binary chunk"));
    lua_pop(L, 1);
    mw_sandbox_free(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_bytecode_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
