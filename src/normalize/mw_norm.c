/* mw_norm.c - one normalizer: a descriptor compiled into steps applied per
 * record without Lua
 *
 * The descriptor (the JSON of a normalizer script, see docs/AZURE.md) is
 * checked here completely: unknown keys, wrong types and empty paths are
 * refused with the script's name, so a typo never silently maps nothing.
 * Paths are split into segments once, at compile time.
 *
 * Applying builds a new document: first the raw record snake-cased under
 * `snake_case.into` (Elastic's recursive camelCase -> snake_case,
 * `([a-z])([A-Z]+)` -> `$1_$2` then lower case, with key renames, claim keys
 * with '.' -> '_' and fields given as JSON text parsed), then the `fields`
 * steps in order, then @timestamp from the time field (truncated to
 * milliseconds as Elasticsearch's date processor stores it). The raw record
 * is only read; every value put in the document is a copy or a new
 * reference the document owns.
 */
#include "mw_norm.h"
#include "mw_buf.h"
#include "normalize/norm_int.h"
#include "mw_time.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_SEGS 16

struct path {
    char *seg[MAX_SEGS]; /* owned */
    size_t n;
};

enum step_kind {
    STEP_VALUE,   /* dst = a constant */
    STEP_FROM,    /* dst = the first non-empty of from[] */
    STEP_OUTCOME, /* dst = success (code absent, null or 0) or failure (> 0) */
};

struct step {
    enum step_kind kind;
    struct path dst;
    struct path *from; /* owned, nfrom entries */
    size_t nfrom;
    json_t *value; /* owned: STEP_VALUE */
    char **only;   /* owned: allowed values (compared ignoring case) */
    size_t nonly;
    bool lower;       /* lower-case a string value */
    bool ip;          /* only a valid IP address goes to dst */
    bool string;      /* numbers become strings ("4") */
    bool if_absent;   /* only when dst is not set yet */
    struct path addr; /* ip: where the value goes whatever it is (n = 0: none) */
};

struct mw_norm {
    char *name;        /* owned */
    char *dataset;     /* owned */
    char **categories; /* owned */
    size_t ncat;
    char *category_suffix; /* owned or NULL */
    char *resource_prefix; /* owned or NULL: case-insensitive */
    bool repair;           /* "":"", text repair */
    struct path ts_from;   /* n = 0: no @timestamp step */
    bool snake;            /* snake_case given */
    struct path into;
    char **exclude; /* owned: raw top-level keys not copied */
    size_t nexclude;
    json_t *renames;   /* owned: snake key -> new key */
    struct path *dots; /* owned: subtrees (under into) whose keys get '.' -> '_' */
    size_t ndots;
    char **parse_json; /* owned: raw top-level keys parsed when strings */
    size_t nparse;
    char *parse_fallback; /* owned or NULL: key suffix for unparsable text */
    struct step *steps;   /* owned */
    size_t nsteps;
};

/* ---------------------------------------------------------------------- */
/* paths                                                                   */

static int path_parse(const char *s, struct path *p)
{
    const char *start = s;
    memset(p, 0, sizeof(*p));
    if (s == NULL || *s == '\0')
        return -1;
    for (;;) {
        const char *dot = strchr(start, '.');
        size_t len = dot ? (size_t)(dot - start) : strlen(start);
        if (len == 0 || p->n == MAX_SEGS)
            return -1;
        p->seg[p->n++] = xstrndup(start, len);
        if (dot == NULL)
            return 0;
        start = dot + 1;
    }
}

static void path_free(struct path *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->seg[i]);
    p->n = 0;
}

/* borrowed */
static json_t *path_get(const json_t *root, const struct path *p)
{
    const json_t *v = root;
    for (size_t i = 0; i < p->n && v != NULL; i++)
        v = json_object_get(v, p->seg[i]);
    return (json_t *)(uintptr_t)v;
}

/* Steals v. Intermediate objects are created; a non-object on the way
 * drops v. */
