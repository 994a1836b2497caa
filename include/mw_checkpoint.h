/* mw_checkpoint.h - consistent checkpoints of a follow-mode run
 *
 * With --state-dir, a follow-mode run writes STATE/checkpoint every
 * checkpoint interval and at a clean stop, between two dispatched events,
 * so everything in it describes the same cut of the stream: per input its
 * source's opaque position of the first line not yet dispatched
 * (mw_source.h: for a file, the identity of the file being read - device,
 * inode, fingerprint of its first bytes - and the line's offset); the run's
 * arrival serial and event-time "now"; every rule's window state with the
 * events it retains (each written once, as JSON with its source position
 * and arrival serial); and the alert-shaping state (suppression windows,
 * cap intervals). Processed alert ids stay in STATE/alert-ids (mw_shape),
 * each tagged with the checkpoint generation it belongs to.
 *
 * File: JSON lines, a header with the format version and the checkpoint
 * number first, a trailer with the line count and the SHA-256 of every
 * byte before it last. Written to a temp file, fsynced, the previous
 * checkpoint renamed to STATE/checkpoint.prev, the temp file renamed in,
 * the folder fsynced. A checkpoint that is truncated, corrupt, of another
 * format version or not a checkpoint at all is refused with a clear error
 * and the previous one is used (and kept: it is not rotated away by the
 * next write); when neither is usable the run refuses to start.
 *
 * Resuming: inputs continue at their positions (the source kind's resume
 * decides: for files by identity, mw_tail.h), window state is restored per rule when id
 * and shape match, the shaping state becomes the checkpoint's, and the ids decided after
 * the cut are marked for replay (mw_shape_restore): the events after the cut are read
 * again and raise the same alerts, which move the shaping state as before but are not
 * written to the outputs a second time. See docs/RELIABILITY.md for the argument.
 */
#ifndef MW_CHECKPOINT_H
#define MW_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "mw_engine.h"
#include "mw_event.h"
#include "mw_shape.h"

#define MW_CKPT_VERSION 1
#define MW_CKPT_DEFAULT_INTERVAL_MS 5000

/* The run loop's own state at the cut. */
struct mw_ckpt_run {
    uint64_t seq;       /* last arrival serial handed out */
    mw_time_t now;      /* newest event time dispatched */
    bool started;       /* now is set */
    mw_time_t advanced; /* event time windows were advanced to */
};

/* One input at the cut: its name and its source's position of the first
 * line not yet dispatched (mw_source_position), stored as given. */
struct mw_ckpt_src {
    const char *name; /* borrowed */
    json_t *pos;      /* borrowed; NULL: not resumable (stdin, a pipe) */
};

struct mw_ckpt;

/* Loads STATE/checkpoint (or, when it is unusable, STATE/checkpoint.prev)
 * and restores engine and shape from it; *run gets the run state and
 * *resumed tells whether a checkpoint was found. interval_ms <= 0 means the
 * default. Returns NULL with err set when a checkpoint exists but neither
 * it nor the previous one can be used. */
struct mw_ckpt *mw_ckpt_open(const char *state_dir, int interval_ms, struct mw_engine *e,
                             struct mw_shape *shape, struct mw_ckpt_run *run,
                             bool *resumed, struct mw_error *err);
void mw_ckpt_free(struct mw_ckpt *c);

/* The recorded position of the input named name (a new reference, for
 * mw_source_resume), once: later calls for the same name, and names without
 * a resumable position, return NULL. */
json_t *mw_ckpt_input(struct mw_ckpt *c, const char *name);

/* True when a periodic checkpoint is due at monotonic time now_ms. */
bool mw_ckpt_due(const struct mw_ckpt *c, int64_t now_ms);

/* Writes a checkpoint of the current cut. Returns 0, or -1 (logged; the
 * previous checkpoint stays). */
int mw_ckpt_write(struct mw_ckpt *c, struct mw_engine *e, struct mw_shape *shape,
                  const struct mw_ckpt_run *run, const struct mw_ckpt_src *srcs, int n,
                  int64_t now_ms);

/* Checkpoints written by this run. */
uint64_t mw_ckpt_written(const struct mw_ckpt *c);

#endif
