/* mw_prefilter.c - literal prefilter over raw lines, and a timestamp scanner
 *
 * Building: each rule offers candidate clauses (mw_litcnf). A query rule may
 * use any clause of its `where`; a sequence rule needs a clause for every
 * step and for its until, and uses the union of one per part. Among the
 * candidates, a clause whose literals other rules need too is preferred (so
 * 50 rules over four data sets scan for a handful of distinct literals), then
 * mw_litset_score. The distinct literals of all chosen clauses are copied
 * into the prefilter. The line test jumps with memchr to each literal's
 * rarest byte (a table of byte frequencies in ECS logs) and compares there,
 * after a memchr for a backslash that decides the escape rule.
 *
 * The timestamp scanner walks the top-level members of the object, skipping
 * values without building them (strings with their escapes, nested objects
 * and arrays by depth), until it meets the key. ECS documents written with
 * sorted keys put @timestamp first, so the usual cost is a few bytes.
 */
#include "mw_prefilter.h"
#include "mw_mem.h"
#include "mw_window.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct lit {
    char *s;        /* owned, lowercased when ci */
    size_t len;
    bool ci;
    size_t anchor;  /* index of its rarest byte: memchr jumps to it */
};

/* How common each byte is in ECS JSON logs (log2 scale, 0 = not seen,
 * 192 = '"'), measured once over Azure sign-in, activity, platform, Graph,
 * audit and firewall logs. A literal is searched for by its rarest byte. */
static const unsigned char byte_freq[256] = {
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,  32,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
     83,   0, 192,   0,   1,   0,   0,   1,   6,   6,   0,   1, 149, 149, 130, 120,
    149, 142, 136, 129, 142, 132, 126, 130, 126, 134, 159,   1,   0,   1,   0,   1,
     46, 103,  48,  98,  74, 103,  61,  71,  47,  97,   2,  62,  73,  88,  81, 100,
     80,   3, 108, 110, 103,  94,  73,  54,   2,  25,  65,  67, 105,  67,   0, 134,
      0, 164, 130, 154, 151, 176, 131, 123,  84, 161,  30,  84, 135, 126, 154, 156,
    136,  47, 156, 155, 162, 135, 113,  80,  49, 111,  91, 115,   0, 115,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   1,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   1,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   1,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
};

struct rule_note {
    char *id;       /* owned */
    char *text;     /* owned: the literals, or why there are none */
    bool none;
};

struct mw_prefilter {
    atomic_int refs;            /* the engine's, the run's, a worker's batch */
    bool active;
    char *off_reason;           /* owned, NULL when active */
    struct lit *lits;           /* owned */
    size_t nlits;
    bool backslash_passes;      /* some literal holds an escapable byte */
    struct rule_note *notes;    /* owned, one per rule */
    size_t nnotes;
};

/* ---------------------------------------------------------------------- */
/* building                                                                */

static const unsigned char *fold_table(void);

/* the candidate clauses of one rule; returns false when it has none */
static bool rule_candidates(struct mw_rule *r, struct mw_litcnf *out)
{
    if (mw_rule_kind(r) == MW_RULE_QUERY) {
        mw_matcher_literals(mw_rule_where(r), out);
        return out->n > 0;
    }
    /* every part that can make the rule act on an event: sequence steps and
     * until; a window's where and, for absence, its cancelling matcher */
    const struct mw_matcher *parts[MW_SEQ_MAX_STEPS + 2];
    int nparts = 0;
    if (mw_rule_kind(r) == MW_RULE_SEQUENCE) {
        const struct mw_seq_def *d = mw_rule_seq(r);
        for (int i = 0; i < d->nsteps; i++)
            parts[nparts++] = d->where[i];
        if (d->until_where)
            parts[nparts++] = d->until_where;
    } else {
        const struct mw_window_def *w = mw_rule_window(r);
        parts[nparts++] = w->where;
        if (w->absent_where)
            parts[nparts++] = w->absent_where;
    }
    struct mw_litset u = {0};
    for (int i = 0; i < nparts; i++) {
        const struct mw_matcher *m = parts[i];
        struct mw_litcnf c = {0};
        size_t best = 0;
        mw_matcher_literals(m, &c);
        if (c.n == 0) {
            free(u.lits);
            return false;
        }
        for (size_t k = 1; k < c.n; k++)
            if (mw_litset_score(&c.sets[k]) > mw_litset_score(&c.sets[best]))
                best = k;
        for (size_t k = 0; k < c.sets[best].n; k++) {
            const struct mw_lit *l = &c.sets[best].lits[k];
            bool dup = false;
            for (size_t j = 0; j < u.n; j++)
                dup |= u.lits[j].len == l->len && u.lits[j].ci == l->ci &&
                       memcmp(u.lits[j].s, l->s, l->len) == 0;
            if (!dup) {
                u.lits = xrealloc(u.lits, (u.n + 1) * sizeof(*u.lits));
                u.lits[u.n++] = *l;
            }
        }
        mw_litcnf_free(&c);
    }
    out->sets = xmalloc(sizeof(*out->sets));
    out->sets[0] = u;
    out->n = 1;
    return true;
}