static void path_set(json_t *root, const struct path *p, json_t *v)
{
    json_t *o = root;
    for (size_t i = 0; i + 1 < p->n; i++) {
        json_t *next = json_object_get(o, p->seg[i]);
        if (next == NULL) {
            next = json_object();
            json_object_set_new(o, p->seg[i], next);
        } else if (!json_is_object(next)) {
            json_decref(v);
            return;
        }
        o = next;
    }
    json_object_set_new(o, p->seg[p->n - 1], v);
}

/* ---------------------------------------------------------------------- */
/* compiling                                                               */

static int fail(struct mw_error *err, const char *origin, const char *what)
{
    mw_error_set(err, "%s: %s", origin, what);
    return -1;
}

/* a string or an array of strings into a new array of copies */
static int strings(const json_t *v, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (json_is_string(v)) {
        *out = xcalloc(1, sizeof(char *));
        (*out)[(*n)++] = xstrdup(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v))
        return -1;
    *out = xcalloc(json_array_size(v) + 1, sizeof(char *));
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return -1;
        (*out)[(*n)++] = xstrdup(json_string_value(e));
    }
    return 0;
}

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static int paths(const json_t *v, struct path **out, size_t *n)
{
    char **s;
    size_t ns;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (strings(v, &s, &ns) < 0) {
        strings_free(s, ns);
        return -1;
    }
    *out = xcalloc(ns + 1, sizeof(struct path));
    for (size_t i = 0; i < ns; i++) {
        if (path_parse(s[i], &(*out)[i]) < 0)
            rc = -1;
        (*n)++;
    }
    strings_free(s, ns);
    return rc;
}

static bool key_in(const char *k, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(k, allowed[i]) == 0)
            return true;
    return false;
}

static int compile_step(struct mw_norm *n, const json_t *o, size_t idx,
                        const char *origin, struct mw_error *err)
{
    static const char *const keys[] = {"to",     "value",     "from", "outcome_of",
                                       "only",   "lower",     "ip",   "address",
                                       "string", "if_absent", NULL};
    struct step *st = &n->steps[idx];
    const char *k;
    json_t *v;
    char what[200];

    if (!json_is_object(o)) {
        snprintf(what, sizeof(what), "fields[%zu]: not a table", idx + 1);
        return fail(err, origin, what);
    }
    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        if (!key_in(k, keys)) {
            snprintf(what, sizeof(what), "fields[%zu]: unknown key '%s'", idx + 1, k);
            return fail(err, origin, what);
        }
    }
    if (path_parse(json_string_value(json_object_get(o, "to")), &st->dst) < 0) {
        snprintf(what, sizeof(what), "fields[%zu]: 'to' must be a dotted field path",
                 idx + 1);
        return fail(err, origin, what);
    }
    int kinds = (json_object_get(o, "value") != NULL) +
                (json_object_get(o, "from") != NULL) +
                (json_object_get(o, "outcome_of") != NULL);
    if (kinds != 1) {
        snprintf(what, sizeof(what),
                 "fields[%zu] (%s): exactly one of 'value', 'from', 'outcome_of'",
                 idx + 1, json_string_value(json_object_get(o, "to")));
        return fail(err, origin, what);
    }
    if ((v = json_object_get(o, "value")) != NULL) {
        st->kind = STEP_VALUE;
        st->value = json_deep_copy(v);
    } else {
        st->kind = json_object_get(o, "from") ? STEP_FROM : STEP_OUTCOME;
        v = json_object_get(o, st->kind == STEP_FROM ? "from" : "outcome_of");
        if (paths(v, &st->from, &st->nfrom) < 0 || st->nfrom == 0) {
            snprintf(what, sizeof(what), "fields[%zu]: bad source path(s)", idx + 1);
            return fail(err, origin, what);
        }
    }
    if ((v = json_object_get(o, "only")) != NULL &&
        strings(v, &st->only, &st->nonly) < 0) {
        snprintf(what, sizeof(what), "fields[%zu]: 'only' must list strings", idx + 1);
        return fail(err, origin, what);
    }
    static const char *const flags[] = {"lower", "ip", "string", "if_absent"};
    bool *fl[] = {&st->lower, &st->ip, &st->string, &st->if_absent};
    for (size_t i = 0; i < 4; i++) {
        v = json_object_get(o, flags[i]);
        if (v != NULL && !json_is_boolean(v)) {
            snprintf(what, sizeof(what), "fields[%zu]: '%s' must be a boolean", idx + 1,
                     flags[i]);
            return fail(err, origin, what);
        }
        *fl[i] = json_is_true(v);
    }
    if ((v = json_object_get(o, "address")) != NULL &&
        path_parse(json_string_value(v), &st->addr) < 0) {
        snprintf(what, sizeof(what), "fields[%zu]: 'address' must be a field path",
                 idx + 1);
        return fail(err, origin, what);
    }
    return 0;
}

