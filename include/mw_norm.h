/* mw_norm.h - normalizers: raw records (Azure diagnostic logs, ...) to the
 * ECS documents rules read, as compiled C mappings
 *
 * A normalizer is declared in a Lua script (normalizers/azure/NAME.lua, read by
 * src/lua/mw_lnorm.c into a JSON descriptor) and compiled here into a list
 * of steps that run per record without entering Lua: constants, copies of
 * the first non-empty raw field (with IP, lower-case and allowed-value
 * filters), @timestamp from a time field, an outcome from an error code,
 * and the whole raw record snake-cased under a path (renames, claim keys
 * with '.' -> '_', fields given as JSON strings parsed). The descriptor's
 * keys are documented in docs/AZURE.md.
 *
 * A set (struct mw_normset) holds the normalizers of a folder and picks one
 * per record: by the dataset the input names (dataset=), else by the
 * record's category (category, Category or CategoryValue), else by a
 * resource-id prefix a normalizer declares. Sets and normalizers are
 * immutable once built, so one set can serve several sources.
 */
#ifndef MW_NORM_H
#define MW_NORM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mw_mem.h"

struct mw_norm;
struct mw_normset;

/* Compiles a descriptor (borrowed; the JSON a normalizer script returns).
 * origin names the script in messages ("normalizers/azure/x.lua: ...").
 * Returns a new normalizer, or NULL with err set. */
struct mw_norm *mw_norm_compile(const json_t *desc, const char *origin,
                                struct mw_error *err);
void mw_norm_free(struct mw_norm *n); /* NULL is a no-op */
const char *mw_norm_name(const struct mw_norm *n);
const char *mw_norm_dataset(const struct mw_norm *n);
/* Whether the script asked for the text repair of "":"", (activity logs). */
bool mw_norm_repairs_empty_keys(const struct mw_norm *n);

/* Applies n to rec (borrowed). Returns a new reference to the normalized
 * document, or NULL with err set (no usable time, ...). */
json_t *mw_norm_apply(const struct mw_norm *n, const json_t *rec, struct mw_error *err);

/* ---- sets ---- */

/* An empty set; mw_normset_add takes ownership of n (freed on error too). */
struct mw_normset *mw_normset_new(void);
int mw_normset_add(struct mw_normset *s, struct mw_norm *n, struct mw_error *err);
void mw_normset_free(struct mw_normset *s); /* NULL is a no-op */
size_t mw_normset_count(const struct mw_normset *s);
const struct mw_norm *mw_normset_at(const struct mw_normset *s, size_t i);
/* The normalizer of a dataset name ("azure.signinlogs"), or NULL. */
const struct mw_norm *mw_normset_by_dataset(const struct mw_normset *s,
                                            const char *dataset);
/* The normalizer for rec: dataset (may be NULL) first, then the category,
 * then the resource-id prefix. NULL when none fits, with why set. */
const struct mw_norm *mw_normset_pick(const struct mw_normset *s, const json_t *rec,
                                      const char *dataset, struct mw_error *why);
bool mw_normset_repairs_empty_keys(const struct mw_normset *s);

/* Loads every *.lua file of dir (sorted by name; sub-folders one level
 * down too) through the Lua reader. Returns a new set, or NULL with err
 * set (the first file that fails, with its name). */
struct mw_normset *mw_normset_load(const char *dir, struct mw_error *err);
/* The normalizers folder when none is given: $MOONWATCH_NORMALIZERS,
 * <exe>/../normalizers, the installed location. Returns the environment
 * string, buf or a constant. */
const char *mw_normset_default_dir(char *buf, size_t size);

/* A record looks like raw Azure: "time" and "operationName" or "category"
 * at the top, and neither "@timestamp" nor event.dataset. */
bool mw_norm_looks_raw_azure(const json_t *rec);

/* Removes every `"":"",` from text[0..*len) in place (the empty-key repair
 * of Elastic's activity-log pipeline); returns how many were removed. */
size_t mw_norm_repair_text(char *text, size_t *len);

#endif
