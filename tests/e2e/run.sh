#!/usr/bin/env bash
# tests/e2e/run.sh - end-to-end tests through bin/moonwatch on fixture files
set -u
cd "$(dirname "$0")/../.."
. tests/e2e/lib.sh

for t in tests/e2e/t_*.sh; do
    CURRENT=$(basename "$t" .sh)
    . "$t"
done
CURRENT=""
echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
