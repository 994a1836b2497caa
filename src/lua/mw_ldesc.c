/* mw_rule.c - load a rule script and compile its descriptor
 *
 * Loading: a fresh sandbox gets the host module ("moonwatch.host": log,
 * null) and the event-handle metatable, then runs the rule file under the
 * load budget. The returned descriptor is compiled inside a protected call
 * with raw table access only (no metamethods run), and every C object is
 * attached to the rule as soon as it is created, so an error at any point
 * leaks nothing: mw_rule_free works on half-built rules.
 *
 * Predicates: one event-handle userdata per rule state is re-pointed at the
 * current event before each call and cleared after, so a handle a script
 * stashes raises "event used outside its callback" instead of reading freed
 * memory.
 */
#include "mw_rule.h"
#include "mw_alert.h"
#include "mw_buf.h"
#include "mw_log.h"
#include "mw_time.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONV_MAX_DEPTH 32

struct mw_rule {
    char *file; /* owned */
    struct mw_rule_meta meta;
    enum mw_rule_kind kind;
    struct mw_matcher *where;  /* owned, query rules */
    struct mw_seq_def *seq;    /* owned, sequence rules */
    struct mw_window_def *win; /* owned, window rules */
    char *shape;               /* owned */
    struct mw_sandbox *sb;     /* owned */
    struct mw_match_ctx ctx;
    struct mw_rule_errors errors;
    int handle_ref;                /* registry slot of the current event handle */
    const struct mw_event *cur_ev; /* event the handle was made for (identity only) */
    uint64_t cur_seq;
    struct mw_alert_policy policy; /* owned paths */
    int hook_ref;                  /* registry slot of on_alert, or LUA_NOREF */
};

struct ev_handle {
    const struct mw_event *ev; /* borrowed during a call, else NULL */
};

static const char *const NULL_KEY = "mw.null";
static const char *const EVENT_MT = "mw.event";

/* ---------------------------------------------------------------------- */
/* JSON -> Lua                                                             */

static void push_json(lua_State *L, const json_t *v, int depth) /* MW_MAY_RAISE */
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        lua_pushlstring(L, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        lua_pushinteger(L, (lua_Integer)json_integer_value(v));
        break;
    case JSON_REAL:
        lua_pushnumber(L, json_real_value(v));
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        lua_pushboolean(L, json_is_true(v));
        break;
    case JSON_NULL:
        lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *el;
        if (depth >= CONV_MAX_DEPTH) {
            lua_pushnil(L);
            break;
        }
        lua_createtable(L, (int)json_array_size(v), 0);
        json_array_foreach(v, i, el)
        {
            push_json(L, el, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_OBJECT: {
        const char *k;
        json_t *el;
        if (depth >= CONV_MAX_DEPTH) {
            lua_pushnil(L);
            break;
        }
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach((json_t *)v, k, el)
        {
            push_json(L, el, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    }
}

/* ---------------------------------------------------------------------- */
/* Lua -> JSON (raw access, never raises)                                  */

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Steals obj; returns a copy whose keys are inserted in sorted order. */
static json_t *sorted_object(json_t *obj)
{
    size_t n = json_object_size(obj), i = 0;
    const char **keys = xmalloc((n ? n : 1) * sizeof(*keys));
    const char *k;
    json_t *v, *out = json_object();

    json_object_foreach(obj, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(obj, keys[i]));
    free(keys);
    json_decref(obj);
    return out;
}

static json_t *to_json(lua_State *L, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        return json_stringn(s, len);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TTABLE: {
        json_t *out;
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        if (depth >= CONV_MAX_DEPTH || !lua_checkstack(L, 4))
            return NULL;
        lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
        bool is_null = lua_rawequal(L, idx, -1);
        lua_pop(L, 1);
        if (is_null)
            return json_null();
        if (n > 0) {
            out = json_array();
            for (lua_Integer i = 1; i <= n; i++) {
                lua_rawgeti(L, idx, i);
                json_t *el = to_json(L, -1, depth + 1);
                lua_pop(L, 1);
                json_array_append_new(out, el ? el : json_null());
            }
            return out;
        }
        /* keys sorted, so the output does not depend on Lua's hash order */
        out = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx) != 0) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                json_t *el = to_json(L, -1, depth + 1);
                if (el)
                    json_object_set_new(out, lua_tostring(L, -2), el);
            }
            lua_pop(L, 1);
        }
        return sorted_object(out);
    }
    default:
        return NULL;
    }
}

/* ---------------------------------------------------------------------- */
/* host module and event handle                                            */

static int l_host_log(lua_State *L)
{
    luaL_Buffer b;
    int n = lua_gettop(L);
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, ' ');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    mw_log_info("rule log: %s", lua_tostring(L, -1));
    return 0;
}

static int l_open_host(lua_State *L)
{
    lua_newtable(L);
    lua_pushcfunction(L, l_host_log);
    lua_setfield(L, -2, "log");
    lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
    lua_setfield(L, -2, "null");
    return 1;
}

static const struct mw_event *check_event(lua_State *L) /* MW_MAY_RAISE */
{
    struct ev_handle *h = luaL_checkudata(L, 1, EVENT_MT);
    if (h->ev == NULL)
        luaL_error(L, "event used outside its callback");
    return h->ev;
}

static int l_event_get(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    const char *path = luaL_checkstring(L, 2);
    struct mw_path *p = mw_path_new(path);
    json_t *v;
    if (p == NULL)
        return luaL_argerror(L, 2, "invalid field path");
    v = mw_path_get(mw_event_root(ev), p);
    mw_path_free(p);
    if (v == NULL)
        return 0;
    push_json(L, v, 0);
    return 1;
}

static int l_event_time(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    lua_pushnumber(L, (lua_Number)ev->ts / 1000.0);
    return 1;
}

static int l_event_source(lua_State *L)
{
    const struct mw_event *ev = check_event(L);
    lua_pushstring(L, ev->input ? ev->input : "");
    lua_pushinteger(L, (lua_Integer)ev->line);
    return 2;
}

static int l_event_tostring(lua_State *L)
{
    struct ev_handle *h = luaL_checkudata(L, 1, EVENT_MT);
    lua_pushstring(L, h->ev ? "mw.event" : "mw.event (expired)");
    return 1;
}

static int l_null_tostring(lua_State *L)
{
    lua_pushliteral(L, "mw.null");
    return 1;
}

static int l_readonly(lua_State *L)
{
    return luaL_error(L, "attempt to modify a read-only value");
}

/* Registers the host pieces in a fresh state. Runs protected. */
static int setup_state(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"get", l_event_get},
        {"time", l_event_time},
        {"source", l_event_source},
        {NULL, NULL},
    };

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
    lua_setfield(L, LUA_REGISTRYINDEX, NULL_KEY);

    /* preload moonwatch.host */
    lua_getfield(L, LUA_REGISTRYINDEX, "mw.preload");
    lua_pushcfunction(L, l_open_host);
    lua_setfield(L, -2, "moonwatch.host");
    lua_pop(L, 1);

    /* event handle metatable: methods apart from metamethods */
    luaL_newmetatable(L, EVENT_MT);
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
    return 1;
}

