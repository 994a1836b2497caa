/* mw_output.h - alert sinks: stdout, files, webhooks, Elasticsearch
 *
 * Sinks receive finished alert documents (never Lua values). stdout and
 * file:PATH are written synchronously, one JSON per line (a file is reopened
 * after SIGHUP or when it was moved away, so logrotate works). HTTP sinks
 * (webhook:URL, elasticsearch:URL/INDEX) each own a sender thread with a
 * bounded queue, so a slow or dead endpoint never blocks detection: when the
 * queue is full, or while older alerts wait on disk, alerts are appended to
 * the sink's spool file, and the sender delivers queue then spool in order,
 * including a spool left by an earlier run. Nothing is lost: an alert is
 * delivered, still spooled, or (refused by the endpoint as invalid) written
 * to the sink's rejected file; the counters say which. docs/OUTPUTS.md has
 * the spec syntax. Each output is a struct mw_sink_ops (mw_sink.h) named in
 * the scheme table of src/output/mw_output.c; the queue and spool are
 * mw_spool.h.
 */
#ifndef MW_OUTPUT_H
#define MW_OUTPUT_H

#include <jansson.h>
#include <stdint.h>

#include "mw_mem.h"

struct mw_output;

struct mw_output *mw_output_new(void);
/* Where HTTP sinks spool (copied; created when missing). Must be set before
 * an HTTP sink is added. */
void mw_output_set_spool_dir(struct mw_output *o, const char *dir);
/* Adds a sink from a spec: "stdout", "file:PATH",
 * "webhook:URL[,opt=value...]", "elasticsearch:URL/INDEX[,opt=value...]".
 * Returns 0, or -1 with err set for a bad spec, a file that cannot be
 * opened, a missing environment variable named by the spec, or an HTTP sink
 * without a spool folder. Starts the sink's sender thread. */
int mw_output_add(struct mw_output *o, const char *spec, struct mw_error *err);
/* Writes the alert to every sink (HTTP sinks: queued or spooled, never
 * blocking on the network). Borrows alert. Returns the number of sinks that
 * failed synchronously. */
int mw_output_write(struct mw_output *o, const json_t *alert);
/* mw_output_write for a callback (mw_alert_write_fn): o is a struct mw_output. */
int mw_output_write_to(void *o, const json_t *alert);
/* Finishes delivery: each sender keeps delivering until its queue and
 * spool are empty or its drain time (spec option drain=, default 10s) is
 * over; what is left is written to the spool in order. Emits one
 * "output_stats" health record per HTTP sink, and for every sink that lost
 * alerts an error line and an "output_lost" record. Idempotent. */
void mw_output_drain(struct mw_output *o);
/* Drains (if not done), flushes and closes every sink. NULL is a no-op. */
void mw_output_free(struct mw_output *o);
/* Appends one JSON object per sink to arr: {"spec" (redacted), "type",
 * "delivered", "retried", "spooled", "failed", "lost", "spool_pending",
 * "written"} ("written" = "delivered", kept for older readers; "lost", a
 * part of "failed", counts alerts written nowhere: a file write or spool
 * append that failed, disk full). */
void mw_output_stats(const struct mw_output *o, json_t *arr);
/* Alerts lost by every sink so far (the sum of their "lost"): written
 * nowhere, not even to a spool or rejected file. A caller that must
 * report losses (exit status, dead letters) reads it after
 * mw_output_drain. */
uint64_t mw_output_lost(const struct mw_output *o);
/* Asks file sinks to reopen their file before the next write.
 * Async-signal-safe: call it from a SIGHUP handler. */
void mw_output_request_reopen(void);

/* The id of the last alert line of each file output (up to max; returns
 * how many), for recovering an id a killed run wrote but did not record. */
int mw_output_last_ids(struct mw_output *o, char ids[][33], int max);

/* Process exit: unloads libcurl if an HTTP output loaded it (curl_global_cleanup,
 * dlclose). Call once, after every output is freed. */
void mw_output_global_cleanup(void);

#endif
