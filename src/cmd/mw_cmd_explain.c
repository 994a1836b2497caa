/* mw_cmd_explain.c - `moonwatch explain`: why a rule fired or stayed silent
 *
 * One rule, loaded on its own, is run over the inputs (merged by event time
 * as `run` merges them). For each event it prints, per step, whether the
 * step's matcher matched and, when not, the deciding leaf (operator, field,
 * wanted values, the event's value); the join key the event yields; and the
 * state transitions the sequence engine reports through its observer
 * (started, advanced, replaced, completed, expired, cancelled, evicted, key
 * missing, not after the previous stage). At the end it lists every partial
 * sequence that did not complete and why.
 *
 * The matchers are evaluated a second time for the explanation (Lua
 * predicates may run twice); the engine's own evaluation is untouched.
 */
#include "mw_frontend.h"
#include "mw_alert.h"
#include "mw_cmd.h"
#include "mw_dict.h"
#include "mw_feed.h"
#include "mw_log.h"
#include "mw_rule.h"
#include "mw_seq.h"
#include "mw_time.h"

#include <getopt.h>
#include <stdarg.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mw_usage_explain =
    "usage: moonwatch explain --rule PATH [options] INPUT...\n"
    "\n"
    "Runs one rule over the INPUT files (NDJSON, merged by event time as `run`\n"
    "does; \"-\": stdin) and prints, for each event, which matcher of which step\n"
    "matched or failed (field, wanted value, the event's value), the join key,\n"
    "and the state transition; then, for every sequence that did not complete,\n"
    "why: expired by maxspan, replaced, cancelled by until, evicted, still\n"
    "pending; and the events whose join key was missing.\n"
    "\n"
    "Options:\n"
    "  -r, --rule PATH             the rule file\n"
    "  -m, --matched               print only events that matched some step\n"
    "  -t, --timestamp-field F     event time field (default @timestamp)\n"
    "      --max-open-keys N       as for run (default " MW_XSTR(
        MW_DEFAULT_MAX_OPEN_KEYS) ")\n"
                                  "      --max-lateness DUR      as for run (default "
                                  "5m): how "
                                  "far behind\n"
                                  "                              the newest event an "
                                  "event "
                                  "may arrive\n"
                                  "      --lua-dir DIR           folder of the moonwatch "
                                  "Lua modules\n"
                                  "  -h, --help                  this help\n";

/* The life of one partial sequence, keyed by its first event's serial. */
struct life {
    uint64_t seq;      /* first event's arrival serial (the dict key) */
    uint64_t first_no; /* its event number in this run */
    char where[300];   /* input:line of the first event */
    char key[400];     /* rendered join key */
    int reached;       /* 1-based stage reached */
    char end[800];     /* why it ended; "" while pending */
    bool completed;
    struct life *next; /* list in start order */
};

struct ex {
    const struct mw_rule *rule;
    const struct mw_seq_def *def;
    struct mw_dict *lives; /* seq -> struct life */
    struct life *head, *tail;
    uint64_t evno;    /* number of the current event */
    char lines[8192]; /* transitions of the current event */
    size_t llen;
    uint64_t alerts;
    char nokey[4096]; /* events with a missing key (first ones) */
    size_t nklen;
    uint64_t nokey_count;
};

