/* elastic_rule.c - the detection-rules TOML front-end (see mw_elastic.h)
 *
 * Design: the whole rule is one builder session. The `where` matcher is
 * all(<index patterns as datasets>, <Kibana filters>, <the KQL query>),
 * each part present only when the rule has it; the detection is the
 * rule type's; metadata and the alert policy (max_signals,
 * alert_suppression) follow. Anything moonwatch cannot run as Elastic
 * would is refused with a reason rather than loaded approximately, and the
 * reason's static text goes out through mw_elastic_info so the import
 * check can group refusals. What is read but not carried into alerts is
 * listed in docs/ELASTIC.md.
 */
#include "mw_eql.h"
#include "mw_builder.h"
#include "mw_elastic.h"
#include "mw_kql.h"
#include "mw_rule.h"
#include "mw_toml.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ctx {
    struct mw_rule_builder *b;
    const char *at;
    struct mw_error *err;
    struct mw_elastic_info *info;
};

static int refuse(struct ctx *c, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#include <stdarg.h>

static int refuse(struct ctx *c, const char *reason, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (c->info)
        c->info->reason = reason;
    return mw_error_set(c->err, "%s: %s", c->at, detail);
}

#define RB(call)                                                                         \
    do {                                                                                 \
        if ((call) < 0)                                                                  \
            return -1;                                                                   \
    } while (0)

static const char *str_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---------------------------------------------------------------------- */
/* durations: Elastic's "5m", "now-9m"                                     */

/* Milliseconds of "N<s|m|h|d>" (after an optional "now-"), or -1. */
static double duration_ms(const char *s)
{
    char *end;
    double n, unit;
    if (s == NULL)
        return -1;
    if (strncmp(s, "now-", 4) == 0)
        s += 4;
    if (!isdigit((unsigned char)*s))
        return -1;
    n = strtod(s, &end);
    if (strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60e3;
    else if (strcmp(end, "h") == 0)
        unit = 3600e3;
    else if (strcmp(end, "d") == 0)
        unit = 86400e3;
    else
        return -1;
    return n > 0 ? n * unit : -1;
}

/* ---------------------------------------------------------------------- */
/* metadata                                                                */

static int int_of(const json_t *o, const char *key, int dflt)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= 0x7fffffff
               ? (int)json_integer_value(v)
               : dflt;
}

static int meta(struct ctx *c, const json_t *r)
{
    struct mw_rb_meta m = {0};
    const json_t *v;
    m.id = str_of(r, "rule_id");
    m.name = str_of(r, "name");
    m.description = str_of(r, "description");
    m.severity = str_of(r, "severity");
    m.license = str_of(r, "license");
    m.note = str_of(r, "note");
    m.risk_score = json_is_integer(json_object_get(r, "risk_score"))
                       ? int_of(r, "risk_score", -2)
                       : -1;
    m.version = int_of(r, "version", 0);
    m.tags = json_object_get(r, "tags");
    m.references = json_object_get(r, "references");
    m.author = json_object_get(r, "author");
    m.false_positives = json_object_get(r, "false_positives");
    m.threat = json_object_get(r, "threat");
    if (m.id == NULL)
        return refuse(c, "no rule_id", "the rule has no rule_id");
    if (m.name == NULL)
        return refuse(c, "no name", "the rule has no name");
    v = json_object_get(r, "author");
    if (json_is_string(v)) /* a lone author */
        m.author = NULL;
    return mw_rb_meta(c->b, &m, c->at, c->err);
}

/* ---------------------------------------------------------------------- */
/* index patterns -> data sets                                             */

/* The data set of a data-stream pattern logs-<dataset>-<namespace> into
 * out (a pattern when it holds '*'); false for patterns that name no data
 * set (winlogbeat-*, logs-*, endgame-*). */
static bool pattern_dataset(const char *pat, char *out, size_t cap, bool *wild)
{
    const char *p;
    size_t n;
    if (strncmp(pat, "logs-", 5) != 0 && strncmp(pat, "metrics-", 8) != 0)
        return false;
    p = strchr(pat, '-') + 1;
    n = strcspn(p, "-");
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, p, n);
    out[n] = '\0';
    /* "logs-azure*" reads as the data sets starting with azure */
    *wild = strchr(out, '*') != NULL;
    if (strcmp(out, "*") == 0)
        return false;
    if (p[n] == '\0' && !*wild)
        return false; /* logs-foo with no namespace part: not a data stream pattern */
    return true;
}

