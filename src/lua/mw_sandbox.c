/* mw_sandbox.c - capped, locked-down Lua states for rule scripts
 *
 * Design (after Suricata's util-lua-sandbox.c and Redis's script kill):
 * - The allocator accounts every byte and refuses growth past the cap by
 *   returning NULL (Lua raises LUA_ERRMEM); frees and shrinks always succeed.
 * - The count hook fires every HOOK_STEP instructions and decrements the
 *   budget of the current call. When it runs out the hook marks the state
 *   tripped, re-arms itself with a count of 1 and raises, so the very next
 *   instruction of any enclosing pcall handler raises again.
 * - pcall and xpcall are replaced by versions that re-raise when a limit is
 *   tripped, which also covers memory errors that a script tries to catch.
 * - Blocked functions are stubs that name themselves and mark the failure
 *   class. Only the libraries listed in mw_sandbox.h are opened.
 * The sandbox pointer lives in lua_getextraspace so bindings reach it without
 * a registry lookup.
 */
#include "mw_sandbox.h"
#include "lua/lua_int.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_file.h"
#include "mw_log.h"

#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOOK_STEP 1000

struct mw_sandbox {
    lua_State *L;
    size_t used; /* bytes allocated by this state */
    size_t cap;
    size_t baseline_extra; /* bytes the host pushed and does not charge */
    int64_t budget_left;
    int64_t time_budget_us; /* the running call's time budget, for messages */
    int64_t call_budget;
    int64_t load_budget;
    bool mem_tripped; /* an allocation was refused (Lua may recover) */
    bool mem_raised;  /* a LUA_ERRMEM reached a pcall in this call */
    bool insn_tripped;
    bool blocked_tripped;
    bool total_tripped;   /* the refusal was the all-rules cap's (--rules-memory) */
    bool in_call;         /* inside mw_sandbox_pcall: budgets apply */
    int64_t deadline_us;  /* monotonic; the running call's time bound */
    int64_t time_call_us; /* per call (and per event for predicates) */
    int64_t time_load_us; /* for running the rule file */
    char trip_msg[80];    /* why the running call was stopped */
    char *lua_dir;        /* owned */
    char *name;           /* owned: the rule id (the file while loading), for log lines */
    int64_t log_window_us;   /* start of the current one-second log window */
    int log_in_window;       /* lines logged in it */
    uint64_t log_dropped;    /* lines dropped by the rate limit, in all */
    uint64_t log_unreported; /* ... since the last warning about it */
};

/* ---------------------------------------------------------------------- */
/* allocator and hook                                                      */

/* Bytes held by all rule states of the process together, and their cap
 * (--rules-memory): a state's growth is refused when either its own cap or
 * the total would be exceeded, so a rule that would push the total over
 * fails to load with a memory error. */
static _Atomic size_t total_used;
static _Atomic size_t total_cap = MW_SANDBOX_DEFAULT_MEM_TOTAL;

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct mw_sandbox *sb = ud;
    size_t old = ptr ? osize : 0;

    if (nsize == 0) {
        free(ptr);
        sb->used -= old;
        atomic_fetch_sub(&total_used, old);
        return NULL;
    }
    if (nsize > old && sb->used - old + nsize > sb->cap) {
        sb->mem_tripped = true;
        return NULL;
    }
    if (nsize > old) {
        size_t grow = nsize - old;
        if (atomic_fetch_add(&total_used, grow) + grow > atomic_load(&total_cap)) {
            atomic_fetch_sub(&total_used, grow);
            sb->mem_tripped = sb->total_tripped = true;
            return NULL;
        }
    }
    void *p = realloc(ptr, nsize);
    if (p == NULL) {
        if (nsize > old) {
            atomic_fetch_sub(&total_used, nsize - old);
            sb->mem_tripped = true;
        }
        return NULL;
    }
    if (nsize < old)
        atomic_fetch_sub(&total_used, old - nsize);
    sb->used = sb->used - old + nsize;
    return p;
}

size_t mw_sandbox_total_used(void)
{
    return atomic_load(&total_used);
}