static void addf(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void addf(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    if (*len >= size - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
    if (*len >= size - 1)
        *len = size - 1;
}

static void where_of(const struct mw_event *ev, char *buf, size_t size)
{
    snprintf(buf, size, "%s:%llu", ev->input ? ev->input : "?",
             (unsigned long long)ev->line);
}

static void fmt_gap(mw_time_t d, char *buf, size_t size)
{
    char tmp[64];
    mw_duration_format(d, tmp, sizeof(tmp));
    if (d >= 60000000 && d % 1000000 != 0 && d % 1000 == 0)
        snprintf(buf, size, "%s (%lld.%03llds)", tmp, (long long)(d / 1000000),
                 (long long)(d % 1000000 / 1000));
    else if (d >= 60000000 && d % 1000000 != 0)
        snprintf(buf, size, "%s (%lld.%06llds)", tmp, (long long)(d / 1000000),
                 (long long)(d % 1000000));
    else
        snprintf(buf, size, "%s", tmp);
}

/* The join key of ev at step k, as [v1, v2, ...]; missing fields shown as
 * `missing`. Returns false when a non-optional key is null or not a scalar
 * (reason in why). */
static bool render_key(const struct mw_seq_def *def, int k, const struct mw_event *ev,
                       char *buf, size_t size, char *why, size_t wsize)
{
    size_t len = 0;
    bool ok = true;
    const struct mw_seq_keys *keys = k < 0 ? &def->until_keys : &def->keys[k];
    if (why)
        why[0] = '\0';
    addf(buf, size, &len, "[");
    for (int i = 0; i < def->nkeys; i++) {
        const json_t *v = mw_path_get(mw_event_root(ev), keys->paths[i]);
        char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        addf(buf, size, &len, "%s%s", i ? ", " : "", s ? s : "missing");
        mw_json_free(s);
        const char *bad = v == NULL           ? "missing"
                          : json_is_null(v)   ? "null"
                          : json_is_array(v)  ? "an array"
                          : json_is_object(v) ? "an object"
                                              : NULL;
        if (bad && !(keys->optional[i] && (v == NULL || json_is_null(v)))) {
            if (ok && why)
                snprintf(why, wsize, "key field %s is %s", mw_path_str(keys->paths[i]),
                         bad);
            ok = false;
        }
    }
    addf(buf, size, &len, "]");
    return ok;
}

static struct life *life_of(struct ex *x, struct mw_event *const *evs)
{
    uint64_t seq = evs[0]->seq;
    return mw_dict_get(x->lives, &seq, sizeof(seq));
}

static void observe(void *ud, const struct mw_seq_trace *t)
{
    struct ex *x = ud;
    struct life *l = t->evs ? life_of(x, t->evs) : NULL;
    char a[300], key[400], why[300];
    char *buf = x->lines;
    size_t size = sizeof(x->lines);

    switch (t->kind) {
    case MW_SEQ_T_NO_KEY:
        render_key(x->def, t->step, t->ev, key, sizeof(key), why, sizeof(why));
        addf(buf, size, &x->llen, "  -> step %d matched but %s: takes no part (key %s)\n",
             t->step + 1, why, key);
        x->nokey_count++;
        where_of(t->ev, a, sizeof(a));
        addf(x->nokey, sizeof(x->nokey), &x->nklen,
             "  event %llu (%s) matched step %d, but %s\n", (unsigned long long)x->evno,
             a, t->step + 1, why);
        break;
    case MW_SEQ_T_STARTED:
        l = xcalloc(1, sizeof(*l));
        l->seq = t->evs[0]->seq;
        l->first_no = x->evno;
        where_of(t->ev, l->where, sizeof(l->where));
        render_key(x->def, 0, t->ev, l->key, sizeof(l->key), NULL, 0);
        l->reached = 1;
        mw_dict_put(x->lives, &l->seq, sizeof(l->seq), l);
        if (x->tail)
            x->tail->next = l;
        else
            x->head = l;
        x->tail = l;
        addf(buf, size, &x->llen, "  -> started a sequence at step 1, key %s\n", l->key);
        break;
    case MW_SEQ_T_REPLACED:
        if (l) {
            where_of(t->ev, a, sizeof(a));
            snprintf(l->end, sizeof(l->end),
                     "replaced at step %d by the newer event %llu (%s) for the same key",
                     t->n, (unsigned long long)x->evno, a);
            addf(buf, size, &x->llen,
                 "  -> replaces the pending sequence started by event "
                 "%llu (%s) at step %d\n",
                 (unsigned long long)l->first_no, l->where, t->n);
        }
        break;
    case MW_SEQ_T_NO_PENDING:
        render_key(x->def, t->step, t->ev, key, sizeof(key), NULL, 0);
        addf(buf, size, &x->llen,
             "  -> step %d matched, key %s, but no sequence for that "
             "key is waiting at step %d\n",
             t->step + 1, key, t->step);
        break;
    case MW_SEQ_T_NOT_AFTER:
        addf(buf, size, &x->llen,
             "  -> step %d matched, but does not come after step %d's "
             "event (%s) in (time, arrival) order: cannot chain\n",
             t->step + 1, t->step, l ? l->where : "?");
        break;
    case MW_SEQ_T_ADVANCED:
        if (l)
            l->reached = t->step + 1;
        addf(buf, size, &x->llen,
             "  -> advanced the sequence started by event %llu (%s) "
             "to step %d, key %s\n",
             l ? (unsigned long long)l->first_no : 0ULL, l ? l->where : "?", t->step + 1,
             l ? l->key : "?");
        break;
    case MW_SEQ_T_COMPLETED:
        if (l)
            l->completed = true;
        addf(buf, size, &x->llen,
             "  -> completed the sequence started by event %llu (%s): "
             "ALERT\n",
             l ? (unsigned long long)l->first_no : 0ULL, l ? l->where : "?");
        break;
    case MW_SEQ_T_EXPIRED:
    case MW_SEQ_T_CANCELLED:
    case MW_SEQ_T_EVICTED: {
        char gap[96], span[64];
        const char *what = t->kind == MW_SEQ_T_EXPIRED     ? "expired"
                           : t->kind == MW_SEQ_T_CANCELLED ? "cancelled"
                                                           : "evicted";
        where_of(t->ev, a, sizeof(a));
        fmt_gap(t->ev->ts - t->evs[0]->ts, gap, sizeof(gap));
        mw_duration_format(x->def->maxspan, span, sizeof(span));
        if (l) {
            if (t->kind == MW_SEQ_T_EXPIRED)
                snprintf(l->end, sizeof(l->end),
                         "expired by maxspan %s: event %llu (%s) came "
                         "%s after its first event",
                         span, (unsigned long long)x->evno, a, gap);
            else if (t->kind == MW_SEQ_T_CANCELLED)
                snprintf(l->end, sizeof(l->end),
                         "cancelled by the until condition at event "
                         "%llu (%s)",
                         (unsigned long long)x->evno, a);
            else
                snprintf(l->end, sizeof(l->end),
                         "evicted by --max-open-keys at event %llu (%s)",
                         (unsigned long long)x->evno, a);
        }
        addf(buf, size, &x->llen,
             "  -> %s the sequence started by event %llu (%s), at step "
             "%d%s%s\n",
             what, l ? (unsigned long long)l->first_no : 0ULL, l ? l->where : "?", t->n,
             t->kind == MW_SEQ_T_EXPIRED ? ", gap " : "",
             t->kind == MW_SEQ_T_EXPIRED ? gap : "");
        break;
    }
    case MW_SEQ_T_UNTIL:
        render_key(x->def, -1, t->ev, key, sizeof(key), NULL, 0);
        addf(buf, size, &x->llen, "  -> until matched, key %s\n", key);
        break;
    }
}

static void on_alert(void *ud, struct mw_event *const *evs, int n)
{
    struct ex *x = ud;
    char *msg = mw_alert_message(mw_rule_meta(x->rule), x->def, evs, n);
    addf(x->lines, sizeof(x->lines), &x->llen, "  -> alert: %s\n", msg ? msg : "");
    free(msg);
    x->alerts++;
}

static void print_why(const char *label, const struct mw_match_why *w)
{
    if (w->result == MW_TRUE) {
        printf("  %s: matched\n", label);
        return;
    }
    printf("  %s: %s", label, w->result == MW_NULL ? "no (null)" : "no");
    if (w->op[0] == '\0') {
        printf("\n");
        return;
    }
    printf(": ");
    if (w->alternatives)
        printf("none of %d alternatives matched; first: ", w->alternatives);
    if (w->negated)
        printf("not(");
    if (strcmp(w->op, "fn") == 0)
        printf("Lua predicate returned %s", w->actual);
    else if (strcmp(w->op, "exists") == 0)
        printf("exists %s, has %s", w->field, w->actual);
    else
        printf("%s %s wants %s, has %s", w->op, w->field, w->expected, w->actual);
    printf("%s\n", w->negated ? ") is false" : "");
}

int mw_cmd_explain(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"rule", required_argument, NULL, 'r'},
        {"matched", no_argument, NULL, 'm'},
        {"timestamp-field", required_argument, NULL, 't'},
        {"max-open-keys", required_argument, NULL, 'K'},
        {"max-lateness", required_argument, NULL, 'l'},
        {"lua-dir", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *rule_path = NULL, *lua_dir_opt = NULL, *ts_field = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_engine_opts eo;
    struct mw_merge_opts mo;
    bool only_matched = false;
    struct mw_rule *rule = NULL;
    struct mw_seq_state *st = NULL;
    struct mw_feed *feed = NULL;
    struct mw_error err;
    struct ex x = {0};
    int c, rc = 2;

    mw_cmd_defaults(&eo, NULL); /* what `run` starts from */
    optind = 1;
    while ((c = getopt_long(argc, argv, "r:mt:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(mw_usage_explain, stdout);
            return 0;
        case 'r':
            rule_path = optarg;
            break;
        case 'm':
            only_matched = true;
            break;
        case 't':
            ts_field = optarg;
            break;
        case 'L':
            lua_dir_opt = optarg;
            break;
        case 'l':
            if (mw_duration_parse(optarg, &eo.lateness) < 0) {
                fprintf(stderr,
                        "moonwatch: --max-lateness needs a duration like 5m or 0s\n");
                return 2;
            }
            break;
        case 'K':
            if (mw_parse_size(optarg, &eo.max_open_keys) < 0) {
                fprintf(stderr, "moonwatch: --max-open-keys needs a positive number\n");
                return 2;
            }
            break;
        default:
            fputs(mw_usage_explain, stderr);
            return 2;
        }
    }
    if (rule_path == NULL || optind >= argc) {
        fprintf(stderr, "moonwatch: explain needs --rule PATH and at least one INPUT\n%s",
                mw_usage_explain);
        return 2;
    }
    rule = mw_frontend_load(rule_path,
                            mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf)),
                            &eo.limits, &err);
    if (rule == NULL) {
        mw_log_error("%s", err.msg);
        return 2;
    }
    mw_cmd_merge_opts(&eo, NULL, &mo);
    feed = mw_feed_new(ts_field, 0, &mo, &err);
    if (feed == NULL) {
        mw_log_error("%s", err.msg);
        goto out;
    }
    for (int i = optind; i < argc; i++) {
        if (mw_feed_add_file(feed, argv[i], &err) < 0) {
            mw_log_error("%s", err.msg);
            goto out;
        }
    }
    const struct mw_rule_meta *meta = mw_rule_meta(rule);
    const struct mw_seq_def *def = mw_rule_seq(rule);
    const struct mw_match_ctx *ctx = mw_rule_ctx(rule);
    x.rule = rule;
    x.def = def;
    x.lives = mw_dict_new();
    if (def) {
        char span[64] = "none";
        if (def->maxspan > 0)
            mw_duration_format(def->maxspan, span, sizeof(span));
        printf("rule %s \"%s\" (%s): sequence of %d steps, maxspan %s\n", meta->id,
               meta->name, mw_rule_file(rule), def->nsteps, span);
        for (int k = 0; k < def->nsteps; k++) {
            printf("  step %d by", k + 1);
            for (int i = 0; i < def->nkeys; i++)
                printf("%s %s%s", i ? "," : "", def->keys[k].optional[i] ? "?" : "",
                       mw_path_str(def->keys[k].paths[i]));
            printf("%s\n", def->nkeys ? "" : " (no key)");
        }
        if (def->until_where)
            printf("  until (cancels pending sequences of its key)\n");
        /* the run's key cap and lateness, as the engine gives its states */
        st = mw_seq_state_new_with(def, &(struct mw_detect_opts){
                                            .max_keys = eo.max_open_keys,
                                            .lateness = eo.lateness,
                                        });
        mw_seq_set_observer(st, observe, &x);
    } else {
        printf("rule %s \"%s\" (%s): single event\n", meta->id, meta->name,
               mw_rule_file(rule));
    }

    struct mw_event *ev;
    while ((ev = mw_feed_next(feed)) != NULL) {
        char when[64], where[300];
        bool any = false;
        struct mw_match_why whys[MW_SEQ_MAX_STEPS], uwhy;
        int nsteps = def ? def->nsteps : 1;

        x.evno++;
        x.llen = 0;
        x.lines[0] = '\0';
        for (int k = 0; k < nsteps; k++) {
            const struct mw_matcher *m = def ? def->where[k] : mw_rule_where(rule);
            /* runs=N steps share one matcher: evaluate it once */
            if (def && k > 0 && def->where[k] == def->where[k - 1])
                whys[k] = whys[k - 1];
            else
                mw_matcher_explain(m, ev, ctx, &whys[k]);
            any |= whys[k].result == MW_TRUE;
        }
        if (def && def->until_where) {
            mw_matcher_explain(def->until_where, ev, ctx, &uwhy);
            any |= uwhy.result == MW_TRUE;
        }
        if (def) {
            mw_seq_process(def, st, ev, ctx, on_alert, &x);
        } else if (whys[0].result == MW_TRUE) {
            struct mw_event *one[1] = {ev};
            on_alert(&x, one, 1);
        }
        if (!only_matched || any || x.llen > 0) {
            mw_time_format(ev->ts, when, sizeof(when));
            where_of(ev, where, sizeof(where));
            printf("\nevent %llu  %s  %s\n", (unsigned long long)x.evno, where, when);
            for (int k = 0; k < nsteps; k++) {
                char label[64], key[400];
                snprintf(label, sizeof(label), def ? "step %d" : "where", k + 1);
                print_why(label, &whys[k]);
                if (def && whys[k].result == MW_TRUE) {
                    render_key(def, k, ev, key, sizeof(key), NULL, 0);
                    printf("    key %s\n", key);
                }
            }
            if (def && def->until_where)
                print_why("until", &uwhy);
            fputs(x.lines, stdout);
        }
        mw_event_unref(ev);
    }

    if (def) {
        int n = 0;
        printf("\nsequences that did not complete:\n");
        for (struct life *l = x.head; l; l = l->next) {
            if (l->completed)
                continue;
            if (l->end[0] == '\0')
                snprintf(
                    l->end, sizeof(l->end),
                    "still pending at the end of the input, waiting for step %d of %d",
                    l->reached + 1, def->nsteps);
            printf("  started by event %llu (%s), key %s, reached step %d: %s\n",
                   (unsigned long long)l->first_no, l->where, l->key, l->reached, l->end);
            n++;
        }
        if (n == 0)
            printf("  none\n");
        if (x.nokey_count) {
            printf("events that matched a step but had no usable join key: %llu\n",
                   (unsigned long long)x.nokey_count);
            fputs(x.nokey, stdout);
        }
    }
    printf("\n%llu event(s), %llu alert(s)", (unsigned long long)x.evno,
           (unsigned long long)x.alerts);
    if (mw_feed_rejected(feed))
        printf(", %llu line(s) rejected", (unsigned long long)mw_feed_rejected(feed));
    printf("\n");
    rc = 0;

out:
    mw_seq_state_free(st);
    for (struct life *l = x.head, *next; l; l = next) {
        next = l->next;
        free(l);
    }
    mw_dict_free(x.lives);
    mw_feed_free(feed);
    mw_rule_free(rule);
    return rc;
}
