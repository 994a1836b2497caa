/* lua_int.h - declarations shared by the files of src/lua/ only
 *
 * src/lua/ is the only folder that includes lua.h (make check-deps). Its
 * modules: mw_sandbox.c (the capped state), mw_lconv.c (JSON <-> Lua),
 * mw_lapi.c (moonwatch.host, the mw.event handle, the predicate
 * trampoline), mw_lhook.c (on_alert), mw_ldesc.c (reads the descriptor a
 * rule returns into the rule builder) and mw_lrule.c (file -> sandbox ->
 * mw_ldesc -> mw_rule, the Lua runtime ops).
 *
 * Conventions: every function that touches a Lua stack states its effect as
 * in the Lua manual, [-o, +p, x]: o values popped, p pushed, x = '-' (never
 * raises), 'm' (may raise a memory error only), 'e' (may raise any error).
 * Functions that may raise are also marked MW_MAY_RAISE and run only inside
 * a protected call. Host entry points save the top on entry and check it on
 * exit with MW_LUA_BALANCED (active in debug and sanitizer builds).
 */
#ifndef MW_LUA_INT_H
#define MW_LUA_INT_H

#include <jansson.h>
#include <lua.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mw_builder.h"
#include "mw_event.h"
#include "mw_rule.h"
#include "mw_sandbox.h"

/* Marks a function that may raise a Lua error (longjmp): call it only
 * inside lua_pcall, never while a local holds a C resource (HAProxy __LJMP). */
#define MW_MAY_RAISE

/* Stack balance check: the top must be top + delta. A no-op in release
 * builds; aborts with the place in debug (MW_DEBUG) and ASan builds. */
#if defined(MW_DEBUG) || defined(__SANITIZE_ADDRESS__)
#define MW_LUA_BALANCED(L, top, delta)                                                   \
    do {                                                                                 \
        if (lua_gettop(L) != (top) + (delta)) {                                          \
            fprintf(stderr, "%s:%d: Lua stack unbalanced: top %d, expected %d\n",        \
                    __FILE__, __LINE__, lua_gettop(L), (top) + (delta));                 \
            abort();                                                                     \
        }                                                                                \
    } while (0)
#else
#define MW_LUA_BALANCED(L, top, delta) ((void)(L), (void)(top), (void)(delta))
#endif

/* Registry keys (string keys: set once per state, read rarely). */
#define MW_LUA_NULL_KEY "mw.null"  /* the mw.null sentinel table */
#define MW_LUA_EVENT_MT "mw.event" /* metatable of event handles */

/* Nesting depth of JSON <-> Lua conversions, and values of one Lua -> JSON
 * conversion (docs/SECURITY.md, item 4). */
#define MW_LCONV_MAX_DEPTH 32
#define MW_LCONV_MAX_DEPTH_STR "32"
#define MW_LCONV_MAX_NODES 1000000
#define MW_LCONV_MAX_NODES_STR "1,000,000"
/* Longest field path ev:get accepts (a path of n segments costs about
 * n^2/2 copies of it). */
#define MW_LAPI_PATH_MAX 4096
#define MW_LAPI_PATH_MAX_STR "4096"
/* Longest field path a descriptor may name (matchers, keys, distinct,
 * suppress.by): built once at load, so longer than ev:get's. */
#define MW_LDESC_PATH_MAX 65536

/* The Lua runtime of one rule (struct mw_rule_rt_ops, mw_lrule.c). */
struct mw_lrt {
    struct mw_sandbox *sb;         /* owned */
    struct mw_rule *rule;          /* borrowed back pointer (the rule owns us) */
    int handle_ref;                /* registry slot of the current event handle */
    const struct mw_event *cur_ev; /* event the handle was made for (identity only) */
    uint64_t cur_seq;
    int hook_ref;           /* registry slot of on_alert, or LUA_NOREF */
    int64_t ev_deadline_us; /* monotonic: end of cur_ev's time for predicates */
    bool ev_spent;          /* cur_ev's time is spent: skip its other predicates */
};

/* mw_lconv.c */
/* Pushes a Lua copy of v (mw.null for JSON null). [-0, +1, m] MW_MAY_RAISE */
void mw_lconv_push(lua_State *L, json_t *v);
/* A new JSON reference for the value at idx (raw access, keys sorted;
 * nested functions and userdata are left out), or NULL: for a function or
 * userdata at idx (*why NULL), or when a bound is exceeded (*why says
 * which: cycle, depth, values, the rule's memory cap). why may be NULL.
 * [-0, +0, -] (uses lua_checkstack) */
json_t *mw_lconv_to_json(lua_State *L, int idx, const char **why);

/* mw_sandbox.c */
/* print and mw.log: arguments through tostring, tab-separated, one info
 * line "rule log: ..." through the host log. [-n, +0, e] MW_MAY_RAISE */
int mw_lua_log(lua_State *L);

/* Charges steps of work done inside a library function (pattern steps,
 * elements moved, comparisons) to the running call's instruction budget
 * and checks its time bound; raises like the hook when either is spent.
 * Call it every 1024 steps or so. No-op outside mw_sandbox_pcall.
 * [-0, +0, e] MW_MAY_RAISE */
void mw_lua_charge(lua_State *L, int64_t steps);

/* mw_lstrlib.c */
/* Replaces string.find, match, gmatch, gsub and table.sort, insert, remove,
 * move in the state's libraries with copies that charge their work
 * (mw_lua_charge). [-0, +0, m] MW_MAY_RAISE */
void mw_lstrlib_install(lua_State *L);

/* mw_lapi.c */
/* Protected setup of a fresh rule state: mw.null, the moonwatch.host
 * preload (log, null, limits, severities), the event metatable; returns the
 * registry ref of the event-handle slot. [-0, +1, m] MW_MAY_RAISE */
int mw_lapi_setup(lua_State *L);
/* struct mw_match_ctx.call_fn for Lua rules (ud is a struct mw_lrt). */
enum mw_tv mw_lapi_call_fn(void *ud, int fn_ref, const struct mw_event *ev);

/* mw_lhook.c */
/* struct mw_rule_rt_ops.on_alert for Lua rules. */
enum mw_hook_result mw_lhook_on_alert(void *rt, json_t *alert);

/* mw_ldesc.c */
/* What the descriptor reader fills in besides the builder: references the
 * reader made that must outlive a Lua error (released by the caller after
 * the protected call, whatever happened). */
struct mw_ldesc {
    struct mw_rule_builder *b; /* borrowed */
    struct mw_lrt *rt;         /* borrowed: gets hook_ref */
    const char *at;            /* position for builder errors (the file) */
    struct mw_error *err;
    int failed;
    json_t *owned[8]; /* new references; NULL slots unused */
    int nowned;
};
/* Protected entry: [ldesc(lightuserdata), descriptor] -> nothing; reads the
 * descriptor with raw access only into d->b. [-0, +0, m] */
int mw_ldesc_read(lua_State *L);
void mw_ldesc_release(struct mw_ldesc *d);

#endif
