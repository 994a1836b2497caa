/* mw_toml.h - a TOML 1.0 reader that builds a jansson tree
 *
 * Elastic's detection-rules repository keeps every rule as a TOML file and
 * Debian 12 packages no C TOML library, so moonwatch reads TOML itself. The
 * reader covers the TOML 1.0 document model: tables, arrays of tables,
 * dotted/bare/quoted keys, the four string forms, integers (decimal, hex,
 * octal, binary), floats, booleans, date-times and arrays/inline tables.
 *
 * The result is a JSON object tree: tables are objects, arrays (static and of
 * tables) are arrays, integers are json integers, floats are reals, and
 * offset date-times, local date-times, local dates and local times are
 * strings holding their TOML text (the corpus never needs them as times).
 * Two TOML values have no JSON form and are refused: `inf` and `nan`, and
 * keys with a NUL byte.
 *
 * Every failure is reported as "name:line:column: message" (column counted
 * in characters from 1), the first error only; duplicate keys, a table
 * defined twice, a table extended through dotted keys from elsewhere, an
 * inline table or a static array extended later are refused as TOML 1.0
 * requires. Nesting is bounded (MW_TOML_MAX_DEPTH levels of tables, arrays
 * and dotted keys together), so any input is parsed without deep recursion.
 */
#ifndef MW_TOML_H
#define MW_TOML_H

#include <jansson.h>
#include <stddef.h>

#include "mw_mem.h"

#define MW_TOML_MAX_DEPTH 64

/* Parses len bytes of src (need not be NUL-terminated; must be UTF-8; a
 * leading BOM is skipped) as a TOML document. name labels error messages
 * (a path, "<string>"); NULL reads as "<toml>". Returns a new reference to
 * the root object, or NULL with err set (err may be NULL). */
json_t *mw_toml_parse(const char *src, size_t len, const char *name,
                      struct mw_error *err);

/* Reads the regular file at path (at most 16 MiB) and parses it, labelling
 * errors with path. Returns a new reference or NULL with err set. */
json_t *mw_toml_load_file(const char *path, struct mw_error *err);

#endif
