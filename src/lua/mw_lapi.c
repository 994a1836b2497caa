/* mw_lapi.c - what the host gives a rule state: moonwatch.host, mw.event
 *
 * moonwatch.host (preloaded, served by the sandbox's require) carries log
 * (= print), null (the JSON null sentinel), limits (include/mw_limits.h,
 * one integer per entry) and severities (names, in order); lua/moonwatch.lua
 * builds `mw` on top of it.
 *
 * Predicates: one event-handle userdata per rule state is re-pointed at the
 * current event before each call and cleared after, so a handle a script
 * stashes raises "event used outside its callback" instead of reading freed
 * memory. The push of the handle and the call happen inside one protected
 * trampoline (lua.c's pmain pattern), so nothing that may raise runs
 * unprotected.
 */
#include "lua/lua_int.h"
#include "mw_kql.h"
#include "mw_clock.h"
#include "mw_log.h"

#include <lauxlib.h>
#include <string.h>

struct ev_handle {
    const struct mw_event *ev; /* borrowed during a call, else NULL */
};

/* ---------------------------------------------------------------------- */
/* moonwatch.host                                                          */

/* [-0, +1, m] */
static void push_limits(lua_State *L)
{
#define MW_LIMIT_FIELD_(name, value, doc)                                                \
    lua_pushinteger(L, (lua_Integer)(value));                                            \
    lua_setfield(L, -2, #name);
    lua_newtable(L);
    MW_LIMITS(MW_LIMIT_FIELD_)
#undef MW_LIMIT_FIELD_
}

/* [-0, +1, m] */
static void push_severities(lua_State *L)
{
    lua_Integer i = 0;
    lua_newtable(L);
#define MW_SEVERITY_NAME_(name, risk)                                                    \
    lua_pushliteral(L, #name);                                                           \
    lua_rawseti(L, -2, ++i);
    MW_SEVERITIES(MW_SEVERITY_NAME_)
#undef MW_SEVERITY_NAME_
}

/* host.kql_check(query): nil when the KQL query compiles onto the
 * matchers (mw_kql_emit_text into a throwaway builder), else the reason.
 * [-1, +1, m] */
static int l_kql_check(lua_State *L)
{
    size_t len;
    const char *q = luaL_checklstring(L, 1, &len);
    struct mw_rule_builder *b = mw_rb_new("");
    struct mw_error err = {{0}};
    int rc = mw_kql_emit_text(b, q, len, NULL, &err, NULL);
    mw_rb_free(b);
    if (rc == 0)
        lua_pushnil(L);
    else
        lua_pushstring(L, err.msg);
    return 1;
}

/* require("moonwatch.host"). [-0, +1, m] */
static int l_open_host(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, mw_lua_log);
    lua_setfield(L, -2, "log");
    lua_getfield(L, LUA_REGISTRYINDEX, MW_LUA_NULL_KEY);
    lua_setfield(L, -2, "null");
    push_limits(L);
    lua_setfield(L, -2, "limits");
    push_severities(L);
    lua_setfield(L, -2, "severities");
    lua_pushcfunction(L, l_kql_check);
    lua_setfield(L, -2, "kql_check");
    return 1;
}

/* ---------------------------------------------------------------------- */
/* the event handle                                                        */

/* The event behind argument 1. [-0, +0, e] MW_MAY_RAISE */
static const struct mw_event *check_event(lua_State *L)
{
    struct ev_handle *h = luaL_checkudata(L, 1, MW_LUA_EVENT_MT);
    if (h->ev == NULL)
        luaL_error(L, "event used outside its callback");
    return h->ev;
}

/* ev:get(path) -> value | nil. [-0, +(0|1), e] MW_MAY_RAISE */
static int l_event_get(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    size_t plen;
    const char *path = luaL_checklstring(L, 2, &plen);
    struct mw_path *p;
    json_t *v;
    if (plen > MW_LAPI_PATH_MAX)
        return luaL_argerror(L, 2,
                             "field path longer than " MW_LAPI_PATH_MAX_STR " bytes");
    if (strlen(path) != plen)
        return luaL_argerror(L, 2, "field path holds a NUL byte");
    p = mw_path_new(path);
    if (p == NULL)
        return luaL_argerror(L, 2, "invalid field path");
    v = mw_path_get(mw_event_root(ev), p);
    mw_path_free(p);
    if (v == NULL)
        return 0;
    mw_lconv_push(L, v);
    return 1;
}

/* ev:time() -> event time in milliseconds since the epoch. [-0, +1, e] MW_MAY_RAISE */
static int l_event_time(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    lua_pushnumber(L, (lua_Number)ev->ts / (lua_Number)MW_USEC_PER_MSEC);
    return 1;
}

/* ev:source() -> input, line. [-0, +2, e] MW_MAY_RAISE */
static int l_event_source(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    lua_pushstring(L, ev->input ? ev->input : "");
    lua_pushinteger(L, (lua_Integer)ev->line);
    return 2;
}

/* [-0, +1, e] MW_MAY_RAISE */
static int l_event_tostring(lua_State *L)
{
    struct ev_handle *h = luaL_checkudata(L, 1, MW_LUA_EVENT_MT);
    lua_pushstring(L, h->ev ? "mw.event" : "mw.event (expired)");
    return 1;
}

/* [-0, +1, m] */
static int l_null_tostring(lua_State *L)
{
    lua_pushliteral(L, "mw.null");
    return 1;
}

/* [-0, +0, e] MW_MAY_RAISE */
static int l_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only value");
}

