# The prefilter (skip parsing lines no rule can match) and parser threads:
# alerts and counters are the same with the prefilter on and off and with
# one or two threads, on generated corpora with known attack chains.
P=tests/fixtures/prefilter
GEN=build/bench/gen
RULES='.rules | map(del(.loaded_at))'   # every counter, not the load time

# check names each rule's literals (on stderr, beside its summary), and says
# when a rule turns the prefilter off
mw check rules
expect_match "check: Arc rule literals" "$T/err" \
    'prefilter  dacfbecd-7927-46a7-a8ba-feb65a2e990d  lines must contain "azure.signinlogs" and "authentication" and "ServicePrincipalSignInLogs"; or "azure.activitylogs" and "success" \(any case\) and "listclusterusercredential" \(any case\)'
expect_match "check: prefilter on" "$T/err" '^prefilter  on: [0-9]+ distinct literal'
mw check rules $P/lua_only.lua
expect_match "check: Lua-only rule has no literal" "$T/err" \
    'prefilter  test-lua-only  no literal: its Lua predicates give no literal'
expect_match "check: prefilter off because of it" "$T/err" '^prefilter  off: rule test-lua-only'
mw check $P/ci_and_slash.lua
expect_match "check: ci literal, split at its slashes" "$T/err" '"microsoft.compute" \(any case\) or "secret"'

if [ ! -x "$GEN" ]; then
    fail "$GEN is not built (make build/bench/gen)"
else
    alloc_default=${MW_JSON_ALLOC-}
    # equivalence over a mixed Event Hub export (20% relevant) and the
    # two-file all-relevant corpus
    for corpus in "mix 4000 20" "rel 2500 100"; do
        set -- $corpus
        mkdir -p "$T/$1"
        $GEN --out "$T/$1" --events "$2" --relevant "$3" --chains 12 --hours 6
        files=$(jq -r '.files[]' "$T/$1/expected.json" | sed "s|^|$T/$1/|")
        chains=$(jq -r .chains "$T/$1/expected.json")
        ref=""
        # alloc=X: jansson on malloc (system) or on moonwatch's pool; the
        # default is the pool (malloc in the ASan build)
        for mode in "--no-prefilter" "" "--threads 2" "--threads 2 --no-prefilter" "--threads 3" \
                    "alloc=system" "alloc=pool --threads 2" "alloc=system --threads 2"; do
            args=$mode
            case "$mode" in
            alloc=*) alloc=${mode%% *}; export MW_JSON_ALLOC=${alloc#alloc=}
                     args=${mode#"$alloc"} ;;
            esac
            # shellcheck disable=SC2086
            mw run --rules rules --alert-time event --summary json $args $files
            if [ -n "$alloc_default" ]; then export MW_JSON_ALLOC=$alloc_default; else unset MW_JSON_ALLOC; fi
            expect_eq "$1 [$mode]: exit" "$RC" 0
            expect_eq "$1 [$mode]: one alert per injected chain" "$(lines "$T/out")" "$chains"
            grep '^{' "$T/err" | tail -1 >"$T/sum.json"
            cp "$T/out" "$T/alerts.$1"
            if [ -z "$ref" ]; then
                ref="$mode"
                cp "$T/out" "$T/ref_alerts"
                cp "$T/sum.json" "$T/ref_sum"
                continue
            fi
            if cmp -s "$T/ref_alerts" "$T/out"; then ok; else fail "$1 [$mode]: alerts differ from [$ref]"; fi
            expect_eq "$1 [$mode]: rule counters as [$ref]" "$(jq -c "$RULES" "$T/sum.json")" "$(jq -c "$RULES" "$T/ref_sum")"
            expect_eq "$1 [$mode]: lines read as [$ref]" "$(jq .events_read "$T/sum.json")" "$(jq .events_read "$T/ref_sum")"
            expect_eq "$1 [$mode]: parsed + skipped = all" \
                "$(jq '.events_parsed + .events_skipped' "$T/sum.json")" "$(jq .events_parsed "$T/ref_sum")"
            case "$mode" in
            *no-prefilter*) expect_eq "$1 [$mode]: nothing skipped" "$(jq .events_skipped "$T/sum.json")" 0 ;;
            *) if [ "$(jq .events_skipped "$T/sum.json")" -gt 0 ]; then ok; else fail "$1 [$mode]: the prefilter skipped nothing"; fi ;;
            esac
        done
        # expiry really depends on skipped lines moving time: the counters
        # compared above include expired/replaced/open
        if [ "$(jq '.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d") | .sequences.expired' "$T/ref_sum")" -gt 0 ]; then ok; else fail "$1: no expiry exercised"; fi
    done
    # with a rule that has no literal loaded, nothing is skipped and the
    # Arc alerts are unchanged
    mw run --rules rules --rules $P/lua_only.lua --alert-time event --summary json $T/mix/eventhub.ndjson
    expect_eq "lua-only rule: nothing skipped" "$(summary .events_skipped)" 0
    expect_match "lua-only rule: run says why" "$T/err" 'prefilter off: rule test-lua-only'
    expect_eq "lua-only rule: Arc alerts unchanged" "$(jq -r 'select(.rule.id | startswith("dacfbecd"))' "$T/out" | jq -s length)" 12
