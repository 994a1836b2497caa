/* mw_source.c - the table of input kinds and the generic source handle
 *
 * A spec "SCHEME:REST" whose SCHEME is in the table below opens that kind
 * with REST; any other spec is a file path (src_file.c). The handle keeps
 * what every kind needs the same way (the line counters that summaries and
 * metrics read) and forwards everything else to the kind's ops.
 *
 * Adding a kind: write src/ingest/src_<kind>.c defining
 * `const struct mw_source_ops mw_src_<kind>_ops`, and add its extern line
 * and its entry to `kinds` here.
 */
#include "mw_source.h"

#include <stdlib.h>
#include <string.h>

extern const struct mw_source_ops mw_src_file_ops;     /* src_file.c */
extern const struct mw_source_ops mw_src_kafka_ops;    /* src_kafka.c */
extern const struct mw_source_ops mw_src_eventhub_ops; /* src_kafka.c */

extern const struct mw_source_ops mw_src_azure_ops; /* src_azure.c: azure:PATH */

static const struct mw_source_ops *const kinds[] = {
    &mw_src_file_ops, /* first: the kind of a plain path */
    &mw_src_azure_ops,
    &mw_src_kafka_ops,
    &mw_src_eventhub_ops,
};

struct mw_source {
    const struct mw_source_ops *ops; /* borrowed: static */
    void *impl;                      /* owned, through ops->close */
    struct mw_input_stats stats;
};

const struct mw_source_ops *mw_source_kind(const char *spec, const char **rest)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        size_t n = strlen(kinds[i]->scheme);
        if (strncmp(spec, kinds[i]->scheme, n) == 0 && spec[n] == ':') {
            *rest = spec + n + 1;
            return kinds[i];
        }
    }
    *rest = spec;
    return kinds[0];
}

struct mw_source *mw_source_open(const char *spec, const struct mw_source_opts *o,
                                 struct mw_error *err)
{
    const char *rest;
    const struct mw_source_ops *ops = mw_source_kind(spec, &rest);
    struct mw_source_opts def = {0};
    void *impl = ops->open(rest, o ? o : &def, err);
    if (impl == NULL)
        return NULL;
    struct mw_source *s = xcalloc(1, sizeof(*s));
    s->ops = ops;
    s->impl = impl;
    return s;
}

void mw_source_close(struct mw_source *s)
{
    if (s == NULL)
        return;
    s->ops->close(s->impl);
    free(s);
}

const char *mw_source_name(const struct mw_source *s)
{
    return s->ops->name(s->impl);
}

const char *mw_source_scheme(const struct mw_source *s)
{
    return s->ops->scheme;
}

struct mw_input_stats *mw_source_stats(struct mw_source *s)
{
    return &s->stats;
}

enum mw_line_status mw_source_next(struct mw_source *s, struct mw_line *line,
                                   struct mw_error *err)
{
    return s->ops->next(s->impl, line, err);
}

int mw_source_position(struct mw_source *s, const struct mw_line *at, json_t **pos)
{
    *pos = NULL;
    if (s->ops->position(s->impl, at, pos) < 0)
        return -1;
    if (*pos != NULL)
        json_object_set_new(*pos, "scheme", json_string(s->ops->scheme));
    return 0;
}

void mw_source_resume(struct mw_source *s, const json_t *pos)
{
    const char *scheme = json_string_value(json_object_get(pos, "scheme"));
    if (pos == NULL)
        return;
    /* checkpoints written before kinds existed have no scheme: files */
    if (strcmp(scheme ? scheme : "file", s->ops->scheme) != 0)
        return;
    s->ops->resume(s->impl, pos);
}

void mw_source_committed(struct mw_source *s, const json_t *pos)
{
    if (s->ops->committed && pos != NULL)
        s->ops->committed(s->impl, pos);
}

int mw_source_describe(struct mw_source *s, uint64_t lineno, char *buf, size_t n)
{
    return s->ops->describe ? s->ops->describe(s->impl, lineno, buf, n) : -1;
}

int mw_source_poll_fd(struct mw_source *s)
{
    return s->ops->poll_fd ? s->ops->poll_fd(s->impl) : -1;
}

const char *mw_source_watch_path(struct mw_source *s)
{
    return s->ops->watch_path ? s->ops->watch_path(s->impl) : NULL;
}

void mw_source_drain(struct mw_source *s)
{
    if (s->ops->drain)
        s->ops->drain(s->impl);
}

uint64_t mw_source_bytes_read(struct mw_source *s)
{
    return s->ops->bytes_read ? s->ops->bytes_read(s->impl) : 0;
}
