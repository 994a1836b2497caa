# A rule that hangs while loading (issue 18, item 5): loading and reloading
# run under a time bound (--rule-load-time, default 2s) besides the load's
# instruction budget, so a stuck rule dropped into a followed rules folder
# fails to load while the other rules keep alerting; and SIGTERM stops a
# load at once, so the host exits promptly.
F=$T/loadhang
mkdir -p "$F/rules"
SRC=tests/fixtures/arc/true_positive.ndjson
SEED=rules/azure/sp_signin_then_arc_credential_access.lua
SEED_ID=dacfbecd-7927-46a7-a8ba-feb65a2e990d
HANG=tests/fixtures/rules/hostile/load_hang.lua
WAIT_S=15
[ -n "${MW_VALGRIND:-}" ] && WAIT_S=90
sig() { sed -n 1p $SRC | jq -c --arg t "2025-10-14T$1:00:00.000Z" '."@timestamp" = $t'; }
act() { sed -n 2p $SRC | jq -c --arg t "2025-10-14T$1:04:12.000Z" '."@timestamp" = $t'; }
now_ms() { date +%s%3N; }
# wait_until CMD...: polls until CMD succeeds or WAIT_S passes
wait_until() {
    local end=$(( $(now_ms) + WAIT_S * 1000 ))
    until "$@"; do [ "$(now_ms)" -ge "$end" ] && return 1; sleep 0.05; done
}
seed_alerts() { [ "$(grep -c "$SEED_ID" "$F/alerts.ndjson" 2>/dev/null)" -ge "$1" ]; }
hang_failed() { grep '"health":"\(load\|reload\)_failed"' "$F/health.ndjson" 2>/dev/null | grep -q 'hang.lua'; }
logged() { grep -q "$1" "$F/err" 2>/dev/null; }
alive() { kill -0 "$1" 2>/dev/null; }

# 1. the stuck rule arrives in a followed folder: detection goes on
cp $SEED "$F/rules/seed.lua"
: >"$F/in.ndjson"
: >"$F/alerts.ndjson"
$MW run --follow --rules "$F/rules" --alert-time event -o "file:$F/alerts.ndjson" \
    --health-output "file:$F/health.ndjson" --summary json "$F/in.ndjson" >"$F/out" 2>"$F/err" &
PID=$!
wait_until logged "following" && ok || fail "load hang: host started"
cp $HANG "$F/rules/hang.lua"
wait_until logged "load_hang: loading" && ok || fail "load hang: the stuck rule is being loaded"
{ sig 10; act 10; } >>"$F/in.ndjson"
wait_until seed_alerts 1 && ok || fail "load hang: the seed rule alerts while the stuck rule loads"
wait_until hang_failed && ok || { fail "load hang: no load failure recorded"; tail -5 "$F/err"; }
# whichever bound comes first: 50M instructions (pattern steps count) or 2 s
expect_match "load hang: failure names a load bound" "$F/err" "reload failed: .*hang.lua.*(instruction|time) budget exceeded"
{ sig 11; act 11; } >>"$F/in.ndjson"
wait_until seed_alerts 2 && ok || fail "load hang: the seed rule alerts after the failed load"
kill -TERM $PID
t0=$(now_ms)
wait_until eval '! alive $PID' && ok || fail "load hang: SIGTERM ignored"
wait $PID 2>/dev/null
expect_eq "load hang: exit after SIGTERM" "$?" 0
alive $PID && kill -9 $PID 2>/dev/null

# 2. SIGTERM while a rule is loading, even with a long load bound: the load
# is interrupted and the host exits within a couple of seconds
rm -f "$F/rules/hang.lua"
: >"$F/err"
$MW run --follow --rules "$F/rules" --rule-load-time 60s -o "file:$F/alerts2.ndjson" \
    --summary none "$F/in.ndjson" >"$F/out" 2>"$F/err" &
PID=$!
wait_until logged "following" && ok || fail "load hang: second host started"
cp $HANG "$F/rules/hang.lua"
wait_until logged "load_hang: loading" && ok || fail "load hang: second load started"
sleep 0.3
t0=$(now_ms)
kill -TERM $PID
wait_until eval '! alive $PID' && ok || fail "load hang: SIGTERM during the load ignored"
took=$(( $(now_ms) - t0 ))
[ "$took" -le 2000 ] && ok || fail "load hang: exit took ${took} ms after SIGTERM (want <= 2000)"
wait $PID 2>/dev/null
expect_eq "load hang: exit 0 after SIGTERM during a load" "$?" 0
expect_match "load hang: load interrupted" "$F/err" "hang.lua.*interrupted: the host is stopping"
alive $PID && kill -9 $PID 2>/dev/null
