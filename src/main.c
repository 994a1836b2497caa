/* main.c - the moonwatch command line: subcommands in the style of git
 *
 * Exit status: 0 success, 1 detection or test failures, 2 usage or load
 * errors. Diagnostics go to stderr only; stdout carries alerts.
 */
#include "mw_cmd.h"
#include "mw_engine.h"
#include "mw_health.h"

#include "mw_event.h"
#include "mw_pool.h"
#include "mw_input.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_output.h"
#include "mw_reload.h"
#include "mw_run.h"
#include "mw_shape.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MW_VERSION "0.1.0"

static const char *const usage_main =
    "usage: moonwatch <command> [options] [args]\n"
    "\n"
    "Commands:\n"
    "  run      run rules over NDJSON events and write alerts\n"
    "  check    load rules without running them and report every error\n"
    "  test     run the tests rules carry (events and expected alerts)\n"
    "  replay   backtest rules over history (files, folders, .gz) with a report\n"
    "  explain  show, event by event, why a rule matched or stayed silent\n"
    "  list     list rules: id, name, severity, MITRE techniques, state\n"
    "  new      scaffold a rule file with a sequence skeleton and a test stub\n"
    "  version  print the version\n"
    "  help     show help for a command (moonwatch help run)\n"
    "\n"
    "Exit status: 0 success, 1 detection failures, 2 usage or load errors.\n";

static const char *const usage_run =
    "usage: moonwatch run --rules PATH [--rules PATH]... [options] [INPUT...]\n"
    "\n"
    "Runs the rules over NDJSON events from the INPUT files (\"-\" or none:\n"
    "stdin). Several inputs are merged in event-time order. Alerts are written\n"
    "as NDJSON, one per line; a summary goes to stderr at the end.\n"
    "\n"
    "Options:\n"
    "  -r, --rules PATH            rule file or folder (scanned for *.lua); repeatable\n"
    "  -o, --output SPEC           stdout (default), file:PATH, webhook:URL[,opt=v...]\n"
    "                              or elasticsearch:URL/INDEX[,opt=v...]; repeatable\n"
    "                              (options: docs/OUTPUTS.md)\n"
    "      --state-dir DIR         keep alert ids (dedup), suppression and cap state,\n"
    "                              first-seen (new_terms) history across restarts;\n"
    "                              spool under DIR/spool\n"
    "      --dedup-ttl DUR         forget a processed alert id DUR after it was\n"
    "                              recorded (default 7d)\n"
    "      --state-interval DUR    save suppression and cap state this often while\n"
    "                              it changes (default 5s; also at exit)\n"
    "      --checkpoint-interval DUR  follow mode with --state-dir: checkpoint input\n"
    "                              positions and all window and shaping state this\n"
    "                              often (default 5s; also at a clean stop)\n"
    "      --spool-dir DIR         where HTTP outputs keep undelivered alerts\n"
    "      --health FILE           append health records there (default: stderr)\n"
    "  -t, --timestamp-field F     event time field (default @timestamp); RFC 3339\n"
    "                              strings or epoch milliseconds\n"
    "      --max-line-bytes N      longest accepted line (default 1048576)\n"
    "      --dead-letter FILE      append rejected lines with their reason (NDJSON)\n"
    "      --summary FORMAT        text (default), json or none\n"
    "      --alert-time MODE       wall (default): alert @timestamp is when it was\n"
    "                              raised; event: the last event's time (replays)\n"
    "      --max-open-keys N       per window rule, cap on open states (join keys,\n"
    "                              groups, terms); the oldest is evicted (default "
    "1000000)\n"
    "      --max-state-bytes SIZE  per rule, bytes of retained state (the events its\n"
    "                              open keys and groups hold); the oldest keys are\n"
    "                              evicted (default 256M)\n"
    "      --max-total-state-bytes SIZE  the same for all rules together; the rule\n"
    "                              holding most sheds its oldest (default 1G)\n"
    "      --max-lateness DUR      how far behind the newest event time an event may\n"
    "                              arrive and still take its place in time order\n"
    "                              (default 5m; 0s: none; later ones are too_late)\n"
    "      --max-future DUR        refuse events further ahead of the wall clock\n"
    "                              (default 1h; off: no bound)\n"
    "      --rule-memory BYTES     memory cap of each rule's Lua state (default 64 MiB)\n"
    "      --rule-instructions N   Lua instruction budget per predicate call\n"
    "                              (default 1000000)\n"
    "      --lua-dir DIR           folder of the moonwatch Lua modules\n"
    "      --threads N             threads that parse: the rule thread and N-1\n"
    "                              parser threads (default 1); rules still see\n"
    "                              events in order\n"
    "      --no-prefilter          parse every line (default: lines without the\n"
    "                              literals a rule's match needs are not parsed)\n"
    "      --strict                refuse to start when any rule fails to load\n"
    "                              (default: report it and run the others)\n"
    "  -f, --follow                keep reading the inputs as they grow (tail -f)\n"
    "                              and reload changed rule files, until SIGINT or\n"
    "                              SIGTERM; SIGHUP reloads every rule\n"
    "                              an INPUT with * ? [ that names no file is a\n"
    "                              glob, re-expanded to pick up new files; rotated\n"
    "                              (rename or copytruncate) and deleted files are\n"
    "                              handled (docs/RELIABILITY.md)\n"
    "      --rotate-wait DUR       read a rotated-away file until it has been quiet\n"
    "                              this long (default 1s)\n"
    "      --reload-debounce MS    quiet time before reloading changed rules (100)\n"
    "      --quarantine-after N    quarantine a rule after N failed predicate calls\n"
    "                              in a row until it is reloaded (100; 0: never)\n"
    "      --health-output SPEC    where health records go: stderr (default),\n"
    "                              file:PATH (like --health PATH) or none; rule\n"
    "                              records (loaded, reload failed, quarantined...)\n"
    "                              are written with --follow or either option\n"
    "      --metrics-file PATH     Prometheus textfile, rewritten atomically\n"
    "      --metrics-interval S    seconds between rewrites in follow mode (5)\n"
    "  -q, --quiet                 only warnings and errors on stderr\n"
    "  -h, --help                  this help\n";

