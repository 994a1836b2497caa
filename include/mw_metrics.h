/* mw_metrics.h - Prometheus text-format metrics in a file, rewritten atomically
 *
 * The node_exporter textfile-collector convention: the whole file is written
 * to PATH.tmp.<pid> and renamed over PATH, so a scraper never reads half a
 * file. The content is rendered from the host's JSON statistics (the same
 * document as `--summary json`), so the summary and the metrics cannot
 * disagree.
 */
#ifndef MW_METRICS_H
#define MW_METRICS_H

#include <jansson.h>
#include <stdio.h>

#include "mw_mem.h"

/* Renders the statistics document (borrowed) as Prometheus text to fp. */
void mw_metrics_render(const json_t *doc, FILE *fp);

/* Renders into PATH.tmp.<pid> and renames it over path. Returns 0, or -1
 * with err set (the previous file, if any, stays). */
int mw_metrics_write(const char *path, const json_t *doc, struct mw_error *err);

#endif
