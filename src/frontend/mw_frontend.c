/* mw_frontend.c - the table of rule front-ends (see mw_frontend.h)
 *
 * Adding a rule language: write its front-end (a load function that
 * parses the file and builds the rule through mw_builder.h), declare it
 * here, and add one row to the table.
 */
#include "mw_frontend.h"
#include "mw_elastic.h"
#include "mw_eql.h"
#include "mw_rule.h"

#include <string.h>

static const struct mw_frontend frontends[] = {
    {".lua", "lua", mw_rule_load},
    {".eql", "eql", mw_eql_load},          /* EQL with a comment header (mw_eql.h) */
    {".toml", "elastic", mw_elastic_load}, /* detection-rules TOML (mw_elastic.h) */
};

#define NFRONTENDS (sizeof(frontends) / sizeof(frontends[0]))

const struct mw_frontend *mw_frontend_for(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < NFRONTENDS; i++) {
        size_t sl = strlen(frontends[i].suffix);
        if (len > sl && strcmp(name + len - sl, frontends[i].suffix) == 0)
            return &frontends[i];
    }
    return NULL;
}

bool mw_frontend_accepts(const char *name)
{
    return mw_frontend_for(name) != NULL;
}

struct mw_rule *mw_frontend_load(const char *path, const char *lua_dir,
                                 const struct mw_sandbox_limits *limits,
                                 struct mw_error *err)
{
    const struct mw_frontend *f = mw_frontend_for(path);
    return (f ? f->load : mw_rule_load)(path, lua_dir, limits, err);
}