static const char *const usage_check =
    "usage: moonwatch check [--lua-dir DIR] [PATH...]\n"
    "\n"
    "Loads every rule file (PATH: files or folders; default: rules) in its\n"
    "sandbox without running it over events, and reports every error with file\n"
    "and line. Exit 0 when all load, 2 when any fails.\n";

static void usage_error(const char *usage, const char *msg)
{
    if (msg)
        fprintf(stderr, "moonwatch: %s\n", msg);
    fputs(usage, stderr);
}

enum {
    OPT_MAX_LINE = 256,
    OPT_DEAD,
    OPT_SUMMARY,
    OPT_ALERT_TIME,
    OPT_MAX_KEYS,
    OPT_MAX_STATE_BYTES,
    OPT_MAX_TOTAL_STATE_BYTES,
    OPT_RULE_MEM,
    OPT_RULE_INSN,
    OPT_LUA_DIR,
    OPT_STRICT,
    OPT_THREADS,
    OPT_NO_PREFILTER,
    OPT_LATENESS,
    OPT_FUTURE,
    OPT_STATE_DIR,
    OPT_SPOOL_DIR,
    OPT_HEALTH,
    OPT_DEDUP_TTL,
    OPT_STATE_INTERVAL,
    OPT_CKPT_INTERVAL,
    OPT_ROTATE_WAIT,
    OPT_DEBOUNCE,
    OPT_QUARANTINE,
    OPT_HEALTH_OUTPUT,
    OPT_METRICS,
    OPT_METRICS_INTERVAL,
};

