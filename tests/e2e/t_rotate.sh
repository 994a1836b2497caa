# Followed files through the real binary: rotation by rename (lines written
# to the old file after the rename are read, a partial line completed
# there too), copytruncate (the unread end is finished from the copy), a
# deleted file is released and a file re-created at its path is read, and
# many files by a quoted glob, new ones picked up. A query rule that alerts
# on every event counts what was read: each event exactly once.
RT=$T/rotate
mkdir -p "$RT/rules" "$RT/logs"
RT_WAIT=10
[ -n "${MW_VALGRIND:-}" ] && RT_WAIT=60
cat >"$RT/rules/every.lua" <<'LUA'
local mw = require("moonwatch")
return mw.rule {
  id = "test-every-event",
  name = "Test: every event",
  message = "{1:message}",
  where = mw.exists("message"),
}
LUA
# ev N: one event, numbered (the message) and timed by N
ev() { printf '{"@timestamp":"2025-10-14T09:%02d:%02d.000Z","message":"e%d","event":{"dataset":"test"}}\n' \
    $(( $1 / 60 % 60 )) $(( $1 % 60 )) "$1"; }
evs() { local i; for i in $(seq "$1" "$2"); do ev "$i"; done; }
rt_start() { # rt_start INPUT... : alerts to $RT/alerts.ndjson
    : >"$RT/alerts.ndjson"
    $MW run -f --rules "$RT/rules" --rotate-wait 300ms --max-lateness 1d --summary json \
        -o "file:$RT/alerts.ndjson" "$@" >"$RT/out" 2>"$RT/err" &
    RT_PID=$!
}
# rt_expect NAME N: waits until N alerts, then checks they are e1..eN once each
rt_expect() {
    local end=$(( $(date +%s) + RT_WAIT )) got
    while :; do
        got=$(lines "$RT/alerts.ndjson")
        [ "$got" -ge "$2" ] && break
        [ "$(date +%s)" -ge "$end" ] && break
        sleep 0.05
    done
    sleep 0.3    # nothing more may come
    got=$(jq -r '.message' "$RT/alerts.ndjson" | sort -u | wc -l | tr -d ' ')
    expect_eq "$1: events read ($2 expected, each once)" "$(lines "$RT/alerts.ndjson") $got" "$2 $2"
}
rt_stop() {
    kill -TERM "$RT_PID"; wait "$RT_PID"
    expect_eq "$1: clean stop" "$?" 0
}

# --- rename rotation (logrotate's default) --------------------------------
IN=$RT/logs/app.ndjson
evs 1 50 >"$IN"
rt_start "$IN"
rt_expect "rename" 50
exec 8>>"$IN"                       # a writer that keeps the old file open
evs 51 60 >&8
mv "$IN" "$IN.1"
evs 61 70 >&8                       # written to the old file after the rename
line=$(ev 71)
printf '%s' "${line:0:30}" >&8      # a partial line in the old file ...
evs 101 120 >"$IN"                  # ... the new file at the path
sleep 0.2
printf '%s\n' "${line:30}" >&8      # ... completed after the rename
exec 8>&-
evs 121 130 >>"$IN"
rt_expect "rename: old file finished, new one read" 101
expect_match "rename: rotation seen" "$RT/err" "rotated \\(a new file is at the path\\)"
expect_match "rename: the new file read after the old one went quiet" "$RT/err" \
    "rotated file read to its end; reading the new file from the start"
expect_nomatch "rename: no line rejected (the partial line waited)" "$RT/err" "rejected"
rt_stop "rename"

# --- copytruncate ----------------------------------------------------------
rm -f "$RT/logs/"*
evs 1 40 >"$IN"
rt_start "$IN"
rt_expect "copytruncate" 40
# a burst, then at once the copy and the truncation (as logrotate does):
# what was not read yet is finished from the copy
evs 41 400 >>"$IN"
cp "$IN" "$IN.1"
: >"$IN"
evs 401 420 >>"$IN"
rt_expect "copytruncate: copy finished, truncated file read from the start" 420
expect_match "copytruncate: truncation seen, the copy finished" "$RT/err" \
    "truncated \\(copytruncate\\); finishing its copy from offset"
rt_stop "copytruncate"

# --- a deleted file is released; one re-created at the path is read --------
rm -f "$RT/logs/"*
evs 1 20 >"$IN"
rt_start "$IN"
rt_expect "delete" 20
rm "$IN"
end=$(( $(date +%s) + RT_WAIT ))
while ls -l /proc/$RT_PID/fd 2>/dev/null | grep -q "app.ndjson (deleted)" && [ "$(date +%s)" -lt "$end" ]; do
    sleep 0.1
done
if ls -l /proc/$RT_PID/fd 2>/dev/null | grep -q "app.ndjson"; then
    fail "delete: the deleted file is still held open"; else ok; fi
expect_match "delete: release logged" "$RT/err" "deleted; released"
evs 21 30 >"$IN"
rt_expect "delete: a file re-created at the path is read" 30
rt_stop "delete"

# --- many files by a quoted glob; new files picked up ---------------------
rm -f "$RT/logs/"*
evs 1 10 >"$RT/logs/a.ndjson"
evs 11 20 >"$RT/logs/b.ndjson"
evs 900 905 >"$RT/logs/skip.txt"
rt_start "$RT/logs/*.ndjson"
rt_expect "glob" 20
evs 21 30 >"$RT/logs/c.ndjson"
evs 31 35 >>"$RT/logs/a.ndjson"
rt_expect "glob: a new file and a grown one" 35
expect_match "glob: the new file is followed" "$RT/err" "following .*c.ndjson \\(new file"
rt_stop "glob"
expect_eq "glob: three inputs in the summary" \
    "$(grep '^{' "$RT/err" | tail -1 | jq -r '[.inputs[].name | sub(".*/"; "")] | sort | join(",")')" \
    "a.ndjson,b.ndjson,c.ndjson"

# --- rotation while stopped: the rest of the old file first --------------
rm -rf "$RT/logs/"* "$RT/st"
evs 1 30 >"$IN"
: >"$RT/alerts.ndjson"
$MW run -f --rules "$RT/rules" --state-dir "$RT/st" --max-lateness 1d --summary none \
    -o "file:$RT/alerts.ndjson" "$IN" 2>"$RT/err" &
RT_PID=$!
rt_expect "down rotation" 30
kill -TERM "$RT_PID"; wait "$RT_PID"
evs 31 40 >>"$IN"                   # written before the rotation, not read yet
mv "$IN" "$IN.1"
evs 41 50 >"$IN"
$MW run -f --rules "$RT/rules" --state-dir "$RT/st" --max-lateness 1d --summary none \
    --rotate-wait 300ms -o "file:$RT/alerts.ndjson" "$IN" 2>"$RT/err" &
RT_PID=$!
rt_expect "rotated while stopped: old file's rest, then the new file" 50
expect_match "rotated while stopped: found beside the path" "$RT/err" \
    "rotated away; finishing it from offset"
rt_stop "rotated while stopped"
