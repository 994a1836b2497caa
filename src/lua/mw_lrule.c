/* mw_lrule.c - the Lua front-end: rule file -> sandbox -> mw_ldesc -> mw_rule
 *
 * mw_rule_load makes a fresh sandbox, registers the host pieces (mw_lapi),
 * runs the rule file under the load budget, and hands the returned
 * descriptor to the reader (mw_ldesc) inside a protected call; the reader
 * feeds the rule builder, which validates everything and makes the rule.
 * The Lua state lives on as the rule's runtime (struct mw_lrt behind
 * lua_rt_ops): predicates and on_alert run in it. The builder owns the
 * runtime from the start, so every failure path is one mw_rb_free.
 */
#include "lua/lua_int.h"
#include "mw_buf.h"

#include <lauxlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* the runtime ops                                                         */

static void lrt_attach(void *ud, struct mw_rule *r)
{
    struct mw_lrt *rt = ud;
    rt->rule = r;
}

static void lrt_free(void *ud)
{
    struct mw_lrt *rt = ud;
    if (rt == NULL)
        return;
    mw_sandbox_free(rt->sb);
    free(rt);
}

static bool lrt_has_hook(const void *ud)
{
    const struct mw_lrt *rt = ud;
    return rt->hook_ref != LUA_NOREF;
}

static size_t lrt_mem_used(const void *ud)
{
    const struct mw_lrt *rt = ud;
    return mw_sandbox_mem_used(rt->sb);
}

static const struct mw_rule_rt_ops lua_rt_ops = {
    .name = "lua",
    .attach = lrt_attach,
    .free = lrt_free,
    .has_hook = lrt_has_hook,
    .on_alert = mw_lhook_on_alert,
    .mem_used = lrt_mem_used,
};

/* ---------------------------------------------------------------------- */
/* error positions                                                         */

/* `return mw.rule{...}` is a tail call, so errors mw.rule raises about a
 * rule field carry the file but no line. Find the line where the field is
 * assigned ("severity =") so the author is pointed at it. Returns 0 when
 * not found. */
static int locate_field(const char *path, const char *msg)
{
    const char *q = strstr(msg, "field '"), *end;
    char *line = NULL;
    size_t cap = 0, n;
    int lineno = 0, found = 0;
    FILE *f;

    if (q == NULL)
        return 0;
    q += 7;
    end = strchr(q, '\'');
    n = end ? (size_t)(end - q) : strlen(q);
    if (n == 0 || (f = fopen(path, "r")) == NULL)
        return 0;
    while (!found && getline(&line, &cap, f) >= 0) {
        const char *p = line;
        lineno++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, q, n) == 0) {
            p += n;
            while (*p == ' ' || *p == '\t')
                p++;
            found = *p == '=' && p[1] != '=';
        }
    }
    free(line);
    fclose(f);
    return found ? lineno : 0;
}

/* Prefixes "path:line:" (or "path:") to a load error that lacks it. */
static void locate_error(struct mw_error *err, const char *path)
{
    struct mw_buf tmp = MW_BUF_INIT;
    size_t plen = strlen(path);
    int line;

    if (err == NULL)
        return;
    mw_buf_adds(&tmp, err->msg);
    const char *s = tmp.ptr;
    if (!(strncmp(s, path, plen) == 0 && s[plen] == ':' && s[plen + 1] >= '0' &&
          s[plen + 1] <= '9')) {
        const char *rest = strncmp(s, path, plen) == 0 && s[plen] == ':'
                               ? s + plen + 1 + (s[plen + 1] == ' ')
                               : s;
        line = locate_field(path, rest);
        if (line > 0)
            mw_error_set(err, "%s:%d: %s", path, line, rest);
        else
            mw_error_set(err, "%s: %s", path, rest);
    }
    mw_buf_release(&tmp);
}

/* ---------------------------------------------------------------------- */
/* load                                                                    */

struct mw_rule *mw_rule_load(const char *path, const char *lua_dir,
                             const struct mw_sandbox_limits *limits, struct mw_error *err)
{
    struct mw_lrt *rt = xcalloc(1, sizeof(*rt));
    struct mw_rule_builder *b = mw_rb_new(path);
    struct mw_match_ctx ctx = {mw_lapi_call_fn, rt};
    struct mw_ldesc d = {.b = b, .rt = rt, .at = path, .err = err};
    struct mw_rule *r;
    char msg[1024]; /* the first line of a Lua error, truncated */
    enum mw_fail f;
    lua_State *L;
    int top;

    rt->handle_ref = LUA_NOREF;
    rt->hook_ref = LUA_NOREF;
    mw_rb_runtime(b, &lua_rt_ops, rt, &ctx); /* b owns rt from here */
    rt->sb = mw_sandbox_new(limits, lua_dir);
    if (rt->sb == NULL) {
        mw_error_set(err, "%s: cannot create a Lua state", path);
        goto fail;
    }
    mw_sandbox_set_name(rt->sb, path);
    L = mw_sandbox_lua(rt->sb);
    top = lua_gettop(L);
    lua_pushcfunction(L, mw_lapi_setup);
    if (mw_sandbox_pcall(rt->sb, 0, 1, 0, msg, sizeof(msg)) != MW_FAIL_NONE) {
        mw_error_set(err, "%s: setting up the rule state: %s", path, msg);
        goto fail;
    }
    rt->handle_ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    MW_LUA_BALANCED(L, top, 0);

    f = mw_sandbox_dofile(rt->sb, path, msg, sizeof(msg));
    if (f != MW_FAIL_NONE) {
        mw_error_set(err, "%s", msg);
        locate_error(err, path);
        goto fail;
    }
    MW_LUA_BALANCED(L, top, 1); /* the descriptor */
    lua_pushcfunction(L, mw_ldesc_read);
    lua_pushlightuserdata(L, &d);
    lua_pushvalue(L, -3);
    if (mw_sandbox_pcall(rt->sb, 2, 0, 0, msg, sizeof(msg)) != MW_FAIL_NONE) {
        if (!d.failed)
            mw_error_set(err, "%s: compiling the rule: %s", path, msg);
        d.failed = 1;
    }
    MW_LUA_BALANCED(L, top, 1);
    lua_settop(L, top);
    mw_ldesc_release(&d);
    if (d.failed) {
        locate_error(err, path);
        goto fail;
    }
    r = mw_rb_finish(b, err);
    if (r == NULL)
        locate_error(err, path);
    else
        mw_sandbox_set_name(rt->sb, mw_rule_meta(r)->id);
    return r;

fail:
    mw_ldesc_release(&d);
    mw_rb_free(b);
    return NULL;
}