/* Set from a signal handler (mw_sandbox_interrupt): every running call
 * stops at its next check, until mw_sandbox_interrupt_clear. */
static volatile sig_atomic_t interrupted;

void mw_sandbox_interrupt(void)
{
    interrupted = 1;
}

void mw_sandbox_interrupt_clear(void)
{
    interrupted = 0;
}

static void count_hook(lua_State *L, lua_Debug *ar);

/* Marks the call stopped for why, re-arms the hook with count 1 (so the
 * rule's own pcall cannot swallow it) and raises at level (0 in the hook,
 * 1 from a library function). [-0, +0, e] MW_MAY_RAISE (always raises) */
static int trip_raise(lua_State *L, struct mw_sandbox *sb, const char *why, int level)
{
    if (!sb->insn_tripped) {
        sb->insn_tripped = true;
        snprintf(sb->trip_msg, sizeof(sb->trip_msg), "%s", why);
        lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
    }
    luaL_where(L, level);
    lua_pushstring(L, sb->trip_msg);
    lua_concat(L, 2);
    return lua_error(L);
}

/* Whether the running call must stop for time: its deadline passed or the
 * host is stopping. Fills why. */
static bool out_of_time(const struct mw_sandbox *sb, char *why, size_t n)
{
    if (interrupted) {
        snprintf(why, n, "interrupted: the host is stopping");
        return true;
    }
    if (sb->deadline_us != 0 && mw_mono_us() >= sb->deadline_us) {
        snprintf(why, n, "time budget exceeded (%lld ms)",
                 (long long)(sb->time_budget_us / MW_USEC_PER_MSEC));
        return true;
    }
    return false;
}

/* The hook: every HOOK_STEP instructions (count) and every function call,
 * Lua or C, metamethods included (call). Counts instructions and checks the
 * monotonic clock, so a loop of long C calls stops at the next call.
 * [-0, +0, e] MW_MAY_RAISE (raises once a budget is spent) */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    char why[80];
    if (!sb->insn_tripped) {
        if (ar->event == LUA_HOOKCOUNT) {
            sb->budget_left -= HOOK_STEP;
            if (sb->budget_left <= 0)
                trip_raise(L, sb, "instruction budget exceeded", 0);
        }
        if (!out_of_time(sb, why, sizeof(why)))
            return;
        trip_raise(L, sb, why, 0);
    }
    trip_raise(L, sb, sb->trip_msg, 0);
}

void mw_lua_charge(lua_State *L, int64_t steps) /* MW_MAY_RAISE */
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    char why[80];
    if (!sb->in_call)
        return;
    if (sb->insn_tripped)
        trip_raise(L, sb, sb->trip_msg, 1);
    sb->budget_left -= steps;
    if (sb->budget_left <= 0)
        trip_raise(L, sb, "instruction budget exceeded", 1);
    if (out_of_time(sb, why, sizeof(why)))
        trip_raise(L, sb, why, 1);
}

/* A limit was hit in this call: errors must propagate to the host. A
 * refused allocation counts only once it became an error (mem_raised): Lua
 * retries after an emergency collection and may well succeed. */
static bool tripped(const struct mw_sandbox *sb)
{
    return sb->mem_raised || sb->insn_tripped || sb->blocked_tripped;
}

/* ---------------------------------------------------------------------- */
/* replacements for unsafe or swallowing base functions                    */

/* A blocked function's stub. [-0, +0, e] MW_MAY_RAISE (always raises) */
static int l_blocked(lua_State *L)
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    sb->blocked_tripped = true;
    return luaL_error(L, "blocked: %s is not available to rules",
                      lua_tostring(L, lua_upvalueindex(1)));
}

/* __index of the global table: the libraries rules do not get are named in
 * the error (class blocked) instead of reading as nil, so `coroutine.wrap`
 * or `io.open` fail with a clear message. Other undefined globals are nil. */
