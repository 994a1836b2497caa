/* mw_lhook.c - a rule's on_alert hook
 *
 * The hook gets a Lua copy of the alert's key fields and events (never the
 * alert itself) and returns nil/true (deliver), false (drop) or a table of
 * changes. The result is read with raw access inside the same protected
 * trampoline; its fields are owned by the caller's struct hook_call, not by
 * the trampoline, so a Lua error half-way leaks nothing: the caller frees
 * whatever was filled in. Invalid results are described in a growable
 * buffer and reported as a script failure.
 */
#include "lua/lua_int.h"
#include "mw_alert.h"
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_log.h"

#include <lauxlib.h>
#include <string.h>

struct hook_call {
    struct mw_lrt *rt;
    json_t *alert; /* borrowed */
    bool drop;
    char *message, *title, *severity; /* owned, NULL = unchanged */
    int risk_score;                   /* -1 = unchanged */
    json_t *fields;                   /* new reference or NULL */
    struct mw_buf err;                /* invalid result, empty when fine */
};

static const char *const hook_keys[] = {
    "message",
    "title",
    "severity",
    "risk_score",
    "fields",
    /* the alert copy's own keys: returning the (edited) alert is fine */
    "id",
    "rule_id",
    "rule_name",
    "type",
    "join_key",
    "start",
    "end",
    "events",
    NULL,
};

