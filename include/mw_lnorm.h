/* mw_lnorm.h - the Lua reader of normalizer scripts
 *
 * A normalizer script (normalizers/azure/signinlogs.lua) returns a table of
 * declarations. It runs in a fresh sandbox (mw_sandbox: memory and
 * instruction caps, no io/os), and its table is copied to JSON and
 * compiled by mw_norm_compile; the Lua state is closed before this returns,
 * so applying a normalizer never enters Lua. A table holding a function is
 * refused (docs/AZURE.md: declarations only, for now).
 */
#ifndef MW_LNORM_H
#define MW_LNORM_H

#include "mw_mem.h"
#include "mw_norm.h"

/* Loads the script at path. Returns a new normalizer, or NULL with err set
 * ("path:line: ..." for Lua errors, "path: ..." for declarations). */
struct mw_norm *mw_lnorm_load(const char *path, struct mw_error *err);

#endif
