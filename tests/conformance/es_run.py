#!/usr/bin/env python3
"""tests/conformance/es_run.py - Elasticsearch's EQL QA suite through moonwatch

Every query of ../shared/conformance/elasticsearch-eql/suite/*.toml becomes a
`.eql` rule file, compiled by the EQL front-end (src/frontend/eql_compile.c)
and run by bin/moonwatch over its data set, prepared as the suite's README
says Elasticsearch indexes it:

  * `@timestamp`: endgame-140's Windows FILETIME `timestamp` turned into epoch
    ms (the nanos variant: the ticks read as ns, kept to the microsecond,
    moonwatch's precision); the other sets' digit strings are epoch ms;
  * the mapping's aliases: `event.category` = `event_type`, `event.sequence`
    = the tiebreaker field;
  * order: by @timestamp, then the tiebreaker (null last), so the engine's
    input order is Elasticsearch's ordinal order.

The result is the list of the id field of every event of every alert, in
alert order (a sequence completes at its last event, which is how
Elasticsearch orders sequences). Each failure is printed with its reason
(the load error, or got/want); the last line is the pass rate.

  tests/conformance/es_run.py [-v] [--min-pass N] [--only NAME]
"""
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.abspath(__file__)) + "/../.."
SUITE = os.environ.get("MW_ES_SUITE", ROOT + "/../shared/conformance/elasticsearch-eql")
MW = os.environ.get("MW_BIN", ROOT + "/bin/moonwatch")

# suite file -> (data files, tiebreaker / id field, timestamp transform)
FILES = [
    ("test_queries.toml", ["endgame-140.data"], "serial_event_id", "filetime"),
    ("additional_test_queries.toml", ["endgame-140.data"], "serial_event_id", "filetime"),
    ("test_queries_date.toml", ["endgame-140.data"], "serial_event_id", "filetime"),
    ("test_queries_date_nanos.toml", ["endgame-140.data"], "serial_event_id", "nanos"),
    ("test_extra.toml", ["extra.data"], "sequence", "plain"),
    ("test_missing_events.toml", ["missing-events.data"], "sequence", "plain"),
    ("test_sample.toml", ["sample1.data", "sample2.data", "sample3.data"], "id", "plain"),
    ("test_sample_multi.toml", ["sample-multi.data"], "id", "plain"),
]


def iso_us(us):
    dt = datetime.fromtimestamp(us // 1_000_000, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1_000_000)


def load_data(names, transform, tb):
    docs = []
    for name in names:
        with open(os.path.join(SUITE, "data", name)) as f:
            text = "\n".join(l for l in f.read().split("\n") if not l.lstrip().startswith("//"))
        docs.extend(json.loads(text))
    out = []
    for d in docs:
        if transform == "filetime":
            ms = d["timestamp"] // 10000 - 11644473600000
            us = ms * 1000
        elif transform == "nanos":
            us = d["timestamp"] // 1000
        else:
            ts = d.get("@timestamp")
            if ts is None:
                us = 0
            elif isinstance(ts, (int, float)) or str(ts).isdigit():
                us = int(ts) * 1000
            else:
                s = str(ts).replace("Z", "+00:00")
                dt = datetime.fromisoformat(s)
                if dt.tzinfo is None:
                    dt = dt.replace(tzinfo=timezone.utc)
                us = int(dt.timestamp() * 1_000_000)
        d = dict(d)
        d["@timestamp"] = iso_us(us)
        ev = d.get("event") if isinstance(d.get("event"), dict) else {}
        ev = dict(ev)
        if "event_type" in d:
            ev["category"] = d["event_type"]
        if tb in d:
            ev["sequence"] = d[tb]
        d["event"] = ev
        key = d.get(tb)
        out.append(((us, 0 if isinstance(key, (int, float)) else 1,
                     key if isinstance(key, (int, float)) else 0), d))
    out.sort(key=lambda x: x[0])
    return [d for _, d in out]


def run_query(q, datafile, idfield, tmp):
    rule = os.path.join(tmp, "q.eql")
    with open(rule, "w") as f:
        f.write("// id: es-conformance\n// name: %s\n%s\n" % (q["name"], q["query"]))
    p = subprocess.run([MW, "run", "--rules", rule, "--quiet", datafile],
                       capture_output=True, text=True)
    if p.returncode == 2 or "0 rule(s) loaded" in p.stderr or "failed" in p.stderr.split("\n")[0]:
        err = [l for l in p.stderr.split("\n") if "error" in l]
        return None, (err[0] if err else p.stderr.strip().split("\n")[0])
    ids = []
    for line in p.stdout.splitlines():
        a = json.loads(line)
        for e in a.get("moonwatch", {}).get("events", []):
            ids.append(e.get("event", {}).get(idfield))
    return ids, None


def main():
    verbose = "-v" in sys.argv
    min_pass = None
    only = None
    if "--min-pass" in sys.argv:
        min_pass = float(sys.argv[sys.argv.index("--min-pass") + 1])
    if "--only" in sys.argv:
        only = sys.argv[sys.argv.index("--only") + 1]
    if not os.path.isdir(SUITE):
        print("es conformance: skipped (%s not found)" % SUITE)
        return 0
    total = passed = refused = 0
    with tempfile.TemporaryDirectory() as tmp:
        for fname, data, tb, transform in FILES:
            path = os.path.join(SUITE, "suite", fname)
            if not os.path.exists(path):
                continue
            with open(path, "rb") as f:
                queries = tomllib.load(f).get("queries", [])
            datafile = os.path.join(tmp, fname + ".ndjson")
            with open(datafile, "w") as f:
                for d in load_data(data, transform, tb):
                    f.write(json.dumps(d) + "\n")
            fpass = 0
            for q in queries:
                if only and q["name"] != only:
                    continue
                total += 1
                want = q.get("expected_event_ids", [])
                got, err = run_query(q, datafile, tb, tmp)
                label = "%s %s" % (fname, q["name"])
                if err is not None:
                    refused += 1
                    print("FAIL %s: not loaded: %s" % (label, err))
                    continue
                alts = want if want and isinstance(want[0], list) else [want]
                if got in alts:
                    passed += 1
                    fpass += 1
                    if verbose:
                        print("pass %s" % label)
                else:
                    print("FAIL %s: got %s, want %s" % (label, got[:40], alts[0][:40]))
            print("-- %s: %d of %d pass" % (fname, fpass, len(queries)))
    rate = 100.0 * passed / total if total else 0.0
    print("es conformance: %d of %d queries pass (%.1f%%); %d not loaded (refused), "
          "%d wrong results" % (passed, total, rate, refused, total - passed - refused))
    if min_pass is not None and rate < min_pass:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
