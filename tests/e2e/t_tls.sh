# HTTPS webhooks against real TLS: stunnel (Debian stunnel4) terminates TLS
# on a loopback port in front of build/tools/mock_http, with a throwaway CA
# and server certificate made here with openssl. Verification is on by
# default: an untrusted certificate or a wrong host name fails delivery with
# an error that names the TLS problem, and the alerts are spooled, never
# lost; with cacert=PATH the spool and new alerts arrive exactly once;
# `insecure` delivers but warns loudly.
TLS_MOCK=${MW_MOCK_HTTP:-build/tools/mock_http}
TLS_RULE=tests/fixtures/rules/shaping/signin_all.lua
TLS_IN=examples/azure-arc/signinlogs.ndjson
TLS_MOCK_PID=""
TLS_ST_PID=""

tls_stop() {
    [ -n "$TLS_ST_PID" ] && kill "$TLS_ST_PID" 2>/dev/null && wait "$TLS_ST_PID" 2>/dev/null
    [ -n "$TLS_MOCK_PID" ] && kill "$TLS_MOCK_PID" 2>/dev/null && wait "$TLS_MOCK_PID" 2>/dev/null
    TLS_ST_PID=""
    TLS_MOCK_PID=""
}
# ids answered 2xx in the mock log from line $2 on (NDJSON bodies)
tls_ok_ids() { tail -n +"$2" "$1" | jq -r 'select(.status | type == "number" and . < 300) | .body' | grep . | jq -r '.event.id'; }

if ! command -v stunnel4 >/dev/null || ! command -v openssl >/dev/null || [ ! -x "$TLS_MOCK" ]; then
    fail "stunnel4, openssl or $TLS_MOCK missing (make deps tools)"
else
D="$T/tls"
mkdir -p "$D"
# a CA and a server certificate for the name "localhost" only (no IP SAN)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=moonwatch test CA" -keyout "$D/ca.key" -out "$D/ca.pem" 2>"$D/openssl.err"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=localhost" \
    -keyout "$D/srv.key" -out "$D/srv.csr" 2>>"$D/openssl.err"
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$D/ext.cnf"
openssl x509 -req -in "$D/srv.csr" -CA "$D/ca.pem" -CAkey "$D/ca.key" -CAcreateserial -days 2 \
    -extfile "$D/ext.cnf" -out "$D/srv.pem" 2>>"$D/openssl.err"
expect_eq "tls: test certificate made" "$(openssl verify -CAfile "$D/ca.pem" "$D/srv.pem" 2>&1)" "$D/srv.pem: OK"

# the HTTP server, then a free port for stunnel (a mock started and stopped)
"$TLS_MOCK" --port-file "$D/mport" --log "$D/http.log" 2>>"$D/mock.err" &
TLS_MOCK_PID=$!
"$TLS_MOCK" --port-file "$D/sport" --log /dev/null 2>/dev/null &
sp=$!
for _ in $(seq 1 100); do [ -s "$D/mport" ] && [ -s "$D/sport" ] && break; sleep 0.05; done
kill $sp; wait $sp 2>/dev/null
MPORT=$(cat "$D/mport"); SPORT=$(cat "$D/sport")
cat >"$D/stunnel.conf" <<EOF
foreground = yes
pid =
debug = 4
[https]
accept = 127.0.0.1:$SPORT
connect = 127.0.0.1:$MPORT
cert = $D/srv.pem
key = $D/srv.key
EOF
stunnel4 "$D/stunnel.conf" 2>"$D/stunnel.err" &
TLS_ST_PID=$!
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SPORT") 2>/dev/null && break
    sleep 0.05
done
: >"$D/http.log"                # forget the readiness probe, if it was logged

U="https://localhost:$SPORT/alerts"
O="batch=10,linger=50ms,backoff=100ms,max_backoff=500ms,connect_timeout=2s,timeout=5s,drain=1s"

# --- (a) verification on, certificate from an unknown CA: spooled ---------
mw run --rules $TLS_RULE --state-dir "$D/state" --summary json -o stdout -o "webhook:$U,$O" $TLS_IN
cp "$T/out" "$D/a_out"
expect_eq "tls untrusted: exit" "$RC" 0
expect_eq "tls untrusted: detection goes on" "$(lines "$T/out")" 70
expect_eq "tls untrusted: nothing reaches the server" "$(lines "$D/http.log")" 0
expect_eq "tls untrusted: delivered/spooled/pending/failed" \
    "$(summary '[.outputs[1] | .delivered, .spooled, .spool_pending, .failed] | join(" ")')" "0 70 70 0"
