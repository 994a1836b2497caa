# CLI surface: help, usage errors, exit codes, stdin, outputs, stdout hygiene
R=rules
SYN=tests/fixtures/arc/true_positive.ndjson

mw --help;            expect_eq "--help exit" "$RC" 0; expect_match "--help lists run" "$T/out" '^  run '
mw help run;          expect_eq "help run exit" "$RC" 0; expect_match "help run" "$T/out" -- '--rules PATH'
mw run --help;        expect_eq "run --help exit" "$RC" 0; expect_match "run --help" "$T/out" -- '--dead-letter'
mw check --help;      expect_eq "check --help exit" "$RC" 0; expect_match "check --help" "$T/out" 'usage: moonwatch check'
mw version;           expect_match "version" "$T/out" '^moonwatch [0-9]+\.[0-9]+\.[0-9]+$'
mw;                   expect_eq "no command exit" "$RC" 2
mw frobnicate;        expect_eq "unknown command exit" "$RC" 2; expect_match "unknown command msg" "$T/err" "unknown command 'frobnicate'"
mw run $SYN;          expect_eq "run without --rules exit" "$RC" 2; expect_match "run without --rules msg" "$T/err" 'needs at least one --rules'
mw run --rules $R --bogus $SYN; expect_eq "unknown option exit" "$RC" 2
mw run --rules $R --summary xml $SYN; expect_eq "bad --summary exit" "$RC" 2
mw run --rules $R --output carrier-pigeon: $SYN; expect_eq "bad --output exit" "$RC" 2; expect_match "bad output msg" "$T/err" "unknown output"
mw run --rules $R /nonexistent/file.ndjson; expect_eq "missing input exit" "$RC" 2; expect_match "missing input msg" "$T/err" '/nonexistent/file.ndjson: No such file'
mw run --rules /nonexistent/rules $SYN; expect_eq "missing rules exit" "$RC" 2

# alerts on stdout only, diagnostics on stderr only
mw run --rules $R $SYN
expect_eq "run exit" "$RC" 0
expect_eq "one alert on stdout" "$(lines "$T/out")" 1
expect_eq "stdout is only alerts" "$(jq -r '.event.kind' "$T/out" | sort -u)" "alert"
expect_match "summary on stderr" "$T/err" '^moonwatch: summary'
expect_match "summary per-rule line" "$T/err" 'matched per step \[1, 1\].*alerts 1'

# stdin, explicitly and by default
$MW run --rules $R - <"$SYN" >"$T/out" 2>"$T/err"; expect_eq "stdin '-' alerts" "$(lines "$T/out")" 1
$MW run --rules $R <"$SYN" >"$T/out" 2>"$T/err"; expect_eq "stdin default alerts" "$(lines "$T/out")" 1
expect_match "stdin named" "$T/err" 'input <stdin>'

# --output file:PATH instead of stdout; appends
rm -f "$T/alerts.ndjson"
mw run --rules $R --output "file:$T/alerts.ndjson" $SYN
expect_eq "file output: stdout empty" "$(lines "$T/out")" 0
expect_eq "file output: one alert" "$(lines "$T/alerts.ndjson")" 1
mw run --rules $R --output "file:$T/alerts.ndjson" $SYN
expect_eq "file output appends" "$(lines "$T/alerts.ndjson")" 2
mw run --rules $R --output stdout --output "file:$T/both.ndjson" $SYN
expect_eq "two outputs: stdout" "$(lines "$T/out")" 1
expect_eq "two outputs: file" "$(lines "$T/both.ndjson")" 1

# JSON summary
mw run --rules $R --summary json $SYN
expect_eq "json summary alerts" "$(summary .alerts)" 1
expect_eq "json summary parsed" "$(summary .events_parsed)" "$(lines $SYN)"
expect_eq "json summary step counts" "$(summary '.rules[] | select(.id == "dacfbecd-7927-46a7-a8ba-feb65a2e990d") | .matched_per_step | map(tostring) | join(",")')" "1,1"
mw run --rules $R --summary none $SYN
expect_nomatch "--summary none" "$T/err" 'summary'
mw run --rules $R -q $SYN
expect_nomatch "-q hides info" "$T/err" 'info:'
