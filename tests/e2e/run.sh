#!/usr/bin/env bash
# tests/e2e/run.sh - end-to-end tests through bin/moonwatch on fixture files
#
#   tests/e2e/run.sh            every tests/e2e/t_*.sh
#   tests/e2e/run.sh NAME...    only those (t_prefilter or prefilter)
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

files=()
for name in "$@"; do
    name=${name#t_}
    files+=("tests/e2e/t_${name%.sh}.sh")
done
[ ${#files[@]} -gt 0 ] || files=(tests/e2e/t_*.sh)
for t in "${files[@]}"; do
    CURRENT=$(basename "$t" .sh)
    . "$t"
done
CURRENT=""
echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
