/* main.c - the moonwatch command line: subcommands in the style of git
 *
 * main only dispatches: argv[1] is looked up in the command table below
 * ({name, function, help line, usage}), whose rows also make the command
 * list of `moonwatch help` and the text of `moonwatch help CMD`. Each
 * command lives in src/cmd/mw_cmd_<name>.c and is declared in mw_cmd.h;
 * adding one is that file plus one row here.
 *
 * Exit status: 0 success, 1 detection or test failures, 3 alerts lost by an
 * output (run), 2 usage or load
 * errors. Diagnostics go to stderr only; stdout carries alerts.
 */
#include "mw_cmd.h"
#include "mw_cmd_normalize.h"
#include "mw_output.h"
#include "mw_event.h"
#include "mw_pool.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MW_VERSION "0.1.0"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const char *const usage_version = "usage: moonwatch version\n";
static const char *const usage_help = "usage: moonwatch help [COMMAND]\n";

struct command {
    const char *name;
    int (*fn)(int argc, char **argv); /* argv[0] is the command name */
    const char *help;                 /* one line for the command list */
    const char *const *usage;         /* `moonwatch help NAME`, --help */
    bool engine;                      /* runs rules: jansson pool, curl, caches */
};

static const struct command commands[] = {
    {"run", mw_cmd_run, "run rules over NDJSON events and write alerts", &mw_usage_run,
     true},
    {"check", mw_cmd_check, "load rules without running them and report every error",
     &mw_usage_check, true},
    {"test", mw_cmd_test, "run the tests rules carry (events and expected alerts)",
     &mw_usage_test, true},
    {"replay", mw_cmd_replay,
     "backtest rules over history (files, folders, .gz) with a report", &mw_usage_replay,
     true},
    {"explain", mw_cmd_explain,
     "show, event by event, why a rule matched or stayed silent", &mw_usage_explain,
     true},
    {"list", mw_cmd_list, "list rules: id, name, severity, MITRE techniques, state",
     &mw_usage_list, true},
    {"new", mw_cmd_new, "scaffold a rule file with a sequence skeleton and a test stub",
     &mw_usage_new, true},
    {"normalize", mw_cmd_normalize,
     "print raw Azure logs as the events rules see (normalizers/)", &mw_usage_normalize,
     false},
    {"version", cmd_version, "print the version", &usage_version, false},
    {"help", cmd_help, "show help for a command (moonwatch help run)", &usage_help,
     false},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void usage_main(FILE *fp)
{
    fputs("usage: moonwatch <command> [options] [args]\n\nCommands:\n", fp);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(fp, "  %-8s %s\n", commands[i].name, commands[i].help);
    fputs("\nExit status: 0 success, 1 detection failures, 2 usage or load errors,\n"
          "3 an output lost alerts (run: disk full, see the summary's lost).\n",
          fp);
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("moonwatch %s\n", MW_VERSION);
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    const struct command *c = argc > 1 ? find(argv[1]) : NULL;
    if (c)
        fputs(*c->usage, stdout);
    else
        usage_main(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const struct command *c;
    int rc;

    if (argc < 2) {
        usage_main(stderr);
        return 2;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
        return cmd_help(1, argv + 1);
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(1, argv + 1);
    c = find(argv[1]);
    if (c == NULL) {
        fprintf(stderr, "moonwatch: unknown command '%s'\n", argv[1]);
        usage_main(stderr);
        return 2;
    }
    if (!c->engine)
        return c->fn(argc - 1, argv + 1);
    mw_pool_install(); /* before any jansson value exists */
    rc = c->fn(argc - 1, argv + 1);
    mw_output_global_cleanup(); /* if an HTTP output loaded libcurl */
    mw_event_cache_flush();
    mw_pool_shutdown();
    return rc;
}
