/* mw_follow_loop.c - follow mode of the run loop: signals, the work between
 * two events, followed globs, checkpoints, the idle sleep
 *
 * An input with no complete line yet reports MW_LINE_AGAIN and does not
 * hold back the others; when no input has an event the loop sleeps in
 * poll() on an inotify watch of the input files, the rule watcher and any
 * followed pipe, with a short timeout as a fallback. Between two events
 * (every FOLLOW_CHECK_EVERY events when busy, and at every wake-up) it acts
 * on signals, runs due rule reloads, rewrites the metrics file, adds files
 * new under a followed glob and writes a due checkpoint.
 *
 * Signals: this file holds the process's one SIGHUP handler (on_hup): it
 * asks the outputs to reopen their files (mw_output_request_reopen), and in
 * follow mode also sets the reload flag. mw_run_install_sighup installs it
 * for runs that do not follow; in follow mode mw_follow_start installs it
 * with the SIGINT/SIGTERM handlers and mw_follow_stop restores what was
 * there. Handlers only set sig_atomic_t flags (and the output's flag).
 *
 * Checkpoints (mw_checkpoint): opened, and engine, shape and merge resumed,
 * before the inputs are opened (each input resumes from its recorded
 * position in mw_run_add_src); written before the first event, when due
 * between two events, and after the last one. The position of an input is
 * its first line not dispatched (src_pending).
 */
#include "mw_run_int.h"
#include "mw_clock.h"
#include "mw_health.h"
#include "mw_log.h"
#include "mw_mem.h"
#include "mw_sandbox.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define FOLLOW_WAIT_MS 250 /* longest sleep when idle (fallback to inotify) */

static volatile sig_atomic_t stop_signal; /* SIGINT or SIGTERM received */
static volatile sig_atomic_t hup_signal;  /* SIGHUP received */

static void on_stop(int sig)
{
    stop_signal = sig;
    mw_sandbox_interrupt(); /* a rule stuck in a load or call stops now */
}

static void on_hup(int sig)
{
    (void)sig;
    hup_signal = 1;             /* read in follow mode only */
    mw_output_request_reopen(); /* what SIGHUP does in every run */
}

void mw_run_install_sighup(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_hup;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGHUP, &sa, NULL);
}

bool mw_follow_signalled(void)
{
    return stop_signal || hup_signal;
}

int mw_follow_capacity(const struct mw_run_opts *o, char *const *names, int n)
{
    for (int i = 0; o->follow && i < n; i++)
        if (mw_follow_is_pattern(names[i]))
            return n + MAX_NEW_SRCS;
    return n;
}

int mw_follow_open(struct run *r, char *const *names, int n)
{
    const struct mw_run_opts *o = r->o;
    if (o->follow && o->state_dir) {
        struct mw_error err;
        struct mw_ckpt_run cr;
        bool resumed;
        r->ck = mw_ckpt_open(o->state_dir, o->checkpoint_interval_ms, r->e, o->shape, &cr,
                             &resumed, &err);
        if (r->ck == NULL) {
            mw_log_error("%s", err.msg);
            return -1;
        }
        if (resumed) {
            struct mw_merge_point mp = {cr.now, cr.started, cr.advanced};
            r->seq = cr.seq;
            mw_merge_set(r->merge, &mp, mw_mono_ms());
        }
    }
    if (o->follow) {
        r->in_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        r->fl = mw_follow_new(names, n);
        mw_follow_watch(r->fl, r->in_fd);
    }
    return 0;
}

/* Follow mode: files that appeared under a followed pattern. */
static void add_new_srcs(struct run *r, int64_t now)
{
    const char **paths;
    int k = mw_follow_scan(r->fl, now, false, &paths);
    for (int i = 0; i < k; i++) {
        struct mw_error err;
        if (mw_run_add_src(r, paths[i], &err) < 0)
            mw_log_error("%s", err.msg);
        else
            mw_log_info("following %s (new file under a followed pattern)", paths[i]);
    }
    free(paths);
}

/* The first line of s not dispatched yet: its head, else the first result
 * not consumed in its batches (threads). False: the input's own position. */