int mw_lapi_setup(lua_State *L) /* MW_MAY_RAISE */
{
    static const luaL_Reg methods[] = {
        {"get", l_event_get},
        {"time", l_event_time},
        {"source", l_event_source},
        {NULL, NULL},
    };
    int top = lua_gettop(L);

    /* mw.null: a unique, frozen table */
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, l_null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, MW_LUA_NULL_KEY);

    /* preload moonwatch.host */
    lua_getfield(L, LUA_REGISTRYINDEX, "mw.preload");
    lua_pushcfunction(L, l_open_host);
    lua_setfield(L, -2, "moonwatch.host");
    lua_pop(L, 1);

    /* event handle metatable: methods apart from metamethods */
    luaL_newmetatable(L, MW_LUA_EVENT_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_event_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushcfunction(L, l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_pushboolean(L, 0); /* placeholder until the first predicate call */
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    MW_LUA_BALANCED(L, top, 1);
    return 1;
}

/* ---------------------------------------------------------------------- */
/* predicates                                                              */

static void log_failure(struct mw_lrt *rt, enum mw_fail f, const char *msg)
{
    struct mw_rule_errors *e = mw_rule_errors(rt->rule);
    int64_t now = mw_wall_us() / MW_USEC_PER_SEC;
    /* once per rule per class per minute */
    if (e->last_logged[f] != 0 && now - e->last_logged[f] < 60)
        return;
    e->last_logged[f] = now;
    mw_log_warn("rule %s (%s): predicate failed [%s]: %s (further %s errors "
                "of this rule are counted, logged at most once a minute)",
                mw_rule_meta(rt->rule)->id, mw_rule_file(rt->rule), mw_fail_name(f), msg,
                mw_fail_name(f));
}

struct call_args {
    struct mw_lrt *rt;
    const struct mw_event *ev;
    int fn_ref;
};

/* Protected trampoline: [args(lightuserdata)] -> predicate result.
 * One handle per (rule, event): predicates of one rule share it during one
 * event's dispatch; a new event invalidates the previous handle before any
 * Lua runs, so a stashed handle raises instead of reading another event.
 * [-1, +2, e] MW_MAY_RAISE (the argument stays below the result) */
static int l_call_pred(lua_State *L)
{
    struct call_args *a = lua_touserdata(L, 1);
    struct mw_lrt *rt = a->rt;
    struct ev_handle *h;

    if (rt->cur_ev != a->ev || rt->cur_seq != a->ev->seq) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, rt->handle_ref);
        h = lua_touserdata(L, -1); /* the previous event's handle */
        if (h)
            h->ev = NULL;
        lua_pop(L, 1);
        h = lua_newuserdatauv(L, sizeof(*h), 0);
        h->ev = NULL;
        luaL_setmetatable(L, MW_LUA_EVENT_MT);
        lua_rawseti(L, LUA_REGISTRYINDEX, rt->handle_ref);
        rt->cur_ev = a->ev;
        rt->cur_seq = a->ev->seq;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->fn_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, rt->handle_ref);
    h = lua_touserdata(L, -1);
    h->ev = a->ev;
    lua_call(L, 1, 1);
    return 1;
}

/* Host entry point: [-0, +0, -] (everything Lua runs under the pcall). */
enum mw_tv mw_lapi_call_fn(void *ud, int fn_ref, const struct mw_event *ev)
{
    struct mw_lrt *rt = ud;
    lua_State *L = mw_sandbox_lua(rt->sb);
    int top = lua_gettop(L);
    struct call_args args = {rt, ev, fn_ref};
    struct mw_rule_errors *e = mw_rule_errors(rt->rule);
    char msg[512]; /* the first line of an error message, truncated */
    enum mw_fail f;
    enum mw_tv res;

    /* one time budget per (rule, event) across all the rule's predicates:
     * 2,000 predicates each just under the instruction budget cannot hold
     * an event for seconds. Once it is spent, the rule's remaining
     * predicates for that event are not run (counted once, as the
     * failure that spent it) and evaluate as unknown. */
    if (rt->cur_ev != ev || rt->cur_seq != ev->seq || rt->ev_deadline_us == 0) {
        rt->ev_deadline_us = mw_mono_us() + mw_sandbox_time_budget(rt->sb);
        rt->ev_spent = false;
    } else if (rt->ev_spent) {
        return MW_NULL;
    }
    lua_pushcfunction(L, l_call_pred);
    lua_pushlightuserdata(L, &args);
    f = mw_sandbox_pcall_until(rt->sb, 1, 1, 0, rt->ev_deadline_us, msg, sizeof(msg));
    if (f == MW_FAIL_INSTRUCTIONS && mw_mono_us() >= rt->ev_deadline_us)
        rt->ev_spent = true;
    if (f != MW_FAIL_NONE) {
        e->by_class[f]++;
        e->consecutive++;
        e->last = f;
        snprintf(e->last_msg, sizeof(e->last_msg), "%.255s", msg);
        log_failure(rt, f, msg);
        res = MW_NULL;
    } else {
        e->consecutive = 0;
        e->ok_calls++;
        res = lua_toboolean(L, -1) ? MW_TRUE : MW_FALSE;
    }
    lua_settop(L, top);
    MW_LUA_BALANCED(L, top, 0);
    return res;
}