/* [-0, +(0|1), e] */
static int l_blocked_global(lua_State *L) /* MW_MAY_RAISE */
{
    static const char *const absent[] = {"io", "debug", "coroutine", "package", NULL};
    const char *name = lua_tostring(L, 2);
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    for (int i = 0; absent[i]; i++) {
        if (strcmp(name, absent[i]) == 0) {
            struct mw_sandbox *sb = mw_sandbox_from_lua(L);
            sb->blocked_tripped = true;
            return luaL_error(L, "blocked: global '%s' is not available to rules", name);
        }
    }
    return 0;
}

/* Turns a pcall status into pcall's results (true/false first), or
 * re-raises a tripped limit. [-0, +1, e] MW_MAY_RAISE */
static int finish_pcall(lua_State *L, int status, int base)
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    if (status == LUA_ERRMEM)
        sb->mem_raised = true;
    if (status != LUA_OK && tripped(sb))
        return lua_error(L); /* re-raise: limits cannot be caught */
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, base);
    return lua_gettop(L) - base + 1;
}

/* pcall that re-raises tripped limits. [-0, +(1|n), e] MW_MAY_RAISE */
static int l_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
    return finish_pcall(L, status, 1);
}

/* The script's message handler runs through this wrapper: once a limit has
 * tripped, the handler is not run at all (Lua calls message handlers with
 * hooks off when the error comes from the count hook, so a looping handler
 * could not be stopped). */
/* [-0, +1, e] MW_MAY_RAISE */
static int l_xpcall_handler(lua_State *L)
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    if (sb->insn_tripped || sb->blocked_tripped || sb->mem_tripped)
        return 1; /* the error object, unchanged */
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

/* xpcall that re-raises tripped limits. [-0, +(1|n), e] MW_MAY_RAISE */
static int l_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 2);
    lua_pushcclosure(L, l_xpcall_handler, 1);
    lua_replace(L, 2);   /* wrapped handler at 2 */
    lua_pushvalue(L, 1); /* function */
    lua_copy(L, 2, 1);   /* handler at 1 */
    lua_replace(L, 2);   /* function at 2 */
    int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    return finish_pcall(L, status, 2);
}

/* setmetatable without finalizers: Lua runs __gc with hooks off (and from
 * lua_close, outside any budget), so a looping finalizer could hang the
 * host. Lua 5.4 registers finalizers only when setmetatable is called with
 * a metatable that has __gc, so refusing that here is enough. */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "__gc") != LUA_TNIL) {
        struct mw_sandbox *sb = mw_sandbox_from_lua(L);
        sb->blocked_tripped = true;
        return luaL_error(L, "blocked: __gc metamethods are not available to rules");
    }
    /* checked here too, so the error names the rule's line, not this wrapper */
    if (lua_type(L, 1) == LUA_TTABLE &&
        luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
        return luaL_error(L, "cannot change a protected metatable");
    lua_settop(L, 2);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, 2, 1);
    return 1;
}

/* Appends len bytes of s to b with everything that could end or fake a
 * line escaped: control characters (\n, \r, \t, \xHH), DEL and the
 * backslash itself; other bytes (UTF-8 text) are kept. At most *room bytes
 * are added; the rest is only counted in *cut. [-?, +?, m] MW_MAY_RAISE */
static void add_escaped(luaL_Buffer *b, const char *s, size_t len, size_t *room,
                        size_t *cut)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[4];
        size_t n = 0;
        if (c == '\\') {
            esc[0] = '\\', esc[1] = '\\', n = 2;
        } else if (c == '\n') {
            esc[0] = '\\', esc[1] = 'n', n = 2;
        } else if (c == '\r') {
            esc[0] = '\\', esc[1] = 'r', n = 2;
        } else if (c == '\t') {
            esc[0] = '\\', esc[1] = 't', n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15];
            n = 4;
        } else {
            esc[0] = (char)c, n = 1;
        }
        if (n > *room) {
            *cut += len - i;
            *room = 0;
            return;
        }
        luaL_addlstring(b, esc, n);
        *room -= n;
    }
}

/* Whether the rule may log one more line now (MW_SANDBOX_LOG_RATE lines
 * per second per rule); a refused line is counted. When lines were dropped,
 * the next line that goes out is preceded by a warning that counts them. */