static void on_sighup(int sig)
{
    (void)sig;
    mw_output_request_reopen();
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rules", required_argument, NULL, 'r'},
        {"output", required_argument, NULL, 'o'},
        {"timestamp-field", required_argument, NULL, 't'},
        {"max-line-bytes", required_argument, NULL, OPT_MAX_LINE},
        {"dead-letter", required_argument, NULL, OPT_DEAD},
        {"summary", required_argument, NULL, OPT_SUMMARY},
        {"alert-time", required_argument, NULL, OPT_ALERT_TIME},
        {"max-open-keys", required_argument, NULL, OPT_MAX_KEYS},
        {"max-state-bytes", required_argument, NULL, OPT_MAX_STATE_BYTES},
        {"max-total-state-bytes", required_argument, NULL, OPT_MAX_TOTAL_STATE_BYTES},
        {"rule-memory", required_argument, NULL, OPT_RULE_MEM},
        {"rule-instructions", required_argument, NULL, OPT_RULE_INSN},
        {"lua-dir", required_argument, NULL, OPT_LUA_DIR},
        {"quiet", no_argument, NULL, 'q'},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"no-prefilter", no_argument, NULL, OPT_NO_PREFILTER},
        {"max-lateness", required_argument, NULL, OPT_LATENESS},
        {"max-future", required_argument, NULL, OPT_FUTURE},
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"spool-dir", required_argument, NULL, OPT_SPOOL_DIR},
        {"health", required_argument, NULL, OPT_HEALTH},
        {"dedup-ttl", required_argument, NULL, OPT_DEDUP_TTL},
        {"state-interval", required_argument, NULL, OPT_STATE_INTERVAL},
        {"checkpoint-interval", required_argument, NULL, OPT_CKPT_INTERVAL},
        {"rotate-wait", required_argument, NULL, OPT_ROTATE_WAIT},
        {"follow", no_argument, NULL, 'f'},
        {"reload-debounce", required_argument, NULL, OPT_DEBOUNCE},
        {"quarantine-after", required_argument, NULL, OPT_QUARANTINE},
        {"health-output", required_argument, NULL, OPT_HEALTH_OUTPUT},
        {"metrics-file", required_argument, NULL, OPT_METRICS},
        {"metrics-interval", required_argument, NULL, OPT_METRICS_INTERVAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char **rules = xcalloc((size_t)argc + 1, sizeof(char *));
    char **outputs = xcalloc((size_t)argc + 1, sizeof(char *));
    int nrules = 0, noutputs = 0, c, rc = 2, failed;
    bool strict = false;
    struct mw_engine_opts eo = {0};
    struct mw_run_opts ro = {0};
    const char *lua_dir_opt = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_output *out = NULL;
    struct mw_engine *e = NULL;
    struct mw_shape *shape = NULL;
    struct mw_shape_opts so = {0};
    const char *state_dir = NULL, *spool_dir = NULL, *health = NULL;
    char spool_buf[PATH_MAX];
    struct mw_reload *reload = NULL;
    const char *health_spec = NULL;
    size_t debounce = MW_RELOAD_DEFAULT_DEBOUNCE_MS;
    size_t sz;

    eo.max_open_keys = 1000000;
    eo.max_state_bytes = MW_ENGINE_DEFAULT_STATE_BYTES;
    eo.max_total_state_bytes = MW_ENGINE_DEFAULT_TOTAL_STATE_BYTES;
    eo.lateness = 5 * 60 * (mw_time_t)1000000;
    ro.max_future = 3600 * (mw_time_t)1000000;
    eo.quarantine_after = 100;
    ro.metrics_interval_ms = 5000;
    ro.timestamp_field = "@timestamp";
    ro.max_line = MW_DEFAULT_MAX_LINE;
    ro.summary = MW_SUMMARY_TEXT;
    ro.max_reports_per_input = 100;

    optind = 1;
    while ((c = getopt_long(argc, argv, "r:o:t:qhf", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules[nrules++] = optarg;
            break;
        case 'o':
            outputs[noutputs++] = optarg;
            break;
        case 't':
            ro.timestamp_field = optarg;
            break;
        case 'q':
            mw_log_set_level(MW_LOG_WARN);
            break;
        case 'h':
            fputs(usage_run, stdout);
            rc = 0;
            goto done;
        case OPT_MAX_LINE:
            if (mw_parse_size(optarg, &ro.max_line) < 0) {
                usage_error(usage_run, "--max-line-bytes needs a positive size");
                goto done;
            }
            break;
        case OPT_DEAD:
            ro.dead_letter = optarg;
            break;
        case OPT_SUMMARY:
            if (strcmp(optarg, "text") == 0)
                ro.summary = MW_SUMMARY_TEXT;
            else if (strcmp(optarg, "json") == 0)
                ro.summary = MW_SUMMARY_JSON;
            else if (strcmp(optarg, "none") == 0)
                ro.summary = MW_SUMMARY_NONE;
            else {
                usage_error(usage_run, "--summary is text, json or none");
                goto done;
            }
            break;
        case OPT_ALERT_TIME:
            if (strcmp(optarg, "event") == 0)
                eo.alert_time_from_events = true;
            else if (strcmp(optarg, "wall") != 0) {
                usage_error(usage_run, "--alert-time is wall or event");
                goto done;
            }
            break;
        case OPT_MAX_KEYS:
            if (mw_parse_size(optarg, &eo.max_open_keys) < 0) {
                usage_error(usage_run, "--max-open-keys needs a positive number");
                goto done;
            }
            break;
        case OPT_MAX_STATE_BYTES:
            if (mw_parse_size(optarg, &eo.max_state_bytes) < 0) {
                usage_error(usage_run, "--max-state-bytes needs a positive size");
                goto done;
            }
            break;
        case OPT_MAX_TOTAL_STATE_BYTES:
            if (mw_parse_size(optarg, &eo.max_total_state_bytes) < 0) {
                usage_error(usage_run, "--max-total-state-bytes needs a positive size");
                goto done;
            }
            break;
        case OPT_RULE_MEM:
            if (mw_parse_size(optarg, &eo.limits.mem_max) < 0) {
                usage_error(usage_run, "--rule-memory needs a positive size");
                goto done;
            }
            break;
        case OPT_RULE_INSN:
            if (mw_parse_size(optarg, &sz) < 0) {
                usage_error(usage_run, "--rule-instructions needs a positive number");
                goto done;
            }
            eo.limits.insn_per_call = (int64_t)sz;
            break;
        case OPT_LUA_DIR:
            lua_dir_opt = optarg;
            break;
        case OPT_STRICT:
            strict = true;
            break;
        case OPT_THREADS:
            if (mw_parse_size(optarg, &sz) < 0 || sz > 16) {
                usage_error(usage_run, "--threads needs a number from 1 to 16");
                goto done;
            }
            ro.threads = (int)sz;
            break;
        case OPT_NO_PREFILTER:
            ro.no_prefilter = true;
            break;
        case OPT_LATENESS:
            if (mw_duration_parse(optarg, &eo.lateness) < 0) {
                usage_error(usage_run, "--max-lateness needs a duration like 5m or 0s");
                goto done;
            }
            break;
        case OPT_FUTURE:
            if (strcmp(optarg, "off") == 0) {
                ro.max_future = -1;
            } else if (mw_duration_parse(optarg, &ro.max_future) < 0) {
                usage_error(usage_run, "--max-future needs a duration like 1h, or off");
                goto done;
            }
            break;
        case 'f':
            ro.follow = true;
            break;
        case OPT_DEBOUNCE:
            if (mw_parse_size(optarg, &debounce) < 0 || debounce > 60000) {
                usage_error(usage_run,
                            "--reload-debounce needs milliseconds in 1..60000");
                goto done;
            }
            break;
        case OPT_QUARANTINE:
            if (strcmp(optarg, "0") == 0) {
                eo.quarantine_after = 0;
            } else if (mw_parse_size(optarg, &sz) < 0) {
                usage_error(usage_run, "--quarantine-after needs a number (0: never)");
                goto done;
            } else {
                eo.quarantine_after = sz;
            }
            break;
        case OPT_HEALTH_OUTPUT:
            health_spec = optarg;
            break;
        case OPT_METRICS:
            ro.metrics_file = optarg;
            break;
        case OPT_METRICS_INTERVAL:
            if (mw_parse_size(optarg, &sz) < 0 || sz > 86400) {
                usage_error(usage_run, "--metrics-interval needs seconds in 1..86400");
                goto done;
            }
            ro.metrics_interval_ms = (int)sz * 1000;
            break;
        case OPT_STATE_DIR:
            state_dir = optarg;
            break;
        case OPT_SPOOL_DIR:
            spool_dir = optarg;
            break;
        case OPT_HEALTH:
            health = optarg;
            break;
        case OPT_DEDUP_TTL:
            if (mw_duration_parse(optarg, &so.dedup_ttl) < 0 || so.dedup_ttl <= 0) {
                usage_error(usage_run, "--dedup-ttl needs a positive duration (e.g. 7d)");
                goto done;
            }
            break;
        case OPT_CKPT_INTERVAL:
        case OPT_ROTATE_WAIT: {
            mw_time_t d;
            if (mw_duration_parse(optarg, &d) < 0 || d < 1000 ||
                d > 86400 * INT64_C(1000000)) {
                usage_error(
                    usage_run,
                    c == OPT_ROTATE_WAIT
                        ? "--rotate-wait needs a duration from 1ms to 1d (e.g. 1s)"
                        : "--checkpoint-interval needs a duration from 1ms to 1d (e.g. "
                          "5s)");
                goto done;
            }
            if (c == OPT_ROTATE_WAIT)
                ro.rotate_wait_ms = (int)(d / 1000);
            else
                ro.checkpoint_interval_ms = (int)(d / 1000);
            break;
        }
        case OPT_STATE_INTERVAL:
            if (mw_duration_parse(optarg, &so.save_interval) < 0 ||
                so.save_interval <= 0) {
                usage_error(usage_run,
                            "--state-interval needs a positive duration (e.g. 5s)");
                goto done;
            }
            break;
        default:
            usage_error(usage_run, NULL);
            goto done;
        }
    }
    if (nrules == 0) {
        usage_error(usage_run, "run needs at least one --rules PATH");
        goto done;
    }
    eo.lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));

    if (health_spec) {
        /* --health-output SPEC: stderr, file:PATH or none */
        if (strncmp(health_spec, "file:", 5) == 0 && health_spec[5] != '\0') {
            health = health_spec + 5;
        } else if (strcmp(health_spec, "none") == 0) {
            health = "/dev/null";
        } else if (strcmp(health_spec, "stderr") != 0) {
            usage_error(usage_run, "--health-output is stderr, file:PATH or none");
            goto done;
        }
    }
    if (health) {
        struct mw_error err;
        if (mw_health_open(health, &err) < 0) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    if (state_dir && mkdir(state_dir, 0700) != 0 && errno != EEXIST) {
        mw_log_error("--state-dir %s: %s", state_dir, strerror(errno));
        goto done;
    }
    eo.state_dir = state_dir;
    if (spool_dir == NULL && state_dir) {
        snprintf(spool_buf, sizeof(spool_buf), "%s/spool", state_dir);
        spool_dir = spool_buf;
    }
    out = mw_output_new();
    mw_output_set_spool_dir(out, spool_dir);
    if (noutputs == 0)
        outputs[noutputs++] = (char *)"stdout";
    for (int i = 0; i < noutputs; i++) {
        struct mw_error err;
        if (mw_output_add(out, outputs[i], &err) < 0) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    {
        struct mw_error err;
        shape = mw_shape_open(state_dir, &so, out, &err);
        if (shape == NULL) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    signal(SIGHUP, on_sighup);
    /* host-event records (rules loaded, reload failed, quarantined, ...):
     * always in follow mode, otherwise when a health sink was asked for */
    eo.health_records = ro.follow || health || health_spec;
    ro.health_records = eo.health_records;
    e = mw_engine_new(&eo, out);
    mw_engine_set_shape(e, shape);
    failed = mw_engine_load(e, rules, nrules);
    if (failed > 0 && strict) {
        mw_log_error("%d rule file(s) failed to load and --strict is set", failed);
        goto done;
    }
    if (failed > 0)
        mw_log_warn("%d rule file(s) failed to load (reported above); running "
                    "the %zu that loaded",
                    failed, mw_engine_rule_count(e));
    if (mw_engine_rule_count(e) == 0 && !ro.follow) {
        mw_log_error("no rules loaded from the given --rules paths");
        goto done;
    }
    if (ro.follow) {
        if (mw_engine_rule_count(e) == 0)
            mw_log_warn(
                "no rules loaded yet: waiting for rule files to appear or be fixed");
        reload = mw_reload_new(e, rules, nrules, (int)debounce);
        ro.reload = reload;
    }
    mw_log_info("loaded %zu rule(s)", mw_engine_rule_count(e));
    ro.max_lateness = eo.lateness;
    ro.state_dir = state_dir;
    ro.shape = shape;
    ro.inputs = argv + optind;
    ro.ninputs = argc - optind;
    rc = mw_run(e, out, &ro);

done:
    mw_reload_free(reload);
    mw_engine_free(e);
    mw_output_free(out);
    mw_shape_free(shape);
    mw_health_close();
    free(rules);
    free(outputs);
    return rc;
}

static int cmd_check(int argc, char **argv)
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
    struct mw_engine_opts eo = {0};
    struct mw_engine *e;
    int c, failed;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(usage_check, stdout);
            return 0;
        case OPT_LUA_DIR:
            lua_dir_opt = optarg;
            break;
        default:
            usage_error(usage_check, NULL);
            return 2;
        }
    }
    eo.lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));
    e = mw_engine_new(&eo, NULL);
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

