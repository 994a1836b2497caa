/* norm_int.h - private to src/normalize/: what mw_normset.c asks of a
 * compiled normalizer (mw_norm.c) to choose one for a record */
#ifndef MW_NORM_INT_H
#define MW_NORM_INT_H

#include <stdbool.h>

#include "mw_norm.h"

/* cat equals one of the normalizer's categories or ends in its suffix */
bool mw_norm_takes_category(const struct mw_norm *n, const char *cat);
/* rid starts with the normalizer's resource_prefix, ignoring case */
bool mw_norm_takes_resource(const struct mw_norm *n, const char *rid);

#endif