static bool log_admit(struct mw_sandbox *sb)
{
    int64_t now = mw_mono_us();
    if (sb->log_window_us == 0 || now - sb->log_window_us >= MW_USEC_PER_SEC) {
        sb->log_window_us = now;
        sb->log_in_window = 0;
    }
    if (sb->log_in_window >= MW_SANDBOX_LOG_RATE) {
        sb->log_dropped++;
        sb->log_unreported++;
        return false;
    }
    sb->log_in_window++;
    if (sb->log_unreported) {
        mw_log_warn("rule %s: %llu log line(s) dropped (at most %d a second per rule; "
                    "%llu in all)",
                    sb->name, (unsigned long long)sb->log_unreported, MW_SANDBOX_LOG_RATE,
                    (unsigned long long)sb->log_dropped);
        sb->log_unreported = 0;
    }
    return true;
}

/* print and mw.log (docs/RULE-API.md): one line, arguments through
 * tostring, separated by tabs, through the host log at info level as
 * "rule <id> log: ...". Nothing the rule prints can start a line or forge
 * a record: control characters are escaped, the text is cut at
 * MW_SANDBOX_LOG_MAX bytes, and lines beyond the rule's rate are dropped
 * (counted) before any argument is converted.
 * [-n, +0, e] MW_MAY_RAISE (__tostring metamethods run) */
int mw_lua_log(lua_State *L)
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    luaL_Buffer b;
    int n = lua_gettop(L);
    size_t room = MW_SANDBOX_LOG_MAX, cut = 0;

    if (!log_admit(sb))
        return 0;
    luaL_checkstack(L, 3, "print");
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *s;
        if (i > 1 && room > 0) {
            luaL_addchar(&b, '\t');
            room--;
        }
        s = luaL_tolstring(L, i, &len);
        if (room > 0)
            add_escaped(&b, s, len, &room, &cut);
        else
            cut += len;
        lua_pop(L, 1);
    }
    luaL_pushresult(&b);
    if (cut)
        mw_log_info("rule %s log: %s... (%zu more bytes cut)", sb->name,
                    lua_tostring(L, -1), cut);
    else
        mw_log_info("rule %s log: %s", sb->name, lua_tostring(L, -1));
    return 0;
}

void mw_sandbox_set_name(struct mw_sandbox *sb, const char *name)
{
    struct mw_buf esc = MW_BUF_INIT;
    /* a rule id is checked text, a file name need not be: keep it one word */
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7f || c == '\\')
            mw_buf_addf(&esc, "\\x%02x", c);
        else
            mw_buf_addc(&esc, (char)c);
    }
    free(sb->name);
    sb->name = mw_buf_detach(&esc, NULL);
}

uint64_t mw_sandbox_log_dropped(const struct mw_sandbox *sb)
{
    return sb->log_dropped;
}

/* ---------------------------------------------------------------------- */
/* require: modules from lua/ only, text mode                              */

static bool valid_module_name(const char *s)
{
    if (*s == '\0' || *s == '.')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.';
        if (!ok || (c == '.' && (p[1] == '.' || p[1] == '\0')))
            return false;
    }
    return true;
}

/* A whole regular file (mw_file_read refuses FIFOs and devices), or NULL. */
static char *read_file(const char *path, size_t *len)
{
    return mw_file_read(path, 0, len, NULL);
}

static const char *const LOADED_KEY = "mw.loaded";

static const char *const PROXIES_KEY = "mw.proxies";   /* raw table -> proxy */
static const char *const PROXYSET_KEY = "mw.proxyset"; /* proxy -> true */

/* [-0, +0, e] (always raises) */
static int l_readonly_newindex(lua_State *L) /* MW_MAY_RAISE */
{
    mw_sandbox_from_lua(L)->blocked_tripped = true;
    return luaL_error(L, "blocked: attempt to modify read-only module field '%s'",
                      luaL_tolstring(L, 2, NULL));
}

static void push_readonly(lua_State *L, int idx);

/* __index of a proxy: the module's value, nested plain tables proxied too,
 * so `mw.x.y = v` fails like `mw.x = v`. Upvalue 1: the module table. */
