/* mw_cmd_util.c - helpers shared by the subcommands */
#include "mw_cmd.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MW_DEFAULT_LUA_DIR
#define MW_DEFAULT_LUA_DIR "/usr/local/share/moonwatch/lua"
#endif

const char *mw_find_lua_dir(const char *opt, char *buf, size_t size)
{
    struct stat sb;
    char exe[PATH_MAX];
    ssize_t n;

    if (opt)
        return opt;
    if (getenv("MOONWATCH_LUA_DIR"))
        return getenv("MOONWATCH_LUA_DIR");
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, size, "%s/../lua", exe);
            if (stat(buf, &sb) == 0 && S_ISDIR(sb.st_mode))
                return buf;
        }
    }
    return MW_DEFAULT_LUA_DIR;
}

int mw_parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    if (s[0] == '-' || s[0] == '\0')
        return -1;
    v = strtoull(s, &end, 10);
    if (*end == 'k' || *end == 'K') {
        v *= 1024;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        v *= 1024 * 1024;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        v *= 1024ULL * 1024 * 1024;
        end++;
    }
    if (*end != '\0' || v == 0)
        return -1;
    *out = (size_t)v;
    return 0;
}
