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
#include "mw_detector.h"
#include "mw_mem.h"

#include <jansson.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct lit {
    char *s; /* owned, lowercased when ci */
    size_t len;
    bool ci;
    bool esc;      /* holds a byte JSON may escape: present when a line has
                      a backslash (no escape-free fragment was long enough) */
    size_t anchor; /* index of its rarest byte: the scan jumps to it */
};

/* Any of a clause's literals (indexes into lits) must be in the line. */
struct clause {
    size_t *ix; /* owned */
    size_t n;
};

/* Every clause of an alternative must hold; one alternative per rule part
 * (a query's where, each step and the until of a sequence...). clause[0] is
 * the part's gate clause. */
struct alt {
    struct clause *cl; /* owned */
    size_t n;
};

/* How common each byte is in ECS JSON logs (log2 scale, 0 = not seen,
 * 192 = '"'), measured once over Azure sign-in, activity, platform, Graph,
 * audit and firewall logs. A literal is searched for by its rarest byte. */
static const unsigned char byte_freq[256] = {
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   32,  0,   0,   0,   0,   0,
    0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
    83,  0,   192, 0,   1,   0,   0,   1,   6,   6,   0,   1,   149, 149, 130, 120,
    149, 142, 136, 129, 142, 132, 126, 130, 126, 134, 159, 1,   0,   1,   0,   1,
    46,  103, 48,  98,  74,  103, 61,  71,  47,  97,  2,   62,  73,  88,  81,  100,
    80,  3,   108, 110, 103, 94,  73,  54,  2,   25,  65,  67,  105, 67,  0,   134,
    0,   164, 130, 154, 151, 176, 131, 123, 84,  161, 30,  84,  135, 126, 154, 156,
    136, 47,  156, 155, 162, 135, 113, 80,  49,  111, 91,  115, 0,   115, 0,   0,
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
    char *id;   /* owned */
    char *text; /* owned: the literals, or why there are none */
    bool none;
};

struct mw_prefilter {
    atomic_int refs; /* the engine's, the run's, a worker's batch */
    bool active;
    char *off_reason; /* owned, NULL when active */
    struct lit *lits; /* owned, distinct */
    size_t nlits;
    struct alt *alts; /* owned, distinct */
    size_t nalts;
    size_t *gate; /* owned: the gate clauses' literals, distinct */
    size_t ngate;
    struct rule_note *notes; /* owned, one per rule */
    size_t nnotes;
};

/* ---------------------------------------------------------------------- */
/* building                                                                */

static const unsigned char *fold_table(void);

/* The parts of a rule that can make it act on an event, as its detector
 * reports them (ops->matchers: a query's where; a sequence's steps and
 * until; a window's where and, for absence, its cancelling matcher).
 * Returns how many (at most MW_DETECTOR_MAX_MATCHERS). */
static int rule_parts(const struct mw_rule *r, const struct mw_matcher **parts)
{
    int n =
        mw_detector_of(r)->matchers(mw_detector_def(r), parts, MW_DETECTOR_MAX_MATCHERS);
    return n < MW_DETECTOR_MAX_MATCHERS ? n : MW_DETECTOR_MAX_MATCHERS;
}

static bool lit_eq(const struct mw_lit *a, const struct mw_lit *b)
{
    return a->len == b->len && a->ci == b->ci && memcmp(a->s, b->s, a->len) == 0;
}

/* how many parts (of every rule) offer literal l in some clause */
static int lit_freq(const struct mw_lit *l, const struct mw_litcnf *cnfs, size_t n)
{
    int f = 0;
    for (size_t p = 0; p < n; p++) {
        bool in = false;
        for (size_t c = 0; c < cnfs[p].n && !in; c++)
            for (size_t k = 0; k < cnfs[p].sets[c].n && !in; k++)
                in = lit_eq(l, &cnfs[p].sets[c].lits[k]);
        f += in;
    }
    return f;
}

static bool escapable_byte(unsigned char ch)
{
    return ch < 0x20 || ch == '"' || ch == '\\' || ch == '/';
}

#define MIN_FRAGMENT 4

/* The runs of a literal without escapable bytes, of MIN_FRAGMENT bytes or
 * more: each appears verbatim in a line that holds the literal, however
 * the line writes the rest ("/" in an operation name may be "\/"). Returns
 * how many (at most max), longest first. */
