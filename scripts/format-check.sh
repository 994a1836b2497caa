#!/bin/sh
# scripts/format-check.sh - clang-format agrees with every C file (make format-check)
#
#   scripts/format-check.sh FILE...
#
# Prints the first lines clang-format would change in each file that is not
# formatted, then "format-check: N passed, N failed". `make format` fixes them.
set -u
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
    echo "FAIL: clang-format is not installed (make deps installs Debian's clang-format)"
    echo "format-check: 0 passed, 1 failed"
    exit 1
fi
pass=0
fail=0
for f in "$@"; do
    if out=$(clang-format --dry-run --Werror "$f" 2>&1); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $f is not clang-formatted (make format):"
        printf '%s\n' "$out" | head -6 | sed 's/^/    /'
    fi
done
echo "format-check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
