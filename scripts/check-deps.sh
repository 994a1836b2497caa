#!/bin/sh
# scripts/check-deps.sh - include boundaries between the folders of src/
# (make check-deps; docs/ARCHITECTURE.md "Boundaries")
#
# Reads every #include of src/**/*.{c,h} and include/*.h. A file belongs to
# the folder it sits in (src/main.c to cmd); a public header include/mw_X.h
# belongs to the folder of src/*/mw_X.c (or src/*/*/mw_X.c), or to util when
# it is one of UTIL_HEADERS below. Each rule names a folder and what it must
# not include; a public header is held to its folder's rules, since every
# includer sees what it includes. Prints one "file:line: rule: what" per
# violation, then which translation units outside src/lua/ (src/output/)
# still see lua.h (curl.h) through their includes (information, not a
# rule), then "check-deps: N passed, N failed" (#include lines that keep
# every rule, lines that break one), and exits 1 when any rule is broken.
set -u
cd "$(dirname "$0")/.."

UTIL_HEADERS="mw_mem.h mw_buf.h mw_clock.h mw_file.h mw_dict.h mw_list.h mw_log.h \
mw_pool.h mw_sha256.h mw_time.h mw_health.h mw_banned.h"

files=$(find src include -name '*.[ch]' | LC_ALL=C sort)
# owner of each public header: "mw_x.h folder" lines
owners=$(for c in $(find src -name 'mw_*.c'); do
    f=${c#src/}; echo "$(basename "$c" .c).h ${f%%/*}"
done)

# shellcheck disable=SC2086
awk -v util_headers="$UTIL_HEADERS" -v owners="$owners" '
function dirof(p) { if (p ~ /\//) { sub(/\/[^\/]*$/, "", p); return p } return "." }
function exists(p,   r) { r = (getline _x < p); if (r >= 0) close(p); return r >= 0 }
# the project file an include names, or "" for a system/library header
function resolve(from, name, quoted,   p) {
    if (quoted) { p = dirof(from) "/" name; if (exists(p)) return p }
    if (exists("include/" name)) return "include/" name
    if (exists("src/" name)) return "src/" name
    return ""
}
function owner(p,   b, f) {
    if (p ~ /^src\//) {
        f = substr(p, 5)
        if (f !~ /\//) return "cmd"          # src/main.c
        sub(/\/.*/, "", f); return f
    }
    b = p; sub(/.*\//, "", b)
    if (b in util) return "util"
    if (b in own) return own[b]
    return "include"
}
function is_lua(n) { return n ~ /^(lua|lauxlib|lualib|luaconf)\.h$/ }
function report(file, line, rule, what) {
    printf "%s:%d: %s: %s\n", file, line, rule, what
    nviol++
}
BEGIN {
    n = split(util_headers, u, " "); for (i = 1; i <= n; i++) util[u[i]] = 1
    n = split(owners, o, "\n"); for (i = 1; i <= n; i++) { split(o[i], kv, " "); own[kv[1]] = kv[2] }
}
FNR == 1 { file = FILENAME; fo = owner(file); pub = (file ~ /^include\//); if (file ~ /\.c$/) tu[file] = 1 }
/^[ \t]*#[ \t]*include[ \t]*[<"]/ {
    s = $0; sub(/^[ \t]*#[ \t]*include[ \t]*/, "", s)
    quoted = (substr(s, 1, 1) == "\"")
    name = substr(s, 2); sub(/[">].*/, "", name)
    base = name; sub(/.*\//, "", base)
    nincl++
    target = resolve(file, name, quoted)
    to = (target == "") ? "" : owner(target)
    if (target != "") edge[file] = edge[file] " " target
    else if (is_lua(base)) sees[file, "lua"] = 1
    else if (name ~ /^curl\//) sees[file, "curl"] = 1

    # lua.h and its companions: src/lua/ only
    if (is_lua(base) && (fo != "lua" || pub)) {
        if (pub)
            report(file, FNR, "lua", "public header includes " name ": every includer sees the Lua API (forward-declare lua_State, or move the header into src/lua/)")
        else
            report(file, FNR, "lua", "includes " name " outside src/lua/")
    }
    # libcurl: src/output/ only
    if (name ~ /^curl\// && (fo != "output" || pub)) {
        if (pub)
            report(file, FNR, "curl", "public header includes " name ": every includer sees libcurl")
        else
            report(file, FNR, "curl", "includes " name " outside src/output/")
    }
    # librdkafka: src/ingest/src_kafka.c only (the kafka/eventhub source kind)
    if (name ~ /^librdkafka\// && file != "src/ingest/src_kafka.c") {
        if (pub)
            report(file, FNR, "rdkafka", "public header includes " name ": every includer sees librdkafka")
        else
            report(file, FNR, "rdkafka", "includes " name " outside src/ingest/src_kafka.c")
    }
    # util: libc, jansson and util headers only
    if (fo == "util" && target != "" && to != "util")
        report(file, FNR, "util", "util includes " name " (" to "): util may use libc, jansson and util headers only")
    # detect: no outputs, no run loop, no Lua
    if (fo == "detect" && (base ~ /^mw_(output|run|sandbox|curl)\.h$/ || is_lua(base)))
        report(file, FNR, "detect", "detect includes " name ": detectors see neither outputs, the run loop nor Lua")
    # ingest: no outputs, no run loop, no Lua
    if (fo == "ingest" && (base ~ /^mw_(output|run|curl)\.h$/ || is_lua(base)))
        report(file, FNR, "ingest", "ingest includes " name ": sources see neither outputs, the run loop nor Lua")
    # normalize: no outputs, no run loop, no Lua (the Lua reader is src/lua/mw_lnorm.c)
    if (fo == "normalize" && (base ~ /^mw_(output|run|sandbox|curl)\.h$/ || is_lua(base)))
        report(file, FNR, "normalize", "normalize includes " name ": normalizers see neither outputs, the run loop nor Lua")
    # a folder-private header (*_int.h) stays in its folder
    if (target ~ /_int\.h$/ && to != fo)
        report(file, FNR, "private", "includes " name ", private to src/" to "/")
}
# does f reach library lib (lua, curl) through project headers?
# (depth-first, memoised per library)
function reaches(f, lib,   n, i, parts, r) {
    if ((f, lib) in memo) return memo[f, lib]
    memo[f, lib] = 0
    r = ((f, lib) in sees)
    n = split(edge[f], parts, " ")
    for (i = 1; i <= n && !r; i++) r = reaches(parts[i], lib)
    memo[f, lib] = r
    return r
}
function seen_by(lib, home, hdr,   f, n, list) {
    n = 0; list = ""
    for (f in tu) if (owner(f) != home && reaches(f, lib)) { n++; list = list " " f }
    printf "check-deps: %d translation unit(s) outside src/%s/ see %s%s%s\n", n, home, hdr,
        n ? ":" : "", list
}
END {
    seen_by("lua", "lua", "lua.h")
    seen_by("curl", "output", "curl.h")
    printf "check-deps: %d passed, %d failed\n", nincl - nviol, nviol
    exit nviol > 0
}' $files
