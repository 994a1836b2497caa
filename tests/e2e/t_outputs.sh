# Outputs against a real HTTP server on loopback (build/tools/mock_http,
# tests/tools/mock_http.c): webhook single POSTs and NDJSON batches through
# 500 / 429 + Retry-After / a hung request / a dropped connection, headers
# from the environment, refused alerts, a run while the server is down
# (spooled) and a later run that delivers the spool in order, and the
# Elasticsearch _bulk format with partial per-item failures. Every alert must
# arrive exactly once.
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
# ids answered 2xx, in order (webhook logs: one alert or NDJSON per body)
ok_ids() { jq -r 'select(.status | type == "number" and . < 300) | .body' "$1" | grep . | jq -r '.event.id'; }
all_ids() { jq -r '.event.id' "$1"; }

if [ ! -x "$MOCK" ]; then
    fail "$MOCK is missing (make tools)"
else
O="batch=1,backoff=100ms,max_backoff=1s,timeout=1s,connect_timeout=1s,drain=5s"

# --- webhook, one JSON POST per alert, through failures -------------------
unset PORT
start_mock "$T/wh1.log" --plan 500,429:1,hang,close,503
export MW_TEST_TOKEN=s3cret-token MW_TEST_TEAM=blue
mw run --rules $RULE --spool-dir "$T/spool1" --summary json -o stdout \
    -o "webhook:http://127.0.0.1:$PORT/alerts,$O,token_env=MW_TEST_TOKEN,header=X-Team:MW_TEST_TEAM" $SIGNINS
stop_mock
expect_eq "webhook: exit" "$RC" 0
expect_eq "webhook: stdout still gets every alert" "$(lines "$T/out")" 70
expect_eq "webhook: every alert once, in order" "$(ok_ids "$T/wh1.log" | tr '\n' ' ')" "$(all_ids "$T/out" | tr '\n' ' ')"
expect_eq "webhook: requests (70 + 5 failed attempts)" "$(lines "$T/wh1.log")" 75
expect_eq "webhook: the failed attempts were the first alert" \
    "$(jq -r '.body | fromjson | .event.id' "$T/wh1.log" | head -6 | sort -u | wc -l | tr -d ' ')" 1
expect_eq "webhook: statuses" "$(jq -r .status "$T/wh1.log" | head -6 | tr '\n' ' ')" "500 429 hang close 503 200 "
t429=$(jq -r 'select(.n == 2) | .t' "$T/wh1.log"); tnext=$(jq -r 'select(.n == 3) | .t' "$T/wh1.log")
if [ $((tnext - t429)) -ge 950 ]; then ok; else fail "webhook: Retry-After 1 not honoured ($((tnext - t429)) ms)"; fi
expect_eq "webhook: bearer token from the environment" \
    "$(jq -r '.headers.authorization' "$T/wh1.log" | sort -u)" "Bearer s3cret-token"
expect_eq "webhook: header from the environment" "$(jq -r '.headers."x-team"' "$T/wh1.log" | sort -u)" "blue"
expect_eq "webhook: JSON content type" "$(jq -r '.headers."content-type"' "$T/wh1.log" | sort -u)" "application/json"
expect_eq "webhook: summary delivered" "$(summary '.outputs[1].delivered')" 70
expect_eq "webhook: summary retried" "$(summary '.outputs[1].retried')" 5
expect_eq "webhook: summary spooled/failed" "$(summary '"\(.outputs[1].spooled) \(.outputs[1].failed)"')" "0 0"
expect_match "webhook: health record when down" "$T/err" '"health":"output_down".*"error":"HTTP 500"'
expect_match "webhook: health record when back" "$T/err" '"health":"output_up"'
expect_match "webhook: final health record" "$T/err" '"health":"output_stats".*"delivered":70,"retried":5,"spooled":0,"failed":0'
expect_nomatch "webhook: the token never reaches the logs" "$T/err" "s3cret"

