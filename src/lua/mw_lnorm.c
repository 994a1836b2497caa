/* mw_lnorm.c - the Lua reader of normalizer scripts: file -> sandbox ->
 * JSON descriptor -> mw_norm_compile
 *
 * A normalizer script returns a table of declarations (docs/AZURE.md). It
 * is run like a rule file: a fresh sandbox with its memory and instruction
 * caps and the allow-listed libraries, the load budget for the file. The
 * returned table is copied to JSON (mw_lconv_to_json: raw access, sorted
 * keys, depth cap), the Lua state is closed, and the C side compiles and
 * checks the declarations. Nothing of Lua survives the load, so applying a
 * normalizer per record never enters Lua.
 */
#include "lua/lua_int.h"
#include "mw_lnorm.h"

#include <string.h>

/* true when the value at idx is or holds a function. [-0, +0, m] */
static bool holds_function(lua_State *L, int idx, int depth)
{
    bool found = false;
    if (lua_type(L, idx) == LUA_TFUNCTION)
        return true;
    if (lua_type(L, idx) != LUA_TTABLE || depth > 32 || !lua_checkstack(L, 3))
        return false;
    idx = lua_absindex(L, idx);
    lua_pushnil(L);
    while (!found && lua_next(L, idx) != 0) {
        found = holds_function(L, -1, depth + 1);
        lua_pop(L, 1);
    }
    if (found)
        lua_pop(L, 1); /* the key lua_next left */
    return found;
}

struct mw_norm *mw_lnorm_load(const char *path, struct mw_error *err)
{
    struct mw_sandbox_limits lim = {0};
    struct mw_sandbox *sb = mw_sandbox_new(&lim, NULL);
    struct mw_norm *n = NULL;
    json_t *desc = NULL;
    char msg[1024];
    lua_State *L;
    int top;

    if (sb == NULL) {
        mw_error_set(err, "%s: cannot create a Lua state", path);
        return NULL;
    }
    L = mw_sandbox_lua(sb);
    top = lua_gettop(L);
    if (mw_sandbox_dofile(sb, path, msg, sizeof(msg)) != MW_FAIL_NONE) {
        mw_error_set(err, "%s", msg);
        goto out;
    }
    if (lua_type(L, -1) != LUA_TTABLE) {
        mw_error_set(err, "%s: a normalizer script must return a table", path);
        goto out;
    }
    if (holds_function(L, -1, 0)) {
        mw_error_set(err,
                     "%s: functions in normalizers are not supported yet "
                     "(declarations only, docs/AZURE.md)",
                     path);
        goto out;
    }
    const char *why = NULL;
    desc = mw_lconv_to_json(L, -1, &why);
    if (desc == NULL) {
        mw_error_set(err, "%s: the returned table cannot be read as declarations%s%s",
                     path, why ? ": " : "", why ? why : "");
        goto out;
    }
    n = mw_norm_compile(desc, path, err);

out:
    json_decref(desc);
    lua_settop(L, top);
    mw_sandbox_free(sb);
    return n;
}
