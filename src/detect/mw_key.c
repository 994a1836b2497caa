/* mw_key.c - join and group keys (see mw_key.h for the encoding)
 *
 * Moved here from mw_seq.c, where the sequence engine and the window code
 * each kept a copy of the grow-and-retry loop around a fixed buffer. The
 * key goes straight into an mw_buf, so there is no size to retry with and
 * no cap other than memory (an event line bounds a key anyway).
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
