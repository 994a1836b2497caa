#!/bin/bash
# tests/tools/elastic_import_check.sh [CORPUS_DIR] - `make import-check`:
# loads every rule of Elastic's detection-rules corpus through the `.toml`
# front-end and prints, per rule type, how many load and why the others do
# not. Issue 17's targets (85% of all rules, 83% of the cloud rules) are
# printed with the figures, not enforced: the check fails only when the
# loader crashes or a rule that did not load carries no reason. A corpus
# that is absent is a loud skip (exit 0), so `make test` runs where
# ../shared is not present. The last line reads "import-check: N passed,
# N failed" for tests/run-all.sh.
set -u
cd "$(dirname "$0")/../.."
corpus=${1:-../shared/rule-corpus/elastic-detection-rules}
if [ ! -f "$corpus/rules-index.tsv" ]; then
    echo "import-check: SKIPPED: no corpus at $corpus (../shared is absent)"
    echo "import-check: 0 passed, 0 failed"
    exit 0
fi
make --no-print-directory build/tools/elastic_import_check >&2 || exit 2
out=$(build/tools/elastic_import_check "$corpus")
rc=$?
echo "$out"
if [ $rc -ne 0 ]; then
    echo "FAIL: import-check: the loader exited $rc (a crash?)"
    echo "import-check: 0 passed, 1 failed"
    exit 1
fi
read -r ok all cok call unexp <<<"$(echo "$out" | sed -n -E \
    's#^import: loaded ([0-9]+)/([0-9]+) cloud ([0-9]+)/([0-9]+) unexplained ([0-9]+)$#\1 \2 \3 \4 \5#p')"
if [ -z "${ok:-}" ]; then
    echo "FAIL: import-check: no summary line"
    echo "import-check: 0 passed, 1 failed"
    exit 1
fi
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
meets() { awk -v a="$1" -v b="$2" -v t="$3" 'BEGIN { exit !(b && 100 * a / b >= t) }'; }
for t in "all $ok $all 85" "cloud $cok $call 83"; do
    set -- $t
    if meets "$2" "$3" "$4"; then
        echo "import-check: $1 rules $2/$3 ($(pct "$2" "$3")%), target $4%: met"
    else
        echo "import-check: $1 rules $2/$3 ($(pct "$2" "$3")%), target $4%: NOT MET (reported, not failed)"
    fi
done
if [ "$unexp" -gt 0 ]; then
    echo "FAIL: import-check: $unexp rules not loaded without a reason"
    echo "import-check: 0 passed, 1 failed"
    exit 1
fi
echo "import-check: 1 passed, 0 failed"
