/* mw_cmd_new.c - `moonwatch new NAME`: scaffold a rule file
 *
 * Writes DIR/NAME.lua (DIR defaults to rules; NAME may hold sub-folders,
 * which are created) with every metadata field, a fresh random id, a
 * two-step sequence skeleton that loads as is, and a test stub that expects
 * one alert from no events, so `moonwatch test` fails until the author fills
 * it in. Never overwrites a file.
 */
#include "mw_cmd.h"
#include "mw_log.h"
#include "mw_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const mw_usage_new =
    "usage: moonwatch new [--dir DIR] NAME\n"
    "\n"
    "Creates DIR/NAME.lua (DIR: rules by default; NAME may contain folders, e.g.\n"
    "azure/my_rule): a rule with every metadata field, a random id, a two-step\n"
    "sequence skeleton and a test stub that fails until it is filled in. Never\n"
    "overwrites an existing file. Exit 0, or 2 on errors.\n";

#define TEMPLATE_TEXT                                                                    \
    "-- %s\n"                                                                            \
    "--\n"                                                                               \
    "-- Scaffolded by `moonwatch new`. Fill in the TODOs, then:\n"                       \
    "--   bin/moonwatch check %s     (load errors with file and line)\n"                 \
    "--   bin/moonwatch test %s      (runs the tests below)\n"                           \
    "--   bin/moonwatch explain --rule %s sample.ndjson\n"                               \
    "-- Reference: docs/RULE-API.md, tests: docs/RULE-TESTS.md.\n"                       \
    "local mw = require(\"moonwatch\")\n"                                                \
    "\n"                                                                                 \
    "return mw.rule {\n"                                                                 \
    "  id = \"%s\",\n"                                                                   \
    "  name = \"%s\",\n"                                                                 \
    "  description = \"TODO: what this detects and why it matters.\",\n"                 \
    "  severity = \"medium\",          -- low, medium, high or critical\n"               \
    "  risk_score = 47,\n"                                                               \
    "  tags = { \"Domain: Cloud\" },\n"                                                  \
    "  references = {},\n"                                                               \
    "  author = { \"TODO\" },\n"                                                         \
    "  license = \"TODO\",\n"                                                            \
    "  version = 1,\n"                                                                   \
    "  threat = { mw.mitre(\"TA0006\", \"T1552\") },   -- TODO: tactic, technique[, "    \
    "sub-technique]\n"                                                                   \
    "  false_positives = { \"TODO: known benign causes\" },\n"                           \
    "  note = [[\n"                                                                      \
    "## Triage and analysis\n"                                                           \
    "\n"                                                                                 \
    "TODO: investigation guide (markdown).\n"                                            \
    "]],\n"                                                                              \
    "  message = \"TODO: {1:user.name} did X then Y ({gap} later)\",\n"                  \
    "\n"                                                                                 \
    "  sequence = mw.sequence {\n"                                                       \
    "    maxspan = \"10m\",\n"                                                           \
    "    by = \"user.name\",               -- shared join key (or per-step `by`)\n"      \
    "    {\n"                                                                            \
    "      where = mw.all {\n"                                                           \
    "        mw.eq(\"event.dataset\", \"TODO.first_dataset\"),\n"                        \
    "        mw.ieq(\"event.action\", \"TODO-first-action\"),\n"                         \
    "      },\n"                                                                         \
    "    },\n"                                                                           \
    "    {\n"                                                                            \
    "      where = mw.all {\n"                                                           \
    "        mw.eq(\"event.dataset\", \"TODO.second_dataset\"),\n"                       \
    "        mw.ieq(\"event.action\", \"TODO-second-action\"),\n"                        \
    "      },\n"                                                                         \
    "    },\n"                                                                           \
    "  },\n"                                                                             \
    "\n"                                                                                 \
    "  -- Run by `moonwatch test`. This stub fails (no events, one alert\n"              \
    "  -- expected) until you give it a true positive; add near misses with\n"           \
    "  -- expect = { count = 0 }.\n"                                                     \
    "  tests = {\n"                                                                      \
    "    {\n"                                                                            \
    "      name = \"true positive\",\n"                                                  \
    "      events = {\n"                                                                 \
    "        -- { [\"@timestamp\"] = \"2025-01-01T00:00:00Z\", event = { dataset = ... " \
    "}, ... },\n"                                                                        \
    "        -- or one NDJSON line per string; or file = \"%s.tp.ndjson\" beside the "   \
    "rule\n"                                                                             \
    "      },\n"                                                                         \
    "      expect = { count = 1, fields = { [\"rule.id\"] = \"%s\" } },\n"               \
    "    },\n"                                                                           \
    "  },\n"                                                                             \
    "}\n"

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int rc = mkdir(path, 0777);
        *p = '/';
        if (rc < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

static int uuid4(char out[37])
{
    unsigned char b[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return 0;
}

int mw_cmd_new(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = "rules", *name;
    char path[PATH_MAX], title[256], id[37];
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fputs(mw_usage_new, stdout);
            return 0;
        case 'd':
            dir = optarg;
            break;
        default:
            fputs(mw_usage_new, stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "moonwatch: new needs exactly one NAME\n%s", mw_usage_new);
        return 2;
    }
    name = argv[optind];
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".lua") == 0)
        len -= 4;
    if (len == 0 || len > 200 || name[0] == '/' || strstr(name, "..")) {
        mw_log_error("new: NAME must be a relative name such as azure/my_rule");
        return 2;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '/')) {
            mw_log_error(
                "new: NAME may hold letters, digits, '_', '-' and '/' only (got '%s')",
                name);
            return 2;
        }
    }
    snprintf(path, sizeof(path), "%s/%.*s.lua", dir, (int)len, name);
    /* title: the last segment, underscores and dashes as spaces, capitalised */
    const char *base = name;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/')
            base = name + i + 1;
    size_t blen = len - (size_t)(base - name), k;
    for (k = 0; k < blen && k < sizeof(title) - 1; k++)
        title[k] = (base[k] == '_' || base[k] == '-') ? ' ' : base[k];
    title[k] = '\0';
    if (title[0] >= 'a' && title[0] <= 'z')
        title[0] = (char)(title[0] - 'a' + 'A');
    if (uuid4(id) < 0) {
        mw_log_error("new: cannot read /dev/urandom for the rule id");
        return 2;
    }
    if (mkdirs(path) < 0) {
        mw_log_error("new: cannot create the folders of %s: %s", path, strerror(errno));
        return 2;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        mw_log_error("new: %s: %s", path,
                     errno == EEXIST ? "already exists (not overwritten)"
                                     : strerror(errno));
        return 2;
    }
    FILE *fp = fdopen(fd, "w");
    if (fp == NULL) {
        close(fd);
        return 2;
    }
    char basefile[256];
    snprintf(basefile, sizeof(basefile), "%.*s", (int)blen, base);
    fprintf(fp, TEMPLATE_TEXT, title, path, path, path, id, title, basefile, id);
    if (fclose(fp) != 0) {
        mw_log_error("new: writing %s: %s", path, strerror(errno));
        return 2;
    }
    printf("%s\n", path);
    fprintf(stderr,
            "moonwatch: created %s (id %s); its test stub fails until you fill it in\n",
            path, id);
    return 0;
}