/* [-0, +1, m] MW_MAY_RAISE */
static int l_ro_index(lua_State *L)
{
    lua_settop(L, 2);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) == LUA_TTABLE) {
        if (lua_getmetatable(L, -1))
            lua_pop(L, 1); /* an object (mw.null): returned as it is */
        else
            push_readonly(L, -1);
    }
    return 1;
}

/* [-0, +1, -] */
static int l_ro_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lua_rawlen(L, lua_upvalueindex(1)));
    return 1;
}

/* The iterator __pairs returns: next over the module table, values proxied. */
/* [-0, +(1|2), m] MW_MAY_RAISE */
static int l_ro_next(lua_State *L)
{
    lua_settop(L, 2);
    if (!lua_next(L, lua_upvalueindex(1))) {
        lua_pushnil(L);
        return 1;
    }
    if (lua_type(L, -1) == LUA_TTABLE) {
        if (lua_getmetatable(L, -1))
            lua_pop(L, 1); /* an object: returned as it is */
        else {
            push_readonly(L, -1);
            lua_replace(L, -2); /* key, proxy */
        }
    }
    return 2;
}

/* [-0, +3, m] MW_MAY_RAISE */
static int l_ro_pairs(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, l_ro_next, 1);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

/* rawset would write into the proxy itself and shadow the module's field. */
/* rawset refusing read-only modules. [-0, +1, e] */
static int l_rawset(lua_State *L) /* MW_MAY_RAISE */
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checkany(L, 2);
    luaL_checkany(L, 3);
    lua_getfield(L, LUA_REGISTRYINDEX, PROXYSET_KEY);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) != LUA_TNIL) {
        mw_sandbox_from_lua(L)->blocked_tripped = true;
        return luaL_error(L, "blocked: attempt to modify a read-only module with rawset");
    }
    lua_pop(L, 2);
    lua_settop(L, 3);
    lua_rawset(L, 1);
    return 1;
}

/* Pushes the read-only proxy of the table at idx (one per table, cached):
 * reads go to the table, writes raise, the metatable is hidden, # and pairs
 * work. Rules share nothing (one state each), but a rule must not be able to
 * redefine mw.* (or the catalogue tables behind mw.mitre) for the modules it
 * loads. Tables that have a metatable (objects such as mw.null) are returned
 * as they are. [-0, +1, m] */
/* Pushes the read-only proxy of the table at idx. [-0, +1, m] MW_MAY_RAISE */
static void push_readonly(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    lua_getfield(L, LUA_REGISTRYINDEX, PROXIES_KEY);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TTABLE) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);          /* proxy */
    lua_createtable(L, 0, 5); /* its metatable */
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, l_ro_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, l_ro_pairs, 1);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, idx);
    lua_pushcclosure(L, l_ro_len, 1);
    lua_setfield(L, -2, "__len");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4); /* proxies[t] = proxy */
    lua_getfield(L, LUA_REGISTRYINDEX, PROXYSET_KEY);
    lua_pushvalue(L, -2);
    lua_pushboolean(L, 1);
    lua_rawset(L, -3); /* proxyset[proxy] = true */
    lua_pop(L, 1);
    lua_remove(L, -2);
}

/* Replaces the table at the top of the stack by its read-only proxy. */
/* [-1, +1, m] MW_MAY_RAISE */
static void make_readonly(lua_State *L)
{
    push_readonly(L, -1);
    lua_replace(L, -2);
}
static const char *const PRELOAD_KEY = "mw.preload";

/* The host require: preloaded modules, then lua/<name>.lua, in text mode,
 * as read-only proxies. [-1, +1, e] */
