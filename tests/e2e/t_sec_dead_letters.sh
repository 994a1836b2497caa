# A full disk under the dead-letter file (docs/SECURITY.md, item 13, dead
# letters): lines that could not be written are counted lost (never as
# written) in the JSON and text summaries, the write errors are rate-limited
# (not one line per rejected line), the run exits 3 as for lost alerts, and
# a file size limit (ulimit -f) fails the writes instead of killing the
# host with SIGXFSZ, leaving whole lines only. /dev/full stands for the disk.
DL_RULE=tests/fixtures/rules/shaping/signin_all.lua
DL_BAD=tests/fixtures/bad/malformed.ndjson

# --- a full disk --------------------------------------------------------------
mw run --rules $DL_RULE --summary json --dead-letter /dev/full -o file:/dev/null $DL_BAD
expect_eq "dead letters, full disk: exit 3" "$RC" 3
expect_eq "dead letters, full disk: none counted written, every one lost" \
    "$(summary '"\(.events_rejected) \(.dead_letters) \(.dead_letters_lost)"')" "5 0 5"
expect_match "dead letters, full disk: says so at the end" "$T/err" \
    '--dead-letter /dev/full: 5 dead letter\(s\) lost in this run \(0 written\)'
mw run --rules $DL_RULE --summary text --dead-letter /dev/full -o file:/dev/null $DL_BAD
expect_match "dead letters, full disk: the text summary says LOST" "$T/err" 'dead letters /dev/full: LOST 5'

# many rejected lines: the errors are rate-limited
for i in $(seq 1 2000); do echo "[\"not an object $i\"]"; done >"$T/dl_many.ndjson"
mw run --rules $DL_RULE --summary json --dead-letter /dev/full -o file:/dev/null "$T/dl_many.ndjson"
expect_eq "dead letters, 2000 lost: exit 3" "$RC" 3
expect_eq "dead letters, 2000 lost: counted" "$(summary .dead_letters_lost)" 2000
n=$(grep -c 'dead-letter /dev/full: write failed' "$T/err")
if [ "$n" -ge 1 ] && [ "$n" -le 3 ]; then ok; else fail "dead letters: $n 'write failed' lines for 2000 lost (want 1..3)"; fi
expect_match "dead letters: says how the errors are limited" "$T/err" 'write failed: No space left on device .*repeats are logged at most every 10s'

# --- a file size limit: EFBIG, not SIGXFSZ ------------------------------------
rm -f "$T/dl_lim.ndjson"
(ulimit -f 16; $MW run --rules $DL_RULE --summary json --dead-letter "$T/dl_lim.ndjson" \
    -o file:/dev/null "$T/dl_many.ndjson" >"$T/out" 2>"$T/err"; echo $? >"$T/dl_rc")
expect_eq "dead letters, ulimit -f: exit 3, not killed" "$(cat "$T/dl_rc")" 3
kept=$(lines "$T/dl_lim.ndjson")
expect_eq "dead letters, ulimit -f: the summary counts what the file holds" "$(summary .dead_letters)" "$kept"
expect_eq "dead letters, ulimit -f: written + lost = rejected" \
    "$(( kept + $(summary ".dead_letters_lost // -1") ))" 2000
expect_eq "dead letters, ulimit -f: whole lines only" "$(jq -c . "$T/dl_lim.ndjson" >/dev/null 2>&1 && echo ok)" ok
if [ "$kept" -ge 1 ] && [ "$kept" -lt 2000 ]; then ok; else fail "dead letters, ulimit -f: $kept written (want some, not all)"; fi

# --- a writable file: nothing lost, exit 0 --------------------------------------
rm -f "$T/dl_ok.ndjson"
mw run --rules $DL_RULE --summary json --dead-letter "$T/dl_ok.ndjson" -o file:/dev/null $DL_BAD
expect_eq "dead letters, writable: exit 0" "$RC" 0
expect_eq "dead letters, writable: all written" "$(summary '"\(.dead_letters) \(.dead_letters_lost)"') $(lines "$T/dl_ok.ndjson")" "5 0 5"
