/* mw_dedup.c - the alert id store: every id decided (delivered,
 * suppressed, capped or dropped by a hook) within the last dedup_ttl
 *
 * ids maps alert id -> struct idrec, so a replay or a restart never raises
 * the same detection twice; the records also form a list in the order they
 * were recorded, oldest first, so expiry pops from the front (O(1) per id).
 *
 * With a state folder every id is appended to STATE/alert-ids ("ID
 * EPOCH_MS", and " GEN" once checkpoints are on) and flushed as it is
 * decided, so even a kill -9 keeps it; the saver thread (mw_shape.c)
 * fsyncs the file and, once at least half of its lines are dead, this file
 * rewrites it with the live ids through mw_file.h (temp file, fsync,
 * rename, fsync of the folder). Every function runs with s->mu held.
 */
#include "mw_buf.h"
#include "mw_clock.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_output.h"
#include "shape_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* in alert-ids: the generation of a recovered id */
#define GEN_RECOVERED (UINT64_C(1) << 62)

static void ids_unlink(struct mw_shape *s, struct idrec *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->oldest = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        s->newest = r->prev;
}

/* Records id at time t (replacing an earlier record of it). */
static struct idrec *ids_add(struct mw_shape *s, const char *id, size_t len, mw_time_t t)
{
    struct idrec *r = xmalloc(sizeof(*r) + len + 1), *old;
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    r->len = len;
    r->t = t;
    r->gen = s->gen;
    r->replay = r->recovered = false;
    r->next = NULL;
    r->prev = s->newest;
    if (s->newest)
        s->newest->next = r;
    else
        s->oldest = r;
    s->newest = r;
    if ((old = mw_dict_put(s->ids, id, len, r)) != NULL) {
        ids_unlink(s, old);
        free(old);
    }
    return r;
}

void mw_dedup_expire(struct mw_shape *s, mw_time_t now)
{
    while (s->oldest && s->oldest->t <= now - s->ttl) {
        struct idrec *r = s->oldest;
        mw_dict_del(s->ids, r->id, r->len);
        ids_unlink(s, r);
        free(r);
    }
}

struct idrec *mw_dedup_get(struct mw_shape *s, const char *id)
{
    return mw_dict_get(s->ids, id, strlen(id));
}

/* Appends one line of alert-ids for r to b. */
static void id_line(struct mw_buf *b, const struct idrec *r)
{
    if (r->recovered)
        mw_buf_addf(b, "%s %" PRId64 " %" PRIu64 "\n", r->id, r->t / MW_USEC_PER_MSEC,
                    GEN_RECOVERED);
    else if (r->gen > 0)
        mw_buf_addf(b, "%s %" PRId64 " %" PRIu64 "\n", r->id, r->t / MW_USEC_PER_MSEC,
                    r->gen);
    else
        mw_buf_addf(b, "%s %" PRId64 "\n", r->id, r->t / MW_USEC_PER_MSEC);
}

/* Appends r's line to STATE/alert-ids and flushes it. */
static void ids_append(struct mw_shape *s, const struct idrec *r)
{
    struct mw_buf line = MW_BUF_INIT;
    id_line(&line, r);
    if (fwrite(line.ptr, 1, line.len, s->ids_fp) != line.len || fflush(s->ids_fp) != 0)
        mw_log_error("state: cannot record alert id: %s", strerror(errno));
    mw_buf_release(&line);
    s->ids_lines++;
    s->ids_unsynced = true;
}

void mw_dedup_mark(struct mw_shape *s, const char *id)
{
    mw_time_t now = s->now();
    size_t len = strlen(id);
    struct idrec *r;
    mw_dedup_expire(s, now);
    r = mw_dict_get(s->ids, id, len);
    if (r != NULL && !r->replay)
        return;
    if (r != NULL) {
        /* decided again after a restart: now covered by the next checkpoint */
        r->replay = r->recovered = false;
        r->gen = s->gen;
    } else {
        r = ids_add(s, id, len, now);
    }
    if (s->ids_fp != NULL)
        ids_append(s, r);
}