/* ---------------------------------------------------------------------- */
/* predicates                                                              */

static void log_failure(struct mw_rule *r, enum mw_fail f, const char *msg)
{
    int64_t now = (int64_t)time(NULL);
    /* once per rule per class per minute */
    if (r->errors.last_logged[f] != 0 && now - r->errors.last_logged[f] < 60)
        return;
    r->errors.last_logged[f] = now;
    mw_log_warn("rule %s (%s): predicate failed [%s]: %s (further %s errors "
                "of this rule are counted, logged at most once a minute)",
                r->meta.id, r->file, mw_fail_name(f), msg, mw_fail_name(f));
}

struct call_args {
    struct mw_rule *rule;
    const struct mw_event *ev;
    int fn_ref;
};

/* Protected trampoline: [args(lightuserdata)] -> predicate result.
 * One handle per (rule, event): predicates of one rule share it during one
 * event's dispatch; a new event invalidates the previous handle before any
 * Lua runs, so a stashed handle raises instead of reading another event. */
static int l_call_pred(lua_State *L) /* MW_MAY_RAISE */
{
    struct call_args *a = lua_touserdata(L, 1);
    struct mw_rule *r = a->rule;
    struct ev_handle *h;

    if (r->cur_ev != a->ev || r->cur_seq != a->ev->seq) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->handle_ref);
        h = lua_touserdata(L, -1); /* the previous event's handle */
        if (h)
            h->ev = NULL;
        lua_pop(L, 1);
        h = lua_newuserdatauv(L, sizeof(*h), 0);
        h->ev = NULL;
        luaL_setmetatable(L, EVENT_MT);
        lua_rawseti(L, LUA_REGISTRYINDEX, r->handle_ref);
        r->cur_ev = a->ev;
        r->cur_seq = a->ev->seq;
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->fn_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->handle_ref);
    h = lua_touserdata(L, -1);
    h->ev = a->ev;
    lua_call(L, 1, 1);
    return 1;
}

static enum mw_tv call_fn(void *ud, int fn_ref, const struct mw_event *ev)
{
    struct mw_rule *r = ud;
    lua_State *L = mw_sandbox_lua(r->sb);
    int top = lua_gettop(L);
    struct call_args args = {r, ev, fn_ref};
    char msg[512];
    enum mw_fail f;
    enum mw_tv res;

    lua_pushcfunction(L, l_call_pred);
    lua_pushlightuserdata(L, &args);
    f = mw_sandbox_pcall(r->sb, 1, 1, 0, msg, sizeof(msg));
    if (f != MW_FAIL_NONE) {
        r->errors.by_class[f]++;
        r->errors.consecutive++;
        r->errors.last = f;
        snprintf(r->errors.last_msg, sizeof(r->errors.last_msg), "%.255s", msg);
        log_failure(r, f, msg);
        res = MW_NULL;
    } else {
        r->errors.consecutive = 0;
        res = lua_toboolean(L, -1) ? MW_TRUE : MW_FALSE;
    }
    lua_settop(L, top);
    return res;
}

/* ---------------------------------------------------------------------- */
/* on_alert hooks                                                          */

/* Pushes t[key] (raw) and returns its type. */
static int rawfield(lua_State *L, int t, const char *key)
{
    lua_pushstring(L, key);
    return lua_rawget(L, t);
}

/* One hook call. The result fields are owned by the caller's struct (not by
 * the protected trampoline), so a Lua error half-way leaks nothing: the
 * caller frees whatever was filled in. */
struct hook_call {
    struct mw_rule *rule;
    const json_t *alert; /* borrowed */
    bool drop;
    char *message, *title, *severity; /* owned, NULL = unchanged */
    int risk_score;                   /* -1 = unchanged */
    json_t *fields;                   /* new reference or NULL */
    char err[200];                    /* invalid result, "" when fine */
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

static void set_str(lua_State *L, const char *k, const json_t *v) /* MW_MAY_RAISE */
{
    if (json_is_string(v)) {
        lua_pushstring(L, json_string_value(v));
        lua_setfield(L, -2, k);
    }
}

/* Reads the hook's result (at -1) into h. Raw access only. */
static void read_hook_result(lua_State *L, struct hook_call *h) /* MW_MAY_RAISE */
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
        snprintf(h->err, sizeof(h->err),
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
            snprintf(h->err, sizeof(h->err),
                     "on_alert returned an unknown key '%s' "
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
                snprintf(h->err, sizeof(h->err),
                         "on_alert: '%s' is not a valid "
                         "UTF-8 string",
                         strs[i]);
                lua_pop(L, 1);
                return;
            }
            json_decref(chk);
            *outs[i] = xstrdup(v);
        } else if (ty != LUA_TNIL) {
            snprintf(h->err, sizeof(h->err), "on_alert: '%s' must be a string", strs[i]);
            lua_pop(L, 1);
            return;
        }
        lua_pop(L, 1);
    }
    if (h->severity && strcmp(h->severity, "low") && strcmp(h->severity, "medium") &&
        strcmp(h->severity, "high") && strcmp(h->severity, "critical")) {
        snprintf(h->err, sizeof(h->err),
                 "on_alert: severity must be low, medium, "
                 "high or critical");
        return;
    }
    ty = rawfield(L, t, "risk_score");
    if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0 &&
        lua_tointeger(L, -1) <= 100) {
        h->risk_score = (int)lua_tointeger(L, -1);
    } else if (ty != LUA_TNIL) {
        snprintf(h->err, sizeof(h->err),
                 "on_alert: risk_score must be an integer "
                 "from 0 to 100");
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    ty = rawfield(L, t, "fields");
    if (ty == LUA_TTABLE) {
        h->fields = to_json(L, -1, 0);
        if (h->fields == NULL || !json_is_object(h->fields))
            snprintf(h->err, sizeof(h->err),
                     "on_alert: fields must be a table "
                     "of named values");
    } else if (ty != LUA_TNIL) {
        snprintf(h->err, sizeof(h->err), "on_alert: fields must be a table");
    }
    lua_pop(L, 1);
}

/* Protected trampoline: [hook_call(lightuserdata)] -> nothing. */
static int l_call_hook(lua_State *L) /* MW_MAY_RAISE */
{
    struct hook_call *h = lua_touserdata(L, 1);
    const json_t *a = h->alert;
    const json_t *ev = json_object_get(a, "event");
    const json_t *ru = json_object_get(a, "rule");
    const json_t *mo = json_object_get(a, "moonwatch");
    const json_t *evs = json_object_get(mo, "events"), *el;
    size_t i;

    lua_rawgeti(L, LUA_REGISTRYINDEX, h->rule->hook_ref);
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
        push_json(L, json_object_get(mo, "join_key"), 0);
        lua_setfield(L, -2, "join_key");
    }
    lua_createtable(L, (int)json_array_size(evs), 0);
    json_array_foreach(evs, i, el)
    {
        push_json(L, json_object_get(el, "event"), 0);
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
}

