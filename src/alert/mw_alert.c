/* mw_alert.c - build ECS alert documents and their deterministic ids
 *
 * Shape (docs/ALERTS.md has the field list): ECS `event.*`, `rule.*`,
 * `threat`, `tags`, `message`, and host fields under `moonwatch.*`: the
 * ordered events whole with their source positions, the join key, first and
 * last event time, the investigation guide. Everything here runs once per
 * alert, never per event, so it may allocate freely.
 */
#include "mw_alert.h"
#include "mw_buf.h"
#include "mw_mem.h"
#include "mw_sha256.h"
#include "mw_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mw_severity_number(const char *label)
{
    if (strcmp(label, "low") == 0)
        return 21;
    if (strcmp(label, "high") == 0)
        return 73;
    if (strcmp(label, "critical") == 0)
        return 99;
    return 47;
}

void mw_alert_id(const char *rule_id, struct mw_event *const *evs, int n, char out[33])
{
    struct mw_sha256 h;
    uint8_t dig[32];

    mw_sha256_init(&h);
    mw_sha256_update(&h, rule_id, strlen(rule_id) + 1);
    for (int i = 0; i < n; i++) {
        char *s = json_dumps(mw_event_root(evs[i]), JSON_COMPACT | JSON_SORT_KEYS);
        if (s) {
            mw_sha256_update(&h, s, strlen(s) + 1);
            mw_json_free(s);
        }
    }
    mw_sha256_final(&h, dig);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", dig[i]);
}

