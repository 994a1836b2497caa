# Secrets in output specs never reach an output channel (docs/SECURITY.md,
# item 10): a password in a webhook or Elasticsearch URL, secret-looking
# query parameters, path tokens, header values from the environment and a
# server that quotes them back are absent from stderr (warnings, errors,
# health records, the text and JSON summaries), the --health-output file,
# the --metrics-file and the spool folder's file names.
MOCK=${MW_MOCK_HTTP:-build/tools/mock_http}
RULE=tests/fixtures/rules/shaping/signin_all.lua
SIGNINS=examples/azure-arc/signinlogs.ndjson
MOCK_PID=""
SECRETS='S3cretPassw0rd|K3yValue123|Hdr5ecretValue|Tok3nInPathAbcdefghijklmnop|Sig9Value'

start_mock() { # LOG [mock options...]: sets PORT
    local log=$1; shift
    rm -f "$T/port"
    "$MOCK" --port-file "$T/port" --log "$log" "$@" 2>>"$T/mock.err" &
    MOCK_PID=$!
    for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.05; done
    PORT=$(cat "$T/port" 2>/dev/null)
}
stop_mock() {
    [ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
    MOCK_PID=""
}
# every channel of the last run: stderr, health file, metrics, spool listing
no_secret() { # NAME
    ls -a "$T/sec_spool" >"$T/sec_listing" 2>/dev/null || : >"$T/sec_listing"
    for f in "$T/err" "$T/sec_health" "$T/sec_metrics" "$T/sec_listing"; do
        [ -e "$f" ] || continue
        expect_nomatch "$1: no secret in $(basename "$f")" "$f" "$SECRETS"
    done
}
export MW_SEC_HDR=Hdr5ecretValue

unset PORT
if [ ! -x "$MOCK" ]; then
    fail "$MOCK is missing (make tools)"
else
# a 500 (output_down, warning), a 400 quoting the credentials back
# (output_rejected with the response), then deliveries
start_mock "$T/sec1.log" --plan 500,echo
U="http://alice:S3cretPassw0rd@127.0.0.1:$PORT/hook/Tok3nInPathAbcdefghijklmnop?api_key=K3yValue123&sig=Sig9Value&team=blue"
rm -rf "$T/sec_spool" "$T/sec_health" "$T/sec_metrics"
mw run --rules $RULE --spool-dir "$T/sec_spool" --summary json \
    --health-output "file:$T/sec_health" --metrics-file "$T/sec_metrics" \
    -o "webhook:$U,header=X-Api-Key:MW_SEC_HDR,backoff=50ms,drain=5s" $SIGNINS
stop_mock
expect_eq "webhook: exit" "$RC" 0
expect_eq "webhook: the server did get the credentials" \
    "$(jq -r 'select(.n == 3) | .headers."x-api-key"' "$T/sec1.log")" "Hdr5ecretValue"
expect_match "webhook: the summary names the output, redacted" "$T/err" \
    "\"spec\":\"webhook:http://alice:\\*\\*\\*@127.0.0.1:$PORT/hook/\\*\\*\\*\\?api_key=\\*\\*\\*&sig=\\*\\*\\*&team=blue,header=X-Api-Key:MW_SEC_HDR"
expect_match "webhook: the rejected record has the server's answer, scrubbed" "$T/sec_health" \
    '"health":"output_rejected".*bad credentials.*\*\*\*'
expect_match "webhook: output_down was written" "$T/sec_health" '"health":"output_down"'
no_secret "webhook"
cat "$T/sec_metrics" >/dev/null 2>&1 || fail "webhook: no metrics file"

# the text summary and the warnings of a run against a closed port (spooled)
mw run --rules $RULE --spool-dir "$T/sec_spool" --summary text \
    -o "webhook:$U,connect_timeout=1s,backoff=50ms,drain=500ms" $SIGNINS
expect_match "closed port: the text summary names the output, redacted" "$T/err" "output webhook:http://alice:\\*\\*\\*@"
expect_match "closed port: a warning was written" "$T/err" "warning: output http://alice:\\*\\*\\*@"
rm -f "$T/sec_health" "$T/sec_metrics"
no_secret "closed port"

# Elasticsearch with a password, insecure TLS (its warning), closed port
mw run --rules $RULE --spool-dir "$T/sec_spool" --summary json \
    -o "elasticsearch:https://elastic:S3cretPassw0rd@127.0.0.1:$PORT/alerts,insecure,connect_timeout=1s,drain=500ms" $SIGNINS
expect_match "elasticsearch: insecure warning, redacted" "$T/err" "output https://elastic:\\*\\*\\*@127.0.0.1:$PORT/_bulk: TLS verification is DISABLED"
no_secret "elasticsearch"

# errors at start-up: a secret written as an option, a bad URL
mw run --rules $RULE --spool-dir "$T/sec_spool" -o "webhook:$U,token=S3cretPassw0rd" $SIGNINS
expect_eq "bad option: exit" "$RC" 2
expect_match "bad option: named" "$T/err" "bad option 'token=\\*\\*\\*'"
no_secret "bad option"
mw run --rules $RULE --spool-dir "$T/sec_spool" -o "elasticsearch:$U" $SIGNINS
no_secret "bad index"
mw run --rules $RULE --spool-dir "$T/sec_spool" -o "webhooks:$U" $SIGNINS
expect_match "unknown output: named, redacted" "$T/err" "unknown output 'webhooks:http://alice:\\*\\*\\*@"
no_secret "unknown output"
fi
stop_mock
