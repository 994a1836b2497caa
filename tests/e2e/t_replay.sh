# moonwatch replay: a generated corpus with known counts, over a folder with
# a .gz file, progress lines, text and JSON reports
ARC=rules/azure/sp_signin_then_arc_credential_access.lua
F=tests/fixtures/arc
C="$T/corpus"
mkdir -p "$C/sub"
head -1 $F/true_positive.ndjson >"$T/s.json"
sed -n 2p $F/true_positive.ndjson >"$T/l.json"
# 50 apps sign in and list 2 minutes later (alerts); 20 list 31 minutes later
# (expired); 5 listings carry no app id (no key); 10 apps sign in at the end
# and never list (still open).
T0=1760432400000
jq -n -c --slurpfile S "$T/s.json" --argjson t0 $T0 '
  def s(t; a): $S[0] | .["@timestamp"] = t | .azure.signinlogs.properties.app_id = a;
  [range(50) as $i | s($t0 + $i * 60000; "tp-\($i)")]
  + [range(20) as $j | s($t0 + $j * 60000 + 1000; "ex-\($j)")]
  + [range(10) as $m | s($t0 + 3600000 + $m * 10000; "op-\($m)")]
  | sort_by(."@timestamp") | .[]' >"$C/signins.ndjson"
jq -n -c --slurpfile L "$T/l.json" --argjson t0 $T0 '
  def l(t; a): $L[0] | .["@timestamp"] = t | .azure.activitylogs.identity.claims.appid = a;
  [range(50) as $i | l($t0 + $i * 60000 + 120000; "tp-\($i)")]
  + [range(20) as $j | l($t0 + $j * 60000 + 1000 + 31 * 60000; "ex-\($j)")]
  + [range(5) as $k | l($t0 + 600000 + $k * 1000; null) | del(.azure.activitylogs.identity.claims.appid)]
  | sort_by(."@timestamp") | .[]' | gzip >"$C/sub/activity.ndjson.gz"
# three unrelated events: the second 65 minutes behind the first (beyond the
# default --max-lateness of 5m: refused as too late), the third 2 minutes
# behind (placed in order)
printf '%s\n' "{\"@timestamp\":$((T0 + 4200000)),\"event\":{\"dataset\":\"other\"}}" \
    "{\"@timestamp\":$((T0 + 300000)),\"event\":{\"dataset\":\"other\"}}" \
    "{\"@timestamp\":$((T0 + 4080000)),\"event\":{\"dataset\":\"other\"}}" >"$C/other.ndjson"
echo "not an event file" >"$C/README.txt"

mw replay --rules $ARC --format json --progress lines --progress-interval 0 -o "file:$T/replay-alerts.ndjson" "$C"
expect_eq "replay: exit" "$RC" 0
R="$T/out"
expect_eq "replay: inputs (folder scanned, README skipped)" "$(jq -r '.inputs | length' $R)" 3
expect_eq "replay: .gz input listed" "$(jq -r '.inputs | map(select(endswith(".gz"))) | length' $R)" 1
expect_eq "replay: events" "$(jq -r .events $R)" 158
expect_eq "replay: lines" "$(jq -r .lines $R)" 158
expect_eq "replay: too late (refused)" "$(jq -r .too_late $R)" 1
expect_eq "replay: rejected counts the too late one" "$(jq -r .rejected $R)" 1
expect_eq "replay: out of order, placed in order" "$(jq -r .reordered $R)" 1
expect_eq "replay: alerts" "$(jq -r .alerts $R)" 50
expect_eq "replay: matched per step" "$(jq -r '.rules[0].matched_per_step | map(tostring) | join(",")' $R)" "80,75"
expect_eq "replay: started" "$(jq -r .rules[0].sequences.started $R)" 80
expect_eq "replay: completed" "$(jq -r .rules[0].sequences.completed $R)" 50
expect_eq "replay: expired" "$(jq -r .rules[0].sequences.expired $R)" 20
expect_eq "replay: still open" "$(jq -r .rules[0].sequences.open $R)" 10
expect_eq "replay: no key" "$(jq -r .rules[0].sequences.no_key $R)" 5
expect_eq "replay: evicted" "$(jq -r .rules[0].sequences.evicted $R)" 0
expect_eq "replay: nothing suppressed" "$(jq -r .rules[0].suppressed $R)" 0
expect_eq "replay: bytes = file sizes" "$(jq -r .bytes $R)" "$(cat "$C/signins.ndjson" "$C/sub/activity.ndjson.gz" "$C/other.ndjson" | wc -c | tr -d ' ')"
expect_eq "replay: alerts written with -o" "$(lines "$T/replay-alerts.ndjson")" 50
expect_eq "replay: alert time is event time" "$(jq -r '."@timestamp"' "$T/replay-alerts.ndjson" | head -1)" "2025-10-14T09:02:00.000Z"
expect_match "replay: plain progress line at the end" "$T/err" '^moonwatch: replay: 100% .* of .*, 158 events, [0-9]+ events/s, ETA done$'
expect_nomatch "replay: no bar when not a TTY" "$T/err" $'\r'

