/* mw_lconv.c - JSON <-> Lua conversion for rule states
 *
 * JSON -> Lua copies (value-like data: no lifetime to manage); JSON null
 * becomes the mw.null sentinel. Lua -> JSON uses raw access only, so no
 * metamethod of the rule runs, never raises, and sorts object keys so the
 * output does not depend on Lua's hash order. JSON -> Lua stops at
 * MW_LCONV_MAX_DEPTH (a deeper value becomes nil). Lua -> JSON refuses,
 * with a reason, a table that contains itself, a value nested deeper than
 * MW_LCONV_MAX_DEPTH, more than MW_LCONV_MAX_NODES values (a length that
 * reads as 2^40 included) or more bytes than the rule has left under its
 * memory cap: the JSON is host memory made on the rule's behalf.
 */
#include "lua/lua_int.h"

#include <lauxlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* JSON -> Lua                                                             */

/* [-0, +1, m] MW_MAY_RAISE */
static void push_json(lua_State *L, json_t *v, int depth)
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
        lua_getfield(L, LUA_REGISTRYINDEX, MW_LUA_NULL_KEY);
        break;
    case JSON_ARRAY: {
        size_t i;
        json_t *el;
        if (depth >= MW_LCONV_MAX_DEPTH) {
            lua_pushnil(L);
            break;
        }
        luaL_checkstack(L, 2, "JSON value");
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
        if (depth >= MW_LCONV_MAX_DEPTH) {
            lua_pushnil(L);
            break;
        }
        luaL_checkstack(L, 2, "JSON value");
        lua_createtable(L, 0, (int)json_object_size(v));
        json_object_foreach(v, k, el)
        {
            push_json(L, el, depth + 1);
            lua_setfield(L, -2, k);
        }
        break;
    }
    }
}

void mw_lconv_push(lua_State *L, json_t *v) /* MW_MAY_RAISE */
{
    int top = lua_gettop(L);
    push_json(L, v, 0);
    MW_LUA_BALANCED(L, top, 1);
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

/* One conversion's bounds: the tables on the path from the root (cycle
 * check; at most MW_LCONV_MAX_DEPTH, so a fixed array), the values made so
 * far and the bytes they hold, against MW_LCONV_MAX_NODES and the rule's
 * free memory. A table reached twice by different paths (a DAG) is
 * converted each time and counted each time, so sharing cannot multiply
 * the output unseen. */
struct conv {
    const void *path[MW_LCONV_MAX_DEPTH + 1];
    int depth;
    size_t nodes;
    size_t bytes, max_bytes;
    const char *why; /* the first error, NULL when fine */
};

/* Charges one value of extra bytes; false (why set) when over a bound. */
static bool charge(struct conv *c, size_t extra)
{
    c->nodes++;
    c->bytes += 64 + extra; /* a json_t and its slot, roughly */
    if (c->nodes > MW_LCONV_MAX_NODES)
        c->why = "value too large (more than " MW_LCONV_MAX_NODES_STR " values)";
    else if (c->bytes > c->max_bytes)
        c->why = "value too large for the rule's memory cap";
    return c->why == NULL;
}

/* [-0, +0, -]: every push is preceded by lua_checkstack */
static json_t *to_json(lua_State *L, int idx, struct conv *c)
{
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (!charge(c, len))
            return NULL;
        return json_stringn(s, len);
    }
    case LUA_TNUMBER:
        if (!charge(c, 0))
            return NULL;
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TBOOLEAN:
        if (!charge(c, 0))
            return NULL;
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TTABLE: {
        json_t *out;
        const void *self = lua_topointer(L, idx);
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
        if (!charge(c, 0))
            return NULL;
        for (int i = 0; i < c->depth; i++)
            if (c->path[i] == self) {
                c->why = "cyclic table (a table contains itself)";
                return NULL;
            }
        if (c->depth >= MW_LCONV_MAX_DEPTH) {
            c->why = "value nested more than " MW_LCONV_MAX_DEPTH_STR " deep";
            return NULL;
        }
        if (!lua_checkstack(L, 4)) {
            c->why = "value nested too deep";
            return NULL;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, MW_LUA_NULL_KEY);
        bool is_null = lua_rawequal(L, idx, -1);
        lua_pop(L, 1);
        if (is_null)
            return json_null();
        c->path[c->depth++] = self;
        if (n > 0) {
            out = json_array();
            /* every slot counts, holes too: a border that reads as 2^40
             * is refused after MW_LCONV_MAX_NODES slots, not appended */
            for (lua_Integer i = 1; i <= n && charge(c, 0); i++) {
                lua_rawgeti(L, idx, i);
                json_t *el = to_json(L, -1, c);
                lua_pop(L, 1);
                if (c->why == NULL)
                    json_array_append_new(out, el ? el : json_null());
                else
                    json_decref(el);
            }
        } else {
            out = json_object();
            lua_pushnil(L);
            while (c->why == NULL && lua_next(L, idx) != 0) {
                if (lua_type(L, -2) == LUA_TSTRING) {
                    size_t klen;
                    lua_tolstring(L, -2, &klen);
                    json_t *el = charge(c, klen) ? to_json(L, -1, c) : NULL;
                    if (el && c->why == NULL)
                        json_object_set_new(out, lua_tostring(L, -2), el);
                    else
                        json_decref(el);
                }
                lua_pop(L, 1);
            }
            if (c->why != NULL)
                lua_pop(L, 1); /* the key lua_next left */
            else
                out = sorted_object(out);
        }
        c->depth--;
        if (c->why != NULL) {
            json_decref(out);
            return NULL;
        }
        return out;
    }
    default:
        return NULL;
    }
}

json_t *mw_lconv_to_json(lua_State *L, int idx, const char **why)
{
    int top = lua_gettop(L);
    struct mw_sandbox *sb = mw_sandbox_from_lua(L);
    struct conv c = {.max_bytes = mw_sandbox_mem_free(sb)};
    json_t *out = to_json(L, idx, &c);
    if (c.why != NULL) {
        json_decref(out);
        out = NULL;
    }
    if (why)
        *why = c.why;
    MW_LUA_BALANCED(L, top, 0);
    return out;
}
