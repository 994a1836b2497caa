#!/bin/sh
# gen.sh - writes the raw Arc story from the ECS one (run from the
# repository root): examples/azure-arc-raw/{signinlogs,activitylogs}.eventhub.ndjson
set -e
D=examples/azure-arc-raw
jq -c -s --arg ds signinlogs -f $D/to_raw.jq examples/azure-arc/signinlogs.ndjson \
    >$D/signinlogs.eventhub.ndjson
jq -c -s --arg ds activitylogs -f $D/to_raw.jq examples/azure-arc/activitylogs.ndjson \
    >$D/activitylogs.eventhub.ndjson