/* Pushes t[key] (raw) and returns its type. [-0, +1, m] */
static int rawfield(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* [-0, +0, m] MW_MAY_RAISE */
static void set_str(lua_State *L, const char *k, const json_t *v)
{
    if (json_is_string(v)) {
        lua_pushstring(L, json_string_value(v));
        lua_setfield(L, -2, k);
    }
}

static bool is_severity(const char *s)
{
#define SEVERITY_IS_(name, risk)                                                         \
    if (strcmp(s, #name) == 0)                                                           \
        return true;
    MW_SEVERITIES(SEVERITY_IS_)
#undef SEVERITY_IS_
    return false;
}

/* Reads the hook's result (at -1) into h. Raw access only.
 * [-0, +0, m] MW_MAY_RAISE */
static void read_hook_result(lua_State *L, struct hook_call *h)
{
    int t = lua_absindex(L, -1);
    int ty = lua_type(L, t);

    if (ty == LUA_TNIL || (ty == LUA_TBOOLEAN && lua_toboolean(L, t)))
        return;
    if (ty == LUA_TBOOLEAN) {
        h->drop = true;
        return;
    }
    if (ty != LUA_TTABLE) {
        mw_buf_addf(&h->err,
                    "on_alert returned a %s (expected nil, "
                    "true, false or a table of changes)",
                    luaL_typename(L, t));
        return;
    }
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        bool known = false;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; hook_keys[i]; i++)
                if (strcmp(hook_keys[i], lua_tostring(L, -1)) == 0)
                    known = true;
        if (!known) {
            mw_buf_addf(&h->err,
                        "on_alert returned an unknown key '%.100s' "
                        "(changes are message, title, severity, risk_score, fields)",
                        lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            return;
        }
    }
    static const char *const strs[] = {"message", "title", "severity"};
    char **outs[] = {&h->message, &h->title, &h->severity};
    for (int i = 0; i < 3; i++) {
        ty = rawfield(L, t, strs[i]);
        if (ty == LUA_TSTRING) {
            size_t len;
            const char *v = lua_tolstring(L, -1, &len);
            json_t *chk = json_stringn(v, len); /* UTF-8 and no NUL */
            if (chk == NULL || strlen(v) != len) {
                json_decref(chk);
                mw_buf_addf(&h->err, "on_alert: '%s' is not a valid UTF-8 string",
                            strs[i]);
                lua_pop(L, 1);
                return;
            }
            json_decref(chk);
            *outs[i] = xstrdup(v);
        } else if (ty != LUA_TNIL) {
            mw_buf_addf(&h->err, "on_alert: '%s' must be a string", strs[i]);
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    if (h->severity && !is_severity(h->severity)) {
        mw_buf_adds(&h->err, "on_alert: severity must be low, medium, high or critical");
        return;
    }
    ty = rawfield(L, t, "risk_score");
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
        lua_tointeger(L, -1) <= MW_LIMIT_RISK_MAX) {
        h->risk_score = (int)lua_tointeger(L, -1);
    } else if (ty != LUA_TNIL) {
        mw_buf_addf(&h->err, "on_alert: risk_score must be an integer from 0 to %d",
                    MW_LIMIT_RISK_MAX);
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    ty = rawfield(L, t, "fields");
    if (ty == LUA_TTABLE) {
        const char *why = NULL;
        h->fields = mw_lconv_to_json(L, -1, &why);
        if (why)
            mw_buf_addf(&h->err, "on_alert: fields: %s", why);
        else if (h->fields == NULL || !json_is_object(h->fields))
            mw_buf_adds(&h->err, "on_alert: fields must be a table of named values");
    } else if (ty != LUA_TNIL) {
        mw_buf_adds(&h->err, "on_alert: fields must be a table");
    }
    lua_pop(L, 1);
}

/* Protected trampoline: [hook_call(lightuserdata)] -> nothing.
 * [-0, +0, e] MW_MAY_RAISE (leaves its work above the argument) */
static int l_call_hook(lua_State *L)
{
    struct hook_call *h = lua_touserdata(L, 1);
    json_t *a = h->alert;
    json_t *ev = json_object_get(a, "event");
    json_t *ru = json_object_get(a, "rule");
    json_t *mo = json_object_get(a, "moonwatch");
    json_t *evs = json_object_get(mo, "events"), *el;
    size_t i;

    lua_rawgeti(L, LUA_REGISTRYINDEX, h->rt->hook_ref);
    lua_createtable(L, 0, 12);
    set_str(L, "id", json_object_get(ev, "id"));
    set_str(L, "rule_id", json_object_get(ru, "id"));
    set_str(L, "rule_name", json_object_get(ru, "name"));
    set_str(L, "type", json_object_get(mo, "type"));
    set_str(L, "severity", json_object_get(mo, "severity"));
    set_str(L, "message", json_object_get(a, "message"));
    set_str(L, "start", json_object_get(ev, "start"));
    set_str(L, "end", json_object_get(ev, "end"));
    lua_pushinteger(L,
                    (lua_Integer)json_integer_value(json_object_get(ev, "risk_score")));
    lua_setfield(L, -2, "risk_score");
    if (json_object_get(mo, "join_key")) {
        mw_lconv_push(L, json_object_get(mo, "join_key"));
        lua_setfield(L, -2, "join_key");
    }
    lua_createtable(L, (int)json_array_size(evs), 0);
    json_array_foreach(evs, i, el)
    {
        mw_lconv_push(L, json_object_get(el, "event"));
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lua_setfield(L, -2, "events");
    lua_call(L, 1, 1);
    read_hook_result(L, h);
    return 0;
}

static void hook_clear(struct hook_call *h)
{
    free(h->message);
    free(h->title);
    free(h->severity);
    json_decref(h->fields);
    mw_buf_release(&h->err);
}

/* Host entry point: [-0, +0, -] (everything Lua runs under the pcall). */
enum mw_hook_result mw_lhook_on_alert(void *ud, json_t *alert)
{
    struct mw_lrt *rt = ud;
    struct mw_rule *r = rt->rule;
    struct mw_rule_errors *e = mw_rule_errors(r);
    struct hook_call h = {0};
    enum mw_hook_result res = MW_HOOK_KEEP;
    lua_State *L;
    int top;
    char msg[512]; /* the first line of an error message, truncated */
    const char *why = msg;
    enum mw_fail f;

    if (rt->hook_ref == LUA_NOREF)
        return MW_HOOK_KEEP;
    L = mw_sandbox_lua(rt->sb);
    top = lua_gettop(L);
    h.rt = rt;
    h.alert = alert;
    h.risk_score = -1;
    mw_buf_init(&h.err);
    lua_pushcfunction(L, l_call_hook);
    lua_pushlightuserdata(L, &h);
    f = mw_sandbox_pcall(rt->sb, 1, 0, 0, msg, sizeof(msg));
    if (f == MW_FAIL_NONE && h.err.len != 0) {
        f = MW_FAIL_SCRIPT;
        why = h.err.ptr;
    }
    if (f != MW_FAIL_NONE) {
        int64_t now = mw_wall_us() / MW_USEC_PER_SEC;
        e->by_class[f]++;
        e->hook_failures++;
        if (e->hook_last_logged == 0 || now - e->hook_last_logged >= 60) {
            e->hook_last_logged = now;
            mw_log_warn("rule %s (%s): on_alert failed [%s]: %s; the alert is "
                        "delivered without the hook's changes (further hook "
                        "errors are counted, logged at most once a minute)",
                        mw_rule_meta(r)->id, mw_rule_file(r), mw_fail_name(f), why);
        }
        res = MW_HOOK_FAILED;
        goto out;
    }
    if (h.drop) {
        res = MW_HOOK_DROP;
        goto out;
    }
    json_t *ev = json_object_get(alert, "event");
    json_t *mo = json_object_get(alert, "moonwatch");
    if (h.message)
        json_object_set_new(alert, "message", json_string(h.message));
    if (h.title)
        json_object_set_new(mo, "title", json_string(h.title));
    if (h.severity) {
        json_object_set_new(ev, "severity", json_integer(mw_severity_number(h.severity)));
        json_object_set_new(mo, "severity", json_string(h.severity));
    }
    if (h.risk_score >= 0)
        json_object_set_new(ev, "risk_score", json_integer(h.risk_score));
    if (h.fields) {
        json_object_set_new(mo, "context", h.fields);
        h.fields = NULL;
    }
out:
    hook_clear(&h);
    lua_settop(L, top);
    MW_LUA_BALANCED(L, top, 0);
    return res;
}
