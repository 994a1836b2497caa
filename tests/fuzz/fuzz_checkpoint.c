/* fuzz_checkpoint.c - libFuzzer target: the checkpoint loader
 *
 * A checkpoint is untrusted input (docs/SECURITY.md, item 8): anyone who
 * can write the state folder can recompute its trailer. The input is the
 * bytes of STATE/checkpoint; since a trailer with a wrong SHA-256 stops
 * everything at the first check, the target also tries the input with its
 * trailer recomputed (the body: every line but the last), so the fuzzer
 * reaches every section's validation. Each version is loaded by
 * mw_ckpt_open into two engines built once (the shipped rules and the
 * window and sequence rules of tests/fuzz/rules/, with lateness off and
 * 5m, since a sequence state records which), with an alert-shaping state;
 * a checkpoint that loads has its windows advanced and finished (absence
 * fires, expiry runs) and its inputs' positions read back.
 *
 * Seeds: tests/fuzz/corpus/checkpoint/ (real checkpoints of follow runs);
 * tests/fuzz/regressions/checkpoint/ holds the two historical crashes (a
 * flipped digit: use after free of the trailer; a duplicated window group:
 * heap overflow in the window restore).
 */
#include "fuzz_common.h"
#include "mw_checkpoint.h"
#include "mw_engine.h"
#include "mw_file.h"
#include "mw_log.h"
#include "mw_output.h"
#include "mw_sha256.h"
#include "mw_shape.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mw_output *out;
static struct mw_engine *engines[2];
static char lua_dir[4096];
static char state_dir[64];
static char *ckpt_path, *prev_path;

static void cleanup(void)
{
    unlink(ckpt_path);
    unlink(prev_path);
    rmdir(state_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const mw_time_t lateness[2] = {0, 300000000};
    char rules[2][4096];
    struct mw_error err;
    (void)argc;
    (void)argv;
    snprintf(lua_dir, sizeof(lua_dir), "%s/lua", fuzz_root());
    snprintf(rules[0], sizeof(rules[0]), "%s/rules/azure", fuzz_root());
    snprintf(rules[1], sizeof(rules[1]), "%s/tests/fuzz/rules", fuzz_root());
    snprintf(state_dir, sizeof(state_dir), "/tmp/mw-fuzz-ckpt.XXXXXX");
    if (mkdtemp(state_dir) == NULL)
        abort();
    ckpt_path = mw_path_join(state_dir, "checkpoint");
    prev_path = mw_path_join(state_dir, "checkpoint.prev");
    atexit(cleanup);
    mw_log_set_level(MW_LOG_ERROR);
    out = mw_output_new();
    if (mw_output_add(out, "file:/dev/null", &err) < 0) {
        fprintf(stderr, "%s\n", err.msg);
        abort();
    }
    for (int i = 0; i < 2; i++) {
        struct mw_engine_opts eo = {
            .lua_dir = lua_dir,
            .limits = {.mem_max = 16u * 1024 * 1024, .insn_per_call = 20000,
                       .insn_load = 50000000},
            .alert_time_from_events = true,
            .max_open_keys = 1000,
            .lateness = lateness[i],
            .quarantine_after = 100,
        };
        char *paths[2] = {rules[0], rules[1]};
        engines[i] = mw_engine_new(&eo, mw_output_write_to, out);
        if (mw_engine_load(engines[i], paths, 2) != 0)
            abort();
    }
    return 0;
}

static void put(const void *data, size_t size)
{
    FILE *fp = fopen(ckpt_path, "wb");
    if (fp == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    unlink(prev_path);
}

static void load(struct mw_engine *e)
{
    struct mw_ckpt_run run;
    struct mw_error err;
    bool resumed;
    struct mw_shape *shape = mw_shape_open(NULL, NULL, out, &err);
    struct mw_ckpt *c = mw_ckpt_open(state_dir, 0, e, shape, &run, &resumed, &err);
    if (c != NULL) {
        json_decref(mw_ckpt_input(c, "in.ndjson"));
        if (resumed) {
            mw_engine_advance(e, run.now + INT64_C(3600000000));
            mw_engine_finish(e);
        }
        mw_ckpt_free(c);
    }
    mw_shape_free(shape);
}

/* The input with its trailer recomputed over every line but the last. */
static char *resealed(const uint8_t *data, size_t size, size_t *len)
{
    size_t body = size;
    while (body > 0 && data[body - 1] == '\n')
        body--;
    while (body > 0 && data[body - 1] != '\n')
        body--;
    size_t lines = 0;
    for (size_t i = 0; i < body; i++)
        lines += data[i] == '\n';
    char hex[65];
    mw_sha256_hex(data, body, hex);
    char trailer[128];
    int n = snprintf(trailer, sizeof(trailer), "{\"end\":{\"lines\":%zu,\"sha256\":\"%s\"}}\n",
                     lines, hex);
    char *s = malloc(body + (size_t)n + 1);
    memcpy(s, data, body);
    memcpy(s + body, trailer, (size_t)n);
    *len = body + (size_t)n;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    char *fixed = resealed(data, size, &len);
    for (int i = 0; i < 2; i++) {
        put(data, size);
        load(engines[i]);
        put(fixed, len);
        load(engines[i]);
    }
    free(fixed);
    return 0;
}
