# HTTP outputs against hostile or broken servers (docs/SECURITY.md, item 11),
# through build/tools/mock_http: "Retry-After: 0" on every 503 does not turn
# the sender into a busy loop; a 2xx with a 17 MiB body is a delivery; an
# Elasticsearch 2xx too big or not JSON is not re-posted forever; a 3xx is
# not followed and its alerts stay in the spool; the drain at exit cuts a
# hung request short.
MOCK=${MW_MOCK_HTTP:-build/tools/mock_http}
RULE=tests/fixtures/rules/shaping/signin_all.lua
SIGNINS=examples/azure-arc/signinlogs.ndjson
MOCK_PID=""

start_mock() { # LOG [mock options...]: sets PORT (reuses $PORT when set)
    local log=$1; shift
    rm -f "$T/port"
    "$MOCK" --port-file "$T/port" --log "$log" ${PORT:+--port "$PORT"} "$@" 2>>"$T/mock.err" &
    MOCK_PID=$!
    for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
    PORT=$(cat "$T/port" 2>/dev/null)
}
stop_mock() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
    MOCK_PID=""
}
ms() { date +%s%3N; }

unset PORT
if [ ! -x "$MOCK" ]; then
    fail "$MOCK is missing (make tools)"
else

# --- Retry-After: 0 on every answer: the back-off still applies --------------
start_mock "$T/ra0.log" --plan '503:0*1000000'
mw run --rules $RULE --spool-dir "$T/ra0" --summary json -o \
    "webhook:http://127.0.0.1:$PORT/a,backoff=100ms,max_backoff=500ms,timeout=1s,drain=2s" $SIGNINS
stop_mock
expect_eq "Retry-After 0: exit" "$RC" 0
n=$(lines "$T/ra0.log")
if [ "$n" -ge 2 ] && [ "$n" -le 30 ]; then ok; else fail "Retry-After 0: $n requests in about 2 s (want 2..30)"; fi
# consecutive attempts are at least backoff/2 apart
gap=$(jq -s '[range(1; length) as $i | .[$i].t - .[$i-1].t] | min' "$T/ra0.log")
if [ "$gap" -ge 45 ]; then ok; else fail "Retry-After 0: attempts $gap ms apart (want >= 50)"; fi
expect_eq "Retry-After 0: every alert kept in the spool" "$(summary '"\(.outputs[0].spool_pending) \(.outputs[0].failed)"')" "70 0"

# --- a 2xx with a body over 16 MiB is delivered, not re-posted ---------------
unset PORT
start_mock "$T/big.log" --plan 'big*3'
mw run --rules $RULE --spool-dir "$T/big" --summary json -o \
    "webhook:http://127.0.0.1:$PORT/a,backoff=100ms,timeout=10s,drain=20s" $SIGNINS
stop_mock
expect_eq "huge 2xx: one request per alert" "$(lines "$T/big.log")" 70
expect_eq "huge 2xx: delivered, never retried" \
    "$(summary '"\(.outputs[0].delivered) \(.outputs[0].retried) \(.outputs[0].spool_pending)"')" "70 0 0"

# --- Elasticsearch: a huge "errors":false answer is a delivery ---------------
unset PORT
start_mock "$T/esbig.log" --bulk --plan 'big*2'
mw run --rules $RULE --spool-dir "$T/esbig" --summary json -o \
    "elasticsearch:http://127.0.0.1:$PORT/idx,batch=20,linger=100ms,backoff=100ms,timeout=10s,drain=20s" $SIGNINS
stop_mock
expect_eq "huge _bulk answer: 4 requests for 70 alerts" "$(lines "$T/esbig.log")" 4
expect_eq "huge _bulk answer: delivered" \
    "$(summary '"\(.outputs[0].delivered) \(.outputs[0].retried) \(.outputs[0].failed)"')" "70 0 0"

# --- Elasticsearch: an unreadable 2xx is resent at most 3 times, then kept ---
unset PORT
start_mock "$T/esbad.log" --bulk --plan 'garbage*1000000'
mw run --rules $RULE --spool-dir "$T/esbad" --summary json -o \
    "elasticsearch:http://127.0.0.1:$PORT/idx,batch=20,linger=100ms,backoff=50ms,timeout=2s,drain=20s" $SIGNINS
stop_mock
expect_eq "unreadable _bulk: 3 attempts per batch of 20" "$(lines "$T/esbad.log")" 12
expect_eq "unreadable _bulk: refused and kept" "$(summary '"\(.outputs[0].delivered) \(.outputs[0].failed)"')" "0 70"
expect_eq "unreadable _bulk: the rejected file holds them" "$(cat "$T"/esbad/*.rejected.ndjson | wc -l | tr -d ' ')" 70
expect_match "unreadable _bulk: health record says why" "$T/err" '"health":"output_rejected".*"response":"unreadable _bulk response"'

# --- a 3xx is not followed: a configuration error, the alerts stay spooled ---
unset PORT
start_mock "$T/redir.log" --plan '301*1000000'
mw run --rules $RULE --spool-dir "$T/redir" --summary json -o \
    "webhook:http://127.0.0.1:$PORT/a,backoff=100ms,max_backoff=300ms,timeout=1s,drain=1s" $SIGNINS
stop_mock
expect_eq "3xx: exit" "$RC" 0
expect_eq "3xx: nothing refused, everything kept in the spool" \
    "$(summary '"\(.outputs[0].failed) \(.outputs[0].spool_pending)"')" "0 70"
expect_eq "3xx: no rejected file" "$(cat "$T"/redir/*.rejected.ndjson 2>/dev/null | wc -l | tr -d ' ')" 0
expect_match "3xx: health record names the redirect" "$T/err" \
    '"health":"output_down".*"error":"HTTP 301: redirects are not followed \(Location: http://127.0.0.1:9/moved\); fix the output URL"'
expect_eq "3xx: the redirect target was never contacted (one server, bounded attempts)" \
    "$(jq -r .path "$T/redir.log" | sort -u)" "/a"
# the next run, against a server that answers (same port), delivers the spool
start_mock "$T/redir2.log"
mw run --rules $RULE --spool-dir "$T/redir" --summary json -o \
    "webhook:http://127.0.0.1:$PORT/a,backoff=100ms,timeout=1s,drain=10s" /dev/null
stop_mock
expect_eq "3xx: the spool is delivered once the URL is fixed" "$(summary '"\(.outputs[0].delivered) \(.outputs[0].spool_pending)"')" "70 0"

# --- exit: a hung request is cut at the drain time, not the request timeout --
unset PORT
start_mock "$T/hang.log" --plan 'hang*1000000'
t0=$(ms)
mw run --rules $RULE --spool-dir "$T/hang" --summary json -o \
    "webhook:http://127.0.0.1:$PORT/a,timeout=30s,drain=1s" $SIGNINS
t1=$(ms)
stop_mock
expect_eq "drain: exit" "$RC" 0
if [ $((t1 - t0)) -lt 5000 ]; then ok; else fail "drain: exit took $((t1 - t0)) ms with drain=1s (timeout=30s)"; fi
expect_eq "drain: the alerts wait in the spool" "$(summary '"\(.outputs[0].delivered) \(.outputs[0].spool_pending)"')" "0 70"
expect_match "drain: says the request was cut short" "$T/err" 'request cut short: the drain time at exit is over'
fi
stop_mock