enum mw_hook_result mw_rule_on_alert(struct mw_rule *r, json_t *alert)
{
    struct hook_call h = {0};
    enum mw_hook_result res = MW_HOOK_KEEP;
    lua_State *L;
    int top;
    char msg[512];
    enum mw_fail f;

    if (r->hook_ref == LUA_NOREF)
        return MW_HOOK_KEEP;
    L = mw_sandbox_lua(r->sb);
    top = lua_gettop(L);
    h.rule = r;
    h.alert = alert;
    h.risk_score = -1;
    lua_pushcfunction(L, l_call_hook);
    lua_pushlightuserdata(L, &h);
    f = mw_sandbox_pcall(r->sb, 1, 0, 0, msg, sizeof(msg));
    if (f == MW_FAIL_NONE && h.err[0] != '\0') {
        f = MW_FAIL_SCRIPT;
        snprintf(msg, sizeof(msg), "%s", h.err);
    }
    if (f != MW_FAIL_NONE) {
        int64_t now = (int64_t)time(NULL);
        r->errors.by_class[f]++;
        r->errors.hook_failures++;
        if (r->errors.hook_last_logged == 0 || now - r->errors.hook_last_logged >= 60) {
            r->errors.hook_last_logged = now;
            mw_log_warn("rule %s (%s): on_alert failed [%s]: %s; the alert is "
                        "delivered without the hook's changes (further hook "
                        "errors are counted, logged at most once a minute)",
                        r->meta.id, r->file, mw_fail_name(f), msg);
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
    return res;
}

/* ---------------------------------------------------------------------- */
/* descriptor compilation                                                  */

struct compile {
    struct mw_rule *rule;
    struct mw_error *err;
    int failed;
};

#define FAIL(c, ...)                                                                     \
    do {                                                                                 \
        if (!(c)->failed)                                                                \
            mw_error_set((c)->err, __VA_ARGS__);                                         \
        (c)->failed = 1;                                                                 \
        return -1;                                                                       \
    } while (0)

/* true when the Lua string at idx is valid UTF-8 without a NUL byte: what
 * alerts and statistics (JSON) can carry */
static bool is_text(lua_State *L, int idx)
{
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    json_t *chk = json_stringn(s, len); /* NULL when not UTF-8 */
    bool ok = chk != NULL && strlen(s) == len;
    json_decref(chk);
    return ok;
}

static int get_string(lua_State *L, struct compile *c, int t, const char *key, char **out,
                      bool required)
{
    int ty = rawfield(L, t, key);
    if (ty == LUA_TSTRING && !is_text(L, -1)) {
        lua_pop(L, 1);
        FAIL(c, "rule field '%s' is not valid UTF-8 text (or holds a NUL byte)", key);
    } else if (ty == LUA_TSTRING) {
        *out = xstrdup(lua_tostring(L, -1));
    } else if (ty == LUA_TNIL && !required) {
        *out = xstrdup("");
    } else {
        lua_pop(L, 1);
        FAIL(c, "rule field '%s' must be a string", key);
    }
    lua_pop(L, 1);
    return 0;
}

static int get_int(lua_State *L, struct compile *c, int t, const char *key, int *out,
                   int dflt, int lo, int hi)
{
    int ty = rawfield(L, t, key);
    if (ty == LUA_TNIL) {
        *out = dflt;
    } else if (ty == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= lo &&
               lua_tointeger(L, -1) <= hi) {
        *out = (int)lua_tointeger(L, -1);
    } else {
        lua_pop(L, 1);
        FAIL(c, "rule field '%s' must be an integer in %d..%d", key, lo, hi);
    }
    lua_pop(L, 1);
    return 0;
}

/* A list of strings (a lone string is accepted) as a JSON array. */
static int get_strlist(lua_State *L, struct compile *c, int t, const char *key,
                       json_t **out)
{
    int ty = rawfield(L, t, key);
    *out = json_array();
    if (ty == LUA_TSTRING) {
        if (!is_text(L, -1)) {
            lua_pop(L, 1);
            FAIL(c, "rule field '%s' holds a string that is not UTF-8", key);
        }
        json_array_append_new(*out, json_string(lua_tostring(L, -1)));
    } else if (ty == LUA_TTABLE) {
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        for (lua_Integer i = 1; i <= n; i++) {
            if (lua_rawgeti(L, -1, i) != LUA_TSTRING) {
                lua_pop(L, 2);
                FAIL(c, "rule field '%s' must be a list of strings", key);
            }
            json_t *s = is_text(L, -1) ? json_string(lua_tostring(L, -1)) : NULL;
            if (s == NULL) {
                lua_pop(L, 2);
                FAIL(c, "rule field '%s' holds a string that is not UTF-8", key);
            }
            json_array_append_new(*out, s);
            lua_pop(L, 1);
        }
    } else if (ty != LUA_TNIL) {
        lua_pop(L, 1);
        FAIL(c, "rule field '%s' must be a list of strings", key);
    }
    lua_pop(L, 1);
    return 0;
}

static const struct {
    const char *name;
    enum mw_op op;
} ops[] = {
    {"eq", MW_OP_EQ},
    {"ieq", MW_OP_IEQ},
    {"like", MW_OP_LIKE},
    {"prefix", MW_OP_PREFIX},
    {"suffix", MW_OP_SUFFIX},
    {"contains", MW_OP_CONTAINS},
    {"lt", MW_OP_LT},
    {"le", MW_OP_LE},
    {"gt", MW_OP_GT},
    {"ge", MW_OP_GE},
    {"exists", MW_OP_EXISTS},
    {"cidr", MW_OP_CIDR},
    {"category", MW_OP_CATEGORY},
    {"all", MW_OP_ALL},
    {"any", MW_OP_ANY},
    {"not", MW_OP_NOT},
    {"fn", MW_OP_FN},
};

static int compile_matcher(lua_State *L, struct compile *c, int idx,
                           struct mw_matcher *parent, struct mw_matcher **out);

static int compile_children(lua_State *L, struct compile *c, int t, struct mw_matcher *m)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, t);
    if (!lua_checkstack(L, 8))
        FAIL(c, "matcher nesting too deep");
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, t, i);
        int rc = compile_matcher(L, c, -1, m, NULL);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int add_value(lua_State *L, struct compile *c, struct mw_matcher *m, int idx,
                     bool ci, const char *field)
{
    struct mw_error e;
    int rc;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        rc = mw_matcher_add_string(m, s, len, ci, &e);
        break;
    }
    case LUA_TNUMBER:
        rc = mw_matcher_add_number(m, lua_tonumber(L, idx), lua_isinteger(L, idx), &e);
        break;
    case LUA_TBOOLEAN:
        rc = mw_matcher_add_bool(m, lua_toboolean(L, idx), &e);
        break;
    default:
        FAIL(c, "matcher on '%s': values must be strings, numbers or booleans", field);
    }
    if (rc < 0)
        FAIL(c, "matcher on '%s': %s", field, e.msg);
    return 0;
}