static bool lit_eq(const struct mw_lit *a, const struct mw_lit *b)
{
    return a->len == b->len && a->ci == b->ci && memcmp(a->s, b->s, a->len) == 0;
}

/* how many rules offer literal l in any candidate clause */
static int lit_freq(const struct mw_lit *l, const struct mw_litcnf *cands, size_t n)
{
    int f = 0;
    for (size_t r = 0; r < n; r++) {
        bool in = false;
        for (size_t c = 0; c < cands[r].n && !in; c++)
            for (size_t k = 0; k < cands[r].sets[c].n && !in; k++)
                in = lit_eq(l, &cands[r].sets[c].lits[k]);
        f += in;
    }
    return f;
}

static void add_lit(struct mw_prefilter *pf, const struct mw_lit *l)
{
    for (size_t i = 0; i < pf->nlits; i++)
        if (pf->lits[i].len == l->len && pf->lits[i].ci == l->ci &&
            memcmp(pf->lits[i].s, l->s, l->len) == 0)
            return;
    pf->lits = xrealloc(pf->lits, (pf->nlits + 1) * sizeof(*pf->lits));
    pf->lits[pf->nlits].s = xstrndup(l->s, l->len);
    pf->lits[pf->nlits].len = l->len;
    pf->lits[pf->nlits].ci = l->ci;
    pf->lits[pf->nlits].anchor = 0;
    for (size_t k = 1; k < l->len; k++)
        if (byte_freq[(unsigned char)l->s[k]] <
            byte_freq[(unsigned char)l->s[pf->lits[pf->nlits].anchor]])
            pf->lits[pf->nlits].anchor = k;
    pf->nlits++;
    if (mw_lit_escapable(l))
        pf->backslash_passes = true;
}

static char *describe_set(const struct mw_litset *s)
{
    size_t cap = 64, len = 0;
    char *buf = xmalloc(cap);
    buf[0] = '\0';
    for (size_t i = 0; i < s->n; i++) {
        size_t need = len + s->lits[i].len + 16;
        if (need > cap) {
            cap = need * 2;
            buf = xrealloc(buf, cap);
        }
        len += (size_t)snprintf(buf + len, cap - len, "%s\"%.*s\"%s", i ? ", " : "",
                                (int)s->lits[i].len, s->lits[i].s,
                                s->lits[i].ci ? " (any case)" : "");
    }
    return buf;
}

struct mw_prefilter *mw_prefilter_build(struct mw_rule *const *rules, size_t n)
{
    struct mw_prefilter *pf = xcalloc(1, sizeof(*pf));
    atomic_init(&pf->refs, 1);
    struct mw_litcnf *cands = xcalloc(n ? n : 1, sizeof(*cands));
    bool *has = xcalloc(n ? n : 1, sizeof(*has));