static int l_require(lua_State *L) /* MW_MAY_RAISE */
{
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    const char *name = luaL_checkstring(L, 1);
    char *path;
    size_t len;
    char *src;
    int st;

    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LOADED_KEY); /* 2 */
    if (lua_getfield(L, 2, name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    if (!valid_module_name(name)) {
        sb->blocked_tripped = true;
        return luaL_error(L,
                          "blocked: require '%s': rules may only require "
                          "modules of the project's lua/ folder",
                          name);
    }
    lua_getfield(L, LUA_REGISTRYINDEX, PRELOAD_KEY);
    if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
        lua_pushstring(L, name);
        lua_call(L, 1, 1);
        goto store;
    }
    lua_pop(L, 2);

    lua_pushfstring(L, "@lua/%s.lua", name); /* 3: chunk name, before any malloc */
    /* name is [A-Za-z0-9_.]: dots become folders; C memory is released
     * before anything raises */
    struct mw_buf rel = MW_BUF_INIT;
    for (const char *p = name; *p; p++)
        mw_buf_addc(&rel, *p == '.' ? '/' : *p);
    mw_buf_adds(&rel, ".lua");
    path = mw_path_join(sb->lua_dir, rel.ptr);
    src = read_file(path, &len);
    free(path);
    if (src == NULL) {
        mw_buf_setlen(&rel, rel.len - 4);
        mw_buf_adds(&rel, "/init.lua");
        path = mw_path_join(sb->lua_dir, rel.ptr);
        src = read_file(path, &len);
        free(path);
    }
    mw_buf_release(&rel);
    if (src == NULL) {
        sb->blocked_tripped = true;
        return luaL_error(L,
                          "blocked: require '%s': no such module in the "
                          "project's lua/ folder",
                          name);
    }
    st = luaL_loadbufferx(L, src, len, lua_tostring(L, 3), "t"); /* protected */
    free(src);
    if (st != LUA_OK)
        return lua_error(L);
    lua_remove(L, -2); /* the chunk name */
    lua_pushstring(L, name);
    lua_call(L, 1, 1);
store:
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    } else if (lua_istable(L, -1)) {
        make_readonly(L);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, 2, name);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* construction                                                            */

/* Replaces table[name] by a "blocked: label" stub. [-0, +0, m] MW_MAY_RAISE */
static void block(lua_State *L, int table, const char *name, const char *label)
{
    lua_pushstring(L, label);
    lua_pushcclosure(L, l_blocked, 1);
    lua_setfield(L, table, name);
}

/* Protected: opens and trims the libraries, installs require. [-0, +0, m] */
static int open_libs(lua_State *L)
{
    static const char *const os_keep[] = {"clock", "date", "time", "difftime", NULL};

    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);

    lua_pushglobaltable(L); /* 1: _G */
    block(L, 1, "dofile", "dofile");
    block(L, 1, "loadfile", "loadfile");
    block(L, 1, "load", "load");
    block(L, 1, "collectgarbage", "collectgarbage");
    lua_pushcfunction(L, l_pcall);
    lua_setfield(L, 1, "pcall");
    lua_pushcfunction(L, l_xpcall);
    lua_setfield(L, 1, "xpcall");
    lua_pushcfunction(L, mw_lua_log);
    lua_setfield(L, 1, "print");
    lua_getfield(L, 1, "setmetatable");
    lua_pushcclosure(L, l_setmetatable, 1);
    lua_setfield(L, 1, "setmetatable");
    lua_pushcfunction(L, l_require);
    lua_setfield(L, 1, "require");
    lua_pushcfunction(L, l_rawset);
    lua_setfield(L, 1, "rawset");
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_blocked_global);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, 1);

    lua_getfield(L, 1, LUA_STRLIBNAME); /* 2: string */
    block(L, 2, "dump", "string.dump");
    lua_pop(L, 1);
    mw_lstrlib_install(L); /* budgeted patterns and table moves */

    /* a safe os: a throwaway os table supplies the four harmless functions */
    luaL_requiref(L, "os.full", luaopen_os, 0); /* 2: full os */
    lua_newtable(L);                            /* 3: safe os */
    for (int i = 0; os_keep[i]; i++) {
        lua_getfield(L, 2, os_keep[i]);
        lua_setfield(L, 3, os_keep[i]);
    }
    block(L, 3, "execute", "os.execute");
    block(L, 3, "exit", "os.exit");
    block(L, 3, "getenv", "os.getenv");
    block(L, 3, "remove", "os.remove");
    block(L, 3, "rename", "os.rename");
    block(L, 3, "tmpname", "os.tmpname");
    lua_setfield(L, 1, "os");
    lua_pop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_pushnil(L);
    lua_setfield(L, -2, "os.full");
    lua_pop(L, 1);

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, LOADED_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PRELOAD_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PROXIES_KEY);
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, PROXYSET_KEY);
    lua_settop(L, 0);
    return 0;
}

