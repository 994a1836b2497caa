/* mw_field.h - dotted field paths over jansson trees
 *
 * A path such as "azure.signinlogs.properties.app_id" is split once, at rule
 * load, into segments; every joined run of segments ("a.b", "a.b.c", ...) is
 * precomputed too, so a lookup allocates nothing. Lookup resolves through
 * nested objects, flattened dotted keys ({"a.b": {"c": 1}}), mixes of both,
 * and numeric segments index arrays ("target_resources.0.display_name").
 * When several spellings exist in one document, the most nested one wins.
 */
#ifndef MW_FIELD_H
#define MW_FIELD_H

#include <jansson.h>
#include <stdbool.h>

#define MW_PATH_MAX_SEGMENTS 32

struct mw_path;

/* Compiles a dotted path. Rejects NULL, "", leading/trailing/double dots and
 * more than MW_PATH_MAX_SEGMENTS segments (returns NULL). */
struct mw_path *mw_path_new(const char *dotted);
void mw_path_free(struct mw_path *p);
/* The path as written. Borrowed, valid while p lives. */
const char *mw_path_str(const struct mw_path *p);

/* Returns a borrowed reference to the value at p in root, valid while root
 * lives, or NULL when absent. A JSON null is returned as json_null(). */
json_t *mw_path_get(const json_t *root, const struct mw_path *p);

/* true when the value is absent or JSON null */
static inline bool mw_value_is_null(const json_t *v)
{
    return v == NULL || json_is_null(v);
}

#endif
