#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS TARGET... - runs each libFuzzer target for SECONDS
#
# Seeds: tests/fuzz/corpus/<target>/ (committed, read only). New inputs go
# to build/fuzz/corpus/<target>/ (kept between runs), crashes, leaks and
# timeouts to build/fuzz/artifacts/<target>/. Prints one line per target and
# exits 1 when any target found something: the input is then to be fixed in
# src/ and kept in tests/fuzz/regressions/<target>/, which `make test` replays.
set -u
cd "$(dirname "$0")/../.."
secs=$1
shift
found=0
for t in "$@"; do
    work=build/fuzz/corpus/$t
    art=build/fuzz/artifacts/$t
    mkdir -p "$work" "$art"
    case $t in
    ingest) opts=(-max_len=200000 -dict=tests/fuzz/json.dict) ;;
    rule)   opts=(-max_len=16384 -dict=tests/fuzz/rule.dict) ;;
    engine) opts=(-max_len=2001) ;;
    *)      opts=() ;;
    esac
    log=build/fuzz/$t.log
    before=$(ls "$art" | wc -l)
    echo "  FUZZ    $t for ${secs}s (log: $log)"
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
        build/fuzz/fuzz_$t -max_total_time="$secs" -timeout=20 -rss_limit_mb=2560 \
        -print_final_stats=1 -artifact_prefix="$art/" "${opts[@]}" \
        "$work" tests/fuzz/corpus/$t >"$log" 2>&1
    rc=$?
    after=$(ls "$art" | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "          $t: exit $rc, ${execs:-?} runs, ${cov:-cov: ?}, corpus $(ls "$work" | wc -l), new artifacts $((after - before))"
    if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
        found=1
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -5 | sed 's/^/          /'
    fi
done
exit $found
