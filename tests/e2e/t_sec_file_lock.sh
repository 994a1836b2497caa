# File output repair never cuts a line another process is writing
# (docs/SECURITY.md, item 15, outputs part): a file output holds an
# exclusive flock on its file for the sink's lifetime, repairs a partial
# last line only under that lock, and refuses to start (exit 2) when
# another process holds it.
RULE=tests/fixtures/rules/shaping/signin_all.lua
SIGNINS=examples/azure-arc/signinlogs.ndjson
F="$T/fl_alerts.ndjson"

# --- another writer holds the file, its last line still partial --------------
printf '{"kind":"alert","id":"whole"}\n{"kind":"alert","id":"being-writ' >"$F"
flock -x "$F" sleep 5 &
HOLDER=$!
for _ in $(seq 1 50); do flock -n "$F" true 2>/dev/null || break; sleep 0.05; done
mw run --rules $RULE -o "file:$F" $SIGNINS
expect_eq "locked: refused" "$RC" 2
expect_match "locked: says why" "$T/err" "output file:.*fl_alerts.ndjson: the file is locked by another process"
expect_eq "locked: the partial line is untouched" "$(tail -c 16 "$F")" '"id":"being-writ'
expect_eq "locked: nothing appended" "$(lines "$F")" 1
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null

# --- two moonwatch processes on one file -------------------------------------
rm -f "$F"
mkfifo "$T/fl_fifo"
$MW run --rules $RULE -q --summary none -o "file:$F" <"$T/fl_fifo" >"$T/fl_a.out" 2>"$T/fl_a.err" &
A=$!
exec 7>"$T/fl_fifo"              # A reads until this closes
cat $SIGNINS >&7
for _ in $(seq 1 100); do [ "$(lines "$F")" -ge 70 ] && break; sleep 0.05; done
mw run --rules $RULE -o "file:$F" $SIGNINS
expect_eq "second process: refused" "$RC" 2
expect_match "second process: says why" "$T/err" "locked by another process"
exec 7>&-
wait "$A"; RCA=$?
expect_eq "first process: exit" "$RCA" 0
expect_eq "first process: its 70 alerts, whole" "$(jq -c .id "$F" | wc -l | tr -d ' ')" 70

# --- nobody else holds it: a partial line left by a killed run is repaired ---
printf '{"kind":"alert","id":"torn' >>"$F"
mw run --rules $RULE -o "file:$F" /dev/null
expect_eq "unlocked: runs" "$RC" 0
expect_match "unlocked: repaired" "$T/err" "cut off the partial last line"
expect_eq "unlocked: whole lines only" "$(tail -c 1 "$F" | od -An -c | tr -d ' ')" '\n'
