# to_raw.jq - the ECS Arc story (examples/azure-arc/*.ndjson) written back
# as raw Azure diagnostic records in Event Hubs messages, the form Azure
# sends before any pipeline: camelCase keys, `time` with 7 fractional digits,
# no event.*/source.*/@timestamp, several records per message ({"records":
# [...]}) and, inside a message, records not in time order.
#
#   jq -c -s --arg ds signinlogs -f to_raw.jq ../azure-arc/signinlogs.ndjson
#
# Reverses the normalizer's moves (normalizers/azure/*.lua): renames back,
# claim keys' '_' back to '.', the moved top-level fields back in place.
def camelkey:
  if . == "created_at" then "createdDateTime"
  elif . == "processing_time_ms" then "processingTimeInMilliseconds"
  elif . == "risk_level_during_signin" then "riskLevelDuringSignIn"
  elif test("^http") then gsub("_"; ".")
  else (split("_") as $p | $p[0] + ($p[1:] | map((.[:1] | ascii_upcase) + .[1:]) | join("")))
  end;
def camelize: if type == "object" then with_entries(.key |= camelkey | .value |= camelize)
              elif type == "array" then map(camelize) else . end;
def rawtime: sub("\\.(?<ms>[0-9]{3})Z$"; ".\(.ms)0000Z");
def raw($ds):
  .source as $src
  | (.azure[$ds] | camelize)
  + {time: (.["@timestamp"] | rawtime)}
  + (if .azure.resource.id then {resourceId: .azure.resource.id} else {} end)
  + (if .azure.tenant_id then {tenantId: .azure.tenant_id} else {} end)
  + (if .azure.correlation_id then {correlationId: .azure.correlation_id} else {} end)
  + (if .event.duration != null then {durationMs: .event.duration} else {} end)
  + (if $ds == "signinlogs" then
       (if .log.level then {Level: (.log.level | tonumber? // .)} else {} end)
       + (if .geo.country_iso_code then {location: .geo.country_iso_code} else {} end)
     else
       (if .log.level then {level: .log.level} else {} end)
     end)
  + (if $src.address and $ds == "activitylogs" then {callerIpAddress: $src.address} else {} end)
  | if $ds == "signinlogs" and .properties and $src.address then .properties.ipAddress = $src.address else . end;
# messages of 3, 1, 4 and 2 records in turn, each message's records reversed
def chunks: . as $all | [foreach range(0; 1000) as $i ({at: 0};
    .n = ([3, 1, 4, 2][$i % 4]) | .cur = $all[.at:.at + .n] | .at += .n; .cur)]
    | map(select(length > 0));
map(raw($ds)) | chunks[] | {records: reverse}
