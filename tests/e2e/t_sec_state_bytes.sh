# Issue 18 item 6: byte budgets for retained state. Events of 256 KiB each,
# 240 of them (60 MiB), held by a sequence rule (one open key per event)
# and by a distinct window (one group, every value new): without a byte
# budget all 60 MiB stay in memory until the end; with --max-state-bytes
# (per rule) or --max-total-state-bytes (all rules) the oldest keys/groups
# are evicted, counted per rule in the summary and reported as a
# state_evicted health record, and the peak RSS stays far below the input.
SB=$T/statebytes
mkdir -p "$SB/seq" "$SB/dist" "$SB/both"
cat >"$SB/seq/seq.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "sec-bytes-seq", name = "a then b by user",
  sequence = mw.sequence {
    maxspan = "1h",
    { where = mw.eq("event.action", "a"), by = "user.name" },
    { where = mw.eq("event.action", "b"), by = "user.name" },
  },
}
LUA
cat >"$SB/dist/dist.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "sec-bytes-distinct", name = "many users by action",
  distinct = mw.distinct { where = mw.eq("event.action", "a"), by = "event.action",
                           field = "user.name", count = 1000, window = "1h" },
}
LUA
cp "$SB/seq/seq.lua" "$SB/dist/dist.lua" "$SB/both/"
PAD=$(head -c 262144 /dev/zero | tr '\0' x)
for i in $(seq 1 240); do
    printf '{"@timestamp":"2025-10-14T09:%02d:%02dZ","event":{"action":"a"},"user":{"name":"u%d"},"pad":"%s"}\n' \
        $((i / 60)) $((i % 60)) "$i" "$PAD"
done >"$SB/big.ndjson"
unset PAD
MB=$((1024 * 1024))
peak() { summary '.memory.peak_rss_bytes'; }

# no budget that bites: the sequence holds all 100 MiB (the baseline)
mw run --rules "$SB/seq" --summary json --max-line-bytes 1M "$SB/big.ndjson"
expect_eq "state bytes: unbounded run exit" "$RC" 0
free_peak=$(peak)
expect_eq "state bytes: unbounded, all keys open" "$(summary '.rules[0].sequences.open_keys')" 240
held=$(summary '.rules[0].sequences.bytes')
if [ "$held" -ge $((60 * MB)) ]; then ok; else fail "state bytes: 240 x 256 KiB held as $held bytes"; fi

# per rule: --max-state-bytes 8M on the sequence
mw run --rules "$SB/seq" --summary json --max-line-bytes 1M --max-state-bytes 8M \
    --health "$SB/health1.ndjson" "$SB/big.ndjson"
expect_eq "state bytes: sequence under budget exit" "$RC" 0
seq_bytes=$(summary '.rules[0].sequences.bytes')
if [ "$seq_bytes" -le $((8 * MB)) ]; then ok; else fail "state bytes: sequence holds $seq_bytes > 8 MiB"; fi
ev=$(summary '.rules[0].sequences.byte_evicted')
if [ "$ev" -ge 200 ]; then ok; else fail "state bytes: sequence byte evictions $ev, want >= 200"; fi
expect_eq "state bytes: evicted counted as evicted too" "$(summary '.rules[0].sequences.evicted >= .rules[0].sequences.byte_evicted')" true
expect_match "state bytes: state_evicted health record" "$SB/health1.ndjson" '"health":"state_evicted".*"rule_id":"sec-bytes-seq"'
expect_match "state bytes: eviction warning" "$T/err" 'rule sec-bytes-seq: state over its byte budget'
bounded_peak=$(peak)
# the bounded run peaks at least 40 MiB under the unbounded one
if [ $((bounded_peak + 40 * MB)) -le "$free_peak" ]; then ok; else
    fail "state bytes: peak RSS $bounded_peak bounded vs $free_peak unbounded"; fi