/* any(data_stream.dataset / event.dataset matching one of the patterns),
 * when every pattern names a data set; nothing when one does not (the rule
 * then sees every event, as Elastic would over such an index). */
static int index_matcher(struct ctx *c, const json_t *idx, bool *added)
{
    static const char *const fields[] = {"data_stream.dataset", "event.dataset"};
    char ds[256];
    bool wild;
    size_t i;
    const json_t *p;

    *added = false;
    if (!json_is_array(idx) || json_array_size(idx) == 0)
        return 0;
    json_array_foreach(idx, i, p)
    {
        if (!json_is_string(p) ||
            !pattern_dataset(json_string_value(p), ds, sizeof(ds), &wild))
            return 0;
    }
    RB(mw_rb_match_open(c->b, MW_OP_ANY, c->at, c->err));
    for (size_t f = 0; f < 2; f++) {
        json_array_foreach(idx, i, p)
        {
            pattern_dataset(json_string_value(p), ds, sizeof(ds), &wild);
            RB(mw_rb_match_leaf(c->b, wild ? MW_OP_LIKE : MW_OP_EQ, fields[f], c->at,
                                c->err));
            RB(mw_rb_match_str(c->b, ds, strlen(ds), false, c->at, c->err));
        }
    }
    RB(mw_rb_match_close(c->b, c->at, c->err));
    *added = true;
    return 0;
}

/* ---------------------------------------------------------------------- */
/* Kibana filters ([[rule.filters]]): wildcard, exists, match_phrase        */

static int one_filter(struct ctx *c, const json_t *f)
{
    json_t *q = json_object_get(f, "query"), *body, *spec;
    const json_t *m = json_object_get(f, "meta");
    const char *kind, *field;
    bool negate = json_is_true(json_object_get(m, "negate"));

    if (json_is_true(json_object_get(m, "disabled")))
        return 0;
    if (!json_is_object(q) || json_object_size(q) != 1)
        return refuse(c,
                      "Kibana filter of a kind other than wildcard, exists, match_phrase",
                      "a Kibana filter with no single query clause");
    kind = json_object_iter_key(json_object_iter(q));
    body = json_object_iter_value(json_object_iter(q));
    if (negate)
        RB(mw_rb_match_open(c->b, MW_OP_NOT, c->at, c->err));
    if (strcmp(kind, "exists") == 0 && json_is_string(json_object_get(body, "field"))) {
        RB(mw_rb_match_leaf(c->b, MW_OP_EXISTS, str_of(body, "field"), c->at, c->err));
    } else if ((strcmp(kind, "wildcard") == 0 || strcmp(kind, "match_phrase") == 0) &&
               json_is_object(body) && json_object_size(body) == 1) {
        const char *val;
        bool ci = false;
        field = json_object_iter_key(json_object_iter(body));
        spec = json_object_iter_value(json_object_iter(body));
        if (json_is_object(spec)) {
            val = str_of(spec, "value") ? str_of(spec, "value") : str_of(spec, "query");
            ci = json_is_true(json_object_get(spec, "case_insensitive"));
        } else {
            val = json_is_string(spec) ? json_string_value(spec) : NULL;
        }
        if (val == NULL)
            return refuse(
                c, "Kibana filter of a kind other than wildcard, exists, match_phrase",
                "Kibana %s filter on '%s' without a string value", kind, field);
        bool wc = strcmp(kind, "wildcard") == 0;
        size_t n = 0, len = strlen(val);
        char *pat = xmalloc(len + 1);
        int rc;
        /* Elasticsearch's wildcard syntax: '*', '?', and '\\' escaping the
         * next character; an escaped '*' or '?' has no form in the matcher */
        for (size_t i = 0; i < len; i++) {
            if (wc && val[i] == '\\' && i + 1 < len) {
                if (val[i + 1] == '*' || val[i + 1] == '?') {
                    free(pat);
                    return refuse(c, "Kibana wildcard filter with an escaped '*' or '?'",
                                  "Kibana wildcard filter on '%s' escapes a '*' or '?', "
                                  "which the wildcard matcher cannot hold",
                                  field);
                }
                i++;
            }
            pat[n++] = val[i];
        }
        pat[n] = '\0';
        if (negate) /* must_not matches events without the field */
            rc = mw_rb_match_open(c->b, MW_OP_ALL, c->at, c->err) < 0 ||
                         mw_rb_match_leaf(c->b, MW_OP_EXISTS, field, c->at, c->err) < 0
                     ? -1
                     : 0;
        else
            rc = 0;
        if (rc == 0)
            rc = mw_rb_match_leaf(c->b, wc ? (ci ? MW_OP_IEQ : MW_OP_LIKE) : MW_OP_EQ,
                                  field, c->at, c->err);
        if (rc == 0)
            rc = mw_rb_match_str(c->b, pat, n, ci, c->at, c->err);
        free(pat);
        if (rc < 0 || (negate && mw_rb_match_close(c->b, c->at, c->err) < 0))
            return -1;
    } else {
        return refuse(
            c, "Kibana filter of a kind other than wildcard, exists, match_phrase",
            "Kibana filter '%s' is not a wildcard, exists or match_phrase clause", kind);
    }
    if (negate)
        RB(mw_rb_match_close(c->b, c->at, c->err));
    return 0;
}

