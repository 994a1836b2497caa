# A full disk under the outputs (docs/SECURITY.md, item 13, outputs part):
# alerts a file output or a spool could not write are counted lost in the
# summary, the errors are rate-limited (not one line per alert), the run
# exits 3, and a file size limit (ulimit -f) fails the writes instead of
# killing the host with SIGXFSZ. /dev/full stands for the full disk.
RULE=tests/fixtures/rules/shaping/signin_all.lua
SIGNINS=examples/azure-arc/signinlogs.ndjson

# --- file output on a full disk ---------------------------------------------
mw run --rules $RULE --summary json -o file:/dev/full -o "file:$T/df_ok.ndjson" $SIGNINS
expect_eq "full disk: exit 3 (alerts lost)" "$RC" 3
expect_eq "full disk: the other output got every alert" "$(lines "$T/df_ok.ndjson")" 70
expect_eq "full disk: counted lost, per output" \
    "$(summary '[.outputs[] | "\(.delivered)/\(.failed)/\(.lost)"] | join(" ")')" "0/70/70 70/0/0"
n=$(grep -c 'write failed' "$T/err")
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then ok; else fail "full disk: $n 'write failed' lines for 70 alerts (want 1..3)"; fi
expect_match "full disk: says how the errors are limited" "$T/err" 'write failed: No space left on device .*repeats are logged at most every 10s'
expect_match "full disk: the total is said at the end" "$T/err" 'output file:/dev/full: 70 alert\(s\) lost in this run'
expect_match "full disk: health record" "$T/err" '"health":"output_lost","output":"file:/dev/full","lost":70'
mw run --rules $RULE --summary text -o file:/dev/full $SIGNINS
expect_match "full disk: the text summary says LOST" "$T/err" 'output file:/dev/full: LOST 70 alert'

# --- a file size limit: EFBIG, not SIGXFSZ -----------------------------------
rm -f "$T/df_lim.ndjson"
(ulimit -f 16; $MW run --rules $RULE --summary json -o "file:$T/df_lim.ndjson" $SIGNINS >"$T/out" 2>"$T/err"; echo $? >"$T/df_rc")
expect_eq "ulimit -f: exit 3, not killed" "$(cat "$T/df_rc")" 3
kept=$(lines "$T/df_lim.ndjson")
expect_eq "ulimit -f: written + lost = all" "$(( kept + $(summary '.outputs[0].lost') ))" 70
expect_eq "ulimit -f: the file holds whole alerts only" "$(jq -c . "$T/df_lim.ndjson" >/dev/null 2>&1 && echo ok)" ok
if [ "$kept" -ge 1 ] && [ "$kept" -lt 70 ]; then ok; else fail "ulimit -f: $kept alerts written (want some, not all)"; fi

# --- a spool that cannot be written (endpoint down, size limit) --------------
rm -rf "$T/df_spool"
(ulimit -f 16; $MW run --rules $RULE --summary json --spool-dir "$T/df_spool" \
    -o "webhook:http://127.0.0.1:9/a,queue=1,connect_timeout=1s,backoff=50ms,drain=500ms" \
    $SIGNINS >"$T/out" 2>"$T/err"; echo $? >"$T/df_rc")
expect_eq "spool full: exit 3" "$(cat "$T/df_rc")" 3
pending=$(summary '.outputs[0].spool_pending'); lost=$(summary '.outputs[0].lost')
expect_eq "spool full: spooled + lost = all" "$(( pending + lost ))" 70
expect_eq "spool full: the spool file holds what it says" "$(cat "$T"/df_spool/*.spool.ndjson | wc -l | tr -d ' ')" "$pending"
n=$(grep -c 'write failed' "$T/err")
if [ "$n" -le 3 ]; then ok; else fail "spool full: $n 'write failed' lines (want at most 3)"; fi