static int compile_snake(struct mw_norm *n, const json_t *o, const char *origin,
                         struct mw_error *err)
{
    static const char *const keys[] = {"into",       "exclude",
                                       "renames",    "dots_to_underscore",
                                       "parse_json", "parse_json_fallback",
                                       NULL};
    const char *k;
    json_t *v;
    if (!json_is_object(o))
        return fail(err, origin, "snake_case: not a table");
    json_object_foreach((json_t *)(uintptr_t)o, k, v)
    {
        if (!key_in(k, keys)) {
            char what[120];
            snprintf(what, sizeof(what), "snake_case: unknown key '%s'", k);
            return fail(err, origin, what);
        }
    }
    n->snake = true;
    if (path_parse(json_string_value(json_object_get(o, "into")), &n->into) < 0)
        return fail(err, origin, "snake_case.into must be a field path");
    if ((v = json_object_get(o, "exclude")) && strings(v, &n->exclude, &n->nexclude) < 0)
        return fail(err, origin, "snake_case.exclude must list strings");
    if ((v = json_object_get(o, "renames")) != NULL) {
        if (!json_is_object(v))
            return fail(err, origin, "snake_case.renames must map names to names");
        json_t *e;
        json_object_foreach(v, k, e)
        {
            if (!json_is_string(e))
                return fail(err, origin, "snake_case.renames must map names to names");
        }
        n->renames = json_deep_copy(v);
    }
    if ((v = json_object_get(o, "dots_to_underscore")) &&
        paths(v, &n->dots, &n->ndots) < 0)
        return fail(err, origin, "snake_case.dots_to_underscore must list field paths");
    if ((v = json_object_get(o, "parse_json")) &&
        strings(v, &n->parse_json, &n->nparse) < 0)
        return fail(err, origin, "snake_case.parse_json must list strings");
    if ((v = json_object_get(o, "parse_json_fallback")) != NULL) {
        if (!json_is_string(v))
            return fail(err, origin, "snake_case.parse_json_fallback must be a string");
        n->parse_fallback = xstrdup(json_string_value(v));
    }
    return 0;
}

struct mw_norm *mw_norm_compile(const json_t *desc, const char *origin,
                                struct mw_error *err)
{
    static const char *const keys[] = {"name",
                                       "dataset",
                                       "categories",
                                       "category_suffix",
                                       "resource_prefix",
                                       "repair_empty_keys",
                                       "timestamp",
                                       "snake_case",
                                       "fields",
                                       "tests",
                                       NULL};
    struct mw_norm *n = xcalloc(1, sizeof(*n));
    const char *k;
    json_t *v;

