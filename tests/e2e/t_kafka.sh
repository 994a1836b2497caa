# The kafka: and eventhub: inputs against librdkafka's mock cluster on
# 127.0.0.1 (tests/tools/kafka_mock.c, a process of its own): spec errors;
# the Arc example produced across two topics of several partitions, out of
# order between topics, gives exactly the alerts of the same events read
# from files; poison messages dead-lettered with topic/partition/offset;
# kill -9 while following, restarted from the checkpoint, against an
# uninterrupted run (no loss, no alert twice) and the group's committed
# offsets; the broker set down and up again (health records, nothing lost).
# Waits are bounded polls for events (a file's content), never fixed sleeps
# that a test's outcome depends on.
K=$T/kafka
mkdir -p "$K"
KWAIT=60
[ -n "${MW_VALGRIND:-}" ] && KWAIT=600
KMOCK=build/tools/kafka_mock

# --- spec errors: exit 2 at start, with a clear message ------------------
mw run --rules rules 'kafka:127.0.0.1:1/t,rdkafka.no.such.property=1'
expect_eq "kafka: unknown rdkafka property exits 2" "$RC" 2
expect_match "kafka: unknown property named" "$T/err" "unknown rdkafka property 'no.such.property'"
mw run --rules rules 'kafka:127.0.0.1:1'
expect_eq "kafka: no topic exits 2" "$RC" 2
expect_match "kafka: the spec's form is shown" "$T/err" "want kafka:BOOTSTRAP/TOPIC"
mw run --rules rules 'kafka:127.0.0.1:1/a+,group=g'
expect_eq "kafka: empty topic exits 2" "$RC" 2
mw run --rules rules 'kafka:127.0.0.1:1/a,start=now'
expect_eq "kafka: bad start= exits 2" "$RC" 2
mw run --rules rules 'kafka:127.0.0.1:1/a,colour=blue'
expect_eq "kafka: unknown option exits 2" "$RC" 2
expect_match "kafka: unknown option named" "$T/err" "unknown option 'colour'"
mw run --rules rules 'kafka:127.0.0.1:1/a,format=azure'
expect_eq "kafka: format=azure is pending, exits 2" "$RC" 2
env -u MW_TEST_HUB_CS $MW run --rules rules 'eventhub:myns/hub1,connection-string-env=MW_TEST_HUB_CS' \
    >"$T/out" 2>"$T/err"
expect_eq "eventhub: missing environment variable exits 2" "$?" 2
expect_match "eventhub: names the variable" "$T/err" 'read from \$MW_TEST_HUB_CS.*not set'
# the connection string is never printed: not on a failed TLS connection
# either (a plaintext listener that is not Kafka at all)
SECRET="Endpoint=sb://x/;SharedAccessKeyName=k;SharedAccessKey=s3cr3t-$$-value"
MW_TEST_HUB_CS=$SECRET timeout 4 $MW run --rules rules \
    "eventhub:127.0.0.1:1/hub1,connection-string-env=MW_TEST_HUB_CS" >"$T/out" 2>"$T/err"
expect_eq "eventhub: a cluster down never ends the run (killed by timeout)" "$?" 124
expect_nomatch "eventhub: the connection string is never printed" "$T/err" "s3cr3t-$$"

