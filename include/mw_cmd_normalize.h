/* mw_cmd_normalize.h - `moonwatch normalize`: raw inputs printed as the
 * events rules see (src/cmd/mw_cmd_normalize.c; a row of src/main.c) */
#ifndef MW_CMD_NORMALIZE_H
#define MW_CMD_NORMALIZE_H

int mw_cmd_normalize(int argc, char **argv);
extern const char *const mw_usage_normalize;

#endif