static bool src_pending(const struct src *s, struct mw_line *at)
{
    memset(at, 0, sizeof(*at));
    if (mw_run_has_head(s)) {
        at->offset = s->head_off;
        at->lineno = s->head_line;
        at->gen = s->head_fgen;
        return true;
    }
    return mw_workers_pending(s, at);
}

/* A checkpoint of the current cut; postponed (to the next call) while a
 * line not dispatched yet belongs to a file its input has left (parser
 * threads read ahead across a rotation). */
void mw_follow_checkpoint(struct run *r)
{
    struct mw_ckpt_src *cs;
    struct mw_merge_point mp;
    int k = 0;
    if (mw_merge_held(r->merge) > 0) {
        /* a cut past events set aside would lose them: wait for them to be
         * confirmed or released, at most MW_HOLD_CHECKPOINT_WAIT_MS; then
         * they are refused (time_outlier, dead-lettered) and the cut made */
        int64_t now = mw_mono_ms();
        if (r->held_since_ms == 0)
            r->held_since_ms = now;
        if (now - r->held_since_ms < MW_HOLD_CHECKPOINT_WAIT_MS)
            return;
        mw_run_refuse_held(r);
    }
    r->held_since_ms = 0;
    cs = xcalloc((size_t)r->n + 1, sizeof(*cs));
    mw_merge_get(r->merge, &mp);
    struct mw_ckpt_run run = {r->seq, mp.now, mp.started, mp.advanced};
    for (; k < r->n; k++) {
        struct mw_line at;
        bool pending = src_pending(&r->srcs[k], &at);
        cs[k].name = mw_source_name(r->srcs[k].in);
        if (mw_source_position(r->srcs[k].in, pending ? &at : NULL, &cs[k].pos) < 0)
            goto out;
    }
    if (mw_ckpt_write(r->ck, r->e, r->o->shape, &run, cs, r->n, mw_mono_ms()) == 0)
        for (int i = 0; i < r->n; i++) /* durable: a Kafka group learns the offsets */
            mw_source_committed(r->srcs[i].in, cs[i].pos);
out:
    for (int i = 0; i < k; i++)
        json_decref(cs[i].pos);
    free(cs);
}

/* Sleeps until an input or a rule file changes, a pipe has data, a signal
 * arrives, or timeout_ms passes. */
static void follow_wait(struct run *r, int timeout_ms)
{
    struct pollfd *p = xcalloc((size_t)r->n + 2, sizeof(*p));
    struct mw_reload *rl = r->o->reload;
    nfds_t k = 0;
    if (r->in_fd >= 0)
        p[k++] = (struct pollfd){r->in_fd, POLLIN, 0};
    if (rl && mw_reload_fd(rl) >= 0)
        p[k++] = (struct pollfd){mw_reload_fd(rl), POLLIN, 0};
    for (int i = 0; i < r->n; i++) {
        int fd = r->srcs[i].done ? -1 : mw_source_poll_fd(r->srcs[i].in);
        if (fd >= 0)
            p[k++] = (struct pollfd){fd, POLLIN, 0};
    }
    if (poll(p, k, timeout_ms) > 0 && r->in_fd >= 0 && (p[0].revents & POLLIN)) {
        char buf[4096]; /* inotify records, drained and dropped */
        while (read(r->in_fd, buf, sizeof(buf)) > 0)
            ; /* which file grew does not matter: every input is read */
    }
    free(p);
}