static int compile_matcher(lua_State *L, struct compile *c, int idx,
                           struct mw_matcher *parent, struct mw_matcher **out)
{
    struct mw_matcher *m;
    enum mw_op op;
    const char *opname;
    size_t i;
    int t = lua_absindex(L, idx);

    if (lua_type(L, t) == LUA_TFUNCTION) {
        lua_pushvalue(L, t);
        m = mw_matcher_new_fn(luaL_ref(L, LUA_REGISTRYINDEX));
        goto attach;
    }
    if (lua_type(L, t) != LUA_TTABLE)
        FAIL(c, "a matcher must be a table from mw.* or a function, got %s",
             luaL_typename(L, t));
    if (rawfield(L, t, "op") == LUA_TNIL) {
        lua_pop(L, 1);
        m = mw_matcher_new_group(MW_OP_ALL); /* a plain list means all */
        if (out)
            *out = m;
        else
            mw_matcher_add_child(parent, m);
        return compile_children(L, c, t, m);
    }
    if (lua_type(L, -1) != LUA_TSTRING) {
        lua_pop(L, 1);
        FAIL(c, "matcher 'op' must be a string");
    }
    opname = lua_tostring(L, -1);
    for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(ops[i].name, opname) == 0)
            break;
    if (i == sizeof(ops) / sizeof(ops[0])) {
        char name[64];
        snprintf(name, sizeof(name), "%s", opname);
        lua_pop(L, 1);
        FAIL(c, "unknown matcher op '%s'", name);
    }
    lua_pop(L, 1);
    op = ops[i].op;

    if (op == MW_OP_FN) {
        if (rawfield(L, t, "fn") != LUA_TFUNCTION) {
            lua_pop(L, 1);
            FAIL(c, "mw.fn needs a function");
        }
        m = mw_matcher_new_fn(luaL_ref(L, LUA_REGISTRYINDEX));
        goto attach;
    }
    if (op == MW_OP_ALL || op == MW_OP_ANY || op == MW_OP_NOT) {
        m = mw_matcher_new_group(op);
        if (out)
            *out = m;
        else
            mw_matcher_add_child(parent, m);
        return compile_children(L, c, t, m);
    }

    /* leaves */
    {
        char field[256];
        struct mw_path *path;
        bool ci = false;
        if (rawfield(L, t, "field") != LUA_TSTRING) {
            lua_pop(L, 1);
            FAIL(c, "matcher '%s' needs a field name", ops[i].name);
        }
        snprintf(field, sizeof(field), "%s", lua_tostring(L, -1));
        path = mw_path_new(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (path == NULL)
            FAIL(c, "invalid field path '%s'", field);
        m = mw_matcher_new_leaf(op, path);
        if (out)
            *out = m;
        else
            mw_matcher_add_child(parent, m);
        if (rawfield(L, t, "ci") == LUA_TBOOLEAN)
            ci = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (op >= MW_OP_LT && op <= MW_OP_GE) {
            if (rawfield(L, t, "value") != LUA_TNUMBER) {
                lua_pop(L, 1);
                FAIL(c, "comparison on '%s' needs a number", field);
            }
            int rc = add_value(L, c, m, -1, ci, field);
            lua_pop(L, 1);
            return rc;
        }
        if (op == MW_OP_EXISTS)
            return 0;
        if (rawfield(L, t, "values") != LUA_TTABLE) {
            lua_pop(L, 1);
            FAIL(c, "matcher on '%s' needs a list of values", field);
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n == 0) {
            lua_pop(L, 1);
            FAIL(c, "matcher on '%s' has an empty value list", field);
        }
        for (lua_Integer k = 1; k <= n; k++) {
            lua_rawgeti(L, -1, k);
            int rc = add_value(L, c, m, -1, ci, field);
            lua_pop(L, 1);
            if (rc < 0) {
                lua_pop(L, 1);
                return -1;
            }
        }
        lua_pop(L, 1);
        return 0;
    }

attach:
    if (out)
        *out = m;
    else
        mw_matcher_add_child(parent, m);
    return 0;
}

/* Reads a list of key paths (a string or a list of strings) at the top of
 * the stack and appends them to keys from position *n. */
static int compile_keys(lua_State *L, struct compile *c, struct mw_seq_keys *keys, int *n,
                        const char *where)
{
    int t = lua_absindex(L, -1);
    lua_Integer len;

    if (lua_type(L, t) == LUA_TNIL)
        return 0;
    if (lua_type(L, t) == LUA_TSTRING) {
        len = 1;
    } else if (lua_type(L, t) == LUA_TTABLE) {
        len = (lua_Integer)lua_rawlen(L, t);
    } else {
        FAIL(c, "%s: 'by' must be a field name or a list of them", where);
    }
    for (lua_Integer i = 1; i <= len; i++) {
        const char *f;
        bool opt;
        if (lua_type(L, t) == LUA_TSTRING)
            lua_pushvalue(L, t);
        else
            lua_rawgeti(L, t, i);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            FAIL(c, "%s: join keys must be field names", where);
        }
        if (*n >= MW_SEQ_MAX_KEYS) {
            lua_pop(L, 1);
            FAIL(c, "%s: more than %d join keys", where, MW_SEQ_MAX_KEYS);
        }
        f = lua_tostring(L, -1);
        opt = f[0] == '?';
        keys->paths[*n] = mw_path_new(opt ? f + 1 : f);
        keys->optional[*n] = opt;
        if (keys->paths[*n] == NULL) {
            char tmp[256];
            snprintf(tmp, sizeof(tmp), "%s", f);
            lua_pop(L, 1);
            FAIL(c, "%s: invalid join key field '%s'", where, tmp);
        }
        (*n)++;
        lua_pop(L, 1);
    }
    return 0;
}

