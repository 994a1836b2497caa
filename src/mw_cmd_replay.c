#include "mw_cmd.h"
const char *const mw_usage_replay = "";
int mw_cmd_replay(int argc, char **argv) { (void)argc; (void)argv; return 2; }