expect_match "tls untrusted: the error names the TLS problem" "$T/err" \
    '"health":"output_down".*"error":"TLS certificate verification failed: SSL certificate problem: .*issuer.*give cacert=PATH'
expect_match "tls untrusted: logged too" "$T/err" "warning: output https://localhost:$SPORT/alerts: TLS certificate verification failed"
expect_eq "tls untrusted: the spool holds every alert, in order" \
    "$(jq -r .event.id "$D"/state/spool/*.spool.ndjson | tr '\n' ' ')" "$(jq -r .event.id "$D/a_out" | tr '\n' ' ')"

# --- the right CA but a name the certificate does not carry -------------
mw run --rules $TLS_RULE --spool-dir "$D/spool-ip" --summary json \
    -o "webhook:https://127.0.0.1:$SPORT/alerts,$O,cacert=$D/ca.pem" $TLS_IN
expect_eq "tls wrong host: nothing delivered, all spooled" \
    "$(summary '[.outputs[0] | .delivered, .spooled] | join(" ")')" "0 70"
expect_match "tls wrong host: says so" "$T/err" \
    '"error":"TLS certificate verification failed: .*host name .*127\.0\.0\.1'
expect_eq "tls wrong host: nothing reaches the server" "$(lines "$D/http.log")" 0

# --- (b) cacert=PATH: the spool is delivered, each alert once ------------
# same state: the run's own alerts are duplicates, so only the spool goes out
mw run --rules $TLS_RULE --state-dir "$D/state" --summary json -o stdout \
    -o "webhook:$U,$O,cacert=$D/ca.pem" $TLS_IN
expect_eq "tls trusted: exit" "$RC" 0
expect_eq "tls trusted: spool delivered, every alert once, in order" \
    "$(tls_ok_ids "$D/http.log" 1 | tr '\n' ' ')" "$(jq -r .event.id "$D/a_out" | tr '\n' ' ')"
expect_eq "tls trusted: summary" \
    "$(summary '[.outputs[1] | .delivered, .spool_pending, .failed] | join(" ")')" "70 0 0"
expect_eq "tls trusted: spool emptied" "$(cat "$D"/state/spool/*.spool.ndjson | wc -l | tr -d ' ')" 0
expect_nomatch "tls trusted: no TLS error" "$T/err" "TLS"
# fresh alerts straight through the queue (no spool involved)
n0=$(($(lines "$D/http.log") + 1))
mw run --rules $TLS_RULE --spool-dir "$D/spool-b" --summary json -o stdout \
    -o "webhook:$U,$O,cacert=$D/ca.pem" $TLS_IN
expect_eq "tls trusted, live: every alert once, in order" \
    "$(tls_ok_ids "$D/http.log" "$n0" | tr '\n' ' ')" "$(jq -r .event.id "$T/out" | tr '\n' ' ')"
expect_eq "tls trusted, live: summary" \
    "$(summary '[.outputs[1] | .delivered, .retried, .spooled] | join(" ")')" "70 0 0"

# --- (c) insecure: delivered, but loudly --------------------------------
n0=$(($(lines "$D/http.log") + 1))
mw run --rules $TLS_RULE --spool-dir "$D/spool-c" --summary json -o "webhook:$U,$O,insecure" $TLS_IN
expect_eq "tls insecure: delivered" "$(summary '.outputs[0].delivered')" 70
expect_eq "tls insecure: each once" "$(tls_ok_ids "$D/http.log" "$n0" | sort -u | wc -l | tr -d ' ')" 70
expect_match "tls insecure: warning" "$T/err" "warning: output $U: TLS verification is DISABLED"
expect_match "tls insecure: health record" "$T/err" '"health":"output_insecure"'

# --- a CA bundle that cannot be read is a start-up error -----------------
mw run --rules $TLS_RULE --spool-dir "$D/spool-c" -o "webhook:$U,cacert=$D/nope.pem" $TLS_IN
expect_eq "tls cacert missing: usage error" "$RC" 2
expect_match "tls cacert missing: says which" "$T/err" "cacert=$D/nope.pem: No such file"
fi
tls_stop
