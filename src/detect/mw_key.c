/* mw_key.c - join and group keys (see mw_key.h for the encoding)
 *
 * Moved here from mw_seq.c, where the sequence engine and the window code
 * each kept a copy of the grow-and-retry loop around a fixed buffer. The
 * key goes straight into an mw_buf, so there is no size to retry with and
 * no cap other than memory (an event line bounds a key anyway).
 * mw_key_build_all adds the multi-valued keys of sequences (R8b).
 */
#include "mw_key.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void mw_key_paths_free(struct mw_seq_keys *keys)
{
    for (int k = 0; k < MW_SEQ_MAX_KEYS; k++) {
        mw_path_free(keys->paths[k]);
        keys->paths[k] = NULL;
    }
}

/* Appends one value's tag and bytes. Returns -1 when v cannot be keyed. */
static int add_value(struct mw_buf *out, const json_t *v, bool optional, bool ci)
{
    if (mw_value_is_null(v)) {
        if (!optional)
            return -1;
        mw_buf_addc(out, 'z');
    } else if (json_is_string(v)) {
        uint32_t len = (uint32_t)json_string_length(v);
        mw_buf_addc(out, 's');
        mw_buf_add(out, &len, sizeof(len));
        size_t at = out->len;
        mw_buf_add(out, json_string_value(v), len);
        if (ci)
            for (size_t j = at; j < out->len; j++)
                if (out->ptr[j] >= 'A' && out->ptr[j] <= 'Z')
                    out->ptr[j] = (char)(out->ptr[j] - 'A' + 'a');
    } else if (json_is_number(v)) {
        /* 0 and 0.0 must join: integral reals are keyed as integers */
        double d = json_number_value(v);
        int64_t iv;
        if (json_is_integer(v)) {
            iv = json_integer_value(v);
        } else if (d >= -9.2e18 && d <= 9.2e18 && (double)(int64_t)d == d) {
            iv = (int64_t)d;
        } else {
            mw_buf_addc(out, 'd');
            mw_buf_add(out, &d, sizeof(d));
            return 0;
        }
        mw_buf_addc(out, 'i');
        mw_buf_add(out, &iv, sizeof(iv));
    } else if (json_is_boolean(v)) {
        mw_buf_addc(out, 'b');
        mw_buf_addc(out, json_is_true(v) ? 1 : 0);
    } else {
        return -1; /* arrays and objects never join */
    }
    return 0;
}

int mw_key_build(struct mw_buf *out, const struct mw_seq_keys *keys, int nkeys, bool ci,
                 const struct mw_event *ev)
{
    mw_buf_reset(out);
    for (int i = 0; i < nkeys; i++)
        if (add_value(out, mw_path_get(mw_event_root(ev), keys->paths[i]),
                      keys->optional[i], ci) < 0)
            return -1;
    return 0;
}

/* Appends one key to out: a size_t length, then field i's value vals[i]
 * (a pointer and a length each). */
static void put_key(struct mw_buf *out, const char *const *val, const size_t *len,
                    int nkeys)
{
    size_t total = 0;
    for (int i = 0; i < nkeys; i++)
        total += len[i];
    mw_buf_add(out, &total, sizeof(total));
    for (int i = 0; i < nkeys; i++)
        mw_buf_add(out, val[i], len[i]);
}

/* The distinct keyable elements of the array v (nested arrays flattened),
 * appended to vals as [size_t length, bytes]; offsets of each entry go to
 * offs. Returns how many. Null elements and objects are skipped: an array
 * of nulls reads as a missing value. */
static int add_elements(struct mw_buf *vals, struct mw_buf *offs, const json_t *v,
                        bool optional, bool ci, int depth)
{
    int n = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (json_is_array(e)) {
            if (depth < 32)
                n += add_elements(vals, offs, e, optional, ci, depth + 1);
            continue;
        }
        if (mw_value_is_null(e))
            continue; /* as ES's doc values: nulls are not values */
        size_t at = vals->len, zero = 0;
        mw_buf_add(vals, &zero, sizeof(zero));
        if (add_value(vals, e, optional, ci) < 0) {
            mw_buf_setlen(vals, at);
            continue;
        }
        size_t len = vals->len - at - sizeof(size_t);
        const char *bytes = vals->ptr + at + sizeof(size_t);
        bool dup = false;
        for (size_t j = 0; !dup && j < offs->len / sizeof(size_t); j++) {
            size_t o, l;
            memcpy(&o, offs->ptr + j * sizeof(size_t), sizeof(o));
            memcpy(&l, vals->ptr + o, sizeof(l));
            dup = l == len && memcmp(vals->ptr + o + sizeof(size_t), bytes, len) == 0;
        }
        if (dup) {
            mw_buf_setlen(vals, at);
            continue;
        }
        memcpy(vals->ptr + at, &len, sizeof(len));
        mw_buf_add(offs, &at, sizeof(at));
        n++;
    }
    return n;
}

