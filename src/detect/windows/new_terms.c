/* new_terms.c - the tuple of 1-3 field values was not seen by this rule
 * within `history` before (Elastic new_terms)
 *
 * One group per term (the tuple's key), holding the last time it was seen;
 * the groups sit on the LRU list, so terms not seen for `history` expire
 * and the cap evicts the term seen longest ago. With warmup, no alert is
 * raised before the state covers `history` of event time (since).
 *
 * The first-seen history outlives the process: load/save keep it in a
 * versioned text file under --state-dir (a magic line, rule, history_us,
 * since, one "last_seen<TAB>hex key" line per term, and a trailer with the
 * count), written through mw_atomic (temp file, fsync, rename, folder
 * fsync). It is also in checkpoints, through the common frame.
 */
#include "detect/detector_int.h"
#include "mw_file.h"
#include "mw_log.h"
#include "window_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void new_terms_event(const struct mw_window_def *def, struct mw_window_state *st,
                            size_t klen, struct mw_event *ev, const struct mw_emit *emit)
{
    struct group *g = win_group_get(st, st->key.ptr, klen, false);
    mw_time_t before = INT64_MIN;
    bool seen = false;

    if (st->since == INT64_MIN || ev->ts < st->since)
        st->since = ev->ts;
    if (g) {
        mw_time_t d = ev->ts - g->newest;
        seen = (d < 0 ? -d : d) <= def->span;
        before = g->newest;
    }
    if (!seen && !(def->warmup && ev->ts - st->since < def->span)) {
        json_t *fields = json_array();
        for (int k = 0; k < def->nby; k++)
            json_array_append_new(fields, json_string(mw_path_str(def->by.paths[k])));
        json_t *d = json_pack("{s:o, s:o, s:o, s:I, s:o}", "fields", fields, "values",
                              mw_key_values(&def->by, def->nby, ev), "history",
                              win_span_json(def->span), "history_ms",
                              (json_int_t)(def->span / MW_USEC_PER_MSEC), "last_seen",
                              before == INT64_MIN ? json_null() : win_time_json(before));
        win_fire(def, st, &ev, 1, &def->by, d, emit);
    }
    if (g == NULL)
        g = win_group_get(st, st->key.ptr, klen, true);
    if (ev->ts > g->newest)
        g->newest = ev->ts;
    win_list_touch(st, g);
    win_enforce_cap(st, g);
}

static void new_terms_process(const void *d, void *s, struct mw_event *ev,
                              const struct mw_match_ctx *ctx, const struct mw_emit *emit)
{
    const struct mw_window_def *def = d;
    struct mw_window_state *st = s;
    win_expire(def, st, ev->ts, emit);
    int klen = win_match_key(def, st, ev, ctx);
    if (klen >= 0)
        new_terms_event(def, st, (size_t)klen, ev, emit);
}

/* ---------------------------------------------------------------------- */
/* the state file                                                          */

static const char MAGIC[] = "moonwatch new_terms state v1";

