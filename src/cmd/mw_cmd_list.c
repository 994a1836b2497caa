/* mw_cmd_list.c - `moonwatch list`: the rules, as a table or JSON
 *
 * Each rule file is loaded in its sandbox (as `check` does) and shown with
 * its id, name, severity, MITRE ATT&CK techniques (sub-techniques when the
 * rule names them) and state: "loaded", or "failed" with the load error.
 * Quarantine is a state of a running `run`: with --metrics-file, the rules
 * that host's Prometheus textfile reports as quarantined
 * (moonwatch_rule_quarantined{rule_id="..."} 1) are listed as "quarantined".
 */
#include "mw_frontend.h"
#include "mw_cmd.h"
#include "mw_buf.h"
#include "mw_engine.h"
#include "mw_log.h"
#include "mw_rule.h"

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const mw_usage_list =
    "usage: moonwatch list [--format text|json] [--metrics-file PATH] [--lua-dir DIR] "
    "[PATH...]\n"
    "\n"
    "Loads every rule (PATH: files or folders; default: rules) and lists it\n"
    "with id, name, severity, MITRE ATT&CK techniques and state (loaded or\n"
    "failed, with the error; quarantined when a running host's metrics file\n"
    "says so). Exit 0, or 2 on usage errors.\n"
    "\n"
    "Options:\n"
    "      --format F      text (default, a table) or json (an array)\n"
    "      --metrics-file PATH  a running host's --metrics-file: rules it has\n"
    "                      quarantined are listed as quarantined\n"
    "      --lua-dir DIR   folder of the moonwatch Lua modules\n"
    "  -h, --help          this help\n";

/* MITRE technique ids of a rule's threat list: sub-techniques where given,
 * else techniques, in order, without repeats. New reference (array). */
static json_t *techniques(const json_t *threat)
{
    json_t *out = json_array();
    size_t i, k, j;
    json_t *e, *t, *st;
    json_array_foreach(threat, i, e)
    {
        json_array_foreach(json_object_get(e, "technique"), k, t)
        {
            json_t *subs = json_object_get(t, "subtechnique");
            json_t *ids = json_array();
            if (json_array_size(subs) > 0)
                json_array_foreach(subs, j, st)
                    json_array_append(ids, json_object_get(st, "id"));
            else
                json_array_append(ids, json_object_get(t, "id"));
            json_t *id;
            json_array_foreach(ids, j, id)
            {
                bool seen = false;
                size_t m;
                json_t *have;
                json_array_foreach(out, m, have) if (json_equal(have, id)) seen = true;
                if (!seen && json_is_string(id))
                    json_array_append(out, id);
            }
            json_decref(ids);
        }
    }
    return out;
}

static char *join(const json_t *arr)
{
    struct mw_buf b = MW_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (i)
            mw_buf_addc(&b, ',');
        mw_buf_add(&b, json_string_value(v), json_string_length(v));
    }
    return mw_buf_detach(&b, NULL);
}

/* Rule ids a running host reports as quarantined in its metrics textfile:
 * lines `moonwatch_rule_quarantined{rule_id="ID"} 1`. Returns a new JSON
 * array, or NULL (with a message) when the file cannot be read. */
static json_t *quarantined_ids(const char *path)
{
    static const char prefix[] = "moonwatch_rule_quarantined{rule_id=\"";
    FILE *fp = fopen(path, "r");
    char line[4096];
    json_t *ids;

    if (fp == NULL) {
        mw_log_error("--metrics-file %s: cannot read it", path);
        return NULL;
    }
    ids = json_array();
    while (fgets(line, sizeof(line), fp)) {
        char id[1024];
        size_t n = 0;
        const char *p;
        if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
            continue;
        for (p = line + sizeof(prefix) - 1; *p && *p != '"' && n + 1 < sizeof(id); p++) {
            if (*p == '\\' && p[1])
                p++;
            id[n++] = *p;
        }
        id[n] = '\0';
        if (*p != '"' || strncmp(p, "\"} ", 3) != 0)
            continue;
        if (atoll(p + 3) != 0)
            json_array_append_new(ids, json_string(id));
    }
    fclose(fp);
    return ids;
}

