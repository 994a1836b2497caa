/* mw_cmd_run.c - `moonwatch run`: rules over NDJSON events, alerts out
 *
 * Parses the options into engine, shaping and run options (starting from
 * mw_cmd_defaults, the defaults every command shares), opens outputs,
 * health sink and state folder, loads the rules and hands over to mw_run
 * (src/pipeline/). Exit status: 0 success, 2 usage or load errors, 3 an output lost
 * alerts. Diagnostics go to stderr only; stdout carries alerts.
 */
#include "mw_cmd.h"
#include "mw_engine.h"
#include "mw_health.h"
#include "mw_output.h"
#include "mw_event.h"
#include "mw_file.h"
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

const char *const mw_usage_run =
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
    "                              groups, terms); the oldest is evicted "
    "(default " MW_XSTR(
        MW_DEFAULT_MAX_OPEN_KEYS) ")\n"
                                  "      --max-state-bytes SIZE  per rule, bytes of "
                                  "retained state (the events its\n"
                                  "                              open keys and groups "
                                  "hold); the oldest keys are\n"
                                  "                              evicted (default 256M)\n"
                                  "      --max-total-state-bytes SIZE  the same for all "
                                  "rules together; the rule\n"
                                  "                              holding most sheds its "
                                  "oldest (default 1G)\n"
                                  "      --max-lateness DUR      how far behind the "
                                  "newest event time an event may\n"
                                  "                              arrive and still take "
                                  "its place in time order\n"
                                  "                              (default 5m; 0s: none; "
                                  "later ones are too_late)\n"
                                  "      --max-future DUR        refuse events further "
                                  "ahead of the wall clock\n"
                                  "                              (default 1h; off: no "
                                  "bound)\n"
                                  "      --max-skew DUR          an event further ahead "
                                  "of "
                                  "the wall clock, or\n"
                                  "                              further ahead of event "
                                  "time than --max-lateness,\n"
                                  "                              is set aside until "
                                  "confirmed (default 2m; off)\n"
                                  "      --max-jump DUR          batch: also set aside "
                                  "an "
                                  "event further ahead of\n"
                                  "                              event time than DUR "
                                  "until "
                                  "confirmed (default off)\n"
                                  "      --time-confirm N        events in a row that "
                                  "confirm a jump in event\n"
                                  "                              time (default 16)\n"
                                  "      --rule-memory BYTES     memory cap of each "
                                  "rule's Lua state (default 64 MiB)\n"
                                  "      --rule-instructions N   Lua instruction budget "
                                  "per predicate call\n"
                                  "                              (default 1000000)\n"
                                  "      --rule-time DUR         wall time a rule may "
                                  "take "
                                  "per event, all its\n"
                                  "                              predicates together, "
                                  "and "
                                  "per hook call (default 50ms)\n"
                                  "      --rule-load-time DUR    wall time for loading "
                                  "one "
                                  "rule file (default 2s)\n"
                                  "      --rules-memory BYTES    memory cap of all "
                                  "rules' Lua "
                                  "states together; a rule\n"
                                  "                              that would exceed it is "
                                  "not "
                                  "loaded (default 1 GiB)\n"
                                  "      --lua-dir DIR           folder of the moonwatch "
                                  "Lua modules\n"
                                  "      --threads N             threads that parse: the "
                                  "rule thread and N-1\n"
                                  "                              parser threads (default "
                                  "1); rules still see\n"
                                  "                              events in order\n"
                                  "      --no-prefilter          parse every line "
                                  "(default: lines without the\n"
                                  "                              literals a rule's match "
                                  "needs are not parsed)\n"
                                  "      --strict                refuse to start when "
                                  "any rule fails to load\n"
                                  "                              (default: report it and "
                                  "run the others)\n"
                                  "  -f, --follow                keep reading the inputs "
                                  "as they grow (tail -f)\n"
                                  "                              and reload changed rule "
                                  "files, until SIGINT or\n"
                                  "                              SIGTERM; SIGHUP reloads "
                                  "every rule\n"
                                  "                              an INPUT with * ? [ "
                                  "that names no file is a\n"
                                  "                              glob, re-expanded to "
                                  "pick up new files; rotated\n"
                                  "                              (rename or "
                                  "copytruncate) and deleted files are\n"
                                  "                              handled "
                                  "(docs/RELIABILITY.md)\n"
                                  "      --rotate-wait DUR       read a rotated-away "
                                  "file until it has been quiet\n"
                                  "                              this long (default 1s)\n"
                                  "      --reload-debounce MS    quiet time before "
                                  "reloading changed rules (100)\n"
                                  "      --quarantine-after N    quarantine a rule after "
                                  "N failed predicate calls\n"
                                  "                              in a row until it is "
                                  "reloaded (100; 0: never)\n"
                                  "      --health-output SPEC    where health records "
                                  "go: stderr (default),\n"
                                  "                              file:PATH (like "
                                  "--health PATH) or none; rule\n"
                                  "                              records (loaded, reload "
                                  "failed, quarantined...)\n"
                                  "                              are written with "
                                  "--follow or either option\n"
                                  "      --metrics-file PATH     Prometheus textfile, "
                                  "rewritten atomically\n"
                                  "      --metrics-interval S    seconds between "
                                  "rewrites in follow mode (5)\n"
                                  "  -q, --quiet                 only warnings and "
                                  "errors on stderr\n"
                                  "  -h, --help                  this help\n";

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
    OPT_RULE_TIME,
    OPT_RULE_LOAD_TIME,
    OPT_RULES_MEM,
    OPT_LUA_DIR,
    OPT_STRICT,
    OPT_THREADS,
    OPT_NO_PREFILTER,
    OPT_LATENESS,
    OPT_FUTURE,
    OPT_SKEW,
    OPT_CONFIRM,
    OPT_JUMP,
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

