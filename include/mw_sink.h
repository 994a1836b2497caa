/* mw_sink.h - one alert destination ("stdout", "file", "webhook", ...)
 *
 * Every output is one implementation of struct mw_sink_ops in
 * src/output/sink_<name>.c (a const struct mw_sink_ops mw_sink_<name>)
 * plus one entry in the scheme table of src/output/mw_output.c; mw_output keeps the list
 * of open sinks and calls them only through these ops (the curl model: struct Curl_ssl,
 * one file per TLS back-end). A spec "scheme:rest" selects the entry whose scheme matches
 * and hands it rest ("stdout" alone gives rest "").
 *
 * Ownership: open returns a sink the caller (mw_output) owns and frees with
 * close; everything else borrows it. Lines and ids passed to write are
 * borrowed for the call only (a sink that keeps them copies them). The env
 * is borrowed for open only, except env->reopen_gen, which stays valid for
 * the process.
 *
 * Threads: mw_output calls every op from one thread (the detection
 * thread). write never blocks on the network: an asynchronous sink hands
 * the line to its mw_spool (include/mw_spool.h), whose sender thread does
 * the delivery. Finishing is in two phases so the drain times of several
 * sinks overlap: drain_begin on every sink, then drain on every sink, then
 * close.
 */
#ifndef MW_SINK_H
#define MW_SINK_H

#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_mem.h"

struct mw_sink_env {
    const char *spool_dir; /* borrowed; where asynchronous sinks spool (may be NULL) */
    const char *spec;      /* borrowed; the whole spec redacted, for messages */
    /* bumped (from a signal handler) when file sinks must reopen their file
     * before the next write; borrowed, valid for the process */
    const volatile sig_atomic_t *reopen_gen;
};

struct mw_sink_ops {
    /* "stdout", "file", ...: the spec's part before ':'; also the "type"
     * the summary reports */
    const char *scheme;
    /* Opens from the rest of the spec. Returns the sink (new, owned by the
     * caller), or NULL with err set (bad spec, file or spool that cannot
     * be opened, missing environment variable...). */
    void *(*open)(const char *rest, const struct mw_sink_env *env, struct mw_error *err);
    /* Writes one alert line (compact JSON, no newline; len bytes) whose
     * event.id is id ("" when it has none). Never blocks on the network.
     * Returns 0, or -1 when the write failed synchronously (the sink
     * logged and counted it). */
    int (*write)(void *sink, const char *line, size_t len, const char *id);
    /* Optional (NULL: nothing to start): begin finishing delivery by
     * now_mono_us (mw_clock's monotonic clock) plus the sink's drain time,
     * without waiting. */
    void (*drain_begin)(void *sink, int64_t now_mono_us);
    /* Waits until the sink delivered everything or its drain deadline
     * passed (what is left stays in its spool); flushes. Called once. */
    void (*drain)(void *sink);
    /* Adds the counters "delivered", "retried", "spooled", "failed" and
     * "spool_pending" to o. Safe while a sender thread runs. */
    void (*stats)(const void *sink, json_t *o);
    /* Optional: the event.id of the last alert line the sink holds (for
     * recovering an id a killed run wrote but did not record); writes
     * 32 hex digits and a NUL into out and returns 1, or returns 0. */
    int (*last_id)(void *sink, char out[33]);
    /* Frees the sink (after drain). NULL is a no-op. */
    void (*close)(void *sink);
};

#endif