static size_t fragments(const struct mw_lit *l, struct mw_lit *out, size_t max)
{
    size_t n = 0, run = 0;
    for (size_t i = 0; i <= l->len; i++) {
        if (i < l->len && !escapable_byte((unsigned char)l->s[i])) {
            run++;
            continue;
        }
        if (run >= MIN_FRAGMENT) {
            struct mw_lit f = {l->s + i - run, run, l->ci};
            size_t at = n < max ? n++ : max; /* full: replace the shortest */
            if (at == max && f.len <= out[max - 1].len)
                at = max + 1;
            if (at < max + 1) {
                if (at == max)
                    at = max - 1;
                out[at] = f;
                for (size_t k = at; k > 0 && out[k].len > out[k - 1].len; k--) {
                    struct mw_lit t = out[k];
                    out[k] = out[k - 1];
                    out[k - 1] = t;
                }
            }
        }
        run = 0;
    }
    return n;
}

/* Adds a literal (once) and returns its index. esc: it holds an escapable
 * byte, so any line with a backslash counts as holding it. */
static size_t add_lit_as(struct mw_prefilter *pf, const char *s, size_t len, bool ci,
                         bool esc)
{
    for (size_t i = 0; i < pf->nlits; i++)
        if (pf->lits[i].len == len && pf->lits[i].ci == ci && pf->lits[i].esc == esc &&
            memcmp(pf->lits[i].s, s, len) == 0)
            return i;
    pf->lits = xrealloc(pf->lits, (pf->nlits + 1) * sizeof(*pf->lits));
    struct lit *l = &pf->lits[pf->nlits];
    l->s = xstrndup(s, len);
    l->len = len;
    l->ci = ci;
    l->esc = esc;
    l->anchor = 0;
    for (size_t k = 1; k < len; k++) {
        unsigned char c = (unsigned char)s[k], a = (unsigned char)s[l->anchor];
        unsigned fc = byte_freq[c], fa = byte_freq[a];
        if (ci) { /* either case may be in the line */
            if (c >= 'a' && c <= 'z' && byte_freq[c - 32] > fc)
                fc = byte_freq[c - 32];
            if (a >= 'a' && a <= 'z' && byte_freq[a - 32] > fa)
                fa = byte_freq[a - 32];
        }
        if (fc < fa)
            l->anchor = k;
    }
    return pf->nlits++;
}

/* A literal as one index: itself, or its longest fragment when it holds
 * escapable bytes, or itself marked esc when no fragment is long enough. */
static size_t add_lit(struct mw_prefilter *pf, const struct mw_lit *l)
{
    struct mw_lit f;
    if (!mw_lit_escapable(l))
        return add_lit_as(pf, l->s, l->len, l->ci, false);
    if (fragments(l, &f, 1) == 1)
        return add_lit_as(pf, f.s, f.len, f.ci, false);
    return add_lit_as(pf, l->s, l->len, l->ci, true);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static bool clause_eq(const struct clause *a, const struct clause *b)
{
    return a->n == b->n && memcmp(a->ix, b->ix, a->n * sizeof(*a->ix)) == 0;
}

/* a and b have the same clauses (in any order) */
static bool alt_eq(const struct alt *a, const struct alt *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        bool in = false;
        for (size_t k = 0; k < b->n && !in; k++)
            in = clause_eq(&a->cl[i], &b->cl[k]);
        if (!in)
            return false;
    }
    return true;
}

static void alt_free(struct alt *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->cl[i].ix);
    free(a->cl);
}

/* appends text to *buf (grown as needed) */
static void append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        *cap = (*len + n + 1) * 2;
        *buf = xrealloc(*buf, *cap);
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static void append_lit(char **buf, size_t *len, size_t *cap, const struct lit *l)
{
    append(buf, len, cap, "\"", 1);
    append(buf, len, cap, l->s, l->len);
    append(buf, len, cap, "\"", 1);
    if (l->ci)
        append(buf, len, cap, " (any case)", 11);
    if (l->esc)
        append(buf, len, cap, " (or any backslash)", 19);
}