struct mw_sandbox *mw_sandbox_new(const struct mw_sandbox_limits *limits,
                                  const char *lua_dir)
{
    struct mw_sandbox *sb = xcalloc(1, sizeof(*sb));
    sb->cap = limits && limits->mem_max ? limits->mem_max : MW_SANDBOX_DEFAULT_MEM;
    sb->call_budget = limits && limits->insn_per_call > 0 ? limits->insn_per_call
                                                          : MW_SANDBOX_DEFAULT_INSN;
    sb->load_budget = limits && limits->insn_load > 0 ? limits->insn_load
                                                      : MW_SANDBOX_DEFAULT_LOAD_INSN;
    sb->time_call_us = limits && limits->time_per_event_us > 0
                           ? limits->time_per_event_us
                           : MW_SANDBOX_DEFAULT_TIME_US;
    sb->time_load_us = limits && limits->time_load_us > 0
                           ? limits->time_load_us
                           : MW_SANDBOX_DEFAULT_LOAD_TIME_US;
    if (limits && limits->mem_total_max)
        atomic_store(&total_cap, limits->mem_total_max);
    sb->lua_dir = xstrdup(lua_dir ? lua_dir : "lua");
    sb->name = xstrdup("?");
    sb->L = lua_newstate(sb_alloc, sb);
    if (sb->L == NULL) {
        mw_sandbox_free(sb);
        return NULL;
    }
    *(struct mw_sandbox **)lua_getextraspace(sb->L) = sb;
    lua_pushcfunction(sb->L, open_libs);
    if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
        mw_sandbox_free(sb);
        return NULL;
    }
    return sb;
}

void mw_sandbox_free(struct mw_sandbox *sb)
{
    if (sb == NULL)
        return;
    if (sb->L)
        lua_close(sb->L);
    if (sb->log_unreported)
        mw_log_warn("rule %s: %llu log line(s) dropped (at most %d a second per rule; "
                    "%llu in all)",
                    sb->name, (unsigned long long)sb->log_unreported, MW_SANDBOX_LOG_RATE,
                    (unsigned long long)sb->log_dropped);
    free(sb->lua_dir);
    free(sb->name);
    free(sb);
}

lua_State *mw_sandbox_lua(struct mw_sandbox *sb)
{
    return sb->L;
}

struct mw_sandbox *mw_sandbox_from_lua(lua_State *L)
{
    return *(struct mw_sandbox **)lua_getextraspace(L);
}

size_t mw_sandbox_mem_used(const struct mw_sandbox *sb)
{
    return sb->used;
}

size_t mw_sandbox_mem_free(const struct mw_sandbox *sb)
{
    size_t total = atomic_load(&total_used), tcap = atomic_load(&total_cap);
    size_t own = sb->used < sb->cap ? sb->cap - sb->used : 0;
    size_t all = total < tcap ? tcap - total : 0;
    return own < all ? own : all;
}

int64_t mw_sandbox_call_budget(const struct mw_sandbox *sb)
{
    return sb->call_budget;
}

int64_t mw_sandbox_time_budget(const struct mw_sandbox *sb)
{
    return sb->time_call_us;
}

/* ---------------------------------------------------------------------- */
/* protected calls                                                         */

/* Message handler: appends the traceback. [-1, +1, m] */
static int msgh(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (msg == NULL)
        msg = luaL_typename(L, 1);
    luaL_traceback(L, L, msg, 1);
    return 1;
}

enum mw_fail mw_sandbox_pcall(struct mw_sandbox *sb, int nargs, int nres, int64_t budget,
                              char *msg, size_t msgsize)
{
    return mw_sandbox_pcall_until(sb, nargs, nres, budget, 0, msg, msgsize);
}