# the same replay, text report, evictions with a tiny key cap
mw replay --rules $ARC --progress none --max-open-keys 5 "$C"
expect_eq "replay text: exit" "$RC" 0
expect_match "replay text: header" "$T/out" '^replay: 3 input\(s\), [0-9]+ bytes, 158 events \(158 lines, 1 rejected\), 1 out of order placed in order, 1 too late, '
expect_match "replay text: steps" "$T/out" '^  matched per step  \[80, 75\]$'
expect_match "replay text: evicted" "$T/out" 'evicted [1-9][0-9]*'
expect_match "replay text: suppressed" "$T/out" '^  suppressed        0, capped 0, deduplicated 0, dropped by hook 0$'
expect_eq "replay text: no progress with --progress none" "$(grep -c 'replay: 100%' "$T/err")" 0

# suppression (issue 5's alert shaping) is counted: the 50 true positives
# share one service principal name, so one alert per hour is delivered
sed 's/^  sequence = mw.sequence {$/  suppress = { by = "azure.signinlogs.properties.service_principal_name", window = "1h" },\n&/' \
    $ARC >"$T/arc_suppressed.lua"
mw replay --rules "$T/arc_suppressed.lua" --format json --progress none "$C"
expect_eq "replay suppress: raised" "$(jq -r .rules[0].raised "$T/out")" 50
expect_eq "replay suppress: delivered" "$(jq -r .rules[0].alerts "$T/out")" 1
expect_eq "replay suppress: suppressed" "$(jq -r .rules[0].suppressed "$T/out")" 49

# a plain gz file given directly equals the uncompressed one
zcat "$C/sub/activity.ndjson.gz" >"$T/activity.ndjson"
mw replay --rules $ARC --format json --progress none "$C/signins.ndjson" "$T/activity.ndjson"
a1=$(jq -r '.alerts' "$T/out")
mw replay --rules $ARC --format json --progress none "$C/signins.ndjson" "$C/sub/activity.ndjson.gz"
expect_eq "replay: .gz and plain give the same alerts" "$(jq -r .alerts "$T/out")" "$a1"

# a truncated .gz is reported, the rest is replayed
head -c 200 "$C/sub/activity.ndjson.gz" >"$T/broken.ndjson.gz"
mw replay --rules $ARC --progress none "$C/signins.ndjson" "$T/broken.ndjson.gz"
expect_match "replay: truncated gzip reported" "$T/err" 'broken.ndjson.gz: gzip: .*unexpected end of file'
expect_match "replay: signins still replayed" "$T/out" '^  matched per step  \[80, 0\]$'

# usage errors
mw replay --rules $ARC
expect_eq "replay without input: exit 2" "$RC" 2
mw replay --rules $ARC "$T/nope"
expect_eq "replay missing input: exit 2" "$RC" 2
mw replay --rules $ARC --format yaml "$C"
expect_eq "replay bad format: exit 2" "$RC" 2
