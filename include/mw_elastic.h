/* mw_elastic.h - Elastic detection-rules files as moonwatch rules
 *
 * The front-end of `.toml` rule files from elastic/detection-rules
 * (src/frontend/elastic_rule.c, registered in src/frontend/mw_frontend.c):
 * the TOML reader (mw_toml.h) gives the document, its [rule] table is read
 * here, the KQL query goes through mw_kql_emit, and the rule is built with
 * the rule builder (mw_builder.h), like every front-end's. Rule types:
 * `query` (kuery) -> a single-event rule, `threshold` -> the threshold or
 * the distinct window, `new_terms` -> the new_terms window; `eql`, `esql`,
 * `machine_learning` and `threat_match` are refused with a reason.
 * docs/ELASTIC.md has the whole mapping (metadata, index patterns, what is
 * not carried).
 */
#ifndef MW_ELASTIC_H
#define MW_ELASTIC_H

#include <jansson.h>

#include "mw_mem.h"
#include "mw_rulecode.h"

struct mw_rule;

/* What a load found, for the import check: the rule's type ("query",
 * "eql", ...; "" when unreadable) and, when the rule was not loaded, a
 * short static text naming why (a refusal class such as "eql: needs the EQL
 * front-end"), or NULL when the failure is an error whose text is in err. */
struct mw_elastic_info {
    char type[32];
    const char *reason;
};

/* Builds a rule from an Elastic rule object (the [rule] table of a
 * detection-rules TOML file, or one rule of a Kibana export: the same
 * snake_case fields). origin names the file in messages. NULL with err set
 * ("origin: message") when the rule is refused or invalid. info may be
 * NULL. */
struct mw_rule *mw_elastic_build(const json_t *rule, const char *origin,
                                 struct mw_elastic_info *info, struct mw_error *err);

/* Reads a detection-rules TOML file and builds its rule. */
struct mw_rule *mw_elastic_load_file(const char *path, struct mw_elastic_info *info,
                                     struct mw_error *err);

/* The front-end entry point (mw_frontend.h's mw_frontend_load_fn): Lua is
 * not involved, so lua_dir and limits are unused. */
struct mw_rule *mw_elastic_load(const char *path, const char *lua_dir,
                                const struct mw_sandbox_limits *limits,
                                struct mw_error *err);

#endif