/* "a" and ("b" or "c"): what a line needs for one part */
static void describe_alt(const struct mw_prefilter *pf, const struct alt *a, char **buf,
                         size_t *len, size_t *cap)
{
    for (size_t c = 0; c < a->n; c++) {
        if (c > 0)
            append(buf, len, cap, " and ", 5);
        if (a->cl[c].n > 1)
            append(buf, len, cap, "(", 1);
        for (size_t k = 0; k < a->cl[c].n; k++) {
            if (k > 0)
                append(buf, len, cap, " or ", 4);
            append_lit(buf, len, cap, &pf->lits[a->cl[c].ix[k]]);
        }
        if (a->cl[c].n > 1)
            append(buf, len, cap, ")", 1);
    }
}

/* One rule part's alternative: every clause of its CNF, the gate first (the
 * clause that selects best, preferring literals other parts need too, so
 * 50 rules over five data sets gate on a handful of literals), then the
 * others by score. */
static struct alt make_alt(struct mw_prefilter *pf, const struct mw_litcnf *c,
                           const struct mw_litcnf *all, size_t nall)
{
    struct alt a = {NULL, 0};
    size_t cap = 0;
    size_t *order = xmalloc(c->n * sizeof(*order));
    double *score = xmalloc(c->n * sizeof(*score));
    for (size_t k = 0; k < c->n; k++) {
        int minf = (int)nall;
        for (size_t j = 0; j < c->sets[k].n; j++) {
            int f = lit_freq(&c->sets[k].lits[j], all, nall);
            if (f < minf)
                minf = f;
        }
        score[k] = mw_litset_score(&c->sets[k]) + 10.0 * (minf > 9 ? 9 : minf);
        order[k] = k;
    }
    for (size_t i = 1; i < c->n; i++) /* insertion sort, best first */
        for (size_t j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t k = 0; k < c->n; k++) {
        const struct mw_litset *set = &c->sets[order[k]];
        struct mw_lit frag[8];
        size_t nf = 0;
        /* a lone literal with escapable bytes: each of its fragments is a
         * clause of its own (all are needed), longest first */
        if (set->n == 1 && mw_lit_escapable(&set->lits[0]))
            nf = fragments(&set->lits[0], frag, 8);
        for (size_t f = 0; f < (nf ? nf : 1); f++) {
            struct clause *cl;
            if (a.n == cap) {
                cap = cap ? cap * 2 : 4;
                a.cl = xrealloc(a.cl, cap * sizeof(*a.cl));
            }
            cl = &a.cl[a.n++];
            cl->n = 0;
            cl->ix = xmalloc((set->n ? set->n : 1) * sizeof(*cl->ix));
            if (nf) {
                cl->ix[cl->n++] =
                    add_lit_as(pf, frag[f].s, frag[f].len, frag[f].ci, false);
                continue;
            }
            for (size_t j = 0; j < set->n; j++) {
                size_t ix = add_lit(pf, &set->lits[j]);
                bool dup = false;
                for (size_t m = 0; m < cl->n; m++)
                    dup |= cl->ix[m] == ix;
                if (!dup)
                    cl->ix[cl->n++] = ix;
            }
            qsort(cl->ix, cl->n, sizeof(*cl->ix), cmp_size);
        }
    }

    free(order);
    free(score);
    return a;
}

struct mw_prefilter *mw_prefilter_build(struct mw_rule *const *rules, size_t n)
{
    struct mw_prefilter *pf = xcalloc(1, sizeof(*pf));
    const struct mw_matcher *parts[MW_DETECTOR_MAX_MATCHERS];
    struct mw_litcnf *cnfs = NULL;
    size_t ncnf = 0, *first = xcalloc(n + 1, sizeof(*first));
    bool *has = xcalloc(n ? n : 1, sizeof(*has));

    atomic_init(&pf->refs, 1);
    (void)fold_table(); /* initialised here, before any thread reads it */
    /* every part's CNF, rule by rule (first[r] .. first[r + 1]) */
    for (size_t r = 0; r < n; r++) {
        int np = rule_parts(rules[r], parts);
        first[r] = ncnf;
        has[r] = true;
        cnfs = xrealloc(cnfs, (ncnf + (size_t)np) * sizeof(*cnfs));
        for (int i = 0; i < np; i++) {
            memset(&cnfs[ncnf], 0, sizeof(cnfs[ncnf]));
            mw_matcher_literals(parts[i], &cnfs[ncnf]);
            has[r] &= cnfs[ncnf].n > 0;
            ncnf++;
        }
    }
    first[n] = ncnf;