enum mw_fail mw_sandbox_pcall_until(struct mw_sandbox *sb, int nargs, int nres,
                                    int64_t budget, int64_t deadline_us, char *msg,
                                    size_t msgsize)
{
    lua_State *L = sb->L;
    int base = lua_gettop(L) - nargs; /* index of the function */
    enum mw_fail fail = MW_FAIL_NONE;
    int64_t now = mw_mono_us();
    int st;

    sb->mem_tripped = sb->mem_raised = sb->insn_tripped = sb->blocked_tripped = false;
    sb->total_tripped = false;
    sb->budget_left = budget > 0 ? budget : sb->call_budget;
    if (deadline_us <= 0) {
        sb->time_budget_us = sb->time_call_us;
        sb->deadline_us = now + sb->time_call_us;
    } else {
        sb->time_budget_us = sb->time_call_us;
        sb->deadline_us = deadline_us;
    }
    if (interrupted || now >= sb->deadline_us) {
        /* nothing runs: the event's time is spent or the host is stopping */
        out_of_time(sb, sb->trip_msg, sizeof(sb->trip_msg));
        if (msg && msgsize)
            snprintf(msg, msgsize, "%s", sb->trip_msg);
        lua_settop(L, base - 1);
        return MW_FAIL_INSTRUCTIONS;
    }
    sb->in_call = true;
    lua_sethook(L, count_hook, LUA_MASKCOUNT | LUA_MASKCALL, HOOK_STEP);
    lua_pushcfunction(L, msgh);
    lua_insert(L, base);
    st = lua_pcall(L, nargs, nres, base);
    lua_sethook(L, NULL, 0, 0);
    sb->in_call = false;
    sb->deadline_us = 0;

    if (st == LUA_OK) {
        lua_remove(L, base);
        if (nres != LUA_MULTRET)
            MW_LUA_BALANCED(L, base - 1, nres);
        return MW_FAIL_NONE;
    }
    if (st == LUA_ERRMEM || sb->mem_raised)
        fail = MW_FAIL_MEMORY;
    else if (sb->insn_tripped)
        fail = MW_FAIL_INSTRUCTIONS;
    else if (sb->blocked_tripped)
        fail = MW_FAIL_BLOCKED;
    else
        fail = MW_FAIL_SCRIPT;
    if (msg && msgsize) {
        const char *m = st != LUA_ERRMEM ? lua_tostring(L, -1)
                        : sb->total_tripped
                            ? "not enough memory (the memory cap of all rules "
                              "together, --rules-memory, is reached)"
                            : "not enough memory (rule memory cap reached)";
        size_t n = 0;
        if (m == NULL)
            m = "(error object is not a string)";
        /* keep the first line; the traceback goes to debug logs only */
        while (m[n] && m[n] != '\n' && n + 1 < msgsize)
            n++;
        memcpy(msg, m, n);
        msg[n] = '\0';
    }
    lua_settop(L, base - 1);
    MW_LUA_BALANCED(L, base - 1, 0);
    sb->mem_tripped = sb->mem_raised = sb->insn_tripped = sb->blocked_tripped = false;
    return fail;
}

enum mw_fail mw_sandbox_dofile(struct mw_sandbox *sb, const char *path, char *msg,
                               size_t msgsize)
{
    lua_State *L = sb->L;
    struct mw_buf chunk = MW_BUF_INIT;
    size_t len;
    char *src = read_file(path, &len);
    int st;

    if (src == NULL) {
        snprintf(msg, msgsize, "%s: cannot read file", path);
        return MW_FAIL_SCRIPT;
    }
    mw_buf_addf(&chunk, "@%s", path);
    st = luaL_loadbufferx(L, src, len, chunk.ptr, "t");
    free(src);
    mw_buf_release(&chunk);
    if (st != LUA_OK) {
        snprintf(msg, msgsize, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return st == LUA_ERRMEM ? MW_FAIL_MEMORY : MW_FAIL_SCRIPT;
    }
    {
        /* the load's own time bound (time_load_us), reported as such */
        int64_t saved = sb->time_call_us;
        enum mw_fail f;
        sb->time_call_us = sb->time_load_us;
        f = mw_sandbox_pcall(sb, 0, 1, sb->load_budget, msg, msgsize);
        sb->time_call_us = saved;
        return f;
    }
}