/* The rule's `where`: all(index, filters, query). Returns the handle. */
static int where_matcher(struct ctx *c, const json_t *r, const char *query)
{
    const json_t *filters = json_object_get(r, "filters"), *f;
    const char *reason = NULL;
    size_t i;
    bool added;

    RB(mw_rb_match_open(c->b, MW_OP_ALL, c->at, c->err));
    RB(index_matcher(c, json_object_get(r, "index"), &added));
    if (json_is_array(filters))
        json_array_foreach(filters, i, f) RB(one_filter(c, f));
    if (mw_kql_emit_text(c->b, query, strlen(query), c->at, c->err, &reason) < 0) {
        if (c->info)
            c->info->reason = reason;
        return -1;
    }
    RB(mw_rb_match_close(c->b, c->at, c->err));
    return mw_rb_match_done(c->b, c->at, c->err);
}

/* ---------------------------------------------------------------------- */
/* detection                                                               */

/* threshold.field: a string or a list of 0-3 strings, as group keys. */
static int threshold_keys(struct ctx *c, const json_t *fld)
{
    size_t i;
    const json_t *k;
    if (json_is_string(fld))
        return json_string_length(fld)
                   ? mw_rb_window_key(c->b, json_string_value(fld), c->at, c->err)
                   : 0;
    json_array_foreach(fld, i, k)
    {
        if (!json_is_string(k))
            return refuse(c, "threshold.field is not a list of strings",
                          "threshold.field must be a list of field names");
        if (json_string_length(k))
            RB(mw_rb_window_key(c->b, json_string_value(k), c->at, c->err));
    }
    return 0;
}

static int threshold(struct ctx *c, const json_t *r, int where, double span)
{
    const json_t *t = json_object_get(r, "threshold");
    const json_t *card = json_object_get(t, "cardinality"), *c0;
    struct mw_rb_window w = {.where = where, .absent_where = -1, .span_ms = span};
    json_int_t value;

    if (!json_is_object(t) || !json_is_integer(json_object_get(t, "value")))
        return refuse(c, "threshold without threshold.value",
                      "threshold rule without threshold.value");
    value = json_integer_value(json_object_get(t, "value"));
    if (json_is_array(card) && json_array_size(card) > 1)
        return refuse(c, "threshold with several cardinality conditions",
                      "threshold with %zu cardinality conditions: a window counts one "
                      "distinct field",
                      json_array_size(card));
    c0 = json_is_array(card) ? json_array_get(card, 0) : NULL;
    if (c0 != NULL) {
        json_int_t cv = json_integer_value(json_object_get(c0, "value"));
        if (!json_is_string(json_object_get(c0, "field")) || cv < 1)
            return refuse(c, "threshold cardinality without field and value",
                          "threshold.cardinality needs a field and a value >= 1");
        /* N distinct values imply N events: a count up to N adds nothing */
        if (value > cv)
            return refuse(c,
                          "threshold with both a count and a cardinality: needs a window "
                          "with several aggregate conditions",
                          "threshold value %lld with cardinality %lld of '%s': counting "
                          "events and distinct values at once needs a window with "
                          "several aggregate conditions",
                          (long long)value, (long long)cv, str_of(c0, "field"));
        w.kind = MW_WINDOW_DISTINCT;
        w.count = cv;
        w.field = str_of(c0, "field");
    } else {
        w.kind = MW_WINDOW_THRESHOLD;
        w.count = value;
    }
    RB(mw_rb_window(c->b, &w, c->at, c->err));
    return threshold_keys(c, json_object_get(t, "field"));
}

