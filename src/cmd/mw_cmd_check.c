/* mw_cmd_check.c - `moonwatch check`: load rules without running them
 *
 * Every rule file is loaded in its sandbox exactly as `run` loads it, the
 * rule list goes to stdout, every load error (file and line) and the
 * prefilter's description to stderr. Exit 0 when all load, 2 when any fails.
 */
#include "mw_cmd.h"
#include "mw_engine.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>

enum {
    OPT_LUA_DIR = 256,
};

const char *const mw_usage_check =
    "usage: moonwatch check [--lua-dir DIR] [PATH...]\n"
    "\n"
    "Loads every rule file (PATH: files or folders; default: rules) in its\n"
    "sandbox without running it over events, and reports every error with file\n"
    "and line. Exit 0 when all load, 2 when any fails.\n";

int mw_cmd_check(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"lua-dir", required_argument, NULL, OPT_LUA_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char rules_dir[] = "rules";
    static char *default_paths[] = {rules_dir};
    const char *lua_dir_opt = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_engine_opts eo;
    struct mw_engine *e;
    int c, failed;

    mw_cmd_defaults(&eo, NULL);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(mw_usage_check, stdout);
            return 0;
        case OPT_LUA_DIR:
            lua_dir_opt = optarg;
            break;
        default:
            fputs(mw_usage_check, stderr);
            return 2;
        }
    }
    eo.lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));
    e = mw_engine_new(&eo, NULL, NULL);
    if (optind < argc)
        failed = mw_engine_load(e, argv + optind, argc - optind);
    else
        failed = mw_engine_load(e, default_paths, 1);
    mw_engine_list(e, stdout);
    if (mw_engine_rule_count(e) > 0)
        mw_prefilter_describe(mw_engine_prefilter(e), stderr);
    fprintf(stderr, "moonwatch: %zu rule(s) loaded, %d failed\n", mw_engine_rule_count(e),
            failed);
    mw_engine_free(e);
    return failed > 0 ? 2 : 0;
}