int mw_cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"lua-dir", required_argument, NULL, 'L'},
        {"metrics-file", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static char rules_dir[] = "rules";
    static char *default_paths[] = {rules_dir};
    const char *lua_dir_opt = NULL, *lua_dir, *metrics = NULL;
    json_t *quarantined = NULL;
    char lua_buf[PATH_MAX + 8];
    struct mw_sandbox_limits limits = {0};
    bool as_json = false;
    char **files = NULL;
    size_t nfiles = 0;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(mw_usage_list, stdout);
            return 0;
        case 'L':
            lua_dir_opt = optarg;
            break;
        case 'M':
            metrics = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                as_json = true;
            else if (strcmp(optarg, "text") != 0) {
                fprintf(stderr, "moonwatch: --format is text or json\n%s", mw_usage_list);
                return 2;
            }
            break;
        default:
            fputs(mw_usage_list, stderr);
            return 2;
        }
    }
    lua_dir = mw_find_lua_dir(lua_dir_opt, lua_buf, sizeof(lua_buf));
    if (metrics && (quarantined = quarantined_ids(metrics)) == NULL)
        return 2;
    if (optind < argc)
        mw_engine_scan(argv + optind, argc - optind, &files, &nfiles, false);
    else
        mw_engine_scan(default_paths, 1, &files, &nfiles, false);

    json_t *rows = json_array();
    for (size_t i = 0; i < nfiles; i++) {
        struct mw_error err;
        struct mw_rule *r = mw_frontend_load(files[i], lua_dir, &limits, &err);
        json_t *row;
        if (r == NULL) {
            row = json_pack("{s:n, s:n, s:n, s:[], s:s, s:s, s:s}", "id", "name",
                            "severity", "mitre", "state", "failed", "error", err.msg,
                            "file", files[i]);
        } else {
            const struct mw_rule_meta *m = mw_rule_meta(r);
            row = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:i}", "id", m->id,
                            "name", m->name, "severity", m->severity, "mitre",
                            techniques(m->threat), "state", "loaded", "file", files[i],
                            "type",
                            mw_rule_kind(r) == MW_RULE_SEQUENCE ? "sequence" : "query",
                            "tests", (int)json_array_size(m->tests));
            /* a second rule with an id already listed does not load in run */
            size_t k;
            json_t *prev;
            json_array_foreach(rows, k, prev)
            {
                if (json_equal(json_object_get(prev, "id"), json_object_get(row, "id"))) {
                    char msg[600];
                    snprintf(msg, sizeof(msg), "duplicate rule id (already in %s)",
                             json_string_value(json_object_get(prev, "file")));
                    json_object_set_new(row, "state", json_string("failed"));
                    json_object_set_new(row, "error", json_string(msg));
                }
            }
            mw_rule_free(r);
        }
        if (quarantined && json_is_string(json_object_get(row, "id"))) {
            size_t k;
            json_t *q;
            json_array_foreach(
                quarantined, k,
                q) if (json_equal(q, json_object_get(row, "id")) &&
                       strcmp(json_string_value(json_object_get(row, "state")),
                              "loaded") == 0)
                json_object_set_new(row, "state", json_string("quarantined"));
        }
        json_array_append_new(rows, row);
        free(files[i]);
    }
    free(files);
    json_decref(quarantined);

    if (as_json) {
        char *s = json_dumps(rows, JSON_INDENT(2));
        printf("%s\n", s);
        mw_json_free(s);
        json_decref(rows);
        return 0;
    }
    /* table: widths from the data */
    static const char *const head[] = {"ID", "NAME", "SEVERITY", "MITRE", "STATE"};
    size_t w[5] = {2, 4, 8, 5, 5}, i;
    json_t *row;
    char **cells = xcalloc(json_array_size(rows) * 5 + 1, sizeof(char *));
    json_array_foreach(rows, i, row)
    {
        const char *id = json_string_value(json_object_get(row, "id"));
        const char *name = json_string_value(json_object_get(row, "name"));
        const char *sev = json_string_value(json_object_get(row, "severity"));
        const char *state = json_string_value(json_object_get(row, "state"));
        cells[i * 5 + 0] = xstrdup(id ? id : "-");
        cells[i * 5 + 1] =
            xstrdup(name ? name : json_string_value(json_object_get(row, "file")));
        cells[i * 5 + 2] = xstrdup(sev ? sev : "-");
        cells[i * 5 + 3] = json_array_size(json_object_get(row, "mitre"))
                               ? join(json_object_get(row, "mitre"))
                               : xstrdup("-");
        cells[i * 5 + 4] = xstrdup(state);
        for (int k = 0; k < 5; k++)
            if (strlen(cells[i * 5 + k]) > w[k])
                w[k] = strlen(cells[i * 5 + k]);
    }
    printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], head[0], (int)w[1], head[1],
           (int)w[2], head[2], (int)w[3], head[3], head[4]);
    json_array_foreach(rows, i, row)
    {
        printf("%-*s  %-*s  %-*s  %-*s  %s\n", (int)w[0], cells[i * 5], (int)w[1],
               cells[i * 5 + 1], (int)w[2], cells[i * 5 + 2], (int)w[3], cells[i * 5 + 3],
               cells[i * 5 + 4]);
        const char *error = json_string_value(json_object_get(row, "error"));
        if (error)
            printf("    %s\n", error);
        for (int k = 0; k < 5; k++)
            free(cells[i * 5 + k]);
    }
    free(cells);
    json_decref(rows);
    return 0;
}
