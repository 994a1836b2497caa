# The seed rule over focused fixtures: true story, each stage broken one at a
# time, case handling, split inputs, time formats (tests/fixtures/arc/CASES.tsv)
F=tests/fixtures/arc
while IFS=$'\t' read -r files want desc; do
    [ "$files" = "file" ] && continue
    args=""
    for f in ${files//+/ }; do args="$args $F/$f"; done
    mw run --rules rules --summary json $args
    if [ "$RC" -ne 0 ]; then fail "$files: exit $RC"; continue; fi
    got=$(lines "$T/out")
    expect_eq "$files ($desc)" "$got" "$want"
    expect_eq "$files: summary agrees" "$(summary .alerts)" "$want"
done <"$F/CASES.tsv"

# the alert of the replaced start is built from the SECOND sign-in
mw run --rules rules $F/replaced_start.ndjson
expect_eq "replaced_start first event" "$(jq -r '.moonwatch.events[0].event.event.id' "$T/out")" "7ebe30d4-0e9d-4938-903a-bf8345e1e8ce"
expect_eq "replaced_start last event" "$(jq -r '.moonwatch.events[1].event.event.id' "$T/out")" "d08f4e03-a77b-49e1-aefd-dec07cf2120e"

# split inputs give the very same alert (same deterministic id) as one file
mw run --rules rules $F/true_positive.ndjson;                      id1=$(jq -r .event.id "$T/out")
mw run --rules rules $F/split_activity.ndjson $F/split_signin.ndjson; id2=$(jq -r .event.id "$T/out")
expect_eq "split inputs, same alert id" "$id2" "$id1"
expect_eq "split inputs name their files" "$(jq -r '[.moonwatch.events[].source.input] | join(" ")' "$T/out")" \
    "$F/split_signin.ndjson $F/split_activity.ndjson"

# offsets and 7-digit fractions are compared in UTC: the gap is 4m12s
mw run --rules rules $F/offset_timestamps.ndjson
expect_eq "offset gap" "$(jq -r .event.duration "$T/out")" 252000000000
expect_match "offset message gap" "$T/out" 'credentials 4m12s later'
mw run --rules rules $F/epoch_millis.ndjson
expect_eq "epoch millis first_time" "$(jq -r .event.start "$T/out")" "2025-10-14T09:00:00.000Z"

# --timestamp-field: the same story keyed on another time field
jq -c '. + {"ingest": {"time": ."@timestamp"}} | del(."@timestamp")' $F/true_positive.ndjson >"$T/alt_ts.ndjson"
mw run --rules rules "$T/alt_ts.ndjson"
expect_eq "without --timestamp-field every line is rejected" "$(lines "$T/out")" 0
expect_match "missing timestamp reported" "$T/err" "alt_ts.ndjson:1: rejected \(missing_timestamp\)"
mw run --rules rules --timestamp-field ingest.time "$T/alt_ts.ndjson"
expect_eq "--timestamp-field ingest.time" "$(lines "$T/out")" 1