static json_t *time_json(mw_time_t t)
{
    char buf[MW_TIME_FORMAT_SIZE];
    if (mw_time_format(t, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

/* Join key values of the first event, as a JSON array. */
static json_t *key_values(const struct mw_seq_def *seq, const struct mw_event *ev)
{
    json_t *arr = json_array();
    if (seq == NULL)
        return arr;
    for (int k = 0; k < seq->nkeys; k++) {
        json_t *v = mw_path_get(mw_event_root(ev), seq->keys[0].paths[k]);
        json_array_append(arr, v ? v : json_null());
    }
    return arr;
}

/* ---------------------------------------------------------------------- */
/* message templates                                                       */

static void sb_value(struct mw_buf *b, const json_t *v)
{
    if (v == NULL || json_is_null(v)) {
        mw_buf_addc(b, '?');
    } else if (json_is_string(v)) {
        mw_buf_add(b, json_string_value(v), json_string_length(v));
    } else if (json_is_integer(v)) {
        mw_buf_addf(b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        mw_buf_addf(b, "%g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        mw_buf_adds(b, json_is_true(v) ? "true" : "false");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) {
            mw_buf_adds(b, s);
            mw_json_free(s);
        }
    }
}

static void render_placeholder(struct mw_buf *b, const char *name, size_t len,
                               const struct mw_rule_meta *m, const struct mw_seq_def *seq,
                               const json_t *key, struct mw_event *const *evs, int n)
{
    if (len == 3 && memcmp(name, "key", 3) == 0) {
        json_t *own = key ? NULL : key_values(seq, evs[0]);
        const json_t *keys = key ? key : own;
        for (size_t i = 0; i < json_array_size(keys); i++) {
            if (i)
                mw_buf_adds(b, ", ");
            sb_value(b, json_array_get(keys, i));
        }
        if (json_array_size(keys) == 0)
            mw_buf_addc(b, '?');
        json_decref(own);
        return;
    }
    if (len == 3 && memcmp(name, "gap", 3) == 0) {
        char gap[MW_DURATION_FORMAT_SIZE];
        if (mw_duration_format(evs[n - 1]->ts - evs[0]->ts, gap, sizeof(gap)) < 0)
            snprintf(gap, sizeof(gap), "?");
        mw_buf_adds(b, gap);
        return;
    }
    if (len == 9 && memcmp(name, "rule.name", 9) == 0) {
        mw_buf_adds(b, m->name);
        return;
    }
    /* N:field.path */
    const char *colon = memchr(name, ':', len);
    if (colon && colon > name) {
        struct mw_buf field = MW_BUF_INIT;
        int step = atoi(name);
        mw_buf_add(&field, colon + 1, len - (size_t)(colon - name) - 1);
        struct mw_path *p = mw_path_new(field.ptr);
        mw_buf_release(&field);
        if (step >= 1 && step <= n && p) {
            sb_value(b, mw_path_get(mw_event_root(evs[step - 1]), p));
            mw_path_free(p);
            return;
        }
        mw_path_free(p);
    }
    mw_buf_addc(b, '?');
}

static char *render_message(const struct mw_rule_meta *m, const struct mw_seq_def *seq,
                            const json_t *key, struct mw_event *const *evs, int n)
{
    struct mw_buf b = MW_BUF_INIT;
    const char *t = m->message && m->message[0] ? m->message : m->name;

    while (*t) {
        if (t[0] == '{' && t[1] == '{') {
            mw_buf_addc(&b, '{');
            t += 2;
        } else if (t[0] == '}' && t[1] == '}') {
            mw_buf_addc(&b, '}');
            t += 2;
        } else if (t[0] == '{' && strchr(t, '}')) {
            const char *end = strchr(t, '}');
            render_placeholder(&b, t + 1, (size_t)(end - t - 1), m, seq, key, evs, n);
            t = end + 1;
        } else {
            mw_buf_addc(&b, *t);
            t++;
        }
    }
    return mw_buf_detach(&b, NULL);
}

char *mw_alert_message(const struct mw_rule_meta *m, const struct mw_seq_def *seq,
                       struct mw_event *const *evs, int n)
{
    return render_message(m, seq, NULL, evs, n);
}

/* ---------------------------------------------------------------------- */

/* key: the join/group key values (borrowed), NULL for a sequence's own;
 * details: moonwatch.<window kind> (borrowed), NULL for none. */
static json_t *build(const struct mw_rule *rule, struct mw_event *const *evs, int n,
                     mw_time_t raised_at, const json_t *key, json_t *details)
{
    const struct mw_rule_meta *m = mw_rule_meta(rule);
    const struct mw_seq_def *seq = mw_rule_seq(rule);
    const char *type = "query";
    char id[33];
    char *msg;
    json_t *events = json_array();
    json_t *a;

    if (mw_rule_kind(rule) == MW_RULE_SEQUENCE)
        type = "sequence";
    else if (mw_rule_kind(rule) == MW_RULE_WINDOW)
        type = mw_window_kind_name(mw_rule_window(rule)->kind);
    mw_alert_id(m->id, evs, n, id);
    msg = render_message(m, seq, key, evs, n);
    for (int i = 0; i < n; i++) {
        json_array_append_new(events, json_pack("{s:i, s:{s:s, s:I, s:I}, s:O}", "step",
                                                i + 1, "source", "input",
                                                evs[i]->input ? evs[i]->input : "",
                                                "line", (json_int_t)evs[i]->line,
                                                "offset", (json_int_t)evs[i]->offset,
                                                "event", mw_event_root(evs[i])));
    }

    a = json_pack(
        "{s:o, s:{s:s, s:s, s:i, s:i, s:o, s:o, s:I, s:s}, "
        " s:{s:s, s:s, s:s, s:O, s:i, s:O, s:s}, s:O, s:O, s:s%}",
        "@timestamp", time_json(raised_at), "event", "kind", "alert", "id", id,
        "severity", mw_severity_number(m->severity), "risk_score", m->risk_score, "start",
        time_json(evs[0]->ts), "end", time_json(evs[n - 1]->ts), "duration",
        (json_int_t)((evs[n - 1]->ts - evs[0]->ts) * 1000), "dataset", "moonwatch.alerts",
        "rule", "id", m->id, "name", m->name, "description", m->description, "reference",
        m->references, "version", m->version, "author", m->author, "license", m->license,
        "tags", m->tags, "threat", m->threat, "message", msg, strlen(msg));
    free(msg);
    if (a == NULL) {
        json_decref(events);
        return NULL;
    }

    json_t *mwobj =
        json_pack("{s:s, s:s, s:o, s:s, s:O, s:o}", "type", type, "severity", m->severity,
                  "join_key", key ? json_deep_copy(key) : key_values(seq, evs[0]),
                  "investigation_guide", m->note, "false_positives", m->false_positives,
                  "events", events);
    if (details)
        json_object_set(mwobj, type, details);
    json_object_set_new(a, "moonwatch", mwobj);
    return a;
}

json_t *mw_alert_build(const struct mw_rule *rule, struct mw_event *const *evs, int n,
                       mw_time_t raised_at)
{
    return build(rule, evs, n, raised_at, NULL, NULL);
}

json_t *mw_alert_build_window(const struct mw_rule *rule, struct mw_event *const *evs,
                              int n, mw_time_t raised_at, const json_t *key,
                              json_t *details)
{
    return build(rule, evs, n, raised_at, key, details);
}

const char *mw_alert_event_id(const json_t *alert)
{
    return json_string_value(json_object_get(json_object_get(alert, "event"), "id"));
}
