/* mw_cmd.h - the subcommands: run, check, test, replay, explain, new, list
 *
 * Each subcommand lives in its own src/cmd/mw_cmd_<name>.c, has one row in
 * the command table of src/main.c (name, function, help line, usage) and
 * takes the argv
 * after "moonwatch" (argv[0] is the command name), returning the process
 * exit status: 0 success, 1 detection or test failures, 2 usage or load
 * errors. Diagnostics go to stderr; a command's report goes to stdout.
 */
#ifndef MW_CMD_H
#define MW_CMD_H

#include <stddef.h>

#include "mw_engine.h"
#include "mw_merge.h"
#include "mw_run.h"

/* Defaults the help texts print (MW_XSTR) and mw_cmd_defaults sets. */
#define MW_DEFAULT_MAX_OPEN_KEYS 1000000
#define MW_DEFAULT_QUARANTINE_AFTER 100
#define MW_DEFAULT_METRICS_INTERVAL_MS 5000
#define MW_DEFAULT_MAX_REPORTS 100 /* rejected-line messages per input */
#define MW_STR_(x) #x
#define MW_XSTR(x) MW_STR_(x)

/* Sets *eo and *ro (either may be NULL) to the defaults every command starts
 * from (src/cmd/mw_cmd_opts.c): key cap, lateness and future bound
 * (mw_merge.h), quarantine, line limit, timestamp field, summary. Borrowed
 * strings point at constants. */
void mw_cmd_defaults(struct mw_engine_opts *eo, struct mw_run_opts *ro);
/* The merge options matching eo's lateness and ro's future bound (either
 * NULL: the default), for the commands that read through mw_feed. */
void mw_cmd_merge_opts(const struct mw_engine_opts *eo, const struct mw_run_opts *ro,
                       struct mw_merge_opts *mo);

int mw_cmd_run(int argc, char **argv);
int mw_cmd_check(int argc, char **argv);
int mw_cmd_test(int argc, char **argv);
int mw_cmd_replay(int argc, char **argv);
int mw_cmd_explain(int argc, char **argv);
int mw_cmd_new(int argc, char **argv);
int mw_cmd_list(int argc, char **argv);

extern const char *const mw_usage_run;
extern const char *const mw_usage_check;
extern const char *const mw_usage_test;
extern const char *const mw_usage_replay;
extern const char *const mw_usage_explain;
extern const char *const mw_usage_new;
extern const char *const mw_usage_list;

/* The Lua modules folder: opt (--lua-dir), $MOONWATCH_LUA_DIR, <exe>/../lua,
 * the installed location. Returns opt, the environment string, buf or a
 * constant. */
const char *mw_find_lua_dir(const char *opt, char *buf, size_t size);

/* Parses a positive size with an optional k/M/G suffix. 0 or -1. */
int mw_parse_size(const char *s, size_t *out);

#endif