    if (!json_is_object(desc)) {
        fail(err, origin, "a normalizer script must return a table");
        goto fail;
    }
    json_object_foreach((json_t *)(uintptr_t)desc, k, v)
    {
        if (!key_in(k, keys)) {
            char what[120];
            snprintf(what, sizeof(what), "unknown key '%s'", k);
            fail(err, origin, what);
            goto fail;
        }
    }
    v = json_object_get(desc, "dataset");
    if (!json_is_string(v) || json_string_length(v) == 0) {
        fail(err, origin, "'dataset' (a non-empty string) is required");
        goto fail;
    }
    n->dataset = xstrdup(json_string_value(v));
    v = json_object_get(desc, "name");
    n->name = xstrdup(json_is_string(v) ? json_string_value(v) : n->dataset);
    if ((v = json_object_get(desc, "categories")) &&
        strings(v, &n->categories, &n->ncat) < 0) {
        fail(err, origin, "'categories' must list strings");
        goto fail;
    }
    if ((v = json_object_get(desc, "category_suffix")) != NULL) {
        if (!json_is_string(v)) {
            fail(err, origin, "'category_suffix' must be a string");
            goto fail;
        }
        n->category_suffix = xstrdup(json_string_value(v));
    }
    if ((v = json_object_get(desc, "resource_prefix")) != NULL) {
        if (!json_is_string(v)) {
            fail(err, origin, "'resource_prefix' must be a string");
            goto fail;
        }
        n->resource_prefix = xstrdup(json_string_value(v));
    }
    v = json_object_get(desc, "repair_empty_keys");
    if (v != NULL && !json_is_boolean(v)) {
        fail(err, origin, "'repair_empty_keys' must be a boolean");
        goto fail;
    }
    n->repair = json_is_true(v);
    if ((v = json_object_get(desc, "timestamp")) != NULL &&
        path_parse(json_string_value(v), &n->ts_from) < 0) {
        fail(err, origin, "'timestamp' must name the raw time field");
        goto fail;
    }
    if ((v = json_object_get(desc, "snake_case")) != NULL &&
        compile_snake(n, v, origin, err) < 0)
        goto fail;
    v = json_object_get(desc, "fields");
    if (v != NULL) {
        if (!json_is_array(v)) {
            fail(err, origin, "'fields' must be a list of field steps");
            goto fail;
        }
        n->steps = xcalloc(json_array_size(v) + 1, sizeof(struct step));
        for (size_t i = 0; i < json_array_size(v); i++) {
            n->nsteps++;
            if (compile_step(n, json_array_get(v, i), i, origin, err) < 0)
                goto fail;
        }
    }
    return n;

fail:
    mw_norm_free(n);
    return NULL;
}

void mw_norm_free(struct mw_norm *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->nsteps; i++) {
        struct step *st = &n->steps[i];
        path_free(&st->dst);
        path_free(&st->addr);
        for (size_t j = 0; j < st->nfrom; j++)
            path_free(&st->from[j]);
        free(st->from);
        json_decref(st->value);
        strings_free(st->only, st->nonly);
    }
    free(n->steps);
    for (size_t j = 0; j < n->ndots; j++)
        path_free(&n->dots[j]);
    free(n->dots);
    strings_free(n->categories, n->ncat);
    strings_free(n->exclude, n->nexclude);
    strings_free(n->parse_json, n->nparse);
    json_decref(n->renames);
    path_free(&n->into);
    path_free(&n->ts_from);
    free(n->parse_fallback);
    free(n->category_suffix);
    free(n->resource_prefix);
    free(n->dataset);
    free(n->name);
    free(n);
}

const char *mw_norm_name(const struct mw_norm *n)
{
    return n->name;
}

const char *mw_norm_dataset(const struct mw_norm *n)
{
    return n->dataset;
}

bool mw_norm_repairs_empty_keys(const struct mw_norm *n)
{
    return n->repair;
}

/* ---------------------------------------------------------------------- */
/* applying                                                                */

/* Elastic's ([a-z])([A-Z]+) -> $1_$2, then lower case, into b */
static void snake_key(const char *k, struct mw_buf *b)
{
    mw_buf_reset(b);
    for (size_t i = 0; k[i]; i++) {
        unsigned char c = (unsigned char)k[i];
        mw_buf_addc(b, (char)tolower(c));
        if (c >= 'a' && c <= 'z' && k[i + 1] >= 'A' && k[i + 1] <= 'Z') {
            mw_buf_addc(b, '_');
            while (k[i + 1] >= 'A' && k[i + 1] <= 'Z')
                mw_buf_addc(b, (char)tolower((unsigned char)k[++i]));
        }
    }
    mw_buf_addc(b, '\0');
}