static int compile_sequence(lua_State *L, struct compile *c, int t)
{
    struct mw_seq_def *def = xcalloc(1, sizeof(*def));
    struct mw_seq_keys shared;
    int nshared = 0;
    lua_Integer nsteps;
    char where[64];
    int steps;

    memset(&shared, 0, sizeof(shared));
    c->rule->seq = def;
    if (rawfield(L, t, "maxspan_ms") == LUA_TNUMBER) {
        lua_Number ms = lua_tonumber(L, -1);
        if (ms < 0 || ms > 9.2e15) {
            lua_pop(L, 1);
            FAIL(c, "sequence maxspan out of range");
        }
        def->maxspan = (mw_time_t)(ms * 1000);
    }
    lua_pop(L, 1);
    if (rawfield(L, t, "keys_ci") == LUA_TBOOLEAN)
        def->keys_ci = lua_toboolean(L, -1);
    lua_pop(L, 1);

    rawfield(L, t, "by");
    int rc = compile_keys(L, c, &shared, &nshared, "sequence");
    lua_pop(L, 1);
    if (rc < 0)
        goto fail_shared;

    if (rawfield(L, t, "steps") != LUA_TTABLE) {
        lua_pop(L, 1);
        for (int k = 0; k < nshared; k++)
            mw_path_free(shared.paths[k]);
        FAIL(c, "sequence has no steps");
    }
    int st = lua_absindex(L, -1);
    nsteps = (lua_Integer)lua_rawlen(L, st);
    steps = 0;
    for (lua_Integer i = 1; i <= nsteps; i++) {
        int runs = 1, nk = 0, base = steps;
        snprintf(where, sizeof(where), "sequence step %lld", (long long)i);
        if (lua_rawgeti(L, st, i) != LUA_TTABLE) {
            lua_pop(L, 2);
            rc = mw_error_set(c->err, "%s must be a table", where);
            c->failed = 1;
            goto fail_shared;
        }
        int s = lua_absindex(L, -1);
        if (rawfield(L, s, "runs") == LUA_TNUMBER && lua_isinteger(L, -1))
            runs = (int)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (runs < 1 || runs > 100 || steps + runs > MW_SEQ_MAX_STEPS) {
            lua_pop(L, 2);
            mw_error_set(c->err, "%s: runs must be 1..100 and steps at most %d", where,
                         MW_SEQ_MAX_STEPS);
            c->failed = 1;
            goto fail_shared;
        }
        def->nsteps = steps + runs;
        /* shared keys first, then the step's own (EQL R8) */
        for (int k = 0; k < nshared; k++) {
            def->keys[base].paths[k] = mw_path_new(mw_path_str(shared.paths[k]));
            def->keys[base].optional[k] = shared.optional[k];
        }
        nk = nshared;
        rawfield(L, s, "by");
        rc = compile_keys(L, c, &def->keys[base], &nk, where);
        lua_pop(L, 1);
        if (rc < 0) {
            lua_pop(L, 2);
            goto fail_shared;
        }
        if (i == 1)
            def->nkeys = nk;
        else if (nk != def->nkeys) {
            lua_pop(L, 2);
            mw_error_set(c->err, "%s has %d join keys, step 1 has %d", where, nk,
                         def->nkeys);
            c->failed = 1;
            goto fail_shared;
        }
        rawfield(L, s, "where");
        rc = compile_matcher(L, c, -1, NULL, &def->where[base]);
        def->owns_where[base] = true;
        lua_pop(L, 1);
        if (rc < 0) {
            lua_pop(L, 2);
            goto fail_shared;
        }
        for (int r = 1; r < runs; r++) {
            def->where[base + r] = def->where[base];
            for (int k = 0; k < nk; k++) {
                def->keys[base + r].paths[k] =
                    mw_path_new(mw_path_str(def->keys[base].paths[k]));
                def->keys[base + r].optional[k] = def->keys[base].optional[k];
            }
        }
        steps += runs;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (steps < 2) {
        mw_error_set(c->err, "a sequence needs at least two steps (or runs >= 2)");
        c->failed = 1;
        goto fail_shared;
    }

    if (rawfield(L, t, "until") == LUA_TTABLE) {
        int u = lua_absindex(L, -1);
        int nk = nshared;
        for (int k = 0; k < nshared; k++) {
            def->until_keys.paths[k] = mw_path_new(mw_path_str(shared.paths[k]));
            def->until_keys.optional[k] = shared.optional[k];
        }
        rawfield(L, u, "by");
        rc = compile_keys(L, c, &def->until_keys, &nk, "sequence until");
        lua_pop(L, 1);
        if (rc == 0 && nk != def->nkeys) {
            mw_error_set(c->err, "sequence until has %d join keys, steps have %d", nk,
                         def->nkeys);
            c->failed = 1;
            rc = -1;
        }
        if (rc == 0) {
            rawfield(L, u, "where");
            rc = compile_matcher(L, c, -1, NULL, &def->until_where);
            lua_pop(L, 1);
        }
        if (rc < 0) {
            lua_pop(L, 1);
            goto fail_shared;
        }
    }
    lua_pop(L, 1);
    for (int k = 0; k < nshared; k++)
        mw_path_free(shared.paths[k]);
    return 0;

fail_shared:
    for (int k = 0; k < nshared; k++)
        mw_path_free(shared.paths[k]);
    c->failed = 1;
    return -1;
}

/* suppress = {by = {...}, window_ms = N}, max_alerts = {count = N,
 * per_ms = N}, on_alert = function (all optional). */
static int compile_shaping(lua_State *L, struct compile *c, int t)
{
    struct mw_rule *r = c->rule;
    struct mw_alert_policy *p = &r->policy;
    int ty;

    if ((ty = rawfield(L, t, "suppress")) == LUA_TTABLE) {
        int sp = lua_absindex(L, -1);
        if (rawfield(L, sp, "by") != LUA_TTABLE) {
            lua_pop(L, 2);
            FAIL(c, "suppress.by must be a list of field paths");
        }
        lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
        if (n < 1 || n > MW_SUPPRESS_MAX_FIELDS) {
            lua_pop(L, 2);
            FAIL(c, "suppress.by needs 1 to %d field paths", MW_SUPPRESS_MAX_FIELDS);
        }
        for (lua_Integer i = 1; i <= n; i++) {
            struct mw_path *path = NULL;
            if (lua_rawgeti(L, -1, i) == LUA_TSTRING)
                path = mw_path_new(lua_tostring(L, -1));
            lua_pop(L, 1);
            if (path == NULL) {
                lua_pop(L, 2);
                FAIL(c, "suppress.by[%lld] is not a valid field path", (long long)i);
            }
            p->suppress_by[p->nsuppress++] = path;
        }
        lua_pop(L, 1);
        if (rawfield(L, sp, "window_ms") != LUA_TNUMBER || !lua_isinteger(L, -1) ||
            lua_tointeger(L, -1) < 1000 || lua_tointeger(L, -1) > INT64_MAX / 1000) {
            lua_pop(L, 2);
            FAIL(c, "suppress.window must be a duration of at least 1s");
        }
        p->suppress_window = (mw_time_t)lua_tointeger(L, -1) * 1000;
        lua_pop(L, 1);
    } else if (ty != LUA_TNIL) {
        lua_pop(L, 1);
        FAIL(c, "suppress must be { by = {...}, window = '1h' }");
    }
    lua_pop(L, 1);

    if ((ty = rawfield(L, t, "max_alerts")) == LUA_TTABLE) {
        int ma = lua_absindex(L, -1);
        if (rawfield(L, ma, "count") != LUA_TNUMBER || !lua_isinteger(L, -1) ||
            lua_tointeger(L, -1) < 1) {
            lua_pop(L, 2);
            FAIL(c, "max_alerts.count must be an integer >= 1");
        }
        p->max_alerts = (int64_t)lua_tointeger(L, -1);
        lua_pop(L, 1);
        if (rawfield(L, ma, "per_ms") != LUA_TNUMBER || !lua_isinteger(L, -1) ||
            lua_tointeger(L, -1) < 1000 || lua_tointeger(L, -1) > INT64_MAX / 1000) {
            lua_pop(L, 2);
            FAIL(c, "max_alerts.per must be a duration of at least 1s");
        }
        p->max_alerts_per = (mw_time_t)lua_tointeger(L, -1) * 1000;
        lua_pop(L, 1);
    } else if (ty != LUA_TNIL) {
        lua_pop(L, 1);
        FAIL(c, "max_alerts must be { count = N, per = '15m' }");
    }
    lua_pop(L, 1);

    if ((ty = rawfield(L, t, "on_alert")) == LUA_TFUNCTION) {
        r->hook_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        return 0;
    }
    lua_pop(L, 1);
    if (ty != LUA_TNIL)
        FAIL(c, "on_alert must be a function(alert)");
    return 0;
}

static const char *const rule_keys[] = {
    "__kind",     "id",       "name",       "description",     "severity",
    "risk_score", "tags",     "references", "author",          "license",
    "version",    "threat",   "note",       "false_positives", "message",
    "where",      "sequence", "threshold",  "distinct",        "new_terms",
    "absence",    "suppress", "max_alerts", "on_alert",        "tests",
    NULL,
};

static const char *const window_fields[] = {
    [MW_WINDOW_THRESHOLD] = "threshold",
    [MW_WINDOW_DISTINCT] = "distinct",
    [MW_WINDOW_NEW_TERMS] = "new_terms",
    [MW_WINDOW_ABSENCE] = "absence",
};

/* Reads t[key] as a whole number of milliseconds > 0 into *out (us). */
static int get_span(lua_State *L, struct compile *c, int t, const char *key,
                    mw_time_t *out)
{
    lua_Number ms;
    if (rawfield(L, t, key) != LUA_TNUMBER) {
        lua_pop(L, 1);
        FAIL(c, "window field '%s' must be a number of milliseconds", key);
    }
    ms = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (!(ms > 0 && ms <= 9.2e12))
        FAIL(c, "window field '%s' out of range", key);
    *out = (mw_time_t)(ms * 1000);
    return 0;
}

/* A matcher at t[key], compiled, validated and optimised into *out. */
static int get_matcher(lua_State *L, struct compile *c, int t, const char *key,
                       struct mw_matcher **out)
{
    struct mw_error e;
    rawfield(L, t, key);
    int rc = compile_matcher(L, c, -1, NULL, out);
    lua_pop(L, 1);
    if (rc < 0)
        return -1;
    if (mw_matcher_validate(*out, &e) < 0)
        FAIL(c, "%s: %s", key, e.msg);
    mw_matcher_optimize(*out);
    return 0;
}

static int compile_window(lua_State *L, struct compile *c, int t,
                          enum mw_window_kind kind)
{
    struct mw_window_def *def = xcalloc(1, sizeof(*def));
    const char *what = window_fields[kind];
    int rc, nk = 0;

    c->rule->win = def;
    def->kind = kind;
    if (rawfield(L, t, "keys_ci") == LUA_TBOOLEAN)
        def->keys_ci = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (kind == MW_WINDOW_ABSENCE) {
        int nk2 = 0;
        if (get_span(L, c, t, "within_ms", &def->span) < 0)
            return -1;
        if (rawfield(L, t, "first") != LUA_TTABLE ||
            rawfield(L, t, "absent") != LUA_TTABLE) {
            lua_pop(L, 2);
            FAIL(c, "absence needs 'first' and 'absent' tables");
        }
        int fi = lua_absindex(L, -2), ab = lua_absindex(L, -1);
        rc = get_matcher(L, c, fi, "where", &def->where);
        if (rc == 0)
            rc = get_matcher(L, c, ab, "where", &def->absent_where);
        if (rc == 0) {
            rawfield(L, fi, "by");
            rc = compile_keys(L, c, &def->by, &nk, "absence first");
            lua_pop(L, 1);
        }
        if (rc == 0) {
            rawfield(L, ab, "by");
            rc = compile_keys(L, c, &def->absent_by, &nk2, "absence absent");
            lua_pop(L, 1);
        }
        lua_pop(L, 2);
        if (rc < 0)
            return -1;
        if (nk != nk2)
            FAIL(c, "absence: 'first' has %d keys, 'absent' has %d", nk, nk2);
        def->nby = nk;
        return 0;
    }
    if (get_matcher(L, c, t, "where", &def->where) < 0)
        return -1;
    rawfield(L, t, kind == MW_WINDOW_NEW_TERMS ? "fields" : "by");
    rc = compile_keys(L, c, &def->by, &nk, what);
    lua_pop(L, 1);
    if (rc < 0)
        return -1;
    def->nby = nk;
    if (kind == MW_WINDOW_NEW_TERMS) {
        if (nk < 1 || nk > 3)
            FAIL(c, "new_terms needs 1 to 3 fields");
        if (rawfield(L, t, "warmup") == LUA_TBOOLEAN)
            def->warmup = lua_toboolean(L, -1);
        lua_pop(L, 1);
        return get_span(L, c, t, "history_ms", &def->span);
    }
    if (get_span(L, c, t, "window_ms", &def->span) < 0)
        return -1;
    lua_Integer cnt = 0;
    if (rawfield(L, t, "count") == LUA_TNUMBER && lua_isinteger(L, -1))
        cnt = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (cnt < 1 ||
        cnt > (kind == MW_WINDOW_DISTINCT ? MW_WINDOW_MAX_DISTINCT : MW_WINDOW_MAX_COUNT))
        FAIL(c, "%s count out of range", what);
    def->count = (uint64_t)cnt;
    if (kind == MW_WINDOW_DISTINCT) {
        if (rawfield(L, t, "field") != LUA_TSTRING) {
            lua_pop(L, 1);
            FAIL(c, "distinct needs a 'field'");
        }
        def->field = mw_path_new(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (def->field == NULL)
            FAIL(c, "distinct: invalid field path");
    }
    return 0;
}

static int compile_rule(lua_State *L, struct compile *c, int t)
{
    struct mw_rule *r = c->rule;
    struct mw_rule_meta *m = &r->meta;
    int has_where, has_seq;

    if (lua_type(L, t) != LUA_TTABLE)
        FAIL(c, "the rule file must return mw.rule{...}, got %s", luaL_typename(L, t));
    if (rawfield(L, t, "__kind") != LUA_TSTRING ||
        strcmp(lua_tostring(L, -1), "rule") != 0) {
        lua_pop(L, 1);
        FAIL(c, "the rule file must return mw.rule{...}");
    }
    lua_pop(L, 1);
    /* unknown keys are typos */
    lua_pushnil(L);
    while (lua_next(L, t) != 0) {
        bool known = false;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; rule_keys[i]; i++)
                if (strcmp(rule_keys[i], lua_tostring(L, -1)) == 0)
                    known = true;
        if (!known) {
            char key[64];
            snprintf(key, sizeof(key), "%s",
                     lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?");
            lua_pop(L, 1);
            FAIL(c, "unknown rule field '%s'", key);
        }
    }

    if (get_string(L, c, t, "id", &m->id, true) < 0 ||
        get_string(L, c, t, "name", &m->name, true) < 0 ||
        get_string(L, c, t, "description", &m->description, false) < 0 ||
        get_string(L, c, t, "severity", &m->severity, false) < 0 ||
        get_string(L, c, t, "license", &m->license, false) < 0 ||
        get_string(L, c, t, "note", &m->note, false) < 0 ||
        get_string(L, c, t, "message", &m->message, false) < 0 ||
        get_int(L, c, t, "risk_score", &m->risk_score, -1, 0, 100) < 0 ||
        get_int(L, c, t, "version", &m->version, 1, 1, 1 << 30) < 0 ||
        get_strlist(L, c, t, "tags", &m->tags) < 0 ||
        get_strlist(L, c, t, "references", &m->references) < 0 ||
        get_strlist(L, c, t, "author", &m->author) < 0 ||
        get_strlist(L, c, t, "false_positives", &m->false_positives) < 0)
        return -1;
    if (m->id[0] == '\0')
        FAIL(c, "rule id must not be empty");
    if (m->name[0] == '\0')
        FAIL(c, "rule name must not be empty");
    if (m->severity[0] == '\0') {
        free(m->severity);
        m->severity = xstrdup("medium");
    }
    if (strcmp(m->severity, "low") && strcmp(m->severity, "medium") &&
        strcmp(m->severity, "high") && strcmp(m->severity, "critical"))
        FAIL(c, "severity must be low, medium, high or critical");
    if (m->risk_score < 0)
        m->risk_score = m->severity[0] == 'l'   ? 21
                        : m->severity[0] == 'm' ? 47
                        : m->severity[0] == 'h' ? 73
                                                : 99;
    if (rawfield(L, t, "threat") == LUA_TTABLE)
        m->threat = to_json(L, -1, 0);
    lua_pop(L, 1);
    /* rule tests (moonwatch test): kept as JSON, never used by detection */
    if (rawfield(L, t, "tests") == LUA_TTABLE)
        m->tests = to_json(L, -1, 0);
    lua_pop(L, 1);
    if (m->threat == NULL || json_is_object(m->threat)) {
        /* an empty Lua table converts to {}: normalise to [] */
        if (m->threat && json_object_size(m->threat) != 0)
            FAIL(c, "threat must be a list of mw.mitre(...) entries");
        json_decref(m->threat);
        m->threat = json_array();
    }

    has_where = rawfield(L, t, "where") != LUA_TNIL;
    lua_pop(L, 1);
    has_seq = rawfield(L, t, "sequence") != LUA_TNIL;
    lua_pop(L, 1);
    int nwin = 0, wkind = -1;
    for (int k = 0; k <= MW_WINDOW_ABSENCE; k++) {
        if (rawfield(L, t, window_fields[k]) != LUA_TNIL) {
            nwin++;
            wkind = k;
        }
        lua_pop(L, 1);
    }
    if (has_where + has_seq + nwin != 1)
        FAIL(c, "a rule needs exactly one of 'where' (single event), "
                "'sequence', 'threshold', 'distinct', 'new_terms' or 'absence'");
    if (nwin) {
        r->kind = MW_RULE_WINDOW;
        if (rawfield(L, t, window_fields[wkind]) != LUA_TTABLE) {
            lua_pop(L, 1);
            FAIL(c, "%s must be mw.%s{...}", window_fields[wkind], window_fields[wkind]);
        }
        int rc = compile_window(L, c, lua_absindex(L, -1), (enum mw_window_kind)wkind);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
        return compile_shaping(L, c, t);
    }
    if (has_where) {
        r->kind = MW_RULE_QUERY;
        rawfield(L, t, "where");
        int rc = compile_matcher(L, c, -1, NULL, &r->where);
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
        struct mw_error e;
        if (mw_matcher_validate(r->where, &e) < 0)
            FAIL(c, "%s", e.msg);
        mw_matcher_optimize(r->where);
    } else {
        r->kind = MW_RULE_SEQUENCE;
        if (rawfield(L, t, "sequence") != LUA_TTABLE) {
            lua_pop(L, 1);
            FAIL(c, "sequence must be mw.sequence{...}");
        }
        int rc = compile_sequence(L, c, lua_absindex(L, -1));
        lua_pop(L, 1);
        if (rc < 0)
            return -1;
        struct mw_error e;
        for (int i = 0; i < r->seq->nsteps; i++) {
            if (mw_matcher_validate(r->seq->where[i], &e) < 0)
                FAIL(c, "sequence step %d: %s", i + 1, e.msg);
            if (r->seq->owns_where[i])
                mw_matcher_optimize(r->seq->where[i]);
        }
        if (r->seq->until_where && mw_matcher_validate(r->seq->until_where, &e) < 0)
            FAIL(c, "sequence until: %s", e.msg);
        if (r->seq->until_where)
            mw_matcher_optimize(r->seq->until_where);
    }
    return compile_shaping(L, c, t);
}

/* Protected entry: [ctx(lightuserdata), descriptor] */
static int l_compile(lua_State *L)
{
    struct compile *c = lua_touserdata(L, 1);
    compile_rule(L, c, 2);
    return 0;
}

/* The reload identity of the detection (kind, spans, steps, keys). Key
 * paths have no length bound short of the rule file, so the string grows. */
static char *make_shape(const struct mw_rule *r)
{
    struct mw_buf b = MW_BUF_INIT;
    if (r->kind == MW_RULE_QUERY)
        return xstrdup("query");
    if (r->kind == MW_RULE_WINDOW) {
        const struct mw_window_def *w = r->win;
        mw_buf_addf(&b,
                    "%s span=%lld count=%llu ci=%d keys=", mw_window_kind_name(w->kind),
                    (long long)w->span, (unsigned long long)w->count, w->keys_ci);
        for (int k = 0; k < w->nby; k++)
            mw_buf_addf(&b, "%s%s,", w->by.optional[k] ? "?" : "",
                        mw_path_str(w->by.paths[k]));
        return mw_buf_detach(&b, NULL);
    }
    const struct mw_seq_def *d = r->seq;
    mw_buf_addf(&b, "sequence maxspan=%lld steps=%d keys=%d ci=%d", (long long)d->maxspan,
                d->nsteps, d->nkeys, d->keys_ci);
    for (int i = 0; i < d->nsteps; i++) {
        mw_buf_adds(&b, " [");
        for (int k = 0; k < d->nkeys; k++)
            mw_buf_addf(&b, "%s%s,", d->keys[i].optional[k] ? "?" : "",
                        mw_path_str(d->keys[i].paths[k]));
        mw_buf_addc(&b, ']');
    }
    return mw_buf_detach(&b, NULL);
}

/* ---------------------------------------------------------------------- */
/* load                                                                    */

/* `return mw.rule{...}` is a tail call, so errors mw.rule raises about a
 * rule field carry the file but no line. Find the line where the field is
 * assigned ("severity =") so the author is pointed at it. Returns 0 when
 * not found. */
static int locate_field(const char *path, const char *msg)
{
    const char *q = strstr(msg, "field '");
    char field[64];
    char line[1024];
    size_t n = 0;
    int lineno = 0;
    FILE *f;

    if (q == NULL)
        return 0;
    q += 7;
    while (q[n] && q[n] != '\'' && n + 1 < sizeof(field)) {
        field[n] = q[n];
        n++;
    }
    field[n] = '\0';
    if (n == 0 || (f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        const char *p = line;
        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, field, n) == 0) {
            p += n;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '=' && p[1] != '=') {
                fclose(f);
                return lineno;
            }
        }
    }
    fclose(f);
    return 0;
}