int mw_cmd_run(int argc, char **argv)
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
        {"rule-time", required_argument, NULL, OPT_RULE_TIME},
        {"rule-load-time", required_argument, NULL, OPT_RULE_LOAD_TIME},
        {"rules-memory", required_argument, NULL, OPT_RULES_MEM},
        {"lua-dir", required_argument, NULL, OPT_LUA_DIR},
        {"quiet", no_argument, NULL, 'q'},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"no-prefilter", no_argument, NULL, OPT_NO_PREFILTER},
        {"max-lateness", required_argument, NULL, OPT_LATENESS},
        {"max-future", required_argument, NULL, OPT_FUTURE},
        {"max-skew", required_argument, NULL, OPT_SKEW},
        {"time-confirm", required_argument, NULL, OPT_CONFIRM},
        {"max-jump", required_argument, NULL, OPT_JUMP},
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
    const char **outputs = xcalloc((size_t)argc + 1, sizeof(char *));
    int nrules = 0, noutputs = 0, c, rc = 2, failed;
    bool strict = false;
    struct mw_engine_opts eo;
    struct mw_run_opts ro;
    const char *lua_dir_opt = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_output *out = NULL;
    struct mw_engine *e = NULL;
    struct mw_shape *shape = NULL;
    struct mw_shape_opts so = {0};
    const char *state_dir = NULL, *spool_dir = NULL, *health = NULL;
    char *spool_buf = NULL; /* owned: STATE/spool */
    struct mw_reload *reload = NULL;
    const char *health_spec = NULL;
    size_t debounce = MW_RELOAD_DEFAULT_DEBOUNCE_MS;
    size_t sz;

    mw_cmd_defaults(&eo, &ro);

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
            fputs(mw_usage_run, stdout);
            rc = 0;
            goto done;
        case OPT_MAX_LINE:
            if (mw_parse_size(optarg, &ro.max_line) < 0) {
                usage_error(mw_usage_run, "--max-line-bytes needs a positive size");
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
                usage_error(mw_usage_run, "--summary is text, json or none");
                goto done;
            }
            break;
        case OPT_ALERT_TIME:
            if (strcmp(optarg, "event") == 0)
                eo.alert_time_from_events = true;
            else if (strcmp(optarg, "wall") != 0) {
                usage_error(mw_usage_run, "--alert-time is wall or event");
                goto done;
            }
            break;
        case OPT_MAX_KEYS:
            if (mw_parse_size(optarg, &eo.max_open_keys) < 0) {
                usage_error(mw_usage_run, "--max-open-keys needs a positive number");
                goto done;
            }
            break;
        case OPT_MAX_STATE_BYTES:
            if (mw_parse_size(optarg, &eo.max_state_bytes) < 0) {
                usage_error(mw_usage_run, "--max-state-bytes needs a positive size");
                goto done;
            }
            break;
        case OPT_MAX_TOTAL_STATE_BYTES:
            if (mw_parse_size(optarg, &eo.max_total_state_bytes) < 0) {
                usage_error(mw_usage_run,
                            "--max-total-state-bytes needs a positive size");
                goto done;
            }
            break;
        case OPT_RULE_MEM:
            if (mw_parse_size(optarg, &eo.limits.mem_max) < 0) {
                usage_error(mw_usage_run, "--rule-memory needs a positive size");
                goto done;
            }
            break;
        case OPT_RULE_INSN:
            if (mw_parse_size(optarg, &sz) < 0) {
                usage_error(mw_usage_run, "--rule-instructions needs a positive number");
                goto done;
            }
            eo.limits.insn_per_call = (int64_t)sz;
            break;
        case OPT_RULE_TIME:
        case OPT_RULE_LOAD_TIME: {
            mw_time_t d;
            if (mw_duration_parse(optarg, &d) < 0 || d <= 0) {
                usage_error(mw_usage_run,
                            c == OPT_RULE_TIME
                                ? "--rule-time needs a positive duration like 50ms"
                                : "--rule-load-time needs a positive duration "
                                  "like 2s");
                goto done;
            }
            if (c == OPT_RULE_TIME)
                eo.limits.time_per_event_us = d;
            else
                eo.limits.time_load_us = d;
            break;
        }
        case OPT_RULES_MEM:
            if (mw_parse_size(optarg, &sz) < 0) {
                usage_error(mw_usage_run, "--rules-memory needs a positive size");
                goto done;
            }
            eo.limits.mem_total_max = sz;
            break;
        case OPT_LUA_DIR:
            lua_dir_opt = optarg;
            break;
        case OPT_STRICT:
            strict = true;
            break;
        case OPT_THREADS:
            if (mw_parse_size(optarg, &sz) < 0 || sz > 16) {
                usage_error(mw_usage_run, "--threads needs a number from 1 to 16");
                goto done;
            }
            ro.threads = (int)sz;
            break;
        case OPT_NO_PREFILTER:
            ro.no_prefilter = true;
            break;
        case OPT_LATENESS:
            if (mw_duration_parse(optarg, &eo.lateness) < 0) {
                usage_error(mw_usage_run,
                            "--max-lateness needs a duration like 5m or 0s");
                goto done;
            }
            break;
        case OPT_FUTURE:
            if (strcmp(optarg, "off") == 0) {
                ro.max_future = -1;
            } else if (mw_duration_parse(optarg, &ro.max_future) < 0) {
                usage_error(mw_usage_run,
                            "--max-future needs a duration like 1h, or off");
                goto done;
            }
            break;
        case OPT_SKEW:
            if (strcmp(optarg, "off") == 0) {
                ro.max_skew = -1;
            } else if (mw_duration_parse(optarg, &ro.max_skew) < 0) {
                usage_error(mw_usage_run, "--max-skew needs a duration like 2m, or off");
                goto done;
            }
            break;
        case OPT_JUMP:
            if (strcmp(optarg, "off") == 0) {
                ro.max_jump = -1;
            } else if (mw_duration_parse(optarg, &ro.max_jump) < 0 || ro.max_jump <= 0) {
                usage_error(mw_usage_run, "--max-jump needs a duration like 5m, or off");
                goto done;
            }
            break;
        case OPT_CONFIRM:
            if (mw_parse_size(optarg, &sz) < 0 || sz < 1 || sz > 1000000) {
                usage_error(mw_usage_run,
                            "--time-confirm needs a number from 1 to 1000000");
                goto done;
            }
            ro.time_confirm = (int)sz;
            break;
        case 'f':
            ro.follow = true;
            break;
        case OPT_DEBOUNCE:
            if (mw_parse_size(optarg, &debounce) < 0 || debounce > 60000) {
                usage_error(mw_usage_run,
                            "--reload-debounce needs milliseconds in 1..60000");
                goto done;
            }
            break;
        case OPT_QUARANTINE:
            if (strcmp(optarg, "0") == 0) {
                eo.quarantine_after = 0;
            } else if (mw_parse_size(optarg, &sz) < 0) {
                usage_error(mw_usage_run, "--quarantine-after needs a number (0: never)");
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
                usage_error(mw_usage_run, "--metrics-interval needs seconds in 1..86400");
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
                usage_error(mw_usage_run,
                            "--dedup-ttl needs a positive duration (e.g. 7d)");
                goto done;
            }
            break;
        case OPT_CKPT_INTERVAL:
        case OPT_ROTATE_WAIT: {
            mw_time_t d;
            if (mw_duration_parse(optarg, &d) < 0 || d < 1000 ||
                d > 86400 * INT64_C(1000000)) {
                usage_error(
                    mw_usage_run,
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
                usage_error(mw_usage_run,
                            "--state-interval needs a positive duration (e.g. 5s)");
                goto done;
            }
            break;
        default:
            usage_error(mw_usage_run, NULL);
            goto done;
        }
    }
    if (nrules == 0) {
        usage_error(mw_usage_run, "run needs at least one --rules PATH");
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
            usage_error(mw_usage_run, "--health-output is stderr, file:PATH or none");
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
    if (state_dir) {
        struct mw_error err;
        if (mw_dir_private(state_dir, "--state-dir", &err) < 0) {
            mw_log_error("%s", err.msg);
            goto done;
        }
    }
    eo.state_dir = state_dir;
    if (spool_dir == NULL && state_dir) {
        spool_buf = mw_path_join(state_dir, "spool");
        spool_dir = spool_buf;
    }
    out = mw_output_new();
    mw_output_set_spool_dir(out, spool_dir);
    if (noutputs == 0)
        outputs[noutputs++] = "stdout";
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
    mw_run_install_sighup(); /* outputs reopen their files on SIGHUP */
    /* host-event records (rules loaded, reload failed, quarantined, ...):
     * always in follow mode, otherwise when a health sink was asked for */
    eo.health_records = ro.follow || health || health_spec;
    ro.health_records = eo.health_records;
    e = mw_engine_new(&eo, mw_output_write_to, out);
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
    if (rc == 0 && mw_output_lost(out) > 0)
        rc = 3; /* an output lost alerts (docs/OPTIONS.md, exit status) */

done:
    mw_reload_free(reload);
    mw_engine_free(e);
    mw_output_free(out);
    mw_shape_free(shape);
    mw_health_close();
    free(rules);
    free(outputs);
    free(spool_buf);
    return rc;
}
