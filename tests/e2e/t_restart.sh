# Restarts without loss or duplicates, through the real binary: a long
# followed stream (tests/tools/gen_stream.lua: ~1,800 events, ~800
# sequences, some beyond maxspan, enough to hit the Arc rule's cap) is
# appended in chunks cut at random byte positions (partial lines) while
# moonwatch is killed with SIGKILL at random points and restarted; the set
# of alert ids delivered must equal an uninterrupted run's, with no id
# twice. Then a clean SIGTERM restart in the middle of a sequence, a
# corrupt checkpoint (the previous one is used), and unusable checkpoints
# (refused with a clear error).
#
# Kill points are chosen by events, never by sleeping: a checkpoint this
# process wrote, alerts it wrote since, a line count; the only waits are
# bounded polls for those events (rs_wait_*), so a slow or busy machine
# changes how long the test takes, not what it checks.
R=$T/restart
mkdir -p "$R"
RS_WAIT=60
[ -n "${MW_VALGRIND:-}" ] && RS_WAIT=600
lua5.4 tests/tools/gen_stream.lua tests/fixtures/arc/true_positive.ndjson 1000 >"$R/stream.ndjson"
RS_SIZE=$(stat -c %s "$R/stream.ndjson")
$MW run --rules rules --alert-time event --summary none "$R/stream.ndjson" \
    >"$R/base.ndjson" 2>"$R/base.err"
jq -r '.event.id' "$R/base.ndjson" | sort >"$R/base.ids"
expect_eq "restart: the uninterrupted run has alerts and drops some by the cap" \
    "$(lines "$R/base.ids") $(grep -c alerts_capped "$R/base.err")" "672 5"