int mw_key_build_all(struct mw_buf *out, const struct mw_seq_keys *keys, int nkeys,
                     bool ci, const struct mw_event *ev, int max, uint64_t *dropped)
{
    const json_t *root = mw_event_root(ev);
    const json_t *v[MW_SEQ_MAX_KEYS];
    bool multi = false;

    mw_buf_reset(out);
    for (int i = 0; i < nkeys; i++) {
        v[i] = mw_path_get(root, keys->paths[i]);
        multi |= json_is_array(v[i]);
    }
    if (!multi) {
        /* the single-valued path: exactly mw_key_build's bytes */
        size_t zero = 0, len;
        mw_buf_add(out, &zero, sizeof(zero));
        for (int i = 0; i < nkeys; i++)
            if (add_value(out, v[i], keys->optional[i], ci) < 0) {
                mw_buf_reset(out);
                return 0;
            }
        len = out->len - sizeof(size_t);
        memcpy(out->ptr, &len, sizeof(len));
        return 1;
    }

    struct mw_buf vals[MW_SEQ_MAX_KEYS], offs[MW_SEQ_MAX_KEYS];
    int count[MW_SEQ_MAX_KEYS], idx[MW_SEQ_MAX_KEYS];
    uint64_t product = 1;
    int made = 0;
    for (int i = 0; i < nkeys; i++) {
        mw_buf_init(&vals[i]);
        mw_buf_init(&offs[i]);
        idx[i] = 0;
        if (json_is_array(v[i]))
            count[i] = add_elements(&vals[i], &offs[i], v[i], keys->optional[i], ci, 0);
        else
            count[i] = 0;
        if (count[i] == 0) {
            /* a scalar, or an array with no keyable element (read as missing) */
            size_t at = 0, zero = 0;
            mw_buf_add(&vals[i], &zero, sizeof(zero));
            if (add_value(&vals[i], json_is_array(v[i]) ? NULL : v[i], keys->optional[i],
                          ci) == 0) {
                size_t len = vals[i].len - sizeof(size_t);
                memcpy(vals[i].ptr, &len, sizeof(len));
                mw_buf_add(&offs[i], &at, sizeof(at));
                count[i] = 1;
            } else {
                product = 0;
            }
        }
        if (product > 0)
            product = product > UINT64_MAX / (uint64_t)count[i]
                          ? UINT64_MAX
                          : product * (uint64_t)count[i];
    }
    while (product > 0 && made < max) {
        const char *val[MW_SEQ_MAX_KEYS];
        size_t len[MW_SEQ_MAX_KEYS];
        for (int i = 0; i < nkeys; i++) {
            size_t o;
            memcpy(&o, offs[i].ptr + (size_t)idx[i] * sizeof(size_t), sizeof(o));
            memcpy(&len[i], vals[i].ptr + o, sizeof(len[i]));
            val[i] = vals[i].ptr + o + sizeof(size_t);
        }
        put_key(out, val, len, nkeys);
        made++;
        int i = nkeys - 1;
        while (i >= 0 && ++idx[i] == count[i])
            idx[i--] = 0;
        if (i < 0)
            break;
    }
    if (product > (uint64_t)made && dropped) {
        uint64_t d = product - (uint64_t)made;
        *dropped = *dropped > UINT64_MAX - d ? UINT64_MAX : *dropped + d;
    }
    for (int i = 0; i < nkeys; i++) {
        mw_buf_release(&vals[i]);
        mw_buf_release(&offs[i]);
    }
    return made;
}

int mw_seq_key(const struct mw_seq_keys *keys, int nkeys, bool ci,
               const struct mw_event *ev, char *buf, size_t size)
{
    struct mw_buf b = MW_BUF_INIT;
    int rc = mw_key_build(&b, keys, nkeys, ci, ev);
    if (rc == 0) {
        if (b.len > size)
            rc = -2;
        else if (b.len > (size_t)INT32_MAX)
            rc = -1;
        else {
            memcpy(buf, b.ptr, b.len);
            rc = (int)b.len;
        }
    }
    mw_buf_release(&b);
    return rc;
}

json_t *mw_key_values(const struct mw_seq_keys *keys, int nkeys,
                      const struct mw_event *ev)
{
    json_t *arr = json_array();
    for (int k = 0; k < nkeys; k++) {
        json_t *v = mw_path_get(mw_event_root(ev), keys->paths[k]);
        json_array_append(arr, v ? v : json_null());
    }
    return arr;
}