/* A new snake-cased deep copy of v. */
static json_t *snake_copy(const struct mw_norm *n, const json_t *v, struct mw_buf *b)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)(uintptr_t)v, k, e)
        {
            snake_key(k, b);
            const char *nk = b->ptr;
            json_t *ren = n->renames ? json_object_get(n->renames, nk) : NULL;
            char *key = xstrdup(ren ? json_string_value(ren) : nk);
            json_object_set_new(o, key, snake_copy(n, e, b));
            free(key);
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(a, snake_copy(n, json_array_get(v, i), b));
        return a;
    }
    return json_deep_copy(v);
}

static void dots_to_underscore(json_t *o)
{
    const char *k;
    json_t *e;
    void *tmp;
    json_t *fixed = json_object();
    json_object_foreach_safe(o, tmp, k, e)
    {
        if (strchr(k, '.') != NULL) {
            char *nk = xstrdup(k);
            for (char *p = nk; *p; p++)
                if (*p == '.')
                    *p = '_';
            json_object_set(fixed, nk, e);
            free(nk);
            json_object_del(o, k);
        }
    }
    json_object_update(o, fixed);
    json_decref(fixed);
}

static bool excluded(const struct mw_norm *n, const char *k)
{
    for (size_t i = 0; i < n->nexclude; i++)
        if (strcmp(n->exclude[i], k) == 0)
            return true;
    return false;
}

static void apply_snake(const struct mw_norm *n, const json_t *rec, json_t *doc)
{
    struct mw_buf b = MW_BUF_INIT;
    json_t *shallow = json_object();
    const char *k;
    json_t *e;

    json_object_foreach((json_t *)(uintptr_t)rec, k, e)
    {
        if (excluded(n, k))
            continue;
        bool parse = false;
        for (size_t i = 0; i < n->nparse; i++)
            parse = parse || strcmp(n->parse_json[i], k) == 0;
        if (parse && json_is_string(e)) {
            json_t *p = json_loads(json_string_value(e), JSON_DECODE_ANY, NULL);
            if (json_is_object(p)) {
                json_object_set_new(shallow, k, p);
                continue;
            }
            json_decref(p);
            if (n->parse_fallback != NULL) {
                struct mw_buf fk = MW_BUF_INIT;
                mw_buf_addf(&fk, "%s%s", k, n->parse_fallback);
                json_object_set(shallow, fk.ptr, e);
                mw_buf_release(&fk);
                continue;
            }
        }
        json_object_set(shallow, k, e);
    }
    json_t *sub = snake_copy(n, shallow, &b);
    json_decref(shallow);
    for (size_t i = 0; i < n->ndots; i++) {
        json_t *t = path_get(sub, &n->dots[i]);
        if (json_is_object(t))
            dots_to_underscore(t);
    }
    path_set(doc, &n->into, sub);
    mw_buf_release(&b);
}

static bool empty(const json_t *v)
{
    return v == NULL || json_is_null(v) ||
           (json_is_string(v) && json_string_length(v) == 0);
}