rs_start() { # rs_start STATE ALERTS INPUT
    $MW run -f --rules rules --alert-time event --state-dir "$1" \
        --checkpoint-interval "${RS_INTERVAL:-100ms}" ${RS_EXTRA:-} \
        --summary none -o "file:$2" "$3" 2>>"$R/err" &
    RS_PID=$!
}
# rs_caught_up STATE SIZE: waits until the checkpoint's input offset is SIZE
rs_caught_up() {
    local end=$(( $(date +%s) + RS_WAIT )) off
    while [ "$(date +%s)" -lt "$end" ]; do
        off=$(grep '^{"input"' "$1/checkpoint" 2>/dev/null | jq -r '.input.offset' 2>/dev/null)
        [ "$off" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
# rs_ckpt_head STATE: the header line of STATE's checkpoint ("" when none);
# every checkpoint has its own (number, created)
rs_ckpt_head() { head -1 "$1/checkpoint" 2>/dev/null; }
# rs_wait_ckpt STATE HEAD: waits until STATE holds a complete checkpoint
# whose header is not HEAD (one written since HEAD was read)
rs_wait_ckpt() {
    local end=$(( $(date +%s) + RS_WAIT ))
    while [ "$(date +%s)" -lt "$end" ]; do
        if [ "$(rs_ckpt_head "$1")" != "$2" ] && grep -q '^{"end"' "$1/checkpoint" 2>/dev/null; then
            return 0
        fi
        sleep 0.02
    done
    return 1
}
# rs_wait_lines FILE N SECONDS: waits until FILE has at least N lines
rs_wait_lines() {
    local end=$(( $(date +%s) + $3 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        [ "$(lines "$1")" -ge "$2" ] && return 0
        sleep 0.02
    done
    return 1
}
# rs_compare NAME ALERTS: the delivered ids against the uninterrupted run
rs_compare() {
    jq -r '.event.id' "$2" | sort >"$R/got.ids"
    expect_eq "$1: no alert delivered twice" "$(uniq -d "$R/got.ids" | wc -l | tr -d ' ')" 0
    if cmp -s "$R/got.ids" "$R/base.ids"; then ok; else
        fail "$1: alert ids differ from the uninterrupted run ($(lines "$R/got.ids") vs $(lines "$R/base.ids")):"
        diff "$R/got.ids" "$R/base.ids" | head -5 | sed 's/^/    /'
    fi
}

# --- SIGKILL at random points, several times -----------------------------
: >"$R/in.ndjson"
: >"$R/err"
RANDOM=8
# checkpoints further apart than kills: most kills lose processed events
# and decided alerts that the restart must read and recognise again
RS_INTERVAL=700ms
# each kill comes after a checkpoint this process wrote and after at least
# one alert it raised since (so the restart has ids to recognise)
rs_start "$R/st" "$R/alerts.ndjson" "$R/in.ndjson"
pos=0 chunks=0 kills=0 head=$(rs_ckpt_head "$R/st")
while [ "$pos" -lt "$RS_SIZE" ]; do
    len=$(( 40000 + RANDOM * 8 ))
    tail -c +$((pos + 1)) "$R/stream.ndjson" | head -c "$len" >>"$R/in.ndjson"
    pos=$(( pos + len ))
    chunks=$((chunks + 1))
    if [ $((chunks % 4)) -eq 3 ]; then
        rs_wait_ckpt "$R/st" "$head" || fail "kill -9: no checkpoint before kill $((kills + 1))"
        head=$(rs_ckpt_head "$R/st")
        seen=$(lines "$R/alerts.ndjson")
    elif [ $((chunks % 4)) -eq 0 ]; then
        rs_wait_lines "$R/alerts.ndjson" $((seen + 1)) 10
        kill -9 "$RS_PID" 2>/dev/null; wait "$RS_PID" 2>/dev/null
        kills=$((kills + 1))
        rs_start "$R/st" "$R/alerts.ndjson" "$R/in.ndjson"
    fi
done
if rs_caught_up "$R/st" "$RS_SIZE"; then ok; else fail "kill -9: never caught up with the stream"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_eq "kill -9: killed several times, last stop clean" "$([ $kills -ge 4 ] && echo yes) $rc" "yes 0"
rs_compare "kill -9 x$kills" "$R/alerts.ndjson"
expect_match "kill -9: resumed from checkpoints" "$R/err" "checkpoint [0-9]+ restored"
expect_match "kill -9: inputs resumed at their offsets" "$R/err" "resuming at offset [0-9]+"
expect_nomatch "kill -9: no line rejected (partial lines waited for)" "$R/err" "rejected"
replayed=$(sed -n 's/.* \([0-9]*\) alert id(s) decided after it .*/\1/p' "$R/err" | awk '{s += $1} END {print s + 0}')
[ "$replayed" -gt 0 ] && ok || fail "kill -9: no restart had alerts to recognise (test too weak)"
cp "$R/err" "$R/err.kill"
RS_INTERVAL=100ms

# --- SIGKILL while catching up with a stream already written ---------------
# (kills land anywhere: during start-up, in the middle of an alert's write,
# between an alert's write and the record of its id, during a checkpoint)
: >"$R/err"
cp "$R/stream.ndjson" "$R/in3.ndjson"
RANDOM=17
RS_INTERVAL=30ms
# odd kills at once (during start-up), even ones when the alerts written
# reach the next of a few targets (in the middle of the stream)
rs_kill_at() { # rs_kill_at K ALERTS
    if [ $(( $1 % 2 )) -eq 1 ]; then return; fi
    rs_wait_lines "$2" $(( $(lines "$2") + 1 + RANDOM % 40 )) 10
}
for k in 1 2 3 4 5 6 7 8; do
    rs_start "$R/st3" "$R/alerts3.ndjson" "$R/in3.ndjson"
    rs_kill_at $k "$R/alerts3.ndjson"
    kill -9 "$RS_PID" 2>/dev/null; wait "$RS_PID" 2>/dev/null
done
rs_start "$R/st3" "$R/alerts3.ndjson" "$R/in3.ndjson"
if rs_caught_up "$R/st3" "$RS_SIZE"; then ok; else fail "kill -9 catching up: never caught up"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_eq "kill -9 catching up: last stop clean" "$rc" 0
rs_compare "kill -9 x8 while catching up" "$R/alerts3.ndjson"
# the same with parser threads (lines read ahead in batches)
: >"$R/err"
RS_EXTRA="--threads 2"
for k in 1 2 3 4; do
    rs_start "$R/st4" "$R/alerts4.ndjson" "$R/in3.ndjson"
    rs_kill_at $k "$R/alerts4.ndjson"
    kill -9 "$RS_PID" 2>/dev/null; wait "$RS_PID" 2>/dev/null
done
rs_start "$R/st4" "$R/alerts4.ndjson" "$R/in3.ndjson"
if rs_caught_up "$R/st4" "$RS_SIZE"; then ok; else fail "kill -9 threads: never caught up"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_eq "kill -9 threads: last stop clean" "$rc" 0
rs_compare "kill -9 x4 with --threads 2" "$R/alerts4.ndjson"
RS_EXTRA=
RS_INTERVAL=100ms

# --- a clean SIGTERM in the middle of a sequence --------------------------
# the stream is cut right after a sign-in whose listing comes after the
# restart, and in the middle of the next line (a partial line at the stop)
: >"$R/in2.ndjson"
: >"$R/err"
cut_line=$(grep -n '"ServicePrincipalSignInLogs"' "$R/stream.ndjson" | sed -n 300p | cut -d: -f1)
head -n "$cut_line" "$R/stream.ndjson" >"$R/in2.ndjson"
sed -n "$((cut_line + 1))p" "$R/stream.ndjson" | head -c 700 >>"$R/in2.ndjson"
cut_bytes=$(head -n "$cut_line" "$R/stream.ndjson" | wc -c)
rs_start "$R/st2" "$R/alerts2.ndjson" "$R/in2.ndjson"
if rs_caught_up "$R/st2" "$cut_bytes"; then ok; else fail "SIGTERM: never caught up"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_eq "SIGTERM: clean stop" "$rc" 0
expect_eq "SIGTERM: checkpointed before the partial line" \
    "$(grep '^{"input"' "$R/st2/checkpoint" | jq -r .input.offset)" "$cut_bytes"
open_before=$(grep '^{"rule"' "$R/st2/checkpoint" | jq -s '[.[] | .rule.state.keys // [] | length] | add')
[ "$open_before" -gt 0 ] && ok || fail "SIGTERM: no open sequence in the checkpoint"
tail -c +$((cut_bytes + 701)) "$R/stream.ndjson" | head -c 1 >/dev/null
tail -c +$((cut_bytes + 701)) "$R/stream.ndjson" >>"$R/in2.ndjson"
rs_start "$R/st2" "$R/alerts2.ndjson" "$R/in2.ndjson"
if rs_caught_up "$R/st2" "$RS_SIZE"; then ok; else fail "SIGTERM restart: never caught up"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_eq "SIGTERM restart: clean stop" "$rc" 0
rs_compare "SIGTERM restart" "$R/alerts2.ndjson"

# --- a corrupt checkpoint: refused, the previous one used -----------------
cp "$R/st2/checkpoint" "$R/good.ckpt"
head -c 2000 "$R/good.ckpt" >"$R/st2/checkpoint"
: >"$R/err"
rs_start "$R/st2" "$R/alerts2.ndjson" "$R/in2.ndjson"
# (the truncated file still shows the old offset: wait for a new checkpoint)
end=$(( $(date +%s) + RS_WAIT ))
while ! grep -q '"end"' "$R/st2/checkpoint" && [ "$(date +%s)" -lt "$end" ]; do sleep 0.1; done
if rs_caught_up "$R/st2" "$RS_SIZE"; then ok; else fail "corrupt: never caught up"; fi
kill -TERM "$RS_PID"; wait "$RS_PID"; rc=$?
expect_match "corrupt checkpoint: refused with a reason" "$R/err" "checkpoint refused: .*checkpoint: truncated"
expect_match "corrupt checkpoint: the previous one is used" "$R/err" "resuming from the previous checkpoint"
expect_eq "corrupt checkpoint: clean stop" "$rc" 0
rs_compare "corrupt checkpoint, previous used" "$R/alerts2.ndjson"

# --- unusable checkpoints: refuse to start, files kept --------------------
echo '{"moonwatch_checkpoint":99}' >"$R/st2/checkpoint"
echo 'hello' >"$R/st2/checkpoint.prev"
mw run -f --rules rules --state-dir "$R/st2" --summary none "$R/in2.ndjson"
expect_eq "unusable checkpoints: refuses to start" "$RC" 2
expect_match "unusable checkpoints: says why" "$T/err" "no usable checkpoint in .*refusing to start"
expect_match "foreign checkpoint: named" "$T/err" "checkpoint.prev: not a moonwatch checkpoint"
expect_eq "unusable checkpoints: left in place" "$(cat "$R/st2/checkpoint.prev")" "hello"
# a checkpoint of a future format version, intact
{ printf '{"moonwatch_checkpoint":2,"number":1}\n' >"$R/v2"
  h=$(sha256sum "$R/v2" | cut -c1-64)
  printf '{"end":{"lines":1,"sha256":"%s"}}\n' "$h" >>"$R/v2"; }
cp "$R/v2" "$R/st2/checkpoint"
rm -f "$R/st2/checkpoint.prev"
mw run -f --rules rules --state-dir "$R/st2" --summary none "$R/in2.ndjson"
expect_eq "other format version: refuses to start" "$RC" 2
expect_match "other format version: says which" "$T/err" "format version 2, this moonwatch reads version 1"
