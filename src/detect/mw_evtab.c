/* mw_evtab.c - the events of a checkpoint, each written once
 *
 * Writing maps event pointers to indexes with a dict keyed by the pointer
 * bytes; loading keeps an array. Interned names live in a process-wide
 * dict that is never freed (a handful of input names).
 */
#include "mw_evtab.h"
#include "mw_dict.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct mw_evtab {
    struct mw_dict *index; /* pointer bytes -> index + 1 (writing) */
    struct mw_event **ev;  /* owned references */
    size_t n, cap;
};

static struct mw_dict *interned;
static pthread_mutex_t intern_mu = PTHREAD_MUTEX_INITIALIZER;

const char *mw_evtab_intern(const char *s)
{
    size_t len = strlen(s);
    char *p;
    pthread_mutex_lock(&intern_mu);
    if (interned == NULL)
        interned = mw_dict_new();
    p = mw_dict_get(interned, s, len);
    if (p == NULL) {
        p = xstrdup(s);
        mw_dict_put(interned, p, len, p);
    }
    pthread_mutex_unlock(&intern_mu);
    return p;
}

struct mw_evtab *mw_evtab_new(void)
{
    struct mw_evtab *t = xcalloc(1, sizeof(*t));
    t->index = mw_dict_new();
    return t;
}

void mw_evtab_free(struct mw_evtab *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        mw_event_unref(t->ev[i]);
    free(t->ev);
    mw_dict_free(t->index);
    free(t);
}

static void append(struct mw_evtab *t, struct mw_event *ev)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->ev = xrealloc(t->ev, t->cap * sizeof(*t->ev));
    }
    t->ev[t->n++] = ev;
}

json_t *mw_evtab_put(struct mw_evtab *t, struct mw_event *ev)
{
    void *v = mw_dict_get(t->index, &ev, sizeof(ev));
    if (v != NULL)
        return json_integer((json_int_t)((uintptr_t)v - 1));
    append(t, mw_event_ref(ev));
    mw_dict_put(t->index, &t->ev[t->n - 1], sizeof(ev), (void *)(uintptr_t)t->n);
    return json_integer((json_int_t)(t->n - 1));
}

size_t mw_evtab_count(const struct mw_evtab *t)
{
    return t->n;
}

json_t *mw_evtab_event_json(const struct mw_evtab *t, size_t i)
{
    const struct mw_event *ev = t->ev[i];
    return json_pack("{s:I, s:I, s:s, s:I, s:I, s:o}", "ts", (json_int_t)ev->ts, "seq",
                     (json_int_t)ev->seq, "input", ev->input ? ev->input : "", "line",
                     (json_int_t)ev->line, "offset", (json_int_t)ev->offset, "doc",
                     mw_event_doc(ev));
}

static bool count_ok(const json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

int mw_evtab_load(struct mw_evtab *t, const json_t *obj, struct mw_error *err)
{
    json_t *doc = json_object_get(obj, "doc");
    json_t *ts = json_object_get(obj, "ts"), *seq = json_object_get(obj, "seq");
    json_t *line = json_object_get(obj, "line"), *off = json_object_get(obj, "offset");
    const char *input = json_string_value(json_object_get(obj, "input"));
    if (!json_is_object(obj) || !json_is_object(doc) || !json_is_integer(ts) ||
        !count_ok(seq) || !count_ok(line) || !count_ok(off) || input == NULL)
        return mw_error_set(err,
                            "event %zu: malformed event record (want ts, seq, input, "
                            "line, offset, doc)",
                            t->n);
    if (json_integer_value(ts) < MW_TIME_MIN || json_integer_value(ts) > MW_TIME_MAX)
        return mw_error_set(err, "event %zu: event time out of range", t->n);
    if (strlen(input) != json_string_length(json_object_get(obj, "input")))
        return mw_error_set(err, "event %zu: input name holds a NUL byte", t->n);
    struct mw_event *ev = mw_event_new(
        json_incref(doc), json_integer_value(ts), mw_evtab_intern(input),
        (uint64_t)json_integer_value(line), (uint64_t)json_integer_value(off),
        (uint64_t)json_integer_value(seq));
    ev->bytes = json_dumpb(doc, NULL, 0, JSON_COMPACT); /* for the byte budgets */
    append(t, ev);
    return 0;
}

struct mw_event *mw_evtab_get(const struct mw_evtab *t, const json_t *idx)
{
    json_int_t i;
    if (!json_is_integer(idx))
        return NULL;
    i = json_integer_value(idx);
    if (i < 0 || (size_t)i >= t->n)
        return NULL;
    return t->ev[i];
}

json_t *mw_evtab_hex(const void *data, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    const unsigned char *p = data;
    char *s = xmalloc(len * 2 + 1);
    for (size_t i = 0; i < len; i++) {
        s[2 * i] = hx[p[i] >> 4];
        s[2 * i + 1] = hx[p[i] & 15];
    }
    json_t *j = json_stringn(s, len * 2);
    free(s);
    return j;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

char *mw_evtab_unhex(const json_t *s, size_t *len)
{
    const char *h = json_string_value(s);
    size_t n = json_string_length(s);
    if (h == NULL || n % 2 != 0)
        return NULL;
    char *out = xmalloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(h[2 * i]), lo = hexval(h[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (char)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

long mw_evtab_unhex_into(const json_t *s, struct mw_buf *out)
{
    size_t len;
    char *key = mw_evtab_unhex(s, &len);
    if (key == NULL)
        return -1;
    mw_buf_reset(out);
    mw_buf_add(out, key, len);
    free(key);
    return (long)len;
}