void mw_follow_start(struct run *r)
{
    struct sigaction sa_stop, sa_hup;
    memset(&sa_stop, 0, sizeof(sa_stop));
    sa_stop.sa_handler = on_stop; /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&sa_stop.sa_mask);
    sa_hup = sa_stop;
    sa_hup.sa_handler = on_hup;
    stop_signal = hup_signal = 0;
    sigaction(SIGINT, &sa_stop, &r->old_int);
    sigaction(SIGTERM, &sa_stop, &r->old_term);
    sigaction(SIGHUP, &sa_hup, &r->old_hup);
    r->metrics_interval =
        r->o->metrics_interval_ms > 0 ? r->o->metrics_interval_ms : 5000;
    r->next_metrics = mw_mono_ms() + r->metrics_interval;
    if (r->o->health_records) {
        json_t *ins = json_array();
        for (int i = 0; i < r->n; i++)
            json_array_append_new(ins, json_string(mw_source_name(r->srcs[i].in)));
        mw_health_emit("started", json_pack("{s:o, s:I, s:I}", "inputs", ins, "rules",
                                            (json_int_t)mw_engine_rule_count(r->e), "pid",
                                            (json_int_t)getpid()));
    }
    mw_log_info("following %d input(s); SIGHUP reloads the rules, SIGINT/SIGTERM stops",
                r->n);
}

/* Inputs quiet: event time keeps running with the wall clock from the
 * newest event seen, held back by --max-lateness (an event that could still
 * arrive in time must still find its windows open). Windows that complete
 * by the passage of time (absence, the end of a threshold or cap interval)
 * fire without waiting for the next event. */
static void advance_idle(struct run *r)
{
    mw_time_t t;
    mw_run_release(r, false); /* held events the clock has caught up with */
    if (mw_merge_idle(r->merge, mw_mono_ms(), &t))
        mw_engine_advance(r->e, t);
}

bool mw_follow_between(struct run *r, bool idle)
{
    const struct mw_run_opts *o = r->o;
    if (stop_signal)
        return false;
    if (hup_signal) {
        hup_signal = 0;
        mw_log_info("SIGHUP: reloading every rule file");
        if (o->reload)
            mw_reload_pass(o->reload, true);
    }
    int64_t now = mw_mono_ms();
    int due = o->reload ? mw_reload_tick(o->reload, now) : -1;
    mw_run_choose_prefilter(r); /* the rules may have changed */
    if (o->metrics_file && now >= r->next_metrics) {
        mw_summary_metrics(r);
        r->next_metrics = now + r->metrics_interval;
    }
    if (r->fl)
        add_new_srcs(r, now);
    if (r->ck && mw_ckpt_due(r->ck, now))
        mw_follow_checkpoint(r);
    if (!idle)
        return true;
    advance_idle(r);
    int wait = FOLLOW_WAIT_MS;
    if (due >= 0 && due < wait)
        wait = due;
    if (o->metrics_file && r->next_metrics - now < wait)
        wait = (int)(r->next_metrics - now > 0 ? r->next_metrics - now : 0);
    follow_wait(r, wait);
    return true;
}

void mw_follow_stop(struct run *r)
{
    /* flush: what the files hold now, including a last line without its
     * newline, is processed before exiting */
    r->draining = true;
    mw_sandbox_interrupt_clear(); /* the drained events still get their rules */
    for (int i = 0; i < r->n && r->ck == NULL; i++)
        mw_source_drain(r->srcs[i].in);
    /* with checkpoints a partial last line stays unread: the run that
     * resumes reads it once its writer has finished it */
    for (int best; (best = mw_run_next(r)) >= 0;)
        mw_run_dispatch(r, &r->srcs[best]);
    const char *why = stop_signal == SIGINT    ? "SIGINT"
                      : stop_signal == SIGTERM ? "SIGTERM"
                                               : "end of input";
    mw_log_info("%s: stopping", why);
    if (r->o->health_records)
        mw_health_emit("stopped", json_pack("{s:s, s:I}", "reason", why, "alerts",
                                            (json_int_t)mw_engine_alerts(r->e)));
    sigaction(SIGINT, &r->old_int, NULL);
    sigaction(SIGTERM, &r->old_term, NULL);
    sigaction(SIGHUP, &r->old_hup, NULL);
    if (r->in_fd >= 0)
        close(r->in_fd);
    r->in_fd = -1;
}

void mw_follow_close(struct run *r)
{
    mw_ckpt_free(r->ck);
    r->ck = NULL;
    mw_follow_free(r->fl);
    r->fl = NULL;
    if (r->in_fd >= 0)
        close(r->in_fd);
    r->in_fd = -1;
}
