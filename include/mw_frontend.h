/* mw_frontend.h - rule front-ends, chosen by the rule file's suffix
 *
 * A front-end turns one rule file into a struct mw_rule, building it only
 * through the rule builder (include/mw_builder.h). The table in
 * src/frontend/mw_frontend.c maps suffixes to front-ends: `.lua` is the Lua
 * front-end (src/lua/mw_lrule.c); EQL and Elastic's rule files come as
 * further entries. The engine, the reloader and the commands load rules
 * only through here, so a new rule language is one new front-end file plus
 * one table row. Folder scans pick the files some front-end accepts.
 */
#ifndef MW_FRONTEND_H
#define MW_FRONTEND_H

#include <stdbool.h>

#include "mw_mem.h"
#include "mw_rulecode.h"

struct mw_rule;

/* One front-end: loads the rule file at path (lua_dir: where the moonwatch
 * Lua modules live, for front-ends that run Lua). Returns NULL with err set
 * ("path:line[:column]: message") on any failure. */
typedef struct mw_rule *(*mw_frontend_load_fn)(const char *path, const char *lua_dir,
                                               const struct mw_sandbox_limits *limits,
                                               struct mw_error *err);

struct mw_frontend {
    const char *suffix; /* ".lua" */
    const char *name;   /* "lua" */
    mw_frontend_load_fn load;
};

/* The front-end for a file name (by suffix), or NULL. */
const struct mw_frontend *mw_frontend_for(const char *name);
/* Is name a rule file some front-end reads? */
bool mw_frontend_accepts(const char *name);
/* Loads a rule file through its front-end; a file no front-end accepts is
 * read as Lua (a rule named explicitly need not carry the suffix). */
struct mw_rule *mw_frontend_load(const char *path, const char *lua_dir,
                                 const struct mw_sandbox_limits *limits,
                                 struct mw_error *err);

#endif