/* Prefixes "path:line:" (or "path:") to a load error that lacks it. */
static void locate_error(struct mw_error *err, const char *path)
{
    char tmp[sizeof(err->msg)];
    size_t plen = strlen(path);
    int line;

    if (err == NULL)
        return;
    snprintf(tmp, sizeof(tmp), "%s", err->msg);
    if (strncmp(tmp, path, plen) == 0 && tmp[plen] == ':' && tmp[plen + 1] >= '0' &&
        tmp[plen + 1] <= '9')
        return; /* already path:line: */
    const char *rest = strncmp(tmp, path, plen) == 0 && tmp[plen] == ':'
                           ? tmp + plen + 1 + (tmp[plen + 1] == ' ')
                           : tmp;
    line = locate_field(path, rest);
    if (line > 0)
        mw_error_set(err, "%s:%d: %s", path, line, rest);
    else
        mw_error_set(err, "%s: %s", path, rest);
}

struct mw_rule *mw_rule_load(const char *path, const char *lua_dir,
                             const struct mw_sandbox_limits *limits, struct mw_error *err)
{
    struct mw_rule *r = xcalloc(1, sizeof(*r));
    struct compile c = {r, err, 0};
    char msg[1024];
    enum mw_fail f;
    lua_State *L;

    r->file = xstrdup(path);
    r->handle_ref = LUA_NOREF;
    r->hook_ref = LUA_NOREF;
    r->sb = mw_sandbox_new(limits, lua_dir);
    if (r->sb == NULL) {
        mw_error_set(err, "%s: cannot create a Lua state", path);
        goto fail;
    }
    L = mw_sandbox_lua(r->sb);
    lua_pushcfunction(L, setup_state);
    if (mw_sandbox_pcall(r->sb, 0, 1, 0, msg, sizeof(msg)) != MW_FAIL_NONE) {
        mw_error_set(err, "%s: setting up the rule state: %s", path, msg);
        goto fail;
    }
    r->handle_ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);

    f = mw_sandbox_dofile(r->sb, path, msg, sizeof(msg));
    if (f != MW_FAIL_NONE) {
        mw_error_set(err, "%s", msg);
        locate_error(err, path);
        goto fail;
    }
    /* stack: descriptor */
    lua_pushcfunction(L, l_compile);
    lua_pushlightuserdata(L, &c);
    lua_pushvalue(L, -3);
    if (mw_sandbox_pcall(r->sb, 2, 0, 0, msg, sizeof(msg)) != MW_FAIL_NONE) {
        if (!c.failed)
            mw_error_set(err, "%s: compiling the rule: %s", path, msg);
        c.failed = 1;
    }
    lua_settop(L, 0);
    if (c.failed) {
        locate_error(err, path);
        goto fail;
    }
    r->shape = make_shape(r);
    r->ctx.call_fn = call_fn;
    r->ctx.ud = r;
    return r;