    (void)fold_table();     /* initialised here, before any thread reads it */
    for (size_t r = 0; r < n; r++)
        has[r] = rule_candidates(rules[r], &cands[r]);
    pf->active = true;
    pf->notes = xcalloc(n ? n : 1, sizeof(*pf->notes));
    pf->nnotes = n;
    for (size_t r = 0; r < n; r++) {
        struct rule_note *note = &pf->notes[r];
        note->id = xstrdup(mw_rule_meta(rules[r])->id);
        if (!has[r]) {
            bool fn = false;
            if (mw_rule_kind(rules[r]) == MW_RULE_QUERY) {
                fn = mw_matcher_has_fn(mw_rule_where(rules[r]));
            } else if (mw_rule_kind(rules[r]) == MW_RULE_SEQUENCE) {
                const struct mw_seq_def *d = mw_rule_seq(rules[r]);
                for (int i = 0; i < d->nsteps; i++)
                    fn |= mw_matcher_has_fn(d->where[i]);
                if (d->until_where)
                    fn |= mw_matcher_has_fn(d->until_where);
            } else {
                const struct mw_window_def *w = mw_rule_window(rules[r]);
                fn = mw_matcher_has_fn(w->where) ||
                     (w->absent_where && mw_matcher_has_fn(w->absent_where));
            }
            note->none = true;
            note->text = xstrdup(fn ? "its Lua predicates give no literal"
                                    : "its matchers give no literal (not, numbers, "
                                      "comparisons, exists or cidr only)");
            if (pf->active) {
                size_t sz = strlen(note->id) + strlen(note->text) + 64;
                pf->off_reason = xmalloc(sz);
                snprintf(pf->off_reason, sz, "rule %s: %s", note->id, note->text);
            }
            pf->active = false;
            continue;
        }
        size_t best = 0;
        double best_score = -1e18;
        for (size_t c = 0; c < cands[r].n; c++) {
            const struct mw_litset *s = &cands[r].sets[c];
            int minf = (int)n;
            for (size_t k = 0; k < s->n; k++) {
                int f = lit_freq(&s->lits[k], cands, n);
                if (f < minf)
                    minf = f;
            }
            double score = mw_litset_score(s) + 10.0 * (minf > 9 ? 9 : minf);
            if (score > best_score) {
                best_score = score;
                best = c;
            }
        }
        for (size_t k = 0; k < cands[r].sets[best].n; k++)
            add_lit(pf, &cands[r].sets[best].lits[k]);
        note->text = describe_set(&cands[r].sets[best]);
    }
    if (!pf->active) {
        for (size_t i = 0; i < pf->nlits; i++)
            free(pf->lits[i].s);
        free(pf->lits);
        pf->lits = NULL;
        pf->nlits = 0;
    }
    for (size_t r = 0; r < n; r++)
        mw_litcnf_free(&cands[r]);
    free(cands);
    free(has);
    return pf;
}

struct mw_prefilter *mw_prefilter_ref(struct mw_prefilter *pf)
{
    if (pf != NULL)
        atomic_fetch_add_explicit(&pf->refs, 1, memory_order_relaxed);
    return pf;
}

void mw_prefilter_unref(struct mw_prefilter *pf)
{
    if (pf == NULL || atomic_fetch_sub_explicit(&pf->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < pf->nlits; i++)
        free(pf->lits[i].s);
    free(pf->lits);
    for (size_t i = 0; i < pf->nnotes; i++) {
        free(pf->notes[i].id);
        free(pf->notes[i].text);
    }
    free(pf->notes);
    free(pf->off_reason);
    free(pf);
}

void mw_prefilter_free(struct mw_prefilter *pf)
{
    mw_prefilter_unref(pf);
}

bool mw_prefilter_active(const struct mw_prefilter *pf)
{
    return pf != NULL && pf->active;
}

const char *mw_prefilter_off_reason(const struct mw_prefilter *pf)
{
    return pf->active ? NULL : pf->off_reason;
}

void mw_prefilter_describe(const struct mw_prefilter *pf, FILE *fp)
{
    for (size_t i = 0; i < pf->nnotes; i++) {
        if (pf->notes[i].none)
            fprintf(fp, "prefilter  %s  no literal: %s; every line is parsed while "
                        "it is loaded\n", pf->notes[i].id, pf->notes[i].text);
        else
            fprintf(fp, "prefilter  %s  lines must contain one of: %s\n",
                    pf->notes[i].id, pf->notes[i].text);
    }
    if (pf->active)
        fprintf(fp, "prefilter  on: %zu distinct literal(s); other lines are not parsed\n",
                pf->nlits);
    else if (pf->nnotes > 0)
        fprintf(fp, "prefilter  off: %s\n", pf->off_reason);
}

/* ---------------------------------------------------------------------- */
/* the line test                                                           */

static const unsigned char *fold_table(void)
{
    static unsigned char t[256];
    static bool init;
    /* written once before threads start (mw_prefilter_build calls it) and
     * idempotent; the values never change */
    if (!init) {
        for (int i = 0; i < 256; i++)
            t[i] = (unsigned char)((i >= 'A' && i <= 'Z') ? i - 'A' + 'a' : i);
        init = true;
    }
    return t;
}

static bool ci_find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    const unsigned char *f = fold_table();
    const unsigned char *h = (const unsigned char *)hay;
    const unsigned char *nd = (const unsigned char *)needle;
    if (nlen > hlen)
        return false;
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (f[h[i]] != nd[0])
            continue;
        size_t k = 1;
        while (k < nlen && f[h[i + k]] == nd[k])
            k++;
        if (k == nlen)
            return true;
    }
    return false;
}

