/* mw_curl.h - libcurl, loaded when the first HTTP output is created
 *
 * libcurl (with its TLS, HTTP/2, IDN, LDAP, Kerberos... dependencies) is 29
 * of the 36 shared libraries a moonwatch linked against it maps at start:
 * about 8 ms of dynamic linking on every run, check or test, and 7% of a
 * prefiltered run over 100,000 lines. Only webhook and Elasticsearch
 * outputs need it, so moonwatch loads it with dlopen the first time one is
 * configured (mw_curl), runs curl_global_init there, and calls it through
 * this table. A missing libcurl is then an error of that output only.
 */
#ifndef MW_CURL_H
#define MW_CURL_H

#define CURL_DISABLE_TYPECHECK /* the table's calls cannot be macro-checked */
#include <curl/curl.h>
#include <time.h>

#include "mw_mem.h"

struct mw_curl_api {
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    CURLHcode (*easy_header)(CURL *, const char *, size_t, unsigned int, int,
                             struct curl_header **);
    time_t (*getdate)(const char *, const time_t *);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
    CURLcode (*global_init)(long);
    void (*global_cleanup)(void);
};

/* Loads libcurl.so.4 and runs curl_global_init, once per process (call it
 * from the main thread, before any thread uses the table). Returns the
 * table, or NULL with err set when the library or a function is missing. */
const struct mw_curl_api *mw_curl(struct mw_error *err);
/* curl_global_cleanup and dlclose, when mw_curl loaded it. At exit. */
void mw_curl_shutdown(void);

#endif
