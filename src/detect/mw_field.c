/* mw_field.c - dotted field path lookup (nested, flattened, mixed)
 *
 * For n segments we keep joined[i][j-i-1] = segments i..j-1 joined by dots,
 * for every 0 <= i < j <= n: n(n+1)/2 strings built at compile time. Lookup
 * at depth i in an object tries the keys joined[i][0], joined[i][1], ...
 * (shortest first, so nested spelling wins) and recurses on a hit. This
 * handles flattened keys at any depth without allocating per event.
 */
#include "mw_field.h"
#include "mw_mem.h"

#include <stdlib.h>
#include <string.h>

struct mw_path {
    char *text; /* owned: the path as written */
    int nseg;
    char **joined; /* owned: nseg*(nseg+1)/2 strings, row-major by start */
    int *row;      /* owned: index of joined[i][0] */
    long *index;   /* owned: per segment, array index or -1 */
};

static long parse_index(const char *s, size_t len)
{
    long v = 0;
    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

struct mw_path *mw_path_new(const char *dotted)
{
    const char *starts[MW_PATH_MAX_SEGMENTS];
    size_t lens[MW_PATH_MAX_SEGMENTS];
    int n = 0;
    struct mw_path *p;

    if (dotted == NULL || *dotted == '\0')
        return NULL;
    for (const char *s = dotted;;) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        if (len == 0 || n == MW_PATH_MAX_SEGMENTS)
            return NULL;
        starts[n] = s;
        lens[n] = len;
        n++;
        if (dot == NULL)
            break;
        s = dot + 1;
    }

    p = xcalloc(1, sizeof(*p));
    p->text = xstrdup(dotted);
    p->nseg = n;
    p->joined = xcalloc((size_t)n * (n + 1) / 2, sizeof(char *));
    p->row = xcalloc(n, sizeof(int));
    p->index = xcalloc(n, sizeof(long));
    int k = 0;
    for (int i = 0; i < n; i++) {
        p->row[i] = k;
        p->index[i] = parse_index(starts[i], lens[i]);
        for (int j = i + 1; j <= n; j++) {
            /* segments i..j-1 are contiguous in `dotted` */
            size_t len = (size_t)(starts[j - 1] + lens[j - 1] - starts[i]);
            p->joined[k++] = xstrndup(starts[i], len);
        }
    }
    return p;
}

void mw_path_free(struct mw_path *p)
{
    if (p == NULL)
        return;
    if (p->joined) {
        int total = p->nseg * (p->nseg + 1) / 2;
        for (int k = 0; k < total; k++)
            free(p->joined[k]);
    }
    free(p->joined);
    free(p->row);
    free(p->index);
    free(p->text);
    free(p);
}

const char *mw_path_str(const struct mw_path *p)
{
    return p->text;
}

/* The value at segments i.. (i < nseg) of p below v, or NULL. Values come
 * from jansson's getters (which hand out non-const children of a const
 * parent), so no const is cast away here. */
static json_t *resolve(const json_t *v, const struct mw_path *p, int i)
{
    if (json_is_object(v)) {
        for (int j = i + 1; j <= p->nseg; j++) {
            json_t *child = json_object_get(v, p->joined[p->row[i] + (j - i - 1)]);
            json_t *r = child == NULL || j == p->nseg ? child : resolve(child, p, j);
            if (r != NULL)
                return r;
        }
        return NULL;
    }
    if (json_is_array(v) && p->index[i] >= 0) {
        json_t *child = json_array_get(v, (size_t)p->index[i]);
        return child == NULL || i + 1 == p->nseg ? child : resolve(child, p, i + 1);
    }
    return NULL;
}

json_t *mw_path_get(const json_t *root, const struct mw_path *p)
{
    if (root == NULL || p->nseg == 0) /* a path has at least one segment */
        return NULL;
    return resolve(root, p, 0);
}