    pf->active = true;
    pf->notes = xcalloc(n ? n : 1, sizeof(*pf->notes));
    pf->nnotes = n;
    for (size_t r = 0; r < n; r++) {
        struct rule_note *note = &pf->notes[r];
        note->id = xstrdup(mw_rule_meta(rules[r])->id);
        if (!has[r]) {
            bool fn = false;
            int np = rule_parts(rules[r], parts);
            for (int i = 0; i < np; i++)
                fn |= mw_matcher_has_fn(parts[i]);
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
        size_t len = 0, cap = 0, used[MW_DETECTOR_MAX_MATCHERS], nused = 0;
        for (size_t p = first[r]; p < first[r + 1]; p++) {
            struct alt a = make_alt(pf, &cnfs[p], cnfs, ncnf);
            bool dup = false, dup_here = false;
            size_t at = pf->nalts;
            for (size_t k = 0; k < pf->nalts && !dup; k++)
                if ((dup = alt_eq(&pf->alts[k], &a)))
                    at = k;
            for (size_t u = 0; u < nused; u++)
                dup_here |= used[u] == at;
            used[nused++] = at;
            if (!dup_here) { /* each alternative said once per rule */
                if (len > 0)
                    append(&note->text, &len, &cap, "; or ", 5);
                describe_alt(pf, &a, &note->text, &len, &cap);
            }
            if (dup) {
                alt_free(&a);
                continue;
            }
            pf->alts = xrealloc(pf->alts, (pf->nalts + 1) * sizeof(*pf->alts));
            pf->alts[pf->nalts++] = a;
            for (size_t k = 0; k < a.cl[0].n; k++) {
                size_t ix = a.cl[0].ix[k];
                bool in = false;
                for (size_t g = 0; g < pf->ngate && !in; g++)
                    in = pf->gate[g] == ix;
                if (!in) {
                    pf->gate = xrealloc(pf->gate, (pf->ngate + 1) * sizeof(*pf->gate));
                    pf->gate[pf->ngate++] = ix;
                }
            }
        }
    }
    if (!pf->active) {
        for (size_t i = 0; i < pf->nlits; i++)
            free(pf->lits[i].s);
        free(pf->lits);
        pf->lits = NULL;
        pf->nlits = 0;
        for (size_t i = 0; i < pf->nalts; i++)
            alt_free(&pf->alts[i]);
        free(pf->alts);
        pf->alts = NULL;
        pf->nalts = 0;
        free(pf->gate);
        pf->gate = NULL;
        pf->ngate = 0;
    }
    for (size_t p = 0; p < ncnf; p++)
        mw_litcnf_free(&cnfs[p]);
    free(cnfs);
    free(first);
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
    for (size_t i = 0; i < pf->nalts; i++)
        alt_free(&pf->alts[i]);
    free(pf->alts);
    free(pf->gate);
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
            fprintf(fp,
                    "prefilter  %s  no literal: %s; every line is parsed while "
                    "it is loaded\n",
                    pf->notes[i].id, pf->notes[i].text);
        else
            fprintf(fp, "prefilter  %s  lines must contain %s\n", pf->notes[i].id,
                    pf->notes[i].text);
    }
    if (pf->active)
        fprintf(fp,
                "prefilter  on: %zu distinct literal(s) in %zu alternative(s), "
                "%zu to gate on; other lines are not parsed\n",
                pf->nlits, pf->nalts, pf->ngate);
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

/* Case-insensitive search for a lowercased literal: find its anchor byte in
 * either case (OR 0x20 folds a letter, 16 bytes at a time with SSE2), then
 * compare the whole literal folded. */
static bool ci_at(const unsigned char *h, const struct lit *l)
{
    const unsigned char *f = fold_table();
    for (size_t k = 0; k < l->len; k++)
        if (f[h[k]] != (unsigned char)l->s[k])
            return false;
    return true;
}

static bool ci_find(const char *hay, size_t hlen, const struct lit *l)
{
    const unsigned char *h = (const unsigned char *)hay;
    unsigned char want = (unsigned char)l->s[l->anchor];
    unsigned char bit = want >= 'a' && want <= 'z' ? 0x20 : 0;
    size_t i, last;

    if (l->len > hlen)
        return false;
    i = l->anchor;
    last = hlen - l->len + l->anchor; /* the last place the anchor can be */
#ifdef __SSE2__
    const __m128i vw = _mm_set1_epi8((char)want), vb = _mm_set1_epi8((char)bit);
    for (; i + 16 <= last + 1; i += 16) {
        __m128i v =
            _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(h + i)), vb);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, vw));
        while (m != 0) {
            if (ci_at(h + i + (unsigned)__builtin_ctz(m) - l->anchor, l))
                return true;
            m &= m - 1;
        }
    }