static bool valid_ip(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static void apply_step(const struct step *st, const json_t *rec, json_t *doc)
{
    json_t *v = NULL;

    if (st->if_absent && path_get(doc, &st->dst) != NULL)
        return;
    if (st->kind == STEP_VALUE) {
        path_set(doc, &st->dst, json_deep_copy(st->value));
        return;
    }
    if (st->kind == STEP_OUTCOME) {
        json_t *c = path_get(rec, &st->from[0]);
        double code = 0;
        if (json_is_number(c))
            code = json_number_value(c);
        else if (json_is_string(c))
            code = strtod(json_string_value(c), NULL);
        else if (c != NULL && !json_is_null(c))
            return;
        path_set(doc, &st->dst, json_string(code > 0 ? "failure" : "success"));
        return;
    }
    for (size_t i = 0; i < st->nfrom && v == NULL; i++) {
        json_t *c = path_get(rec, &st->from[i]);
        if (!empty(c))
            v = c;
    }
    if (v == NULL)
        return;
    if (st->nonly > 0) {
        bool ok = false;
        for (size_t i = 0; i < st->nonly && json_is_string(v); i++)
            ok = ok || strcasecmp(json_string_value(v), st->only[i]) == 0;
        if (!ok)
            return;
    }
    json_t *out;
    if (st->string && json_is_integer(v)) {
        char num[32];
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        out = json_string(num);
    } else if (st->lower && json_is_string(v)) {
        char *s = xstrdup(json_string_value(v));
        for (char *p = s; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        out = json_string(s);
        free(s);
    } else {
        out = json_deep_copy(v);
    }
    if (st->ip) {
        if (st->addr.n > 0)
            path_set(doc, &st->addr, json_incref(out));
        if (!json_is_string(out) || !valid_ip(json_string_value(out))) {
            json_decref(out);
            return;
        }
    }
    path_set(doc, &st->dst, out);
}

json_t *mw_norm_apply(const struct mw_norm *n, const json_t *rec, struct mw_error *err)
{
    json_t *doc;
    if (!json_is_object(rec)) {
        mw_error_set(err, "a record is not a JSON object");
        return NULL;
    }
    doc = json_object();
    if (n->snake)
        apply_snake(n, rec, doc);
    for (size_t i = 0; i < n->nsteps; i++)
        apply_step(&n->steps[i], rec, doc);
    if (n->ts_from.n > 0) {
        json_t *t = path_get(rec, &n->ts_from);
        mw_time_t ts;
        char buf[MW_TIME_FORMAT_SIZE];
        if (!json_is_string(t) ||
            mw_time_parse_rfc3339(json_string_value(t), json_string_length(t), &ts) < 0) {
            mw_error_set(err, "%s: no usable '%s' (RFC 3339 time)", n->name,
                         n->ts_from.seg[0]);
            json_decref(doc);
            return NULL;
        }
        ts -= ((ts % 1000) + 1000) % 1000; /* milliseconds, as Elasticsearch */
        mw_time_format(ts, buf, sizeof(buf));
        json_object_set_new(doc, "@timestamp", json_string(buf));
    }
    return doc;
}

/* ---------------------------------------------------------------------- */
/* detection and the text repair                                           */

bool mw_norm_looks_raw_azure(const json_t *rec)
{
    const json_t *ev = json_object_get(rec, "event");
    return json_is_object(rec) && json_is_string(json_object_get(rec, "time")) &&
           (json_object_get(rec, "operationName") != NULL ||
            json_object_get(rec, "category") != NULL) &&
           json_object_get(rec, "@timestamp") == NULL &&
           json_object_get(ev, "dataset") == NULL;
}

size_t mw_norm_repair_text(char *text, size_t *len)
{
    static const char pat[] = "\"\":\"\",";
    const size_t plen = sizeof(pat) - 1;
    size_t r = 0, w = 0, removed = 0;
    while (r < *len) {
        if (*len - r >= plen && memcmp(text + r, pat, plen) == 0) {
            r += plen;
            removed++;
            continue;
        }
        text[w++] = text[r++];
    }
    *len = w;
    return removed;
}

/* ---------------------------------------------------------------------- */
/* choosing (mw_normset.c)                                                 */

bool mw_norm_takes_category(const struct mw_norm *n, const char *cat)
{
    size_t cl = strlen(cat), sl;
    for (size_t i = 0; i < n->ncat; i++)
        if (strcmp(n->categories[i], cat) == 0)
            return true;
    if (n->category_suffix == NULL)
        return false;
    sl = strlen(n->category_suffix);
    return cl >= sl && strcmp(cat + cl - sl, n->category_suffix) == 0;
}

bool mw_norm_takes_resource(const struct mw_norm *n, const char *rid)
{
    return n->resource_prefix != NULL &&
           strncasecmp(rid, n->resource_prefix, strlen(n->resource_prefix)) == 0;
}
