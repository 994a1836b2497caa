/* parse_loop.c - the benchmark's baseline: a bare jansson parse loop
 *
 *   parse_loop [--pool] FILE...
 *
 * --pool: jansson allocates from moonwatch's allocator (mw_pool) instead of
 * malloc, to tell how much of a difference is the allocator's.
 *
 * Reads each file in 64 KiB chunks, frames lines with memchr, parses each
 * with json_loadb (JSON_REJECT_DUPLICATES, as moonwatch does) and frees it.
 * Nothing else: no timestamps, no rules. Prints one JSON object with the
 * number of events and bytes, so the runner can check it saw the corpus.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mw_pool.h"

int main(int argc, char **argv)
{
    size_t cap = 1 << 20;
    char *buf = malloc(cap);
    unsigned long long events = 0, bytes = 0, bad = 0;
    int first = 1;

    if (argc > 1 && strcmp(argv[1], "--pool") == 0) {
        json_set_alloc_funcs(mw_pool_alloc, mw_pool_free);
        first = 2;
    }
    if (argc <= first || buf == NULL) {
        fprintf(stderr, "usage: parse_loop [--pool] FILE...\n");
        return 2;
    }
    for (int f = first; f < argc; f++) {
        int fd = open(argv[f], O_RDONLY);
        size_t start = 0, end = 0;
        if (fd < 0) {
            perror(argv[f]);
            return 2;
        }
        for (;;) {
            if (start > 0) {
                memmove(buf, buf + start, end - start);
                end -= start;
                start = 0;
            }
            if (end == cap) {
                cap *= 2;
                buf = realloc(buf, cap);
                if (buf == NULL)
                    return 2;
            }
            ssize_t n = read(fd, buf + end, cap - end < 65536 ? cap - end : 65536);
            if (n < 0) {
                perror(argv[f]);
                return 2;
            }
            end += (size_t)n;
            for (;;) {
                char *nl = memchr(buf + start, '\n', end - start);
                size_t len;
                if (nl == NULL && !(n == 0 && end > start))
                    break;
                len = nl ? (size_t)(nl - (buf + start)) : end - start;
                json_error_t err;
                json_t *j = json_loadb(buf + start, len, JSON_REJECT_DUPLICATES, &err);
                if (j != NULL)
                    events++;
                else
                    bad++;
                json_decref(j);
                bytes += len + (nl ? 1 : 0);
                start += len + (nl ? 1 : 0);
            }
            if (n == 0)
                break;
        }
        close(fd);
    }
    printf("{\"events\":%llu,\"bytes\":%llu,\"bad\":%llu}\n", events, bytes, bad);
    free(buf);
    return 0;
}