int main(int argc, char **argv)
{
    const char *cmd;
    int rc;

    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (strcmp(cmd, "help") == 0) {
        const char *sub = argc > 2 ? argv[2] : "";
        fputs(strcmp(sub, "run") == 0       ? usage_run
              : strcmp(sub, "check") == 0   ? usage_check
              : strcmp(sub, "test") == 0    ? mw_usage_test
              : strcmp(sub, "replay") == 0  ? mw_usage_replay
              : strcmp(sub, "explain") == 0 ? mw_usage_explain
              : strcmp(sub, "list") == 0    ? mw_usage_list
              : strcmp(sub, "new") == 0     ? mw_usage_new
                                            : usage_main,
              stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("moonwatch %s\n", MW_VERSION);
        return 0;
    }
    mw_pool_install(); /* before any jansson value exists */
    if (strcmp(cmd, "run") == 0)
        rc = cmd_run(argc - 1, argv + 1);
    else if (strcmp(cmd, "check") == 0)
        rc = cmd_check(argc - 1, argv + 1);
    else if (strcmp(cmd, "test") == 0)
        rc = mw_cmd_test(argc - 1, argv + 1);
    else if (strcmp(cmd, "replay") == 0)
        rc = mw_cmd_replay(argc - 1, argv + 1);
    else if (strcmp(cmd, "explain") == 0)
        rc = mw_cmd_explain(argc - 1, argv + 1);
    else if (strcmp(cmd, "list") == 0)
        rc = mw_cmd_list(argc - 1, argv + 1);
    else if (strcmp(cmd, "new") == 0)
        rc = mw_cmd_new(argc - 1, argv + 1);
    else {
        fprintf(stderr, "moonwatch: unknown command '%s'\n", cmd);
        fputs(usage_main, stderr);
        rc = 2;
    }
    mw_output_global_cleanup(); /* if an HTTP output loaded libcurl */
    mw_event_cache_flush();
    mw_pool_shutdown();
    return rc;
}