#endif
    for (; i <= last; i++)
        if ((h[i] | bit) == want && ci_at(h + i - l->anchor, l))
            return true;
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

/* line[i] is a backslash followed by 'u': is it an escape's first byte (an
 * even run of backslashes before it) rather than the second of "\\"? */
static bool escape_starts_at(const char *line, size_t i)
{
    size_t j = i;
    while (j > 0 && line[j - 1] == '\\')
        j--;
    return (i - j) % 2 == 0;
}

/* Does the line hold a \u escape? Escaped backslashes (\\u) are not one.
 * Lines with escaped JSON inside (a Kubernetes audit record in a "log"
 * field) hold hundreds of backslashes; one memchr per backslash made this
 * the top of a prefiltered profile, so SSE2 finds backslash-u pairs 16 bytes
 * at a time. */
static bool has_u_escape(const char *line, size_t len)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128i bs = _mm_set1_epi8('\\'), u = _mm_set1_epi8('u');
    for (; i + 17 <= len; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(line + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(line + i + 1));
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_and_si128(_mm_cmpeq_epi8(a, bs), _mm_cmpeq_epi8(b, u)));
        while (m != 0) {
            if (escape_starts_at(line, i + (unsigned)__builtin_ctz(m)))
                return true;
            m &= m - 1;
        }
    }
#endif
    for (; i + 1 < len; i++)
        if (line[i] == '\\' && line[i + 1] == 'u' && escape_starts_at(line, i))
            return true;
    return false;
}

/* One line's test: which literals were looked for, and found. */
#define MEMO 256        /* literals remembered per line (more are searched again) */
#define MAX_SEARCHES 24 /* past this many searches a line is parsed: cheaper */

struct scan {
    const struct mw_prefilter *pf;
    const char *line;
    size_t len;
    bool backslash;
    int searches;
    unsigned char memo[MEMO]; /* 0 not looked for, 1 found, 2 not found */
};

static bool present(struct scan *sc, size_t i)
{
    const struct lit *l = &sc->pf->lits[i];
    bool found;
    if (l->esc && sc->backslash)
        return true; /* an escape may spell one of its bytes */
    if (i < MEMO && sc->memo[i] != 0)
        return sc->memo[i] == 1;
    sc->searches++;
    found = l->ci ? ci_find(sc->line, sc->len, l) : cs_find(sc->line, sc->len, l);
    if (i < MEMO)
        sc->memo[i] = found ? 1 : 2;
    return found;
}

bool mw_prefilter_pass(const struct mw_prefilter *pf, const char *line, size_t len)
{
    struct scan sc;
    bool gate = false;

    if (pf == NULL || !pf->active)
        return true;
    sc.pf = pf;
    sc.line = line;
    sc.len = len;
    sc.searches = 0;
    sc.backslash = memchr(line, '\\', len) != NULL;
    /* \uXXXX can spell any byte of any literal */
    if (sc.backslash && has_u_escape(line, len))
        return true;
    memset(sc.memo, 0, pf->nlits < MEMO ? pf->nlits : MEMO);
    /* the gate: most lines hold none of the gate clauses' literals */
    for (size_t g = 0; g < pf->ngate && !gate; g++)
        gate = present(&sc, pf->gate[g]);
    if (!gate)
        return false;
    /* then a line must satisfy every clause of some alternative */
    for (size_t a = 0; a < pf->nalts; a++) {
        const struct alt *al = &pf->alts[a];
        bool ok = true;
        for (size_t c = 0; c < al->n && ok; c++) {
            bool any = false;
            if (sc.searches > MAX_SEARCHES)
                return true;
            for (size_t k = 0; k < al->cl[c].n && !any; k++)
                any = present(&sc, al->cl[c].ix[k]);
            ok = any;
        }
        if (ok)
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
        i = (size_t)(b - s) + 2; /* skip the escaped byte */
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

int mw_prefilter_scan_ts(const char *line, size_t len, const char *key, size_t keylen,
                         mw_time_t *ts)
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
            return -1; /* an escaped key might spell the timestamp's */
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
