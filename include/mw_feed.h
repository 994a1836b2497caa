/* mw_feed.h - events from NDJSON files and inline JSON, merged by event time
 *
 * A feed is the `run` loop's merge (mw_merge.h: the same order, lateness
 * and future-time policy) without its reporting: the workflow commands
 * (test, explain) pull events one at a time. Each source is a file
 * (any source kind of mw_source.h, streamed line by line, never loaded
 * whole) or a list of
 * events given as JSON (a rule test's inline `events`, parsed at once). The
 * next event is the oldest source head by event time; ties go to the source
 * added first, and within a source the order is the source's own, exactly as
 * `run` merges its inputs. An event further ahead of the wall clock than the
 * future bound, or further behind the newest one than the lateness, is
 * refused (logged and counted as rejected) exactly as `run` refuses it.
 * Events get arrival serials 1, 2, ... in the order they are taken (a
 * refused one takes its serial too, as in `run`).
 *
 * Events borrow their input name from the feed, so free the feed only after
 * everything that may hold its events (engine, sequence state).
 */
#ifndef MW_FEED_H
#define MW_FEED_H

#include <jansson.h>
#include <stdint.h>

#include "mw_event.h"
#include "mw_mem.h"
#include "mw_merge.h"

struct mw_feed;

/* ts_field: the event time field (NULL: @timestamp); max_line: 0 default;
 * mo: the merge policy (copied; NULL: mw_merge_opts_default, which is what
 * `run` uses unless told otherwise). Returns NULL with err set when ts_field
 * is not a valid path. */
struct mw_feed *mw_feed_new(const char *ts_field, size_t max_line,
                            const struct mw_merge_opts *mo, struct mw_error *err);
void mw_feed_free(struct mw_feed *f);

/* Adds an input by its spec (mw_source.h: a file path, "-" for stdin, or
 * "scheme:rest"). -1 with err when it cannot be
 * opened. */
int mw_feed_add_file(struct mw_feed *f, const char *path, struct mw_error *err);

/* Adds an in-memory source named name: events is an array whose elements are
 * event objects or strings holding one JSON event each. Returns -1 with err
 * ("name[i]: reason: detail", 1-based) on the first element that is not a
 * valid event; nothing is added then. */
int mw_feed_add_json(struct mw_feed *f, const char *name, const json_t *events,
                     struct mw_error *err);

/* The next event in merge order (a new reference: unref it), or NULL at the
 * end. Rejected file lines are logged as `run` logs them ("input:line:
 * rejected (reason): detail"), counted, and skipped. */
struct mw_event *mw_feed_next(struct mw_feed *f);

uint64_t mw_feed_rejected(const struct mw_feed *f);
/* The first rejection ("input:line: reason: detail") or read error, or NULL. */
const char *mw_feed_first_error(const struct mw_feed *f);

#endif
