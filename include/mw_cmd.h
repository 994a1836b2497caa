/* mw_cmd.h - the detection-engineering subcommands: test, replay, explain,
 * new, list
 *
 * Each subcommand lives in its own src/cmd/mw_cmd_<name>.c and takes the argv
 * after "moonwatch" (argv[0] is the command name), returning the process
 * exit status: 0 success, 1 detection or test failures, 2 usage or load
 * errors. Diagnostics go to stderr; a command's report goes to stdout.
 */
#ifndef MW_CMD_H
#define MW_CMD_H

#include <stddef.h>

int mw_cmd_test(int argc, char **argv);
int mw_cmd_replay(int argc, char **argv);
int mw_cmd_explain(int argc, char **argv);
int mw_cmd_new(int argc, char **argv);
int mw_cmd_list(int argc, char **argv);

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
