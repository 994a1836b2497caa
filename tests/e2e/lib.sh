# tests/e2e/lib.sh - tiny assertion helpers for the end-to-end suite
#
# Every check runs the real binary ($MW, which may be wrapped by valgrind)
# and counts one pass or one fail. The suite ends with "e2e: N passed, N failed".

MW_BIN=${MW_BIN:-bin/moonwatch}
if [ -n "${MW_VALGRIND:-}" ]; then
    # jansson on malloc: valgrind then checks each of its blocks (the pool
    # would hide a use-after-free inside its chunks)
    export MW_JSON_ALLOC=${MW_JSON_ALLOC:-system}
    MW="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect $MW_BIN"
else
    MW=$MW_BIN
fi
# sanitizer findings (ASan, LeakSanitizer, UBSan) exit 99 so `mw` flags them
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=99}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:exitcode=99}
T=$(mktemp -d "${TMPDIR:-/tmp}/mw-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
PASS=0
FAIL=0
CURRENT=""

ok()   { PASS=$((PASS + 1)); }
fail() { FAIL=$((FAIL + 1)); echo "FAIL: ${CURRENT:+$CURRENT: }$*"; }

# expect_eq NAME GOT WANT
expect_eq() {
    if [ "$2" = "$3" ]; then ok; else fail "$1: got '$2', want '$3'"; fi
}
# expect_match NAME FILE REGEX  (grep -E)
expect_match() {
    if grep -Eq -- "$3" "$2"; then ok; else fail "$1: /$3/ not found in $2:"; sed 's/^/    /' "$2" | head -20; fi
}
expect_nomatch() {
    if grep -Eq -- "$3" "$2"; then fail "$1: /$3/ unexpectedly in $2"; else ok; fi
}
# mw ARGS... : runs the binary, stdout to $T/out, stderr to $T/err, status in $RC
mw() {
    $MW "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" -ge 99 ] || [ "$RC" -ge 128 ]; then
        fail "moonwatch $* exited $RC (crash or sanitizer/valgrind error)"
        sed 's/^/    /' "$T/err" | tail -30
    fi
    return 0
}
lines() { if [ -s "$1" ]; then wc -l <"$1" | tr -d ' '; else echo 0; fi; }
# summary FIELD-jq-expr : reads the JSON summary (last stderr line that is JSON)
summary() { grep '^{' "$T/err" | tail -1 | jq -r "$1"; }
