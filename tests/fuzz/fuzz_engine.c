/* fuzz_engine.c - libFuzzer target: the matchers, sequence and window
 * engines on fuzzed event streams
 *
 * A fresh engine per input loads the shipped rules (the seed sequence rule
 * and the two first-seen rules), the window and sequence rules of
 * tests/fuzz/rules/ and the on_alert hook rule of the shaping tests. The
 * input is a stream of 5-byte records, each turned into a realistic event:
 * a copy of the sign-in or the listing of the Arc true positive whose app
 * id, source IP, principal name, outcome and time offset come from the
 * bytes, and whose rule fields may get a wrong type (error_code "0", an
 * object for event.category, an array, object, number or null as join key,
 * a missing key). The first byte picks the lateness bound and the cap on
 * open keys. Events are dispatched as mw_run does: in arrival order, one
 * further behind "now" than the lateness is counted late instead; the
 * windows are advanced now and then, and finished at the end.
 */
#include "fuzz_common.h"
#include "mw_engine.h"
#include "mw_log.h"
#include "mw_output.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EVENTS 400

static json_t *templ[2];
static struct mw_output *out;
static char lua_dir[4096];
static char rule_paths[3][4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct mw_error err;
    templ[0] = fuzz_template(0);
    templ[1] = fuzz_template(1);
    snprintf(lua_dir, sizeof(lua_dir), "%s/lua", fuzz_root());
    snprintf(rule_paths[0], sizeof(rule_paths[0]), "%s/rules/azure", fuzz_root());
    snprintf(rule_paths[1], sizeof(rule_paths[1]), "%s/tests/fuzz/rules", fuzz_root());
    snprintf(rule_paths[2], sizeof(rule_paths[2]),
             "%s/tests/fixtures/rules/shaping/signin_hook.lua", fuzz_root());
    mw_log_set_level(MW_LOG_ERROR);
    out = mw_output_new();
    if (mw_output_add(out, "file:/dev/null", &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    return 0;
}

/* Sets a value at a dotted path of nested objects (creating them); steals v. */
static void set_path(json_t *root, const char *dotted, json_t *v)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", dotted);
    json_t *o = root;
    char *seg = buf, *dot;
    while ((dot = strchr(seg, '.')) != NULL) {
        *dot = '\0';
        json_t *next = json_object_get(o, seg);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(o, seg, next);
        }
        o = next;
        seg = dot + 1;
    }
    if (v == NULL)
        json_object_del(o, seg);
    else
        json_object_set_new(o, seg, v);
}

static json_t *key_value(unsigned variant, const char *app)
{
    switch (variant) {
    case 0: return json_pack("[s]", app);
    case 1: return json_pack("{s:s}", "id", app);
    case 2: return json_integer(7);
    case 3: return json_null();
    default: return NULL;     /* removed */
    }
}

/* One 5-byte record -> one event document (new reference). */
static json_t *make_event(const uint8_t *b, mw_time_t ts)
{
    static const char *const apps[] = {
        "6131d760-7fda-4db5-8bb1-b771898e9f15", "6131D760-7FDA-4DB5-8BB1-B771898E9F15",
        "app-2", "app-3", "", "app-5", "app-6", "app-7"};
    static const char *const ips[] = {"1.128.3.4", "9.9.9.9", "2001:db8::1", "10.0.0.1"};
    static const char *const names[] = {"Terraform-Datadog-CLI", "Backup-Agent",
                                        "Hook-Raises", "Hook-Bad-Severity"};
    static const char *const outcomes[] = {"success", "Success", "failure", "unknown"};
    bool listing = b[0] & 1;
    unsigned mutation = (b[0] >> 1) & 15;
    const char *app = apps[b[1] & 7];
    json_t *ev = json_deep_copy(templ[listing]);
    char when[MW_TIME_FORMAT_SIZE];

    mw_time_format(ts, when, sizeof(when));
    json_object_set_new(ev, "@timestamp", json_string(when));
    set_path(ev, "source.ip", json_string(ips[(b[1] >> 3) & 3]));
    set_path(ev, "event.outcome", json_string(outcomes[(b[1] >> 5) & 3]));
    if (listing) {
        set_path(ev, "azure.activitylogs.identity.claims.appid", json_string(app));
    } else {
        set_path(ev, "azure.signinlogs.properties.app_id", json_string(app));
        set_path(ev, "azure.signinlogs.properties.service_principal_name",
                 json_string(names[(b[4] >> 4) & 3]));
    }
    const char *key = listing ? "azure.activitylogs.identity.claims.appid"
                              : "azure.signinlogs.properties.app_id";
    switch (mutation) {
    case 1: set_path(ev, "azure.signinlogs.properties.status.error_code", json_string("0")); break;
    case 2: set_path(ev, "event.category", json_pack("{s:s}", "name", "authentication")); break;
    case 3: case 4: case 5: case 6: case 7:
        set_path(ev, key, key_value(mutation - 3, app)); break;
    case 8: set_path(ev, "event.category", json_pack("[ss]", "iam", "authentication")); break;
    case 9: set_path(ev, "event.dataset", json_true()); break;
    case 10: set_path(ev, "source.ip", json_pack("[ss]", "9.9.9.9", "1.128.3.4")); break;
    case 11: set_path(ev, "azure.activitylogs.operation_name",
                      json_string("microsoft.kubernetes/connectedclusters/"
                                  "listclusterusercredential/action")); break;
    default: break;
    }
    return ev;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const mw_time_t lateness[] = {0, 1000000, 60000000, 300000000, 3600000000};
    static const size_t caps[] = {2, 16, 1000000};
    if (size < 1)
        return 0;
    struct mw_engine_opts eo = {
        .lua_dir = lua_dir,
        .limits = {.mem_max = 16u * 1024 * 1024, .insn_per_call = 20000,
                   .insn_load = 50000000},
        .alert_time_from_events = true,
        .max_open_keys = caps[(data[0] >> 3) % 3],
        .lateness = lateness[(data[0] & 7) % 5],
        .quarantine_after = 100,
    };
    char *paths[3] = {rule_paths[0], rule_paths[1], rule_paths[2]};
    struct mw_engine *e = mw_engine_new(&eo, mw_output_write_to, out);
    if (mw_engine_load(e, paths, 3) != 0)
        abort();
    data++;
    size--;

    mw_time_t t = INT64_C(1760432400000000);   /* 2025-10-14T09:00:00Z */
    mw_time_t now = 0;
    bool started = false;
    for (size_t i = 0; i + 5 <= size && i / 5 < MAX_EVENTS; i += 5) {
        const uint8_t *b = data + i;
        /* time moves by a signed number of seconds (and milliseconds) */
        int16_t d = (int16_t)((uint16_t)b[2] | (uint16_t)b[3] << 8);
        t += (mw_time_t)d * 1000000 / ((b[4] & 8) ? 64 : 1) + (b[4] & 7) * 1000;
        json_t *root = make_event(b, t);
        struct mw_event *ev = mw_event_new(root, t, "fuzz", i / 5 + 1, i, i / 5);
        if (started && ev->ts < now - eo.lateness) {
            mw_engine_count_late(e, ev);
        } else {
            if (!started || ev->ts > now)
                now = ev->ts;
            started = true;
            mw_engine_dispatch(e, ev);
        }
        mw_event_unref(ev);
        if ((b[0] & 0xe0) == 0xe0 && started)
            mw_engine_advance(e, now + (mw_time_t)b[4] * 60000000);
    }
    mw_engine_finish(e);
    json_decref(mw_engine_stats(e));
    mw_engine_free(e);
    return 0;
}