fail:
    mw_rule_free(r);
    return NULL;
}

void mw_rule_free(struct mw_rule *r)
{
    struct mw_rule_meta *m;
    if (r == NULL)
        return;
    m = &r->meta;
    free(m->id);
    free(m->name);
    free(m->description);
    free(m->severity);
    free(m->license);
    free(m->note);
    free(m->message);
    json_decref(m->tags);
    json_decref(m->references);
    json_decref(m->author);
    json_decref(m->threat);
    json_decref(m->false_positives);
    json_decref(m->tests);
    mw_matcher_free(r->where);
    mw_seq_def_free(r->seq);
    mw_window_def_free(r->win);
    for (int i = 0; i < r->policy.nsuppress; i++)
        mw_path_free(r->policy.suppress_by[i]);
    mw_sandbox_free(r->sb);
    free(r->shape);
    free(r->file);
    free(r);
}

const char *mw_rule_file(const struct mw_rule *r)
{
    return r->file;
}
const struct mw_rule_meta *mw_rule_meta(const struct mw_rule *r)
{
    return &r->meta;
}
enum mw_rule_kind mw_rule_kind(const struct mw_rule *r)
{
    return r->kind;
}
const struct mw_matcher *mw_rule_where(const struct mw_rule *r)
{
    return r->where;
}
const struct mw_seq_def *mw_rule_seq(const struct mw_rule *r)
{
    return r->seq;
}
const struct mw_window_def *mw_rule_window(const struct mw_rule *r)
{
    return r->win;
}
const char *mw_rule_shape(const struct mw_rule *r)
{
    return r->shape;
}
const struct mw_match_ctx *mw_rule_ctx(const struct mw_rule *r)
{
    return &r->ctx;
}
struct mw_rule_errors *mw_rule_errors(struct mw_rule *r)
{
    return &r->errors;
}
size_t mw_rule_mem_used(const struct mw_rule *r)
{
    return mw_sandbox_mem_used(r->sb);
}
const struct mw_alert_policy *mw_rule_policy(const struct mw_rule *r)
{
    return &r->policy;
}
bool mw_rule_has_hook(const struct mw_rule *r)
{
    return r->hook_ref != LUA_NOREF;
}
