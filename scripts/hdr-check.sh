#!/bin/sh
# scripts/hdr-check.sh - every header compiles on its own (make hdr-check)
#
#   CC=cc HDR_CFLAGS='...' scripts/hdr-check.sh HEADER...
#
# Each header is included twice into an otherwise empty unit and compiled
# with the build's flags (-fsyntax-only): it must include what it uses and
# be guarded against double inclusion. Prints the compiler's complaint for
# each header that fails, then "hdr-check: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
CC=${CC:-cc}
pass=0
fail=0
tmp=$(mktemp "${TMPDIR:-/tmp}/mw-hdr.XXXXXX")
trap 'rm -f "$tmp"' EXIT
for h in "$@"; do
    # shellcheck disable=SC2086
    if printf '#include "%s"\n#include "%s"\n' "$PWD/$h" "$PWD/$h" |
        $CC $HDR_CFLAGS -Wno-unused-function -x c -fsyntax-only - >"$tmp" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $h does not compile on its own:"
        sed 's/^/    /' "$tmp" | head -10
    fi
done
echo "hdr-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