# a variable named in the spec must exist
mw run --rules $RULE --spool-dir "$T/spool1" -o "webhook:http://127.0.0.1:$PORT/x,token_env=MW_TEST_NOPE" $SIGNINS
expect_eq "webhook: missing env var is a usage error" "$RC" 2
expect_match "webhook: names the variable" "$T/err" "MW_TEST_NOPE.*not set"
mw run --rules $RULE -o "webhook:http://127.0.0.1:$PORT/x" $SIGNINS
expect_eq "webhook: needs a spool folder" "$RC" 2
expect_match "webhook: says so" "$T/err" "give --state-dir or --spool-dir"
mw run --rules $RULE --spool-dir "$T/spool1" -o "webhook:ftp://127.0.0.1/x" $SIGNINS
expect_eq "webhook: bad scheme" "$RC" 2
mw run --rules $RULE --spool-dir "$T/spool1" -o "webhook:http://127.0.0.1:$PORT/x,bogus=1" $SIGNINS
expect_match "webhook: unknown option" "$T/err" "bad option 'bogus=1'"

# --- webhook, NDJSON batches; a 400 refuses one batch -----------------------
unset PORT
start_mock "$T/wh2.log" --plan 200,400
mw run --rules $RULE --spool-dir "$T/spool2" --summary json -o stdout \
    -o "webhook:http://127.0.0.1:$PORT/bulk,batch=25,linger=200ms,backoff=100ms,drain=5s" $SIGNINS
stop_mock
expect_eq "batches: NDJSON content type" "$(jq -r '.headers."content-type"' "$T/wh2.log" | sort -u)" "application/x-ndjson"
expect_eq "batches: no body over 25 alerts" "$(jq -r '.body | split("\n") | map(select(. != "")) | length <= 25' "$T/wh2.log" | sort -u)" "true"
expect_eq "batches: every body ends with a newline" "$(jq -r '.body | endswith("\n")' "$T/wh2.log" | sort -u)" "true"
refused=$(jq -r 'select(.status == 400) | .body' "$T/wh2.log" | grep -c .)
expect_eq "batches: delivered + refused = all" "$(( $(ok_ids "$T/wh2.log" | wc -l) + refused ))" 70
expect_eq "batches: summary failed" "$(summary '.outputs[1].failed')" "$refused"
expect_eq "batches: refused alerts are kept" "$(cat "$T"/spool2/*.rejected.ndjson | wc -l | tr -d ' ')" "$refused"
expect_eq "batches: nothing delivered twice" "$(ok_ids "$T/wh2.log" | sort | uniq -d | wc -l | tr -d ' ')" 0
expect_match "batches: refusal health record" "$T/err" '"health":"output_rejected".*"status":400'

# --- down: the run spools; a later run delivers the spool, in order ---------
unset PORT
start_mock "$T/wh3.log"
stop_mock                      # the port now refuses connections
W="webhook:http://127.0.0.1:$PORT/alerts,batch=10,linger=50ms,backoff=100ms,connect_timeout=1s,drain=1s,queue=16"
mw run --rules $RULE --state-dir "$T/state3" --summary json -o stdout -o "$W" $SIGNINS
cp "$T/out" "$T/down_out"
expect_eq "down: exit" "$RC" 0
expect_eq "down: detection goes on (stdout)" "$(lines "$T/out")" 70
expect_eq "down: summary spooled" "$(summary '.outputs[1].spooled')" 70
expect_eq "down: summary delivered" "$(summary '.outputs[1].delivered')" 0
expect_eq "down: waiting in spool" "$(summary '.outputs[1].spool_pending')" 70
expect_eq "down: spool file holds them in order" "$(cat "$T"/state3/spool/*.spool.ndjson | jq -r .event.id | tr '\n' ' ')" "$(all_ids "$T/down_out" | tr '\n' ' ')"
expect_match "down: health record" "$T/err" '"health":"output_down".*Could not connect|"health":"output_down".*onnect'
start_mock "$T/wh3.log"        # same port, back up
# the second run raises new alerts (the Arc story): spool first, then those
mw run --rules rules --state-dir "$T/state3" --summary json -o stdout -o "$W" \
    examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson
stop_mock
expect_eq "spool delivered: spool first, then the new alerts, each once" \
    "$(ok_ids "$T/wh3.log" | tr '\n' ' ')" "$(cat "$T/down_out" "$T/out" | jq -r .event.id | tr '\n' ' ')"
expect_eq "spool delivered: summary" "$(summary '"\(.outputs[1].delivered) \(.outputs[1].spool_pending)"')" "72 0"
expect_eq "spool delivered: spool emptied" "$(cat "$T"/state3/spool/*.spool.ndjson | wc -l | tr -d ' ')" 0