fi

# a skipped line moves event time: a sign-in, then 31 minutes later a line
# no rule needs, then the listing: expired (not pending) in both modes
TP=tests/fixtures/arc/true_positive.ndjson
{
    head -1 $TP
    printf '{"@timestamp":"2025-10-14T09:31:00.000Z","event":{"dataset":"azure.auditlogs"}}\n'
} >"$T/expire.ndjson"
for mode in "" "--no-prefilter"; do
    # shellcheck disable=SC2086
    mw run --rules rules/azure/sp_signin_then_arc_credential_access.lua --max-lateness 0s \
        --summary json $mode "$T/expire.ndjson"
    expect_eq "skipped line expires [$mode]" "$(summary '.rules[0].sequences | [.expired, .open] | @tsv')" "$(printf '1\t0')"
done
mw run --rules rules/azure/sp_signin_then_arc_credential_access.lua --summary json "$T/expire.ndjson"
expect_eq "that line was skipped" "$(summary .events_skipped)" 1

# JSON escapes cannot hide a literal: \u escapes and "\/" still alert
sed -e '1s/"azure.signinlogs"/"azure\\u002esigninlogs"/g' \
    -e '1s/"ServicePrincipalSignInLogs"/"Service\\u0050rincipalSignInLogs"/' \
    -e '2s/"azure.activitylogs"/"\\u0061zure.activitylogs"/g' $TP >"$T/escaped.ndjson"
expect_nomatch "fixture really escapes the literal" "$T/escaped.ndjson" 'ServicePrincipalSignInLogs'
mw run --rules rules --summary json "$T/escaped.ndjson"
expect_eq "\\u escapes: still alerts" "$(lines "$T/out")" 1
expect_eq "\\u escapes: nothing skipped" "$(summary .events_skipped)" 0
# case-insensitive literal in another case, and a slash written "\/"
{
    printf '{"@timestamp":"2025-10-14T09:00:00.000Z","azure":{"activitylogs":{"operation_name":"MICROSOFT.COMPUTE/VIRTUALMACHINES/RUNCOMMAND/ACTION"}}}\n'
    printf '{"@timestamp":"2025-10-14T09:00:01.000Z","azure":{"platformlogs":{"properties":{"log":"run\\/secret"}}}}\n'
    printf '{"@timestamp":"2025-10-14T09:00:02.000Z","azure":{"platformlogs":{"properties":{"log":"nothing here"}}}}\n'
} >"$T/ci.ndjson"
mw run --rules $P/ci_and_slash.lua --summary json "$T/ci.ndjson"
expect_eq "ci and \\/ : both alert" "$(lines "$T/out")" 2
expect_eq "ci and \\/ : the third line skipped" "$(summary .events_skipped)" 1

# a dotted timestamp field cannot be read without parsing: prefilter off
mw run --rules rules --timestamp-field event.created --summary json $TP
expect_match "dotted timestamp field: prefilter off" "$T/err" "prefilter off: the timestamp field 'event.created'"

# threads: bad input is reported in order, exactly as with one thread
B=tests/fixtures/bad/malformed.ndjson
mw run --rules rules --no-prefilter --summary json $B
grep -v '^{' "$T/err" >"$T/err1"
grep '^{' "$T/err" >"$T/sum1"
mw run --rules rules --no-prefilter --threads 2 --summary json $B
grep -v '^{' "$T/err" >"$T/err2"
if cmp -s "$T/err1" "$T/err2"; then ok; else fail "threads: rejection reports differ"; diff "$T/err1" "$T/err2" | head; fi
expect_eq "threads: same summary on bad input" "$(grep '^{' "$T/err" | jq -c "del(.memory) | .rules |= map(del(.loaded_at))")" \
    "$(jq -c "del(.memory) | .rules |= map(del(.loaded_at))" "$T/sum1")"
mw run --rules rules --threads 0 $TP
expect_eq "--threads 0 is a usage error" "$RC" 2