/* [rule.new_terms]: field = "new_terms_fields", value = [...], and
 * [[rule.new_terms.history_window_start]] value = "now-14d". */
static int new_terms(struct ctx *c, const json_t *r, int where)
{
    const json_t *nt = json_object_get(r, "new_terms");
    const json_t *fields = json_object_get(nt, "value");
    const json_t *hist = json_object_get(nt, "history_window_start"), *f;
    struct mw_rb_window w = {
        .kind = MW_WINDOW_NEW_TERMS, .where = where, .absent_where = -1};
    size_t i;

    if (json_is_array(hist))
        hist = json_array_get(hist, 0);
    w.span_ms = duration_ms(str_of(hist, "value"));
    if (!json_is_array(fields) || json_array_size(fields) == 0)
        return refuse(c, "new_terms without new_terms_fields",
                      "new_terms rule without new_terms_fields");
    if (w.span_ms <= 0)
        return refuse(c,
                      "new_terms without a history_window_start of the form now-N<unit>",
                      "new_terms history_window_start '%s' is not now-N<s|m|h|d>",
                      str_of(hist, "value") ? str_of(hist, "value") : "");
    RB(mw_rb_window(c->b, &w, c->at, c->err));
    json_array_foreach(fields, i, f)
    {
        if (!json_is_string(f))
            return refuse(c, "new_terms_fields is not a list of strings",
                          "new_terms_fields must be field names");
        RB(mw_rb_window_key(c->b, json_string_value(f), c->at, c->err));
    }
    return 0;
}

/* max_signals per interval -> max_alerts; alert_suppression -> suppress. */
static int policy(struct ctx *c, const json_t *r, double interval)
{
    const json_t *ms = json_object_get(r, "max_signals");
    const json_t *as = json_object_get(r, "alert_suppression");
    if (json_is_integer(ms) && json_integer_value(ms) >= 1)
        RB(mw_rb_max_alerts(c->b, json_integer_value(ms), (int64_t)interval, c->at,
                            c->err));
    if (json_is_object(as)) {
        const json_t *by = json_object_get(as, "group_by"), *k;
        const json_t *d = json_object_get(as, "duration");
        double win = interval;
        size_t i;
        if (json_is_object(d) && json_is_integer(json_object_get(d, "value"))) {
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%lld%s",
                     (long long)json_integer_value(json_object_get(d, "value")),
                     str_of(d, "unit") ? str_of(d, "unit") : "?");
            win = duration_ms(tmp);
        }
        if (json_is_array(by) && json_array_size(by) > 0 && win >= 1000) {
            json_array_foreach(by, i, k) if (json_is_string(k))
                RB(mw_rb_suppress_field(c->b, json_string_value(k), c->at, c->err));
            RB(mw_rb_suppress(c->b, (int64_t)win, c->at, c->err));
        }
    }
    return 0;
}

/* The refusal group of an EQL compile error (the import check's table). */
static const char *eql_reason(const char *msg)
{
    static const struct {
        const char *needle, *reason;
    } classes[] = {
        {"regular expression", "eql: regex (needs the regex matcher)"},
        {"computed value", "eql: computed values"},
        {"'sample'", "eql: sample"},
        {"missing event", "eql: missing events"},
        {"'| tail'", "eql: | tail"},
        {"ordering against", "eql: ordering against a string"},
        {"non-string argument", "eql: function with a non-string argument"},
        {"as a condition", "eql: function as a condition"},
        {"join key that is an expression", "eql: expression as a join key"},
    };
    for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
        if (strstr(msg, classes[i].needle) != NULL)
            return classes[i].reason;
    return "eql: other construct not compiled yet";
}

/* An EQL rule: metadata as every rule, the query through the EQL
 * front-end's compile step (src/frontend/eql_compile.c). */
