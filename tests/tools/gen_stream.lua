-- tests/tools/gen_stream.lua - a long realistic stream for restart tests
--
-- usage: lua5.4 tests/tools/gen_stream.lua FIXTURE N [START_EPOCH]
-- FIXTURE is an NDJSON file whose first line is a service-principal
-- sign-in and second line the Arc credential listing of the same app
-- (tests/fixtures/arc/true_positive.ndjson). Writes 2*N-ish events in
-- event-time order: app i signs in at START + 6 s * i and, for most apps,
-- lists cluster credentials 4m12s later (a detection); every 5th app never
-- lists, every 7th lists 40 minutes later (beyond the 30m maxspan). With
-- one sequence every 6 s the Arc rule's cap (100 per 15m) drops some, so a
-- restart test also checks that cap state survives. Deterministic.
local fixture, n, start = arg[1], tonumber(arg[2]), tonumber(arg[3] or "1760432400")
local f = assert(io.open(fixture))
local signin, listing = f:read("l"), f:read("l")
f:close()
local APP = "6131d760-7fda-4db5-8bb1-b771898e9f15"
local TS1 = signin:match('"@timestamp":"([^"]+)"')
local TS2 = listing:match('"@timestamp":"([^"]+)"')

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%S", t) .. ".000Z"
end
local function make(tpl, ts_old, i, t)
  local app = string.format("%08x-7fda-4db5-8bb1-%012d", 0x6131d760 + i, i)
  local line = tpl:gsub(APP:gsub("%p", "%%%0"), app)
  line = line:gsub('"@timestamp":"' .. ts_old:gsub("%p", "%%%0") .. '"',
                   '"@timestamp":"' .. iso(t) .. '"')
  return line
end

local evs = {}
for i = 0, n - 1 do
  local t = start + 6 * i
  evs[#evs + 1] = {t, #evs, make(signin, TS1, i, t)}
  if i % 5 ~= 4 then
    local later = (i % 7 == 6) and 40 * 60 or 252
    evs[#evs + 1] = {t + later, #evs, make(listing, TS2, i, t + later)}
  end
end
table.sort(evs, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
for _, e in ipairs(evs) do io.write(e[3], "\n") end
