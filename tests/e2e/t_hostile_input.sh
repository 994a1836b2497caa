# Hostile input: every case of tests/fixtures/hostile/ (EXPECTED.tsv: case,
# outcome, alerts) is placed between the two events of the true positive and
# run through the binary under a time bound. Each must end normally in time,
# be counted with its reason (or accepted / blank), be reported with its line
# number, and the true positive around it must still raise its one alert,
# built from lines 1 and 3 (a hostile copy never replaces a real event).
# The small cases are committed (cases/); the big ones (100 MB line,
# 10,000-deep nesting, ...) are generated here by gen.lua. The per-case
# checks run with --no-prefilter, which validates every line (with the
# prefilter, a line holding no rule literal is not parsed, only counted as
# skipped); the whole corpus then runs again with the prefilter on.
H=tests/fixtures/hostile
TP=tests/fixtures/arc/true_positive.ndjson
HB=$T/hostile-big
mkdir -p "$HB"
lua5.4 $H/gen.lua big "$HB"
if [ -n "${MW_VALGRIND:-}" ]; then BOUND=600; else BOUND=60; fi

# mw_bounded ARGS... : like mw, but a run over $BOUND seconds is a stall
mw_bounded() {
    timeout -k 5 $BOUND $MW "$@" >"$T/out" 2>"$T/err"
    RC=$?
    if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
        fail "moonwatch $* did not finish within ${BOUND}s"
    elif [ "$RC" -ge 99 ]; then
        fail "moonwatch $* exited $RC (crash or sanitizer/valgrind error)"
        sed 's/^/    /' "$T/err" | tail -30
    fi
}

# the alert's events, by input line
alert_lines() { jq -c '[.moonwatch.events[].source.line]' "$T/out" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }

ncases=0
while IFS=$'\t' read -r name outcome alerts why; do
    [ "$name" = case ] && continue
    if [ -f "$H/cases/$name.ndjson" ]; then src=$H/cases/$name.ndjson
    elif [ -f "$HB/$name.ndjson" ]; then src=$HB/$name.ndjson
    else fail "$name: no case file"; continue; fi
    # under valgrind only the big cases run one by one (the small ones run
    # together below): each run costs seconds there
    if [ -n "${MW_VALGRIND:-}" ] && [ "$src" != "$HB/$name.ndjson" ]; then continue; fi
    ncases=$((ncases + 1))
    in=$T/$name.ndjson
    { head -1 $TP; cat "$src"; tail -1 $TP; } >"$in"
    mw_bounded run --rules rules --summary json --no-prefilter "$in"
    expect_eq "$name: exit" "$RC" 0
    expect_eq "$name: alerts ($why)" "$(lines "$T/out")" "$alerts"
    expect_eq "$name: the alert is the true positive's lines" "$(alert_lines)" "[1,3]"
    case $outcome in
    accepted)
        expect_eq "$name: accepted" "$(summary '[.events_parsed, .events_rejected, .blank_lines] | join(",")')" "3,0,0" ;;
    blank)
        expect_eq "$name: blank" "$(summary '[.events_parsed, .events_rejected, .blank_lines] | join(",")')" "2,0,1" ;;
    *)
        expect_eq "$name: counted once as $outcome" \
            "$(summary "[.events_parsed, .events_rejected, (.rejected_by_reason.$outcome // 0)] | join(\",\")")" "2,1,1"
        expect_match "$name: reported with its line" "$T/err" "$name.ndjson:2: rejected \\($outcome\\)" ;;
    esac
    rm -f "$in"
done <$H/EXPECTED.tsv
[ -n "${MW_VALGRIND:-}" ] || expect_eq "every case of EXPECTED.tsv has a file and ran" "$ncases" "$(($(wc -l <$H/EXPECTED.tsv) - 1))"
expect_eq "every committed case is in EXPECTED.tsv" \
    "$(ls $H/cases | sed 's/\.ndjson$//' | sort | comm -23 - <(cut -f1 $H/EXPECTED.tsv | sort) | tr '\n' ' ')" ""

# all the small cases in one file, between the true positive's events: one
# alert; per reason, the counts EXPECTED.tsv gives; every rejected line in
# the dead letters with its line number
all=$T/hostile-all.ndjson
head -1 $TP >"$all"
for f in $H/cases/*.ndjson; do cat "$f" >>"$all"; done
tail -1 $TP >>"$all"
nlines=$(( $(ls $H/cases | wc -l) + 2 ))
rm -f "$T/hdead.ndjson"
mw_bounded run --rules rules --summary json --no-prefilter --dead-letter "$T/hdead.ndjson" "$all"
expect_eq "all small cases: exit" "$RC" 0
expect_eq "all small cases: one alert" "$(lines "$T/out")" 1
expect_eq "all small cases: the alert is lines 1 and $nlines" "$(alert_lines)" "[1,$nlines]"
small() { awk -F'\t' 'NR>1 && $4 !~ /^generated/' $H/EXPECTED.tsv; }
for reason in $(small | cut -f2 | sort -u); do
    want=$(small | awk -F'\t' -v r=$reason '$2==r' | wc -l | tr -d ' ')
    case $reason in
    accepted) got=$(( $(summary .events_parsed) - 2 )) ;;
    blank) got=$(summary .blank_lines) ;;
    *) got=$(summary ".rejected_by_reason.$reason // 0") ;;
    esac
    expect_eq "all small cases: $reason" "$got" "$want"
done
want_rej=$(small | awk -F'\t' '$2!="accepted" && $2!="blank"' | wc -l | tr -d ' ')
expect_eq "all small cases: rejected total" "$(summary .events_rejected)" "$want_rej"
expect_eq "all small cases: dead letters" "$(lines "$T/hdead.ndjson")" "$want_rej"
expect_eq "all small cases: dead letters have distinct line numbers" \
    "$(jq -r .line "$T/hdead.ndjson" | sort -un | wc -l | tr -d ' ')" "$want_rej"

# the prefilter on (the default): the same corpus, plus the big cases, still
# one alert from the real events; every line is parsed, rejected, skipped
# (no rule literal) or blank, and every line the prefilter lets through is
# rejected for the same reason as above
for f in "$HB"/*.ndjson; do case $f in *alerting_*) ;; *) cat "$f" >>"$T/hostile-all2.ndjson" ;; esac; done
{ head -n -1 "$all"; cat "$T/hostile-all2.ndjson"; tail -1 "$all"; } >"$T/hostile-pf.ndjson"
nlines2=$(wc -l <"$T/hostile-pf.ndjson" | tr -d ' ')
mw_bounded run --rules rules --summary json "$T/hostile-pf.ndjson"
expect_eq "prefilter on: one alert" "$(lines "$T/out")" 1
expect_eq "prefilter on: the alert is lines 1 and $nlines2" "$(alert_lines)" "[1,$nlines2]"
expect_eq "prefilter on: every line accounted for" \
    "$(summary '.events_read + .blank_lines')" "$nlines2"
expect_eq "prefilter on: read = parsed + skipped + rejected" \
    "$(summary '.events_read - .events_parsed - .events_skipped - .events_rejected')" 0
expect_eq "prefilter on: the 100 MB line is still too_long" "$(summary '.rejected_by_reason.too_long')" 2
rm -f "$T/hostile-all2.ndjson" "$T/hostile-pf.ndjson"

# --max-future off: a 2400 event is a valid time; it used to move "now" to
# 2400 and make the listing after it too late. Now it is set aside as an
# unconfirmed jump (ahead of the clock by more than --max-skew) and the
# listing still completes the story (docs/WINDOWS.md, issue 18 item 1).
{ head -1 $TP; cat $H/cases/timestamp_2400.ndjson; tail -1 $TP; } >"$T/h2400.ndjson"
mw_bounded run --rules rules --summary json --max-future off "$T/h2400.ndjson"
expect_eq "2400 with --max-future off: accepted (parsed or skipped by the prefilter), the listing too" \
    "$(summary '.events_parsed + .events_skipped')" 3
expect_eq "2400 with --max-future off: the listing is not too late" "$(summary '.rejected_by_reason.too_late // 0')" 0
expect_eq "2400 with --max-future off: the story alerts" "$(lines "$T/out")" 1
# a time before 1970 is a valid event time when it does not arrive late
{ cat $H/cases/timestamp_before_1970.ndjson $H/cases/timestamp_epoch_ms_negative.ndjson $TP; } >"$T/h1969.ndjson"
mw_bounded run --rules rules --summary json "$T/h1969.ndjson"
expect_eq "1969 first: accepted" "$(summary '[.events_parsed + .events_skipped, .events_rejected] | join(",")')" "4,0"
expect_eq "1969 first: still one alert" "$(lines "$T/out")" 1

# hostile but valid content inside the alerting events themselves: the
# sign-in carries 2,000-deep nesting, the listing 50,000 extra keys; the
# alert (which embeds both events) is still written, as valid JSON
mw_bounded run --rules rules --summary json "$HB/alerting_deep_and_wide.ndjson"
expect_eq "nested/many-key true positive: parsed" "$(summary .events_parsed)" 2
expect_eq "nested/many-key true positive: alerts" "$(lines "$T/out")" 1
# (jq stops at 256 levels: the alert is checked by parsing it back with
# moonwatch itself, whose parser allows 2048)
expect_eq "nested/many-key true positive: the alert carries the 50,000 keys" \
    "$(grep -o '"k[0-9]*":' "$T/out" | wc -l | tr -d ' ')" 50000
expect_eq "nested/many-key true positive: and the 2,000-deep array" \
    "$(grep -c "\"deep\":$(printf '%2000s' | tr ' ' '[')\]" "$T/out")" 1
cp "$T/out" "$T/halert.ndjson"
mw_bounded run --rules rules --summary json "$T/halert.ndjson"
expect_eq "nested/many-key true positive: the alert is valid JSON" "$(summary .events_parsed)" 1
rm -f "$T/halert.ndjson" "$T/h2400.ndjson" "$T/h1969.ndjson" "$all"
rm -rf "$HB"

# a rule whose metadata is not UTF-8 text (found by the rule fuzzer: it
# loaded, then every alert failed to build and was lost) is refused at load
# with file and line; the other rules run
printf 'local mw = require("moonwatch")\nreturn mw.rule {\n  id = "bad-\\255-id", name = "n",\n  where = mw.eq("event.dataset", "azure.signinlogs"),\n}\n' >"$T/badutf8.lua"
printf 'local mw = require("moonwatch")\nreturn mw.rule {\n  id = "bad-tag", name = "n", tags = { "ok", "\\192\\175" },\n  where = mw.eq("event.dataset", "azure.signinlogs"),\n}\n' >"$T/badtag.lua"
mw check "$T/badutf8.lua" "$T/badtag.lua"
expect_eq "rule id not UTF-8: check fails" "$RC" 2
expect_match "rule id not UTF-8: reported with file and line" "$T/err" "badutf8.lua:3: rule field 'id' is not valid UTF-8"
expect_match "rule tag not UTF-8: reported" "$T/err" "badtag.lua(:[0-9]+)?: rule field 'tags' holds a string that is not UTF-8"
mkdir -p "$T/hrules" && cp "$T/badutf8.lua" rules/azure/sp_signin_then_arc_credential_access.lua "$T/hrules/"
mw_bounded run --rules "$T/hrules" --summary json $TP
expect_eq "rule id not UTF-8: the other rule still alerts" "$(lines "$T/out")" 1
expect_eq "rule id not UTF-8: the summary lists the loaded rule" "$(summary '.rules | length')" 1
rm -rf "$T/hrules" "$T/badutf8.lua" "$T/badtag.lua"
