-- tests/bench/gen.lua - realistic Azure events for the state benchmark
--
-- usage: lua5.4 tests/bench/gen.lua MODE N
--   mix   N events like a tenant's sign-in and activity exports: service
--         principal sign-ins (ECS shape of the Arc fixtures, trimmed to the
--         fields rules and analysts use) from 20,000 apps, a third failing,
--         and activity-log operations, 1 in 50 a listClusterUserCredential
--         by an app that signed in just before; 20 events per second.
--   open  N successful sign-ins by N distinct apps within 10 minutes (N
--         open partial sequences of the Arc rule), then one event 40
--         minutes later, after which every one of them has expired.
local mode, n = arg[1], math.tointeger(tonumber(arg[2] or "0"))
assert((mode == "mix" or mode == "open") and n and n > 0, "usage: gen.lua mix|open N")

local BASE = 1760432400  -- 2025-10-14T09:00:00Z
local out = io.stdout
out:setvbuf("full", 1 << 20)

local function ts(us)
  return os.date("!%Y-%m-%dT%H:%M:%S", BASE + us // 1000000) .. string.format(".%06dZ", us % 1000000)
end
local function guid(i)
  return string.format("%08x-7fda-4db5-8bb1-%012x", i, i * 2654435761 % 0x1000000000000)
end
local function ip(i)
  return string.format("%d.%d.%d.%d", 1 + i % 200, i // 200 % 256, i // 51200 % 256, 1 + i % 250)
end

local SIGNIN = '{"@timestamp":"%s","event":{"dataset":"azure.signinlogs","category":["authentication"],'
  .. '"kind":"event","outcome":"%s","type":["info"]},"data_stream":{"dataset":"azure.signinlogs"},'
  .. '"azure":{"signinlogs":{"category":"ServicePrincipalSignInLogs","operation_name":"Sign-in activity",'
  .. '"properties":{"app_id":"%s","service_principal_id":"%s","service_principal_name":"sp-%d",'
  .. '"status":{"error_code":%d},"resource_display_name":"Windows Azure Service Management API"}}},'
  .. '"source":{"ip":"%s","as":{"number":%d,"organization":{"name":"Example Net %d"}}}}\n'
local ACTIVITY = '{"@timestamp":"%s","event":{"dataset":"azure.activitylogs","kind":"event",'
  .. '"outcome":"success"},"azure":{"activitylogs":{"category":"Action","operation_name":"%s",'
  .. '"result_type":"Success","identity":{"claims":{"appid":"%s"}}}},"source":{"ip":"%s"}}\n'
local LIST = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION"
local OTHER = { "MICROSOFT.RESOURCES/DEPLOYMENTS/WRITE", "MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION",
                "MICROSOFT.COMPUTE/VIRTUALMACHINES/READ" }

if mode == "open" then
  local step = 600 * 1000000 // n
  for i = 1, n do
    out:write(string.format(SIGNIN, ts(i * step), "success", guid(i), guid(i + 1), i, 0, ip(i),
                            64500 + i % 1000, i % 1000))
  end
  out:write(string.format(ACTIVITY, ts(50 * 60 * 1000000), OTHER[1], guid(0), ip(0)))
else
  local rnd = 12345
  local function rand(m)
    rnd = (rnd * 1103515245 + 12345) % 2147483648
    return rnd % m
  end
  local last_app = 1
  for i = 1, n do
    local t = i * 50000
    local r = rand(100)
    if r < 50 then
      local app = rand(20000)
      last_app = app
      local fail = rand(3) == 0
      out:write(string.format(SIGNIN, ts(t), fail and "failure" or "success", guid(app), guid(app + 1),
                              app, fail and 7000215 or 0, ip(app + rand(3)), 64500 + app % 1000, app % 1000))
    else
      local op = r < 52 and LIST or OTHER[1 + rand(3)]
      out:write(string.format(ACTIVITY, ts(t), op, guid(op == LIST and last_app or rand(20000)),
                              ip(last_app)))
    end
  end
end
out:flush()