# --- Elasticsearch _bulk with partial per-item failures -------------------
unset PORT
start_mock "$T/es.log" --bulk --item-status 3=429,7=400,10=503
mw run --rules $RULE --spool-dir "$T/spool4" --summary json -o stdout \
    -o "elasticsearch:http://127.0.0.1:$PORT/moonwatch-alerts,batch=20,linger=100ms,backoff=100ms,drain=5s" $SIGNINS
stop_mock
expect_eq "bulk: path" "$(jq -r .path "$T/es.log" | sort -u)" "/_bulk"
expect_eq "bulk: content type" "$(jq -r '.headers."content-type"' "$T/es.log" | sort -u)" "application/x-ndjson"
expect_eq "bulk: bodies end with a newline" "$(jq -r '.body | endswith("\n")' "$T/es.log" | sort -u)" "true"
# action line + document line, _id = the document's event.id, our index
jq -r '.body' "$T/es.log" | grep . >"$T/bulk_lines"
expect_eq "bulk: pairs" "$(( $(lines "$T/bulk_lines") % 2 ))" 0
expect_eq "bulk: action lines" "$(awk 'NR % 2 == 1' "$T/bulk_lines" | jq -c 'keys' | sort -u)" '["create"]'
expect_eq "bulk: index" "$(awk 'NR % 2 == 1' "$T/bulk_lines" | jq -r '.create._index' | sort -u)" "moonwatch-alerts"
paste -d ' ' <(awk 'NR % 2 == 1' "$T/bulk_lines" | jq -r '.create._id') \
             <(awk 'NR % 2 == 0' "$T/bulk_lines" | jq -r '.event.id') >"$T/bulk_pairs"
expect_eq "bulk: _id = event.id" "$(awk '$1 != $2' "$T/bulk_pairs" | wc -l | tr -d ' ')" 0
# items 3 and 10 (429, 503) are resent alone; item 7 (400) is refused
awk '{print $1}' "$T/bulk_pairs" >"$T/bulk_ids"
expect_eq "bulk: items sent (70 + 2 retried)" "$(lines "$T/bulk_ids")" 72
# requests that resend something hold nothing but resent items (3 and 10)
jq -r '.n as $n | .body | split("\n") | map(select(startswith("{\"create\""))) | .[] | "\($n) \(fromjson.create._id)"' \
    "$T/es.log" >"$T/bulk_req_ids"
expect_eq "bulk: retry requests hold only the failed items" \
    "$(awk 'seen[$2]++ { retry[$1] = 1 } { req[NR] = $1; id[NR] = $2 }
            END { for (i = 1; i <= NR; i++) if (retry[req[i]]) print id[i] }' "$T/bulk_req_ids" | sort | tr '\n' ' ')" \
    "$(sed -n '3p;10p' "$T/bulk_ids" | sort | tr '\n' ' ')"
expect_eq "bulk: accepted items, each once = all but the refused one" \
    "$(sed '3d;7d;10d' "$T/bulk_ids" | sort | uniq -d | wc -l | tr -d ' ') $(sed '3d;7d;10d' "$T/bulk_ids" | sort -u | wc -l | tr -d ' ')" "0 69"
expect_eq "bulk: the refused one is kept" "$(jq -r .event.id "$T"/spool4/*.rejected.ndjson)" "$(sed -n 7p "$T/bulk_ids")"
expect_eq "bulk: summary" "$(summary '"\(.outputs[1].delivered) \(.outputs[1].retried) \(.outputs[1].failed) \(.outputs[1].type)"')" "69 2 1 elasticsearch"
fi
stop_mock

# libcurl is loaded only when an HTTP output is configured (mw_curl: dlopen)
LD_DEBUG=files $MW_BIN run --rules "$RULE" -q "$SIGNINS" >/dev/null 2>"$T/ld.err"
if grep -q 'file=libcurl.so.4' "$T/ld.err"; then fail "no HTTP output: libcurl was loaded"; else ok; fi
LD_DEBUG=files $MW_BIN run --rules "$RULE" -q --spool-dir "$T/ldspool" \
    -o "webhook:http://127.0.0.1:9/alerts" /dev/null >/dev/null 2>"$T/ld.err"
expect_match "webhook output: libcurl loaded" "$T/ld.err" 'file=libcurl\.so\.4'