/* memchr to the literal's rarest byte, then compare the whole literal:
 * far faster than memmem on log text, where most bytes are common */
static bool cs_find(const char *hay, size_t hlen, const struct lit *l)
{
    if (l->len > hlen)
        return false;
    const char *p = hay + l->anchor;
    const char *end = hay + hlen - (l->len - l->anchor) + 1; /* last anchor + 1 */
    char a = l->s[l->anchor];
    while (p < end) {
        p = memchr(p, a, (size_t)(end - p));
        if (p == NULL)
            return false;
        if (memcmp(p - l->anchor, l->s, l->len) == 0)
            return true;
        p++;
    }
    return false;
}

/* Does the line hold a \u escape? Escaped backslashes (\\u) are not one. */
static bool has_u_escape(const char *line, size_t len)
{
    const char *p = line, *end = line + len;
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (p + 1 < end && p[1] == 'u')
            return true;
        p += 2;
    }
    return false;
}

bool mw_prefilter_pass(const struct mw_prefilter *pf, const char *line, size_t len)
{
    if (pf == NULL || !pf->active)
        return true;
    if (memchr(line, '\\', len) != NULL) {
        /* an escape could hide a literal: \uXXXX can spell any byte, and
         * \" \\ \/ \b... can spell the escapable ones */
        if (pf->backslash_passes || has_u_escape(line, len))
            return true;
    }
    for (size_t i = 0; i < pf->nlits; i++) {
        const struct lit *l = &pf->lits[i];
        if (l->ci ? ci_find(line, len, l->s, l->len) : cs_find(line, len, l))
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* timestamp scanner                                                       */

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i;
}

/* s[i] == '"': returns the index after the closing quote, or len on error;
 * *esc tells whether the string held a backslash */
static size_t skip_string(const char *s, size_t len, size_t i, bool *esc)
{
    i++;
    while (i < len) {
        const char *q = memchr(s + i, '"', len - i);
        const char *b = memchr(s + i, '\\', (size_t)((q ? q : s + len) - (s + i)));
        if (q == NULL)
            return len;
        if (b == NULL)
            return (size_t)(q - s) + 1;
        *esc = true;
        i = (size_t)(b - s) + 2;    /* skip the escaped byte */
    }
    return len;
}

/* skips one value starting at s[i]; returns the index after it, or len */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    bool esc = false;
    if (i >= len)
        return len;
    if (s[i] == '"')
        return skip_string(s, len, i, &esc);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        while (i < len) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, len, i, &esc);
                continue;
            }
            if (c == '{' || c == '[')
                depth++;
            else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return i + 1;
            }
            i++;
        }
        return len;
    }
    while (i < len && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
           s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
        i++;
    return i;
}

int mw_prefilter_scan_ts(const char *line, size_t len, const char *key,
                         size_t keylen, mw_time_t *ts)
{
    size_t i = skip_ws(line, len, 0);
    if (i >= len || line[i] != '{')
        return -1;
    i++;
    for (;;) {
        bool esc = false;
        size_t kstart, kend;
        i = skip_ws(line, len, i);
        if (i >= len || line[i] != '"')
            return -1;
        kstart = i + 1;
        i = skip_string(line, len, i, &esc);
        if (i >= len || esc)
            return -1;      /* an escaped key might spell the timestamp's */
        kend = i - 1;
        i = skip_ws(line, len, i);
        if (i >= len || line[i] != ':')
            return -1;
        i = skip_ws(line, len, i + 1);
        if (i >= len)
            return -1;
        if (kend - kstart == keylen && memcmp(line + kstart, key, keylen) == 0) {
            size_t vend = skip_value(line, len, i);
            if (vend > len || vend == i)
                return -1;
            if (line[i] == '"') {
                esc = false;
                vend = skip_string(line, len, i, &esc);
                if (vend > len || esc || line[vend - 1] != '"' || vend - i < 2)
                    return -1;
                return mw_time_parse_rfc3339(line + i + 1, vend - i - 2, ts);
            }
            if (line[i] == '-' || (line[i] >= '0' && line[i] <= '9')) {
                json_error_t jerr;
                json_t *v = json_loadb(line + i, vend - i, JSON_DECODE_ANY, &jerr);
                int rc = v != NULL ? mw_time_from_json(v, ts) : -1;
                json_decref(v);
                return rc;
            }
            return -1;
        }
        i = skip_value(line, len, i);
        i = skip_ws(line, len, i);
        if (i >= len || line[i] != ',')
            return -1;
        i++;
    }
}
