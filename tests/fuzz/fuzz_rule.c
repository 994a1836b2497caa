/* fuzz_rule.c - libFuzzer target: rule loading
 *
 * The input is written to a .lua file and loaded with mw_rule_load in a
 * fresh sandbox with small limits (8 MiB, 200,000 instructions to load,
 * 20,000 per call). A rule that loads is then exercised: its metadata and
 * shape are read, its `where` matcher (query rules) is evaluated on the two
 * events of the Arc true positive, and its on_alert hook, if any, is run on
 * a small alert document. The seed corpus holds the shipped rules and the
 * test rules; tests/fuzz/rule.dict the API's words.
 */
#include "fuzz_common.h"
#include "mw_event.h"
#include "mw_rule.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char rule_dir[64];
static char rule_path[4096];
static char lua_dir[4096];
static struct mw_event *events[2];

static void cleanup(void)
{
    unlink(rule_path);
    rmdir(rule_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(rule_dir, sizeof(rule_dir), "/tmp/mw-fuzz-rule.XXXXXX");
    if (mkdtemp(rule_dir) == NULL)
        abort();
    snprintf(rule_path, sizeof(rule_path), "%s/rule.lua", rule_dir);
    atexit(cleanup);
    snprintf(lua_dir, sizeof(lua_dir), "%s/lua", fuzz_root());
    for (int i = 0; i < 2; i++) {
        json_t *root = fuzz_template(i);
        mw_time_t ts;
        if (mw_time_from_json(json_object_get(root, "@timestamp"), &ts) != 0)
            abort();
        events[i] = mw_event_new(root, ts, "fuzz", (uint64_t)i + 1, 0, (uint64_t)i);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *fp = fopen(rule_path, "wb");
    if (fp == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);

    struct mw_sandbox_limits limits = {
        .mem_max = 8u * 1024 * 1024,
        .insn_per_call = 20000,
        .insn_load = 200000,
    };
    struct mw_error err;
    err.msg[0] = '\0';
    struct mw_rule *r = mw_rule_load(rule_path, lua_dir, &limits, &err);
    if (r == NULL) {
        if (err.msg[0] == '\0')
            abort();    /* a failure always says why */
        return 0;
    }
    const struct mw_rule_meta *meta = mw_rule_meta(r);
    if (meta == NULL || meta->id == NULL || mw_rule_shape(r) == NULL)
        abort();
    (void)mw_rule_file(r);
    (void)mw_rule_policy(r);
    (void)mw_rule_mem_used(r);
    if (mw_rule_kind(r) == MW_RULE_QUERY) {
        const struct mw_matcher *m = mw_rule_where(r);
        if (m == NULL)
            abort();
        for (int i = 0; i < 2; i++) {
            enum mw_tv tv = mw_matcher_eval(m, events[i], mw_rule_ctx(r));
            if (tv != MW_TRUE && tv != MW_FALSE && tv != MW_NULL)
                abort();
        }
    }
    if (mw_rule_has_hook(r)) {
        json_t *alert = json_pack("{s:s, s:{s:s, s:i, s:i}, s:{s:s}, s:{s:s, s:s, s:[{s:O}]}}",
                                  "message", "fuzz", "event", "id", "fuzz-alert",
                                  "severity", 21, "risk_score", 21, "rule", "id",
                                  meta->id, "moonwatch", "type", "query",
                                  "severity", "low", "events", "event", events[0]->root);
        if (alert == NULL)
            abort();
        (void)mw_rule_on_alert(r, alert);
        json_decref(alert);
    }
    mw_rule_free(r);
    return 0;
}
