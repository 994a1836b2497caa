/* mw_curl.c - libcurl loaded on first use (see mw_curl.h) */
#include "curl_int.h"

#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

static struct mw_curl_api api;
static void *lib;
static int state; /* 0 not tried, 1 loaded, -1 failed */
static char failure[400];

#define SYM(field, name)                                                                 \
    {                                                                                    \
        offsetof(struct mw_curl_api, field), name                                        \
    }

static const struct {
    size_t off;
    const char *name;
} syms[] = {
    SYM(easy_init, "curl_easy_init"),
    SYM(easy_cleanup, "curl_easy_cleanup"),
    SYM(easy_reset, "curl_easy_reset"),
    SYM(easy_setopt, "curl_easy_setopt"),
    SYM(easy_perform, "curl_easy_perform"),
    SYM(easy_getinfo, "curl_easy_getinfo"),
    SYM(easy_strerror, "curl_easy_strerror"),
    SYM(easy_header, "curl_easy_header"),
    SYM(getdate, "curl_getdate"),
    SYM(slist_append, "curl_slist_append"),
    SYM(slist_free_all, "curl_slist_free_all"),
    SYM(global_init, "curl_global_init"),
    SYM(global_cleanup, "curl_global_cleanup"),
};

static int load(void)
{
    lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(failure, sizeof(failure),
                 "cannot load libcurl (libcurl.so.4: %s); "
                 "HTTP outputs need it (Debian: apt-get install libcurl4)",
                 dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        void *f = dlsym(lib, syms[i].name);
        if (f == NULL) {
            snprintf(failure, sizeof(failure),
                     "libcurl.so.4 lacks %s (needs curl 7.84 "
                     "or later)",
                     syms[i].name);
            dlclose(lib);
            lib = NULL;
            return -1;
        }
        /* POSIX guarantees a data pointer from dlsym converts to a function
         * pointer; memcpy says so without a cast C forbids */
        memcpy((char *)&api + syms[i].off, &f, sizeof(f));
    }
    if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(failure, sizeof(failure), "curl_global_init failed");
        dlclose(lib);
        lib = NULL;
        return -1;
    }
    return 1;
}

const struct mw_curl_api *mw_curl(struct mw_error *err)
{
    if (state == 0)
        state = load();
    if (state < 0) {
        mw_error_set(err, "%s", failure);
        return NULL;
    }
    return &api;
}

void mw_curl_shutdown(void)
{
    if (state == 1) {
        api.global_cleanup();
        dlclose(lib);
        lib = NULL;
    }
    state = 0;
}