/* Rewrites alert-ids with the live ids only. */
static void ids_compact(struct mw_shape *s)
{
    char *path = mw_shape_path(s, "alert-ids");
    struct mw_buf buf = MW_BUF_INIT;
    struct mw_error err;
    size_t n = 0;
    FILE *fp;

    for (struct idrec *r = s->oldest; r; r = r->next, n++)
        id_line(&buf, r);
    if (mw_file_write_atomic(path, buf.ptr, buf.len, MW_FILE_DURABLE, &err) != 0) {
        mw_log_error("state %s: cannot save: %s", path, err.msg);
    } else if ((fp = mw_file_open_private(path, "a", &err)) != NULL) {
        mw_log_info("state %s: compacted (%" PRIu64 " lines -> %zu)", path, s->ids_lines,
                    n);
        fclose(s->ids_fp);
        s->ids_fp = fp;
        s->ids_lines = n;
        s->ids_unsynced = false;
    }
    mw_buf_release(&buf);
    free(path);
}

void mw_dedup_maybe_compact(struct mw_shape *s)
{
    uint64_t live = mw_dict_size(s->ids);
    if (s->ids_fp && s->ids_lines > live && s->ids_lines - live >= live)
        ids_compact(s);
}

/* Lines are "ID EPOCH_MS [GEN]"; a line with an id only (written by an
 * older version) counts as recorded now. */
int mw_dedup_load(struct mw_shape *s, struct mw_error *err)
{
    char *path = mw_shape_path(s, "alert-ids");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    mw_time_t now = s->now();
    uint64_t expired = 0;
    int rc = 0;

    s->ids_fp = mw_file_open_private(path, "a+", err); /* never through a symlink */
    if (s->ids_fp == NULL) {
        rc = -1;
        goto out;
    }
    rewind(s->ids_fp);
    while ((n = getline(&line, &cap, s->ids_fp)) > 0) {
        size_t idlen = strcspn(line, " \r\n");
        mw_time_t t = now;
        char *end;
        s->ids_lines++;
        if (idlen == 0)
            continue;
        uint64_t gen = 0;
        if (line[idlen] == ' ') {
            long long ms = strtoll(line + idlen + 1, &end, 10);
            if (end != line + idlen + 1 && ms >= 0 && ms < INT64_MAX / MW_USEC_PER_MSEC)
                t = (mw_time_t)ms * MW_USEC_PER_MSEC;
            if (end != line + idlen + 1 && *end == ' ')
                gen = strtoull(end + 1, NULL, 10);
        }
        if (t <= now - s->ttl) {
            expired++;
            continue;
        }
        struct idrec *rec = ids_add(s, line, idlen, t);
        rec->gen = gen == GEN_RECOVERED ? 0 : gen;
        rec->recovered = gen == GEN_RECOVERED;
        if (gen > s->max_gen && gen != GEN_RECOVERED)
            s->max_gen = gen;
    }
    free(line);
    fseek(s->ids_fp, 0, SEEK_END);
    mw_dedup_expire(s, now);
    if (expired)
        mw_log_info("state %s: %" PRIu64 " alert id(s) expired (older than the dedup "
                    "ttl), %zu kept",
                    path, expired, mw_dict_size(s->ids));
    mw_dedup_maybe_compact(s);
out:
    free(path);
    return rc;
}

/* An alert whose line is the last of a file output but whose id is not in
 * the store was written just before the process was killed (the id is
 * recorded after the write): record it now, as decided after any
 * checkpoint, so a replay recognises it. */
void mw_dedup_recover(struct mw_shape *s)
{
    char ids[16][33];
    int n = s->out ? mw_output_last_ids(s->out, ids, 16) : 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(ids[i]);
        if (len == 0 || mw_dict_get(s->ids, ids[i], len) != NULL)
            continue;
        struct idrec *r = ids_add(s, ids[i], len, s->now());
        r->recovered = true;
        mw_log_info("state: alert %s is in an output but its id was not recorded (the "
                    "previous run was killed in between): recorded now",
                    ids[i]);
        if (s->ids_fp)
            ids_append(s, r);
    }
}

void mw_dedup_clear(struct mw_shape *s)
{
    while (s->oldest) {
        struct idrec *r = s->oldest;
        s->oldest = r->next;
        free(r);
    }
    s->newest = NULL;
}