# distinct: one group whose value set holds every event, --max-open-keys 1
mw run --rules "$SB/dist" --summary json --max-line-bytes 1M --max-open-keys 1 \
    --max-state-bytes 8M "$SB/big.ndjson"
expect_eq "state bytes: distinct exit" "$RC" 0
dist_bytes=$(summary '.rules[0].window.bytes')
if [ "$dist_bytes" -le $((8 * MB)) ]; then ok; else fail "state bytes: distinct group holds $dist_bytes"; fi
dev=$(summary '.rules[0].window.byte_evicted')
if [ "$dev" -ge 1 ]; then ok; else fail "state bytes: distinct byte evictions $dev"; fi
if [ $(($(peak) + 40 * MB)) -le "$free_peak" ]; then ok; else
    fail "state bytes: distinct peak RSS $(peak) vs $free_peak unbounded"; fi

# total: each rule may hold 64M, all rules together 8M
mw run --rules "$SB/both" --summary json --max-line-bytes 1M --max-state-bytes 64M \
    --max-total-state-bytes 8M "$SB/big.ndjson"
expect_eq "state bytes: total budget exit" "$RC" 0
tot=$(summary '[.rules[] | (.sequences.bytes // .window.bytes)] | add')
if [ "$tot" -le $((8 * MB)) ]; then ok; else fail "state bytes: rules hold $tot together, over 8 MiB"; fi
tev=$(summary '[.rules[] | (.sequences.byte_evicted // .window.byte_evicted)] | add')
if [ "$tev" -ge 1 ]; then ok; else fail "state bytes: total budget evictions $tev"; fi

# the webhook queue: 200 alerts of 256 KiB against a server that never
# answers; queue_bytes=2M keeps at most 2 MiB of them in memory, the rest
# goes to the spool on disk (nothing lost); without it all sit in memory
mkdir -p "$SB/q"
cat >"$SB/q/q.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule { id = "sec-bytes-query", name = "every a", where = mw.eq("event.action", "a") }
LUA
head -200 "$SB/big.ndjson" >"$SB/q200.ndjson"
rm -f "$SB/big.ndjson"
QMOCK=build/tools/mock_http
rm -f "$SB/port"
"$QMOCK" --port-file "$SB/port" --log "$SB/mock.log" --plan "$(printf 'hang,%.0s' $(seq 1 50))hang" \
    2>>"$SB/mock.err" &
QPID=$!
for _ in $(seq 1 100); do [ -s "$SB/port" ] && break; sleep 0.05; done
QO="batch=1,timeout=1s,connect_timeout=1s,drain=1s"
QURL="webhook:http://127.0.0.1:$(cat "$SB/port")/alerts"
mw run --rules "$SB/q" --summary json --max-line-bytes 1M --spool-dir "$SB/spool-free" \
    -o "$QURL,$QO" "$SB/q200.ndjson"
q_free_peak=$(peak)
mw run --rules "$SB/q" --summary json --max-line-bytes 1M --spool-dir "$SB/spool-bound" \
    -o "$QURL,$QO,queue_bytes=2M" "$SB/q200.ndjson"
expect_eq "queue bytes: exit" "$RC" 0
expect_eq "queue bytes: every alert raised" "$(summary '.alerts')" 200
spooled=$(summary '.outputs[0].spooled')
if [ "$spooled" -ge 190 ]; then ok; else fail "queue bytes: $spooled alerts spooled, want >= 190"; fi
expect_eq "queue bytes: all 200 kept on disk (one in flight)" \
    "$(cat "$SB"/spool-bound/*.spool.ndjson 2>/dev/null | wc -l | tr -d ' ')" \
    "$(($(summary '.outputs[0].spool_pending')))"
if [ $(($(peak) + 30 * MB)) -le "$q_free_peak" ]; then ok; else
    fail "queue bytes: peak RSS $(peak) with queue_bytes=2M vs $q_free_peak without"; fi
kill "$QPID" 2>/dev/null
wait "$QPID" 2>/dev/null