# --- the mock cluster -----------------------------------------------------
mkfifo "$K/ctl"
$KMOCK "$K/boot" signins:4 activity:3 idle:2 signins2:4 activity2:3 signins3:4 activity3:3 <"$K/ctl" >"$K/mock.out" 2>"$K/mock.err" &
KPID=$!
exec 7>"$K/ctl"
KN=0 # answers read so far
# kcmd COMMAND...: sends one command, waits for its answer (in $KANS)
kcmd() {
    echo "$*" >&7
    KN=$((KN + 1))
    local end=$(( $(date +%s) + KWAIT ))
    while [ "$(lines "$K/mock.out")" -lt "$KN" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.02; done
    KANS=$(sed -n "${KN}p" "$K/mock.out")
}
end=$(( $(date +%s) + KWAIT ))
while [ ! -s "$K/boot" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 0.05; done
BOOT=$(cat "$K/boot")
expect_match "mock cluster listens on loopback only" "$K/boot" '^127\.0\.0\.1:[0-9]+$'

# kprod FILE TOPIC_SIGNINS TOPIC_ACTIVITY SKEW_S: the NDJSON events of FILE
# as "topic<TAB>-1<TAB>event", sign-ins to the first topic, everything else
# to the second, in event-time order with the second topic's events SKEW_S
# seconds late (out of order between topics), partitions by librdkafka
kprod() {
    jq -rc --arg a "$2" --arg b "$3" --argjson skew "$4" '
        (if (.event.dataset // "") == "azure.signinlogs" then $a else $b end) as $t
        | [((."@timestamp" | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601)
            + (if $t == $b then $skew else 0 end)), $t, tostring] | @tsv' "$1" |
        sort -s -n -k1,1 | cut -f2- | awk -F'\t' 'BEGIN{OFS="\t"} {print $1, -1, $2}'
}

# --- the Arc story: two topics, several partitions, out of order ----------
cat examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson >"$K/arc.ndjson"
kprod "$K/arc.ndjson" signins activity 90 >"$K/arc.prod"
kcmd produce "$K/arc.prod"
kcmd flush
expect_eq "produced the Arc story" "$KANS" "ok flushed 341 failed 0"
mw run --rules rules --summary json examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson
jq -r '.event.id' "$T/out" | sort >"$K/arc.want"
mw run --rules rules --summary json "kafka:$BOOT/signins+activity"
expect_eq "kafka Arc: exit 0 at the high watermarks" "$RC" 0
jq -r '.event.id' "$T/out" | sort >"$K/arc.got"
expect_eq "kafka Arc: the example's alerts" "$(lines "$K/arc.got")" "$(lines examples/azure-arc/expected-alerts.tsv | awk '{print $1 - 1}')"
if cmp -s "$K/arc.got" "$K/arc.want"; then ok; else fail "kafka Arc: alert ids differ from the files'"; fi
expect_eq "kafka Arc: every message read, none rejected" "$(summary '.inputs[0].lines, .inputs[0].rejected' | tr '\n' ' ')" "341 0 "
expect_match "kafka Arc: partitions assigned from start=" "$T/err" "7 partition\(s\) assigned: 0 from the checkpoint, 0 from the group's offsets, 7 from start=earliest"
mw run --rules rules --threads 2 "kafka:$BOOT/signins+activity"
jq -r '.event.id' "$T/out" | sort >"$K/arc.got2"
if cmp -s "$K/arc.got2" "$K/arc.want"; then ok; else fail "kafka Arc --threads 2: alert ids differ"; fi
# the same through the eventhub: kind's spec shape is kafka: with SASL: not
# testable on the mock; start=latest reads nothing already there
mw run --rules rules --summary json "kafka:$BOOT/signins+activity,start=latest,group=fresh"
expect_eq "start=latest: nothing old read" "$(summary '.inputs[0].lines')" 0

# --- poison messages --------------------------------------------------------
head -c 3000 /dev/zero | tr '\0' 'x' >"$K/long.txt"
{ printf '{"@timestamp":"2025-10-14T13:00:00Z","a":1}\n'; printf 'not json either\n'; } >"$K/two.txt"
printf 'idle\t0\tthis is not JSON\n' >"$K/poison.prod"
printf 'idle\t0\t@%s\n' "$K/long.txt" >>"$K/poison.prod"
printf 'idle\t1\t@%s\n' "$K/two.txt" >>"$K/poison.prod"
printf 'idle\t1\t{"@timestamp":"2025-10-14T13:00:01Z","b":2}\n' >>"$K/poison.prod"
kcmd produce "$K/poison.prod"
kcmd flush
mw run --rules rules --summary json --max-line-bytes 1000 --dead-letter "$K/dead.ndjson" "kafka:$BOOT/idle"
expect_eq "poison: the run ends" "$RC" 0
expect_eq "poison: 5 lines from 4 messages, 3 rejected" "$(summary '.inputs[0].lines, .inputs[0].rejected' | tr '\n' ' ')" "5 3 "
expect_eq "poison: dead letters with topic/partition/offset" \
    "$(jq -r '[.reason, .position] | join(" ")' "$K/dead.ndjson" | sort | tr '\n' ',')" \
    "malformed_json idle/0/0,malformed_json idle/1/0#1,too_long idle/0/1,"
expect_match "poison: the warning names the message" "$T/err" "rejected \(too_long\)"

# --- kill -9 while following: no loss, no alert twice -----------------------
lua5.4 tests/tools/gen_stream.lua tests/fixtures/arc/true_positive.ndjson 400 >"$K/stream.ndjson"
KTOTAL=$(lines "$K/stream.ndjson")
$MW run --rules rules --alert-time event --summary none "$K/stream.ndjson" >"$K/base.ndjson" 2>/dev/null
jq -r '.event.id' "$K/base.ndjson" | sort >"$K/base.ids"
kprod "$K/stream.ndjson" signins2 activity2 0 >"$K/stream.prod"
# the stream in 6 chunks
split -n l/6 -d "$K/stream.prod" "$K/chunk."
ks_start() { # ks_start STATE ALERTS
    $MW run -f --rules rules --alert-time event --state-dir "$1" --checkpoint-interval 200ms \
        --summary none -o "file:$2" "kafka:$BOOT/signins2+activity2,idle=300ms" 2>>"$K/follow.err" &
    KS_PID=$!
}
# ks_read STATE: messages behind the checkpoint's cut (sum of offsets)
ks_read() {
    grep '^{"input"' "$1/checkpoint" 2>/dev/null |
        jq -r '[.input.partitions[]?.offset] | add // 0' 2>/dev/null | head -1
}
ks_wait_read() { # ks_wait_read STATE N
    local end=$(( $(date +%s) + KWAIT ))
    while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(ks_read "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# ks_wait_new STATE: a checkpoint header other than the one there now
ks_wait_new() {
    local h end=$(( $(date +%s) + KWAIT ))
    h=$(head -1 "$1/checkpoint" 2>/dev/null)
    while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(head -1 "$1/checkpoint" 2>/dev/null)" != "$h" ] && return 0
        sleep 0.05
    done
    return 1
}
: >"$K/follow.err"
ks_start "$K/st" "$K/alerts.ndjson"
kills=0 sent=0
for c in "$K"/chunk.*; do
    kcmd produce "$c"
    kcmd flush
    sent=$((sent + $(lines "$c")))
    # wait for part of the chunk to be cut in a checkpoint, then kill
    ks_wait_read "$K/st" "$sent" || true
    kill -9 "$KS_PID" 2>/dev/null; wait "$KS_PID" 2>/dev/null
    kills=$((kills + 1))
    ks_start "$K/st" "$K/alerts.ndjson"
done
# a checkpoint of the last process (handlers installed), then caught up
ks_wait_new "$K/st"
if ks_wait_read "$K/st" "$KTOTAL"; then ok; else fail "kafka kill -9: never caught up ($(ks_read "$K/st") of $KTOTAL)"; fi
kill -TERM "$KS_PID"; wait "$KS_PID"; rc=$?
expect_eq "kafka kill -9: killed $kills times, last stop clean" "$rc" 0
jq -r '.event.id' "$K/alerts.ndjson" | sort >"$K/got.ids"
expect_eq "kafka kill -9: no alert delivered twice" "$(uniq -d "$K/got.ids" | wc -l | tr -d ' ')" 0
if cmp -s "$K/got.ids" "$K/base.ids"; then ok; else
    fail "kafka kill -9: alert ids differ from the uninterrupted run ($(lines "$K/got.ids") vs $(lines "$K/base.ids"))"
fi
expect_match "kafka kill -9: resumed from the checkpoint" "$K/follow.err" "resuming at the checkpoint's offsets of 7 partition"
# the group saw the checkpoint's offsets (committed after it was durable)
kcmd committed moonwatch signins2:4 activity2:3
want=$(grep '^{"input"' "$K/st/checkpoint" | jq -r '[.input.partitions[] | "\(.topic)/\(.partition)=\(.offset)"] | sort | join(" ")')
expect_eq "kafka: the group's committed offsets are the checkpoint's" \
    "$(echo "$KANS" | tr ' ' '\n' | grep = | sort | tr '\n' ' ' | sed 's/ $//')" "$want"
# a restart without the state folder starts from the group's offsets
mw run --rules rules --summary json "kafka:$BOOT/signins2+activity2"
expect_eq "kafka: nothing left after the group's offsets" "$(summary '.inputs[0].lines')" 0
expect_match "kafka: started from the group's offsets" "$T/err" "0 from the checkpoint, 7 from the group's offsets"

# --- the broker down and up again: nothing lost ------------------------------
split -n l/2 -d "$K/stream.prod" "$K/half."
: >"$K/down.err"
$MW run -f --rules rules --alert-time event --state-dir "$K/st2" --checkpoint-interval 200ms \
    --summary none -o "file:$K/alerts2.ndjson" \
    "kafka:$BOOT/signins3+activity3,down-after=1s,idle=300ms,rdkafka.reconnect.backoff.max.ms=500" 2>"$K/down.err" &
KS_PID=$!
sed -i 's/^signins2\t/signins3\t/; s/^activity2\t/activity3\t/' "$K/half.00" "$K/half.01"
kcmd produce "$K/half.00"
kcmd flush
ks_wait_read "$K/st2" "$(lines "$K/half.00")" || fail "broker down: first half never read"
kcmd down
end=$(( $(date +%s) + KWAIT ))
while ! grep -q '"health":"input_down"' "$K/down.err" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
expect_match "broker down: health record input_down" "$K/down.err" '"health":"input_down","input":"kafka:'
kcmd produce "$K/half.01" # queued by the producer while the broker is down
kcmd up
kcmd flush
if ks_wait_read "$K/st2" "$KTOTAL"; then ok; else fail "broker up: never caught up ($(ks_read "$K/st2") of $KTOTAL)"; fi
end=$(( $(date +%s) + KWAIT )) # the record may follow the catch-up by a poll
while ! grep -q '"health":"input_up"' "$K/down.err" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
expect_match "broker up: health record input_up" "$K/down.err" '"health":"input_up"'
kill -TERM "$KS_PID"; wait "$KS_PID"; rc=$?
expect_eq "broker down and up: clean stop, never exited before" "$rc" 0
jq -r '.event.id' "$K/alerts2.ndjson" | sort >"$K/got2.ids"
if cmp -s "$K/got2.ids" "$K/base.ids"; then ok; else
    fail "broker down and up: alert ids differ from the uninterrupted run ($(lines "$K/got2.ids") vs $(lines "$K/base.ids"))"
fi

kcmd quit
exec 7>&-
wait "$KPID" 2>/dev/null