static int build_eql(struct ctx *c, const json_t *r, const char *query, double interval)
{
    struct mw_eql_error ee;
    struct mw_eql_origin at = {c->at, 1, 1};
    int rc;
    RB(meta(c, r));
    mw_eql_error_init(&ee);
    rc = mw_eql_build(c->b, query, strlen(query), &at, &ee);
    if (rc < 0) {
        rc = refuse(c, eql_reason(ee.msg.ptr), "EQL query: %.300s", ee.msg.ptr);
        mw_eql_error_release(&ee);
        return rc;
    }
    mw_eql_error_release(&ee);
    return policy(c, r, interval);
}

static int build(struct ctx *c, const json_t *r)
{
    const char *type = str_of(r, "type"), *lang = str_of(r, "language");
    const char *query = str_of(r, "query");
    double interval = duration_ms(str_of(r, "interval"));
    double lookback = duration_ms(str_of(r, "from"));
    int where;

    if (type == NULL)
        return refuse(c, "no rule type", "the rule has no type");
    if (c->info)
        snprintf(c->info->type, sizeof(c->info->type), "%s", type);
    if (strcmp(type, "eql") == 0) {
        if (query == NULL)
            return refuse(c, "no query", "eql rule without a query");
        if (interval <= 0)
            interval = 5 * 60e3;
        return build_eql(c, r, query, interval);
    }
    if (strcmp(type, "esql") == 0)
        return refuse(c, "esql: needs the ES|QL subset front-end",
                      "ES|QL rule: needs the ES|QL subset front-end (not built yet)");
    if (strcmp(type, "machine_learning") == 0)
        return refuse(c, "machine_learning: needs Elastic ML",
                      "machine-learning job rule: needs Elastic's ML jobs, which "
                      "moonwatch does not run");
    if (strcmp(type, "threat_match") == 0)
        return refuse(c, "threat_match: needs an indicator index",
                      "indicator-match rule: needs an indicator index to match against");
    if (strcmp(type, "query") != 0 && strcmp(type, "threshold") != 0 &&
        strcmp(type, "new_terms") != 0)
        return refuse(c, "unknown rule type", "rule type '%.60s' is not known", type);
    if (lang != NULL && strcmp(lang, "kuery") != 0 && strcmp(lang, "lucene") != 0)
        return refuse(c, "query language other than kuery",
                      "%s rule in language '%.40s': only kuery is read", type, lang);
    if (query == NULL)
        return refuse(c, "no query", "%s rule without a query", type);
    if (interval <= 0)
        interval = 5 * 60e3; /* Elastic's default interval */
    if (lookback <= 0)
        lookback = 6 * 60e3; /* and look-back ("now-6m") */
    RB(meta(c, r));
    if ((where = where_matcher(c, r, query)) < 0)
        return -1;
    if (strcmp(type, "query") == 0)
        RB(mw_rb_query(c->b, where, c->at, c->err));
    else if (strcmp(type, "threshold") == 0)
        RB(threshold(c, r, where, lookback));
    else
        RB(new_terms(c, r, where));
    return policy(c, r, interval);
}

struct mw_rule *mw_elastic_build(const json_t *rule, const char *origin,
                                 struct mw_elastic_info *info, struct mw_error *err)
{
    struct ctx c = {mw_rb_new(origin), origin ? origin : "<rule>", err, info};
    if (info) {
        info->type[0] = '\0';
        info->reason = NULL;
    }
    if (!json_is_object(rule)) {
        refuse(&c, "no [rule] table", "no [rule] table");
        mw_rb_free(c.b);
        return NULL;
    }
    if (build(&c, rule) < 0) {
        mw_rb_free(c.b);
        return NULL;
    }
    return mw_rb_finish(c.b, err);
}

struct mw_rule *mw_elastic_load_file(const char *path, struct mw_elastic_info *info,
                                     struct mw_error *err)
{
    json_t *doc = mw_toml_load_file(path, err);
    struct mw_rule *r;
    if (info) {
        info->type[0] = '\0';
        info->reason = NULL;
    }
    if (doc == NULL) {
        if (info)
            info->reason = "TOML syntax error";
        return NULL;
    }
    r = mw_elastic_build(json_object_get(doc, "rule"), path, info, err);
    json_decref(doc);
    return r;
}

struct mw_rule *mw_elastic_load(const char *path, const char *lua_dir,
                                const struct mw_sandbox_limits *limits,
                                struct mw_error *err)
{
    (void)lua_dir;
    (void)limits;
    return mw_elastic_load_file(path, NULL, err);
}