static int new_terms_save(const void *d, const void *s, const char *rule_id,
                          const char *path, struct mw_error *err)
{
    const struct mw_window_def *def = d;
    const struct mw_window_state *st = s;
    struct mw_atomic a;
    FILE *fp = mw_atomic_open(&a, path, err);
    if (fp == NULL)
        return -1;
    fprintf(fp, "%s\nrule\t%s\nhistory_us\t%lld\nsince\t%lld\n", MAGIC, rule_id,
            (long long)def->span, (long long)st->since);
    for (const struct group *g = st->head; g; g = g->next) {
        fprintf(fp, "%lld\t", (long long)g->newest);
        for (size_t i = 0; i < g->klen; i++)
            fprintf(fp, "%02x", (unsigned char)g->key[i]);
        fputc('\n', fp);
    }
    fprintf(fp, "end\t%llu\n", (unsigned long long)st->stats.open);
    return mw_atomic_commit(&a, MW_FILE_DURABLE, err);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int load_file(const struct mw_window_def *def, struct mw_window_state *st,
                     const char *rule_id, const char *path, struct mw_error *err)
{
    FILE *fp;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0;
    long long since = INT64_MIN;
    uint64_t count = 0;
    bool ended = false;
    int rc = 0;

    (void)def;
    fp = mw_file_open_private(path, "r", err); /* never through a symlink */
    if (fp == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((len = getline(&line, &cap, fp)) > 0) {
        lineno++;
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (lineno == 1) {
            if (strcmp(line, MAGIC) != 0) {
                rc = mw_error_set(err,
                                  "%s:1: not a moonwatch new_terms state file "
                                  "(version 1)",
                                  path);
                break;
            }
            continue;
        }
        if (strncmp(line, "rule\t", 5) == 0) {
            if (strcmp(line + 5, rule_id) != 0) {
                rc = mw_error_set(err, "%s:%lu: state of rule '%s', not '%s'", path,
                                  lineno, line + 5, rule_id);
                break;
            }
            continue;
        }
        if (strncmp(line, "history_us\t", 11) == 0)
            continue;
        if (strncmp(line, "since\t", 6) == 0) {
            since = strtoll(line + 6, NULL, 10);
            continue;
        }
        if (strncmp(line, "end\t", 4) == 0) {
            ended = strtoull(line + 4, NULL, 10) == count;
            if (!ended) {
                rc = mw_error_set(err, "%s:%lu: %llu terms, the trailer says %s", path,
                                  lineno, (unsigned long long)count, line + 4);
            }
            break;
        }
        char *tab = strchr(line, '\t');
        char *end;
        long long ts = strtoll(line, &end, 10);
        size_t hlen = tab ? strlen(tab + 1) : 0;
        if (tab == NULL || end != tab || hlen % 2 != 0 || hlen == 0) {
            rc = mw_error_set(err, "%s:%lu: malformed term line", path, lineno);
            break;
        }
        mw_buf_reset(&st->key);
        for (size_t i = 0; i < hlen / 2 && rc == 0; i++) {
            int hi = hexval(tab[1 + 2 * i]), lo = hexval(tab[2 + 2 * i]);
            if (hi < 0 || lo < 0)
                rc = mw_error_set(err, "%s:%lu: malformed term key", path, lineno);
            mw_buf_addc(&st->key, (char)(hi << 4 | lo));
        }
        if (rc != 0)
            break;
        struct group *g = win_group_get(st, st->key.ptr, hlen / 2, true);
        if (ts > g->newest)
            g->newest = ts;
        count++;
    }
    if (rc == 0 && !ended)
        rc = mw_error_set(err, "%s: truncated (no trailer)", path);
    free(line);
    fclose(fp);
    if (rc != 0) {
        while (st->head)
            win_group_drop(st, st->head);
        return rc;
    }
    st->since = since;
    st->stats.loaded = count;
    win_enforce_cap(st, NULL);
    return 0;
}

static int new_terms_load(const void *def, void *s, const char *rule_id, const char *path,
                          struct mw_error *err)
{
    struct mw_window_state *st = s;
    if (load_file(def, st, rule_id, path, err) < 0)
        return -1;
    if (st->stats.loaded)
        mw_log_info("rule %s: %llu terms loaded from %s", rule_id,
                    (unsigned long long)st->stats.loaded, path);
    return 0;
}

const struct mw_detector_ops mw_det_new_terms = {
    .kind = "new_terms",
    .state_new = win_state_new,
    .state_free = win_state_free,
    .process = new_terms_process,
    .advance = win_expire,
    .matchers = win_matchers,
    .dump = win_dump,
    .restore = win_restore,
    .open = win_open,
    .stats = win_stats,
    .shape = win_shape,
    .budget = win_budget,
    .shed = win_shed,
    .load = new_terms_load,
    .save = new_terms_save,
};
