# Bad input: every bad line is reported with input and line, counted by
# reason, kept in the dead-letter file; the events around it still alert.
# --no-prefilter: every line is parsed (with the prefilter on, a line that no
# rule can match is only checked for its timestamp; see the end of the file)
B=tests/fixtures/bad
M=$B/malformed.ndjson
rm -f "$T/dead.ndjson"
mw run --rules rules --no-prefilter --summary json --dead-letter "$T/dead.ndjson" $M
expect_eq "malformed: exit" "$RC" 0
expect_eq "malformed: the true positive still alerts" "$(lines "$T/out")" 1
# each expected bad line is reported as input:line with its reason
while IFS=$'\t' read -r file line reason; do
    [ "$file" = malformed.ndjson ] || continue
    if [ "$reason" = blank ]; then
        expect_nomatch "line $line blank is not rejected" "$T/err" "malformed.ndjson:$line: rejected"
    else
        expect_match "line $line reported as $reason" "$T/err" "malformed.ndjson:$line: rejected \($reason\)"
        expect_eq "line $line in dead letters" "$(jq -r "select(.line==$line) | .reason" "$T/dead.ndjson")" "$reason"
    fi
done <$B/EXPECTED.tsv
want_rej=$(awk -F'\t' '$1=="malformed.ndjson" && $3!="blank"' $B/EXPECTED.tsv | wc -l | tr -d ' ')
want_blank=$(awk -F'\t' '$1=="malformed.ndjson" && $3=="blank"' $B/EXPECTED.tsv | wc -l | tr -d ' ')
expect_eq "rejected total" "$(summary .events_rejected)" "$want_rej"
expect_eq "blank lines counted apart" "$(summary .blank_lines)" "$want_blank"
expect_eq "parsed = the two good events" "$(summary .events_parsed)" 2
for reason in malformed_json not_object missing_timestamp bad_timestamp invalid_utf8 duplicate_key; do
    want=$(awk -F'\t' -v r=$reason '$1=="malformed.ndjson" && $3==r' $B/EXPECTED.tsv | wc -l | tr -d ' ')
    expect_eq "count of $reason" "$(summary ".rejected_by_reason.$reason // 0")" "$want"
done
expect_eq "dead letters written" "$(lines "$T/dead.ndjson")" "$want_rej"
expect_eq "dead letters counted" "$(summary .dead_letters)" "$want_rej"
expect_eq "dead letter keeps the raw line" "$(jq -r 'select(.reason=="missing_timestamp") | .raw | fromjson | type' "$T/dead.ndjson")" object
jq -r 'select(.reason=="invalid_utf8") | .raw_escaped' "$T/dead.ndjson" >"$T/esc.txt"
expect_match "invalid UTF-8 kept escaped" "$T/esc.txt" '\\xff\\xfe'
# the text summary names the reasons
mw run --rules rules --no-prefilter $M
expect_match "text summary reasons" "$T/err" 'rejected \(malformed_json 3, not_object 2'

# an over-long line (2 MiB, over the default 1 MiB limit) is skipped without
# being buffered, and the events around it still alert
{
    head -1 tests/fixtures/arc/true_positive.ndjson
    printf '{"@timestamp":"2025-10-14T09:01:00.000Z","big":"'
    head -c 2097152 /dev/zero | tr '\0' a
    printf '"}\n'
    tail -1 tests/fixtures/arc/true_positive.ndjson
} >"$T/long.ndjson"
mw run --rules rules --summary json --dead-letter "$T/dead2.ndjson" "$T/long.ndjson"
expect_eq "long line: still alerts" "$(lines "$T/out")" 1
expect_eq "long line: too_long counted" "$(summary .rejected_by_reason.too_long)" 1
expect_match "long line: reported with line number" "$T/err" 'long.ndjson:2: rejected \(too_long\): line of 2097202 bytes'
expect_eq "long line: dead letter has size, not bytes" "$(jq -r .raw_bytes "$T/dead2.ndjson")" 2097202
mw run --rules rules --summary json --max-line-bytes 4M "$T/long.ndjson"
expect_eq "--max-line-bytes 4M accepts it" "$(summary .events_rejected)" 0
mw run --rules rules --summary json --max-line-bytes 1000 tests/fixtures/arc/true_positive.ndjson
expect_eq "--max-line-bytes 1000 rejects both events" "$(summary .rejected_by_reason.too_long)" 2

# a file that is all garbage, NUL bytes and no final newline never crashes
head -c 65536 /dev/urandom >"$T/noise.bin"
printf '\0\0\0{"a":1' >>"$T/noise.bin"
mw run --rules rules --summary json "$T/noise.bin"
expect_eq "random bytes: exit 0" "$RC" 0
expect_eq "random bytes: no alerts" "$(lines "$T/out")" 0

# CRLF line endings are accepted
sed 's/$/\r/' tests/fixtures/arc/true_positive.ndjson >"$T/crlf.ndjson"
mw run --rules rules "$T/crlf.ndjson"
expect_eq "CRLF input alerts" "$(lines "$T/out")" 1

# With the prefilter (the default), a bad line that contains none of the
# rules' literals cannot match and is not parsed: it is counted as skipped,
# not rejected. Lines whose top-level timestamp is missing or unreadable, and
# lines that are not objects, are still parsed and rejected; the true
# positive still alerts and nothing is lost from the counts.
# (the rules without the Entra sequences, whose literals some of these lines hold)
mw run --rules rules/azure/sp_signin_then_arc_credential_access.lua \
    --rules rules/azure/unusual_source_arc_credential_access.lua \
    --rules rules/azure/unusual_source_asn_service_principal.lua --summary json $M
expect_eq "prefilter on bad input: still alerts" "$(lines "$T/out")" 1
expect_eq "prefilter on bad input: read = parsed + skipped + rejected" \
    "$(summary '.events_parsed + .events_skipped + .events_rejected')" "$(summary .events_read)"
# 5: line 13 (a duplicate key) is an activity record of no credential-listing
# operation, so no step of these rules needs it parsed
expect_eq "prefilter on bad input: skipped" "$(summary .events_skipped)" 5
for reason in not_object missing_timestamp bad_timestamp; do
    want=$(awk -F'\t' -v r=$reason '$1=="malformed.ndjson" && $3==r' $B/EXPECTED.tsv | wc -l | tr -d ' ')
    expect_eq "prefilter on: $reason still rejected" "$(summary ".rejected_by_reason.$reason // 0")" "$want"
done
