#!/usr/bin/env lua5.4
--[[
gen_story.lua - deterministic generator of Azure sign-in / activity-log test
data for the first moonwatch rule, "Azure Service Principal Sign-In Followed
by Arc Cluster Credential Access" (Elastic rule dacfbecd-7927-46a7-a8ba-feb65a2e990d).

    lua5.4 examples/gen_story.lua OUTDIR

OUTDIR is normally the repository root. The script writes:

    OUTDIR/examples/azure-arc/signinlogs.ndjson
    OUTDIR/examples/azure-arc/activitylogs.ndjson
    OUTDIR/examples/azure-arc/README.md
    OUTDIR/examples/azure-arc/expected-alerts.tsv
    OUTDIR/tests/fixtures/arc/*.ndjson + CASES.tsv
    OUTDIR/tests/fixtures/bad/*.ndjson + EXPECTED.tsv + CASES.tsv

Only Lua's standard libraries are used. There is no os.time / os.date and no
math.random: every id, IP, jitter and token comes from a SplitMix64 generator
seeded from a fixed string, so the output is byte-for-byte stable. JSON is
written by the small encoder below, with object keys sorted bytewise.

The events follow the ECS shapes of Elastic's Azure integration (the samples in
shared/samples/azure/, Elastic License 2.0 test data); every value here is
synthetic. See examples/azure-arc/README.md (written by this script) for the
story and the expected alerts.
]]

os.setlocale("C") -- string comparison (used by the key sort) is strcoll()

local OUT = arg and arg[1]
if not OUT or OUT == "" then
  io.stderr:write("usage: lua5.4 examples/gen_story.lua OUTDIR\n")
  os.exit(2)
end

local RULE_ID = "dacfbecd-7927-46a7-a8ba-feb65a2e990d"
local ARC_OP = "Microsoft.Kubernetes/connectedClusters/listClusterUserCredential/action"

---------------------------------------------------------------------------
-- JSON encoder (sorted keys, byte-stable)
---------------------------------------------------------------------------

local NULL = setmetatable({}, { __name = "json.null" })
local ARRAY_MT = { __name = "json.array" }
local RAWNUM_MT = { __name = "json.rawnum" }

-- arr{...}: a JSON array (needed for empty arrays; non-empty sequences are
-- detected anyway). num("51.5142"): a number written exactly as given.
local function arr(t) return setmetatable(t or {}, ARRAY_MT) end
local function num(s)
  assert(type(s) == "string" and s:match("^%-?%d+%.?%d*$"), "bad raw number")
  return setmetatable({ s }, RAWNUM_MT)
end

local ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
              ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
local function enc_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function is_array(t)
  local mt = getmetatable(t)
  if mt == ARRAY_MT then return true end
  if mt ~= nil then return false end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  return count == n
end

local encode
local function enc_value(v, out)
  local ty = type(v)
  if v == NULL then out[#out + 1] = "null"
  elseif ty == "string" then out[#out + 1] = enc_string(v)
  elseif ty == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif ty == "number" then
    assert(math.type(v) == "integer", "floats must be written with num()")
    out[#out + 1] = string.format("%d", v)
  elseif ty == "table" then
    if getmetatable(v) == RAWNUM_MT then out[#out + 1] = v[1]; return end
    if is_array(v) then
      out[#out + 1] = "["
      for i = 1, #v do
        if i > 1 then out[#out + 1] = "," end
        enc_value(v[i], out)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        assert(type(k) == "string", "object keys must be strings")
        keys[#keys + 1] = k
      end
      table.sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = enc_string(k)
        out[#out + 1] = ":"
        enc_value(v[k], out)
      end
      out[#out + 1] = "}"
    end
  else
    error("cannot encode " .. ty)
  end
end
encode = function(v)
  local out = {}
  enc_value(v, out)
  return table.concat(out)
end

local function deepcopy(v)
  if type(v) ~= "table" or v == NULL then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = deepcopy(x) end
  return setmetatable(c, getmetatable(v))
end

-- get/set/delete a dotted path in nested tables
local function split_path(p)
  local parts = {}
  for seg in p:gmatch("[^.]+") do parts[#parts + 1] = seg end
  return parts
end
local function get_path(t, p)
  for _, seg in ipairs(split_path(p)) do
    if type(t) ~= "table" then return nil end
    t = t[seg]
  end
  return t
end
local function set_path(t, p, v)
  local parts = split_path(p)
  for i = 1, #parts - 1 do
    t[parts[i]] = t[parts[i]] or {}
    t = t[parts[i]]
  end
  t[parts[#parts]] = v
end
local function del_path(t, p)
  local parts = split_path(p)
  local chain = { t }
  for i = 1, #parts - 1 do
    t = t[parts[i]]
    if type(t) ~= "table" then return end
    chain[#chain + 1] = t
  end
  t[parts[#parts]] = nil
  for i = #parts - 1, 1, -1 do -- prune parents left empty
    if next(chain[i + 1]) == nil then chain[i][parts[i]] = nil else break end
  end
end

---------------------------------------------------------------------------
-- Deterministic PRNG (SplitMix64) and id helpers
---------------------------------------------------------------------------

local Rng = {}
Rng.__index = Rng

local function fnv1a(s)
  local h = 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 0x100000001b3
  end
  return h
end

-- new_rng("name"): an independent stream per name, so adding noise never
-- shifts the ids of the events the README names.
local function new_rng(name) return setmetatable({ s = fnv1a("moonwatch:" .. name) }, Rng) end

function Rng:next()
  self.s = self.s + 0x9E3779B97F4A7C15
  local z = self.s
  z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
  z = (z ~ (z >> 27)) * 0x94D049BB133111EB
  return z ~ (z >> 31)
end
function Rng:int(lo, hi) return lo + ((self:next() >> 1) % (hi - lo + 1)) end
function Rng:pick(t) return t[self:int(1, #t)] end
function Rng:chance(pct) return self:int(1, 100) <= pct end
function Rng:hex(n)
  local s = {}
  while #table.concat(s) < n do s[#s + 1] = string.format("%016x", self:next()) end
  return table.concat(s):sub(1, n)
end
function Rng:guid()
  local h = self:hex(32)
  local variant = string.format("%x", 8 + (tonumber(h:sub(17, 17), 16) % 4))
  return h:sub(1, 8) .. "-" .. h:sub(9, 12) .. "-4" .. h:sub(14, 16) .. "-" ..
         variant .. h:sub(18, 20) .. "-" .. h:sub(21, 32)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
function Rng:b64(n, extra)
  local alphabet = B64 .. (extra or "-_")
  local s = {}
  for i = 1, n do local k = self:int(1, #alphabet); s[i] = alphabet:sub(k, k) end
  return table.concat(s)
end

local function nodash(g) return (g:gsub("-", "")) end

---------------------------------------------------------------------------
-- Time: integer milliseconds since the Unix epoch, UTC
---------------------------------------------------------------------------

local function days_from_civil(y, m, d)
  y = (m <= 2) and (y - 1) or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return y, m, d
end

local function at(y, mo, d, h, mi, s, ms)
  return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + s * 1000 + (ms or 0)
end

-- "YYYY-MM-DDTHH:MM:SS" (UTC) and the millisecond remainder
local function clock(ms)
  local days, rem = ms // 86400000, ms % 86400000
  local y, m, d = civil_from_days(days)
  local secs = rem // 1000
  return string.format("%04d-%02d-%02dT%02d:%02d:%02d", y, m, d,
    secs // 3600, (secs // 60) % 60, secs % 60), rem % 1000
end

-- ECS @timestamp: RFC 3339, millisecond fraction, "Z"
local function iso(ms)
  local c, f = clock(ms)
  return string.format("%s.%03dZ", c, f)
end

-- Azure's createdDateTime style: 7-digit fraction and an offset. `sub` is the
-- sub-millisecond part (0..9999, units of 100 ns); offset_min shifts the
-- local clock (e.g. 120 for "+02:00").
local function iso7(ms, sub, offset_min)
  offset_min = offset_min or 0
  local c, f = clock(ms + offset_min * 60000)
  local sign = offset_min < 0 and "-" or "+"
  local a = math.abs(offset_min)
  return string.format("%s.%03d%04d%s%02d:%02d", c, f, sub or 0, sign, a // 60, a % 60)
end

-- event.ingested style: 9-digit fraction, "Z"
local function iso9(ms, sub6)
  local c, f = clock(ms)
  return string.format("%s.%03d%06dZ", c, f, sub6)
end

local function epoch_s(ms) return tostring(ms // 1000) end

local function dur(ms) -- "4m12s" style, for the README
  local neg = ms < 0
  ms = math.abs(ms)
  local h, m, s, r = ms // 3600000, (ms // 60000) % 60, (ms // 1000) % 60, ms % 1000
  local out = ""
  if h > 0 then out = out .. h .. "h" end
  if m > 0 or h > 0 then out = out .. m .. "m" end
  out = out .. s .. (r > 0 and string.format(".%03d", r) or "") .. "s"
  return (neg and "-" or "") .. out
end

---------------------------------------------------------------------------
-- The tenant: directory, subscriptions, places and networks
---------------------------------------------------------------------------

local TENANT = "4bbb79f7-5724-4c9e-95f3-de075f6ec090" -- as in Elastic's SP sample
local SUB_PROD = "5f1c2a7e-3d84-4b69-9a0e-7c2d1b8e4f36"
local SUB_EDGE = "c8a3e5d1-6f27-4e0b-8b94-2d7f1a6c9e05"
local ARM_RESOURCE = { name = "Windows Azure Service Management API", id = "797f4846-ba00-4fd7-ba43-dac1f8f63013" }
local GRAPH_RESOURCE = { name = "Microsoft Graph", id = "00000003-0000-0000-c000-000000000000" }
local EXO_RESOURCE = { name = "Office 365 Exchange Online", id = "00000002-0000-0ff1-ce00-000000000000" }
local TEAMS_RESOURCE = { name = "Microsoft Teams Services", id = "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe" }

-- GeoIP shapes. Real MaxMind test-database values for the sample IPs; the
-- values for documentation ranges are invented (a real GeoIP database has
-- nothing for them), with documentation ASNs (RFC 5398) except Azure.
local function geo(city, cont, iso2, country, riso, region, lat, lon)
  return { city_name = city, continent_name = cont, country_iso_code = iso2, country_name = country,
           region_iso_code = riso, region_name = region, location = { lat = num(lat), lon = num(lon) } }
end
local LONDON = geo("London", "Europe", "GB", "United Kingdom", "GB-ENG", "England", "51.5142", "-0.0931")
local LINKOPING = geo("Linköping", "Europe", "SE", "Sweden", "SE-E", "Östergötland County", "58.4167", "15.6167")
local MILTON = geo("Milton", "North America", "US", "United States", "US-WA", "Washington", "47.2513", "-122.3149")
local MELBOURNE = geo("Melbourne", "Oceania", "AU", "Australia", "AU-VIC", "Victoria", "-37.8159", "144.9669")
local SYDNEY = geo("Sydney", "Oceania", "AU", "Australia", "AU-NSW", "New South Wales", "-33.8715", "151.2006")
local AMSTERDAM = geo("Amsterdam", "Europe", "NL", "Netherlands", "NL-NH", "North Holland", "52.3759", "4.8975")
local ASHBURN = geo("Ashburn", "North America", "US", "United States", "US-VA", "Virginia", "39.0469", "-77.4903")

local function ipinfo(ip)
  if ip == "1.128.3.4" then return nil, { 1221, "Telstra Pty Ltd" } end -- as in the sample: AS only
  if ip == "81.2.69.144" or ip == "81.2.69.142" then return LONDON, nil end
  if ip == "89.160.20.112" then return LINKOPING, { 29518, "Bredband2 AB" } end
  if ip == "216.160.83.56" then return MILTON, { 209, "Qwest Communications Company, LLC" } end
  if ip == "203.0.113.50" then return AMSTERDAM, { 64511, "Example VPS Hosting B.V." } end
  if ip:match("^203%.0%.113%.2%d%d$") then return ASHBURN, { 64505, "Example Cloud Monitoring Inc." } end
  if ip:match("^203%.0%.113%.") then return MELBOURNE, { 64501, "Example Broadband Pty Ltd" } end
  if ip:match("^198%.51%.100%.") then return MELBOURNE, { 64500, "Contoso Pty Ltd" } end
  if ip:match("^192%.0%.2%.") then return SYDNEY, { 8075, "MICROSOFT-CORP-MSN-AS-BLOCK" } end
  error("no ipinfo for " .. ip)
end

local function source_of(ip)
  local g, as = ipinfo(ip)
  local src = { ip = ip, address = ip }
  if g then src.geo = deepcopy(g) end
  if as then src.as = { number = as[1], organization = { name = as[2] } } end
  return src
end

-- Azure's own idea of where a sign-in came from (top-level geo.* in ECS)
local HYDERABAD_AZ = { city_name = "Hyderabad", country_iso_code = "IN", region_name = "Telangana",
                       location = { lat = num("17.385000228881836"), lon = num("78.48670196533203") } }
local function azure_geo(ip)
  if ip == "1.128.3.4" then return deepcopy(HYDERABAD_AZ) end -- as in Elastic's sample
  local g = ipinfo(ip)
  return { city_name = g.city_name, country_iso_code = g.country_iso_code, region_name = g.region_name,
           location = deepcopy(g.location) }
end

---------------------------------------------------------------------------
-- Actors
---------------------------------------------------------------------------

-- Service principals. `app` is the application (client) id (= the join key),
-- `spid` the service principal object id, `key` the credential key id.
local function sp(name, app, spid, key, extra)
  local t = { name = name, app = app, spid = spid, key = key }
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end
local idr = new_rng("actor-ids")
local SP = {
  tf = sp("Terraform-Datadog-CLI", "6131d760-7fda-4db5-8bb1-b771898e9f15",
          "b029d485-a308-4311-8720-fb3192e5284e", "dbcd79c0-c3ea-46b9-9604-ff40d43b8618",
          { home = "198.51.100.20" }),
  fleet = sp("arc-fleet-automation", "3f9d2c41-8b7e-4a15-9e06-d4c8a1b27f53",
             "a7e41c09-5d23-4f8b-b1c6-98e0f2d4a735", "e2b95f17-04ac-4d6e-8a3f-1c7b9d52e860",
             { home = "192.0.2.44" }),
  gh = sp("GitHub-Actions-Deploy", idr:guid(), idr:guid(), idr:guid(), { home = "198.51.100.31" }),
  azdo = sp("AzDO-Pipeline-Prod", idr:guid(), idr:guid(), idr:guid(), { home = "198.51.100.42" }),
  backup = sp("Backup-Automation", idr:guid(), idr:guid(), idr:guid(), { home = "192.0.2.18" }),
  dd = sp("Datadog-Azure-Integration", idr:guid(), idr:guid(), idr:guid(),
          { home = "203.0.113.210", owner = "d9a4b1e6-2c7f-4f30-8e5b-6a1c3d9f7b20" }),
  legacy = sp("Legacy-Reporting-SP", idr:guid(), idr:guid(), idr:guid(), { home = "198.51.100.88" }),
  arcrel = sp("AzDO-Arc-Release", "8c2e6f0a-1d47-4b93-a5c8-7e3f9b1d6a24", idr:guid(), idr:guid(),
              { home = "198.51.100.37" }),
  onboard = sp("Arc-Onboarding-Script", "0d7b3e9c-6a21-4f58-b4e7-2c9a5f1e8d63", idr:guid(), idr:guid(),
               { home = "198.51.100.61" }),
  inventory = sp("ArcOps-Inventory", "5a8e1f3c-9b26-4d70-8c4a-e1b7d3f05c92", idr:guid(), idr:guid(),
                 { home = "192.0.2.71" }),
  -- only used by the fixtures
  fixb = sp("Arc-GitOps-Bootstrap", "b5e0c7a2-4f19-4e83-9d6b-3a8f2c1e7d40", idr:guid(), idr:guid(),
            { home = "198.51.100.55" }),
  fixc = sp("Edge-Telemetry-Uploader", "c41f8d2b-7e35-4a96-b0c8-5d2e9f3a1b67", idr:guid(), idr:guid(),
            { home = "192.0.2.90" }),
}

-- Managed identities (sign in to ManagedIdentitySignInLogs; no caller IP)
local function mi(name, rg, sub, user_assigned, ip)
  local r = new_rng("mi:" .. name)
  local t = { name = name, app = r:guid(), spid = r:guid(), rg = rg, sub = sub, ip = ip }
  if user_assigned then
    t.mirid = string.format("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s", sub, rg, name)
    t.msi_type = "userAssigned"
  else
    t.mirid = string.format("/subscriptions/%s/resourcegroups/%s/providers/Microsoft.Compute/virtualMachines/%s", sub, rg, name)
    t.msi_type = "systemAssigned"
  end
  return t
end
local MI = {
  flux = mi("id-arc-flux-gitops", "rg-arc-edge", SUB_EDGE, true, "192.0.2.23"),
  buildvm = mi("vm-build-agent-01", "rg-build", SUB_PROD, false, "192.0.2.57"),
  costfn = mi("func-cost-export", "rg-finops", SUB_PROD, false, "192.0.2.61"),
  aks = mi("id-aks-prod-agentpool", "rg-aks-prod", SUB_PROD, true, "192.0.2.84"),
}
MI.costfn.mirid = string.format("/subscriptions/%s/resourcegroups/rg-finops/providers/Microsoft.Web/sites/func-cost-export", SUB_PROD)

-- People
local function user(first, last, ip, role)
  local r = new_rng("user:" .. first .. last)
  local upn = (first .. "." .. last):lower():gsub("'", "") .. "@example.com"
  return { first = first, last = last, full = first .. " " .. last, upn = upn, id = r:guid(),
           puid = string.upper(r:hex(16)), ip = ip, role = role,
           device = r:guid() }
end
local U = {
  priya = user("Priya", "Raman", "198.51.100.10", "Owner"),
  tom = user("Tom", "Whitaker", "81.2.69.144", "Contributor"),
  mei = user("Mei", "Lin", "198.51.100.10", "Reader"),
  erik = user("Erik", "Lindqvist", "89.160.20.112", "Network Contributor"),
  jordan = user("Jordan", "Miller", "216.160.83.56", "Key Vault Contributor"),
  sam = user("Sam", "O'Connor", "203.0.113.77", "Reader"),
}
local USERS = { U.priya, U.tom, U.mei, U.erik, U.jordan, U.sam }

-- First-party Microsoft client applications
local APPS = {
  cli = { id = "04b07795-8ddb-461a-bbee-02f9e1bf7b46", name = "Microsoft Azure CLI" },
  portal = { id = "c44b4083-3bb0-49c1-b47d-974e53cbdf3c", name = "Azure Portal" },
  office = { id = "4765445b-32c6-49b0-83e6-1d93765276ca", name = "OfficeHome" },
  teams = { id = "1fec8e78-bce4-4aaf-ab1b-5451cc387264", name = "Microsoft Teams" },
  outlook = { id = "5d661950-3475-41cd-a2c3-d671a3162bc1", name = "Microsoft Outlook" },
}

---------------------------------------------------------------------------
-- Event builders
---------------------------------------------------------------------------

local function ingested(rng, ms) return iso9(ms + rng:int(25000, 150000), rng:int(0, 999999)) end

local function data_stream(ds) return { dataset = ds, namespace = "default", type = "logs" } end

-- Sign-in log (any category). o fields:
--   rng, ts (ms), category, app (id), app_name, ip (nil for MI), error_code,
--   sp (service principal actor), user (user actor), mi (MI actor),
--   resource ({name,id}), interactive, client_app, device
local FAILURE_TEXT = {
  [7000215] = "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.",
  [7000222] = "The provided client secret keys for app '%s' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret",
  [50126] = "Error validating credentials due to invalid username or password.",
  [50140] = "This error occurred due to 'Keep me signed in' interrupt when the user was signing-in.",
  [50074] = "Strong Authentication is required.",
}

local function signin(o)
  local r = o.rng
  local sub = r:int(0, 9999)
  local id = r:guid()
  local corr = r:guid()
  local code = o.error_code or 0
  local ok = code == 0
  local props = {
    app_id = o.app,
    authentication_protocol = "none",
    conditional_access_status = "notApplied",
    correlation_id = corr,
    created_at = iso7(o.ts, sub, o.created_offset),
    cross_tenant_access_type = "none",
    flagged_for_review = false,
    id = id,
    incoming_token_type = "none",
    is_interactive = o.interactive or false,
    is_tenant_restricted = false,
    processing_time_ms = r:int(0, 180),
    resource_display_name = (o.resource or ARM_RESOURCE).name,
    resource_id = (o.resource or ARM_RESOURCE).id,
    risk_detail = "none",
    risk_level_aggregated = o.user and "none" or "low",
    risk_level_during_signin = o.user and "none" or "low",
    risk_state = "none",
    status = { error_code = code },
    token_issuer_type = "AzureAD",
    unique_token_identifier = r:b64(22),
  }
  local ev = {
    ["@timestamp"] = iso(o.ts),
    azure = {
      correlation_id = corr,
      resource = { id = "/tenants/" .. TENANT .. "/providers/Microsoft.aadiam", provider = "Microsoft.aadiam" },
      signinlogs = {
        category = o.category,
        operation_name = "Sign-in activity",
        operation_version = "1.0",
        properties = props,
        result_signature = "None",
        result_type = tostring(code),
      },
      tenant_id = TENANT,
    },
    cloud = { provider = "azure" },
    data_stream = data_stream("azure.signinlogs"),
    ecs = { version = "8.11.0" },
    event = {
      action = "Sign-in activity",
      category = { "authentication" },
      dataset = "azure.signinlogs",
      duration = 0,
      id = id,
      ingested = ingested(r, o.ts),
      kind = "event",
      outcome = ok and "success" or "failure",
      type = { "info" },
    },
    log = { level = "4" },
    tags = { "azure-signinlogs", "forwarded" },
  }
  local related_entity = { o.app, props.resource_id }
  if o.sp then
    props.service_principal_id = o.sp.spid
    props.service_principal_name = o.sp.name
    props.service_principal_credential_key_id = o.sp.key
    props.client_credential_type = "clientSecret"
    props.app_owner_tenant_id = o.sp.owner or TENANT
    props.authentication_processing_details = { azure_ad_app_authentication_library = "" }
    ev.service = { name = o.sp.name }
    related_entity[#related_entity + 1] = o.sp.spid
    related_entity[#related_entity + 1] = o.sp.key
  elseif o.mi then
    props.service_principal_id = o.mi.spid
    props.service_principal_name = o.mi.name
    props.client_credential_type = "managedIdentity"
    props.managed_service_identity = { msi_type = o.mi.msi_type, associated_resource_id = o.mi.mirid }
    props.app_owner_tenant_id = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
    ev.service = { name = o.mi.name }
    related_entity[#related_entity + 1] = o.mi.spid
    -- Managed identities have no caller IP: empty location, no source.*
    ev.geo = { city_name = "", country_name = "", location = { lat = num("0.0"), lon = num("0.0") } }
  elseif o.user then
    local u = o.user
    props.app_display_name = o.app_name
    props.user_id = u.id
    props.user_principal_name = u.upn
    props.user_display_name = u.full
    props.user_type = "Member"
    props.client_app_used = o.client_app or "Browser"
    props.authentication_requirement = o.mfa and "multiFactorAuthentication" or "singleFactorAuthentication"
    props.device_detail = o.device or { browser = "Edge 141.0.0", operating_system = "Windows10",
                                        device_id = u.device, is_compliant = true, is_managed = true,
                                        trust_type = "Azure AD joined", display_name = "LT-" .. u.last:upper():gsub("'", "") }
    if not o.interactive then props.incoming_token_type = "refreshToken" end
    ev.azure.signinlogs.identity = u.full
    ev.user = { id = u.id, name = u.upn:match("^[^@]+"), full_name = u.full, domain = "example.com",
                email = u.upn }
    related_entity[#related_entity + 1] = u.id
  end
  if o.ip then
    props.ip_address = nil
    ev.azure.signinlogs.caller_ip_address = o.ip
    ev.client = { ip = o.ip }
    ev.source = source_of(o.ip)
    ev.geo = azure_geo(o.ip)
    ev.related = { ip = { o.ip } }
  end
  table.sort(related_entity)
  ev.related = ev.related or {}
  ev.related.entity = related_entity
  if not ok then
    local text = string.format(FAILURE_TEXT[code] or "Sign-in failed.", o.app)
    ev.message = text
    ev.azure.signinlogs.result_description = text
  end
  return ev
end

-- Activity log record. o fields:
--   rng, ts, op (canonical mixed-case name), op_case ("upper" | "asis" | "lower"),
--   result ("Start" | "Accept" | "Success" | "Failure"), outcome (override;
--   false = none), category ("Action" | "Write" | "Delete"), resource
--   ({sub, rg, provider, type, name}), caller ({appid, oid, principal_type,
--   role, claims = extra}), ip, corr, token_ts (when the caller's token was
--   issued), status_code, status_message
local function canonical_resource_id(res)
  return string.format("/subscriptions/%s/resourceGroups/%s/providers/%s/%s", res.sub, res.rg, res.provider, res.path)
end
-- the upper-cased form Event Hub exports carry (subscription id kept as is)
local function upper_resource_id(res)
  return string.format("/SUBSCRIPTIONS/%s/RESOURCEGROUPS/%s/PROVIDERS/%s/%s", res.sub, res.rg:upper(),
    res.provider:upper(), res.path:upper())
end
-- res(sub, rg, "Microsoft.Kubernetes", "connectedClusters/arc-edge-syd-01")
local function res(sub, rg, provider, path)
  return { sub = sub, rg = rg, provider = provider, path = path,
           type = path:match("^[^/]+"), name = path:match("([^/]+)$") }
end

local ROLE_DEFS = {
  ["Owner"] = "8e3af657a8ff443ca75c2fe8c4bcb635",
  ["Contributor"] = "b24988ac618042a0ab8820f7382dd24c",
  ["Reader"] = "acdd72a7338548efbd42b34a0d7d4e79",
  ["Network Contributor"] = "4d97b98b1d4f4787a2918ee3c7b8d4d9",
  ["Key Vault Contributor"] = "f25e0fa2a7c84377a97663c1f9f5f5d7",
  ["Storage Account Key Operator Service Role"] = "81a9662b5cd546979d5b6e9bae4b4cbd",
  ["Azure Arc Enabled Kubernetes Cluster User Role"] = "00493d7278f64148b6c5d3ce8e4799dd",
  ["Azure Kubernetes Service Cluster User Role"] = "4abbcc35e782439382aa7d4c9d4d2b3d",
  ["Azure Kubernetes Service Cluster Admin Role"] = "0ab0b1a8860341c893ee3f7f3aed5ba5",
  ["Kubernetes Cluster - Azure Arc Onboarding"] = "34e09817f5ff47b0a87f4c9e3b0e0a5f",
}

local function activity(o)
  local r = o.rng
  local res = o.resource
  local rid = canonical_resource_id(res)
  local op = o.op
  local opname = (o.op_case == "asis") and op or (o.op_case == "lower") and op:lower() or op:upper()
  local result = o.result
  local outcome
  if o.outcome ~= nil then outcome = o.outcome or nil
  elseif result == "Success" then outcome = "success"
  elseif result == "Failure" then outcome = "failure" end
  local signature = ({ Start = "Started.", Accept = "Accepted.Created", Success = o.success_signature or "Succeeded.OK",
                       Failure = "Failed." .. (o.status_code or "Forbidden") })[result]
  local c = o.caller
  local tok = o.token_ts or (o.ts - r:int(120, 2400) * 1000)
  local claims = {
    aud = "https://management.core.windows.net/",
    iss = "https://sts.windows.net/" .. TENANT .. "/",
    iat = epoch_s(tok), nbf = epoch_s(tok), exp = epoch_s(tok + (c.lifetime or 3599) * 1000),
    aio = r:b64(40, "+/"),
    appid = c.appid,
    appidacr = c.appidacr or "1",
    idtyp = c.idtyp or "app",
    ["http://schemas_microsoft_com/identity/claims/objectidentifier"] = c.oid,
    ["http://schemas_microsoft_com/identity/claims/tenantid"] = TENANT,
    uti = r:b64(22),
    ver = "1.0",
  }
  for k, v in pairs(c.claims or {}) do claims[k] = v end
  local props = { message = op }
  if result ~= "Start" then props.status_code = o.status_code or (result == "Success" and "OK" or "Forbidden") end
  if o.status_message then props.status_message = o.status_message end
  if result == "Start" or result == "Accept" then props.service_request_id = NULL
  else props.service_request_id = r:guid() end
  local id = r:guid()
  local upper_rid = upper_resource_id(res)
  local ev = {
    ["@timestamp"] = iso(o.ts),
    azure = {
      activitylogs = {
        category = o.category or "Action",
        event_category = "Administrative",
        identity = {
          authorization = {
            action = op,
            evidence = {
              principal_id = nodash(c.oid),
              principal_type = c.principal_type or "ServicePrincipal",
              role = c.role,
              role_assignment_id = nodash(new_rng("ra:" .. c.oid .. c.role):guid()),
              role_assignment_scope = c.scope or ("/subscriptions/" .. res.sub .. "/resourceGroups/" .. res.rg),
              role_definition_id = ROLE_DEFS[c.role] or error("unknown role " .. tostring(c.role)),
            },
            scope = rid,
          },
          claims = claims,
        },
        operation_name = opname,
        properties = props,
        result_signature = signature,
        result_type = result,
      },
      correlation_id = o.corr,
      resource = {
        group = res.rg:upper(),
        id = upper_rid,
        name = res.name:upper(),
        provider = (res.provider .. "/" .. res.type):upper(),
      },
      subscription_id = res.sub,
      tenant_id = TENANT,
    },
    client = { ip = o.ip },
    cloud = { account = { id = res.sub }, provider = "azure" },
    data_stream = data_stream("azure.activitylogs"),
    ecs = { version = "8.11.0" },
    event = {
      action = opname,
      dataset = "azure.activitylogs",
      duration = 0,
      id = id,
      ingested = ingested(r, o.ts),
      kind = "event",
      outcome = outcome,
      type = { (o.category == "Delete") and "deletion" or "change" },
    },
    log = { level = "Informational" },
    related = { ip = { o.ip } },
    source = source_of(o.ip),
    tags = { "azure-activitylogs", "forwarded" },
  }
  return ev
end

-- Callers as they appear in activity-log identity blocks
local function sp_caller(s, role, extra)
  return { appid = s.app, oid = s.spid, principal_type = "ServicePrincipal", role = role,
           appidacr = "1", idtyp = "app", claims = extra }
end
local function mi_caller(m, role)
  return { appid = m.app, oid = m.spid, principal_type = "ServicePrincipal", role = role, appidacr = "2",
           idtyp = "app", lifetime = 86399, claims = { xms_mirid = m.mirid } }
end
local function user_caller(u, app, ip)
  return {
    appid = app.id, oid = u.id, principal_type = "User", role = u.role, appidacr = "0", idtyp = "user",
    lifetime = 4499, scope = "/subscriptions/" .. SUB_PROD,
    claims = {
      acr = "1",
      ["http://schemas_microsoft_com/claims/authnmethodsreferences"] = "pwd,mfa",
      ["http://schemas_microsoft_com/identity/claims/scope"] = "user_impersonation",
      ["http://schemas_xmlsoap_org/ws/2005/05/identity/claims/upn"] = u.upn,
      ipaddr = ip,
      name = u.full,
      puid = u.puid,
    },
  }
end

---------------------------------------------------------------------------
-- Output helpers
---------------------------------------------------------------------------

local function mkdir_p(path)
  local ok = os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create directory " .. path) end
end

local written = {}
local function write_file(rel, content)
  local path = OUT .. "/" .. rel
  mkdir_p(path:match("^(.*)/[^/]*$"))
  local f = assert(io.open(path, "wb"))
  f:write(content)
  f:close()
  written[#written + 1] = { rel, #content }
end

-- lines: list of strings (each written followed by "\n")
local function write_lines(rel, lines)
  write_file(rel, table.concat(lines, "\n") .. "\n")
end

local function ndjson(events)
  local lines = {}
  for i, ev in ipairs(events) do
    local line = encode(ev)
    assert(not line:find("\n", 1, true))
    lines[i] = line
  end
  return lines
end


---------------------------------------------------------------------------
-- A) The story: one Tuesday afternoon in the tenant, 13:00-16:00 UTC
---------------------------------------------------------------------------

local function T(h, m, s, ms) return at(2025, 10, 14, h, m, s, ms) end
local START, STOP = T(13, 0, 0), T(16, 0, 0)

local ARC_SYD = res(SUB_EDGE, "rg-arc-edge", "Microsoft.Kubernetes", "connectedClusters/arc-edge-syd-01")
local ARC_MEL = res(SUB_EDGE, "rg-arc-edge", "Microsoft.Kubernetes", "connectedClusters/arc-factory-mel-02")
local AKS_PROD = res(SUB_PROD, "rg-aks-prod", "Microsoft.ContainerService", "managedClusters/aks-prod-aue")
local ARC_ROLE = "Azure Arc Enabled Kubernetes Cluster User Role"

-- Every event gets a distinct millisecond across both files, so the merged
-- order never depends on a tiebreaker. Named events are placed first and
-- must not move; noise is nudged forward by 1 ms on a collision.
local used = {}
local function slot(ms, pinned)
  if pinned then
    assert(not used[ms], "pinned time collides: " .. iso(ms))
  else
    while used[ms] do ms = ms + 1 end
  end
  used[ms] = true
  return ms
end

local entries = { signin = {}, activity = {} }
local NAMED = {}
local function emit(file, ev, ms, name)
  local e = { file = file, ev = ev, ms = ms, name = name }
  table.insert(entries[file], e)
  if name then
    assert(not NAMED[name], "duplicate event name " .. name)
    NAMED[name] = e
  end
  return e
end

-- o: rng (stream name), s (SP actor), ms, ip, code, name, pinned
local function sp_signin(o)
  local ms = slot(o.ms, o.pinned)
  local ev = signin { rng = new_rng("signin:" .. o.rng), ts = ms, category = "ServicePrincipalSignInLogs",
                      app = o.s.app, sp = o.s, ip = o.ip or o.s.home, error_code = o.code,
                      resource = o.resource or ARM_RESOURCE }
  return emit("signin", ev, ms, o.name)
end

local function mi_signin(o)
  local ms = slot(o.ms, o.pinned)
  local ev = signin { rng = new_rng("signin:" .. o.rng), ts = ms, category = "ManagedIdentitySignInLogs",
                      app = o.m.app, mi = o.m, resource = ARM_RESOURCE }
  return emit("signin", ev, ms, o.name)
end

-- o: rng, u, ms, app, interactive, code, mfa, name, resource, client_app
local function user_signin(o)
  local ms = slot(o.ms, o.pinned)
  local ev = signin { rng = new_rng("signin:" .. o.rng), ts = ms,
                      category = o.interactive and "SignInLogs" or "NonInteractiveUserSignInLogs",
                      app = o.app.id, app_name = o.app.name, user = o.u, ip = o.ip or o.u.ip,
                      error_code = o.code, interactive = o.interactive, mfa = o.mfa,
                      resource = o.resource or ARM_RESOURCE, client_app = o.client_app }
  return emit("signin", ev, ms, o.name)
end

-- One operation as the Activity Log records it: a Start record, then the end
-- record `lag` ms later, sharing a correlation id. Pinned operations give the
-- time of the END record (o.ms); noise gives the time of the Start record.
-- o: rng, op, resource, caller, ip, category, result (end record; default
-- Success), lag, ms, pinned, names = {start, fin}, op_case, outcome,
-- token_ts, status_code, status_message, success_signature
local function operation(o)
  local r = new_rng("act:" .. o.rng)
  local corr = r:guid()
  local lag = o.lag or r:int(300, 2500)
  local t_start, t_end
  if o.pinned then
    t_end = slot(o.ms, true)
    t_start = slot(o.ms - lag, true)
  else
    t_start = slot(o.ms)
    t_end = slot(t_start + lag)
  end
  local token_ts = o.token_ts or (t_start - r:int(60, 1800) * 1000)
  local common = { op = o.op, op_case = o.op_case, category = o.category, resource = o.resource,
                   caller = o.caller, ip = o.ip, corr = corr, token_ts = token_ts }
  local function rec(ts, result, extra)
    local a = { rng = r, ts = ts, result = result }
    for k, v in pairs(common) do a[k] = v end
    for k, v in pairs(extra or {}) do a[k] = v end
    return activity(a)
  end
  local names = o.names or {}
  local e1 = emit("activity", rec(t_start, "Start"), t_start, names.start)
  local e2 = emit("activity", rec(t_end, o.result or "Success",
    { outcome = o.outcome, status_code = o.status_code, status_message = o.status_message,
      success_signature = o.success_signature }), t_end, names.fin)
  return e1, e2
end

local function authz_failed(caller_app, caller_oid, op, scope)
  return encode({ error = { code = "AuthorizationFailed", message = string.format(
    "The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
    caller_app, caller_oid, op, scope) } })
end

-- periodic(name, first, period, jitter, fn): fn(i, t) at first+j, +period+j, ...
local function periodic(name, first, period, jitter, fn)
  local r = new_rng("sched:" .. name)
  local t = first + r:int(0, jitter)
  local i = 0
  while t < STOP do
    i = i + 1
    fn(i, t, r)
    t = t + period + r:int(-jitter, jitter)
  end
end

local MIN, SEC = 60000, 1000

-- ---- Chain 1: Terraform-Datadog-CLI, secret used from Telstra (1.128.3.4) ----
local C1_SIGNIN, C1_LIST = T(14, 7, 31, 512), T(14, 11, 43, 512)
sp_signin { rng = "c1", s = SP.tf, ms = C1_SIGNIN, ip = "1.128.3.4", name = "c1_signin", pinned = true }
operation { rng = "c1-list", op = ARC_OP, op_case = "upper", resource = ARC_MEL,
            caller = sp_caller(SP.tf, ARC_ROLE), ip = "1.128.3.4", ms = C1_LIST, lag = 535, pinned = true,
            token_ts = C1_SIGNIN, names = { start = "c1_list_start", fin = "c1_list" } }

-- ---- Chain 2: arc-fleet-automation, secret used from 203.0.113.50 ----
local C2_FAIL, C2_SIGNIN = T(15, 18, 5, 204), T(15, 19, 47, 880)
local C2_LIST, C2_LIST2 = T(15, 28, 47, 880), T(15, 30, 47, 880)
sp_signin { rng = "c2-fail", s = SP.fleet, ms = C2_FAIL, ip = "203.0.113.50", code = 7000215, name = "c2_fail", pinned = true }
sp_signin { rng = "c2", s = SP.fleet, ms = C2_SIGNIN, ip = "203.0.113.50", name = "c2_signin", pinned = true }
operation { rng = "c2-list", op = ARC_OP, op_case = "asis", outcome = "Success", resource = ARC_SYD,
            caller = sp_caller(SP.fleet, ARC_ROLE), ip = "203.0.113.50", ms = C2_LIST, lag = 578, pinned = true,
            token_ts = C2_SIGNIN, names = { start = "c2_list_start", fin = "c2_list" } }
operation { rng = "c2-list2", op = ARC_OP, op_case = "asis", outcome = "Success", resource = ARC_SYD,
            caller = sp_caller(SP.fleet, ARC_ROLE), ip = "203.0.113.50", ms = C2_LIST2, lag = 425, pinned = true,
            token_ts = C2_SIGNIN, names = { start = "c2_list2_start", fin = "c2_list2" } }
do
  local op = "Microsoft.Authorization/roleAssignments/write"
  local ra = res(SUB_EDGE, "rg-arc-edge", "Microsoft.Authorization", "roleAssignments/" .. new_rng("c2-ra"):guid())
  operation { rng = "c2-ra", op = op, category = "Write", resource = ra, caller = sp_caller(SP.fleet, ARC_ROLE),
              ip = "203.0.113.50", ms = T(15, 34, 2, 790), lag = 672, pinned = true, token_ts = C2_SIGNIN,
              result = "Failure", status_code = "Forbidden",
              status_message = authz_failed(SP.fleet.app, SP.fleet.spid, op, canonical_resource_id(ra)),
              names = { start = "c2_ra_start", fin = "c2_ra" } }
end
-- its legitimate run earlier in the afternoon (tags the Sydney cluster)
sp_signin { rng = "fleet-legit", s = SP.fleet, ms = T(13, 12, 33, 905), name = "c2_legit", pinned = true }
operation { rng = "fleet-legit-write", op = "Microsoft.Kubernetes/connectedClusters/write", category = "Write",
            resource = ARC_SYD, caller = sp_caller(SP.fleet, "Contributor"), ip = SP.fleet.home,
            ms = T(13, 13, 10, 66), lag = 1840, pinned = true, token_ts = T(13, 12, 33, 905),
            names = { start = "c2_legit_write_start", fin = "c2_legit_write" } }

-- ---- Near miss N1: an administrator (a user) lists Arc credentials via az CLI ----
user_signin { rng = "n1", u = U.priya, ms = T(13, 22, 41, 207), app = APPS.cli, interactive = true, mfa = true,
              client_app = "Mobile Apps and Desktop clients", name = "n1_signin", pinned = true,
              device = { browser = "", operating_system = "Windows10", device_id = U.priya.device, is_compliant = true,
                         is_managed = true, trust_type = "Azure AD joined", display_name = "LT-RAMAN" } }
operation { rng = "n1-list", op = ARC_OP, resource = ARC_SYD, caller = user_caller(U.priya, APPS.cli, U.priya.ip),
            ip = U.priya.ip, ms = T(13, 26, 18, 620), lag = 576, pinned = true, token_ts = T(13, 22, 41, 207),
            names = { start = "n1_list_start", fin = "n1_list" } }

-- ---- Near miss N2: a managed identity signs in and lists Arc credentials ----
mi_signin { rng = "n2", m = MI.flux, ms = T(13, 40, 10, 338), name = "n2_signin", pinned = true }
operation { rng = "n2-list", op = ARC_OP, resource = ARC_SYD, caller = mi_caller(MI.flux, ARC_ROLE),
            ip = MI.flux.ip, ms = T(13, 41, 2, 219), lag = 517, pinned = true, token_ts = T(13, 40, 10, 338),
            names = { start = "n2_list_start", fin = "n2_list" } }

-- ---- Near miss N3: release pipeline lists Arc credentials 45 minutes after its sign-in ----
local N3_SIGNIN, N3_LIST = T(13, 48, 20, 114), T(14, 33, 20, 114)
sp_signin { rng = "n3", s = SP.arcrel, ms = N3_SIGNIN, name = "n3_signin", pinned = true }
operation { rng = "n3-deploy", op = "Microsoft.Resources/deployments/write", category = "Write",
            resource = res(SUB_EDGE, "rg-arc-edge", "Microsoft.Resources", "deployments/edge-release-2025.10.14.3"),
            caller = sp_caller(SP.arcrel, "Contributor"), ip = SP.arcrel.home, ms = T(13, 49, 2, 731), lag = 1210,
            pinned = true, token_ts = N3_SIGNIN, success_signature = "Succeeded.Created",
            names = { start = "n3_deploy_start", fin = "n3_deploy" } }
operation { rng = "n3-list", op = ARC_OP, resource = ARC_MEL, caller = sp_caller(SP.arcrel, ARC_ROLE),
            ip = SP.arcrel.home, ms = N3_LIST, lag = 628, pinned = true, token_ts = N3_SIGNIN,
            names = { start = "n3_list_start", fin = "n3_list" } }

-- ---- Near miss N4: an SP signs in, its listing is only a Start and a Failure ----
sp_signin { rng = "n4", s = SP.onboard, ms = T(14, 40, 5, 733), name = "n4_signin", pinned = true }
operation { rng = "n4-list", op = ARC_OP, resource = ARC_MEL, caller = sp_caller(SP.onboard, "Kubernetes Cluster - Azure Arc Onboarding"),
            ip = SP.onboard.home, ms = T(14, 43, 12, 871), lag = 781, pinned = true, token_ts = T(14, 40, 5, 733),
            result = "Failure", status_code = "Forbidden",
            status_message = authz_failed(SP.onboard.app, SP.onboard.spid, ARC_OP, canonical_resource_id(ARC_MEL)),
            names = { start = "n4_list_start", fin = "n4_list" } }

-- ---- Near miss N5: the only sign-in in the window before its listing failed ----
sp_signin { rng = "n5-ok", s = SP.inventory, ms = T(13, 52, 5, 402), name = "n5_signin", pinned = true }
sp_signin { rng = "n5-fail", s = SP.inventory, ms = T(14, 49, 10, 660), ip = "198.51.100.72", code = 7000215,
            name = "n5_fail", pinned = true }
operation { rng = "n5-list", op = ARC_OP, resource = ARC_SYD, caller = sp_caller(SP.inventory, ARC_ROLE),
            ip = SP.inventory.home, ms = T(14, 55, 40, 318), lag = 507, pinned = true, token_ts = T(13, 52, 5, 402),
            names = { start = "n5_list_start", fin = "n5_list" } }

-- ---- Background: Terraform-Datadog-CLI's own runs, every 30 minutes ----
local tf_runs = {}
for i, base in ipairs { T(13, 5, 0), T(13, 35, 0), T(14, 5, 0), T(14, 35, 0), T(15, 5, 0), T(15, 35, 0) } do
  local r = new_rng("tf-run:" .. i)
  -- the 14:05 run is late (>= 14:05:50) and the 13:35 one early (<= 13:35:45), so
  -- the 14:05 sign-in is the only live pending one when the attacker signs in:
  -- an engine that kept the older pending sign-in would report it instead
  local t = base + ((base == T(14, 5, 0)) and r:int(50000, 59999) or r:int(0, 45000))
  local e = sp_signin { rng = "tf:" .. i, s = SP.tf, ms = t, name = (base == T(14, 5, 0)) and "c1_replaced" or nil }
  tf_runs[#tf_runs + 1] = e.ms
  operation { rng = "tf-ag:" .. i, op = "Microsoft.Insights/actionGroups/write", category = "Write",
              resource = res(SUB_PROD, "rg-observability", "Microsoft.Insights", "actionGroups/ag-datadog-oncall"),
              caller = sp_caller(SP.tf, "Contributor"), ip = SP.tf.home, ms = e.ms + r:int(20000, 45000),
              token_ts = e.ms }
  if i % 2 == 1 then
    operation { rng = "tf-deploy:" .. i, op = "Microsoft.Resources/deployments/write", category = "Write",
                resource = res(SUB_PROD, "rg-observability", "Microsoft.Resources", "deployments/datadog-monitors-" .. i),
                caller = sp_caller(SP.tf, "Contributor"), ip = SP.tf.home, ms = e.ms + r:int(50000, 90000),
                token_ts = e.ms, success_signature = "Succeeded.Created" }
  end
end
for _, t in ipairs(tf_runs) do
  assert(t < C1_SIGNIN or t > C1_LIST, "a legitimate Terraform run would replace the attacker's sign-in")
end
assert(NAMED.c1_replaced.ms - tf_runs[2] > 30 * MIN and C1_LIST - NAMED.c1_replaced.ms <= 30 * MIN)

-- ---- Background: CI/CD and automation service principals ----
periodic("gh", T(13, 3, 0), 15 * MIN, 90 * SEC, function(i, t, r)
  local e = sp_signin { rng = "gh:" .. i, s = SP.gh, ms = t, ip = "198.51.100." .. r:int(31, 33) }
  if i == 9 then -- N6: lists AKS (not Arc) user credentials
    operation { rng = "gh-aks:" .. i, op = "Microsoft.ContainerService/managedClusters/listClusterUserCredential/action",
                resource = AKS_PROD, caller = sp_caller(SP.gh, "Azure Kubernetes Service Cluster User Role"),
                ip = e.ev.source.ip, ms = e.ms + 64000, token_ts = e.ms,
                names = { start = "n6_list_start", fin = "n6_list" } }
  end
  operation { rng = "gh-deploy:" .. i, op = "Microsoft.Resources/deployments/write", category = "Write",
              resource = res(SUB_PROD, "rg-web-prod", "Microsoft.Resources", string.format("deployments/webapp-%04d", 4100 + i)),
              caller = sp_caller(SP.gh, "Contributor"), ip = e.ev.source.ip, ms = e.ms + r:int(15000, 40000),
              token_ts = e.ms, success_signature = "Succeeded.Created" }
  if r:chance(60) then
    operation { rng = "gh-site:" .. i, op = "Microsoft.Web/sites/config/write", category = "Write",
                resource = res(SUB_PROD, "rg-web-prod", "Microsoft.Web", "sites/app-contoso-shop/config/appsettings"),
                caller = sp_caller(SP.gh, "Contributor"), ip = e.ev.source.ip, ms = e.ms + r:int(90000, 150000),
                token_ts = e.ms }
  end
end)

periodic("azdo", T(13, 8, 0), 20 * MIN, 120 * SEC, function(i, t, r)
  local e = sp_signin { rng = "azdo:" .. i, s = SP.azdo, ms = t }
  if i == 2 then -- N7: lists AKS admin credentials
    operation { rng = "azdo-aks:" .. i, op = "Microsoft.ContainerService/managedClusters/listClusterAdminCredential/action",
                resource = AKS_PROD, caller = sp_caller(SP.azdo, "Azure Kubernetes Service Cluster Admin Role"),
                ip = SP.azdo.home, ms = e.ms + 41000, token_ts = e.ms,
                names = { start = "n7_list_start", fin = "n7_list" } }
  end
  operation { rng = "azdo-vmss:" .. i, op = "Microsoft.Compute/virtualMachineScaleSets/write", category = "Write",
              resource = res(SUB_PROD, "rg-build", "Microsoft.Compute", "virtualMachineScaleSets/vmss-build-agents"),
              caller = sp_caller(SP.azdo, "Contributor"), ip = SP.azdo.home, ms = e.ms + r:int(20000, 60000),
              token_ts = e.ms }
  if i % 3 == 0 then
    operation { rng = "azdo-nsg:" .. i, op = "Microsoft.Network/networkSecurityGroups/securityRules/write", category = "Write",
                resource = res(SUB_PROD, "rg-build", "Microsoft.Network", "networkSecurityGroups/nsg-build/securityRules/allow-agent-" .. i),
                caller = sp_caller(SP.azdo, "Contributor"), ip = SP.azdo.home, ms = e.ms + r:int(70000, 110000),
                token_ts = e.ms, success_signature = "Succeeded.Created" }
  end
end)

periodic("backup", T(13, 15, 0), 30 * MIN, 60 * SEC, function(i, t, r)
  local e = sp_signin { rng = "backup:" .. i, s = SP.backup, ms = t }
  operation { rng = "backup-keys:" .. i, op = "Microsoft.Storage/storageAccounts/listKeys/action",
              resource = res(SUB_PROD, "rg-backup", "Microsoft.Storage", "storageAccounts/stcontosobackup01"),
              caller = sp_caller(SP.backup, "Storage Account Key Operator Service Role"), ip = SP.backup.home,
              ms = e.ms + r:int(5000, 15000), token_ts = e.ms }
  operation { rng = "backup-snap:" .. i, op = "Microsoft.Compute/snapshots/write", category = "Write",
              resource = res(SUB_PROD, "rg-backup", "Microsoft.Compute", string.format("snapshots/snap-sql01-20251014-%02d", i)),
              caller = sp_caller(SP.backup, "Contributor"), ip = SP.backup.home, ms = e.ms + r:int(20000, 40000),
              token_ts = e.ms, success_signature = "Succeeded.Created" }
  operation { rng = "backup-del:" .. i, op = "Microsoft.Compute/snapshots/delete", category = "Delete",
              resource = res(SUB_PROD, "rg-backup", "Microsoft.Compute", string.format("snapshots/snap-sql01-20251007-%02d", i)),
              caller = sp_caller(SP.backup, "Contributor"), ip = SP.backup.home, ms = e.ms + r:int(45000, 70000),
              token_ts = e.ms }
end)

periodic("dd", T(13, 1, 0), 10 * MIN, 40 * SEC, function(i, t, r)
  sp_signin { rng = "dd:" .. i, s = SP.dd, ms = t, ip = "203.0.113." .. r:int(210, 213) }
end)

periodic("legacy", T(13, 6, 0), 20 * MIN, 60 * SEC, function(i, t, r)
  sp_signin { rng = "legacy:" .. i, s = SP.legacy, ms = t, code = 7000222 }
end)

-- ---- Background: managed identities (no caller IP) ----
for i, base in ipairs { T(13, 10, 0), T(14, 10, 0), T(14, 40, 0), T(15, 10, 0), T(15, 40, 0) } do
  mi_signin { rng = "flux:" .. i, m = MI.flux, ms = base + new_rng("flux-j:" .. i):int(0, 45000) }
end
periodic("buildvm", T(13, 4, 0), 25 * MIN, 90 * SEC, function(i, t, r)
  mi_signin { rng = "buildvm:" .. i, m = MI.buildvm, ms = t }
end)
for i, base in ipairs { T(13, 30, 0), T(14, 30, 0), T(15, 30, 0) } do
  mi_signin { rng = "costfn:" .. i, m = MI.costfn, ms = base + new_rng("costfn-j:" .. i):int(1000, 9000) }
end
periodic("aksmi", T(13, 2, 0), 20 * MIN, 60 * SEC, function(i, t, r)
  local e = mi_signin { rng = "aksmi:" .. i, m = MI.aks, ms = t }
  if i % 3 == 1 then
    operation { rng = "aksmi-lb:" .. i, op = "Microsoft.Network/loadBalancers/write", category = "Write",
                resource = res(SUB_PROD, "MC_rg-aks-prod_aks-prod-aue_australiaeast", "Microsoft.Network", "loadBalancers/kubernetes"),
                caller = mi_caller(MI.aks, "Network Contributor"), ip = MI.aks.ip, ms = e.ms + r:int(3000, 9000),
                token_ts = e.ms }
  end
end)

-- ---- Background: people ----
local NONINT_APPS = {
  { app = APPS.teams, resource = TEAMS_RESOURCE, client = "Mobile Apps and Desktop clients" },
  { app = APPS.outlook, resource = EXO_RESOURCE, client = "Mobile Apps and Desktop clients" },
  { app = APPS.portal, resource = ARM_RESOURCE, client = "Browser" },
  { app = APPS.office, resource = GRAPH_RESOURCE, client = "Browser" },
}
for ui, u in ipairs(USERS) do
  periodic("nonint:" .. u.upn, T(13, 0, 0) + ui * 97 * SEC, 17 * MIN, 4 * MIN, function(i, t, r)
    local a = r:pick(NONINT_APPS)
    user_signin { rng = "nonint:" .. u.upn .. ":" .. i, u = u, ms = t, app = a.app, resource = a.resource,
                  client_app = a.client }
  end)
end
-- Priya's az CLI refreshes its token later on; nothing is listed after it
user_signin { rng = "priya-cli-refresh", u = U.priya, ms = T(14, 52, 17, 93), app = APPS.cli,
              client_app = "Mobile Apps and Desktop clients" }

user_signin { rng = "priya-portal", u = U.priya, ms = T(13, 2, 48, 512), app = APPS.portal, interactive = true, mfa = true }
operation { rng = "priya-ra", op = "Microsoft.Authorization/roleAssignments/write", category = "Write",
            resource = res(SUB_PROD, "rg-web-prod", "Microsoft.Authorization", "roleAssignments/" .. new_rng("priya-ra-id"):guid()),
            caller = user_caller(U.priya, APPS.portal, U.priya.ip), ip = U.priya.ip, ms = T(14, 48, 31, 0),
            success_signature = "Succeeded.Created" }

user_signin { rng = "tom-portal", u = U.tom, ms = T(13, 14, 6, 771), app = APPS.portal, interactive = true, mfa = true }
operation { rng = "tom-vmstart", op = "Microsoft.Compute/virtualMachines/start/action",
            resource = res(SUB_PROD, "rg-web-prod", "Microsoft.Compute", "virtualMachines/vm-web-03"),
            caller = user_caller(U.tom, APPS.portal, U.tom.ip), ip = U.tom.ip, ms = T(13, 20, 12, 0) }
operation { rng = "tom-rgdel", op = "Microsoft.Resources/subscriptions/resourceGroups/delete", category = "Delete",
            resource = res(SUB_PROD, "rg-sandbox-tw", "Microsoft.Resources", "subscriptions/resourceGroups/rg-sandbox-tw"),
            caller = user_caller(U.tom, APPS.portal, U.tom.ip), ip = U.tom.ip, ms = T(14, 25, 40, 0), lag = 38411 }

user_signin { rng = "mei-fail", u = U.mei, ms = T(13, 31, 2, 118), app = APPS.office, interactive = true,
              code = 50126, resource = GRAPH_RESOURCE }
user_signin { rng = "mei-ok", u = U.mei, ms = T(13, 31, 41, 655), app = APPS.office, interactive = true, mfa = true,
              resource = GRAPH_RESOURCE }

user_signin { rng = "erik-portal", u = U.erik, ms = T(13, 45, 19, 240), app = APPS.portal, interactive = true, mfa = true }
operation { rng = "erik-nsg", op = "Microsoft.Network/networkSecurityGroups/securityRules/write", category = "Write",
            resource = res(SUB_PROD, "rg-network-hub", "Microsoft.Network", "networkSecurityGroups/nsg-hub/securityRules/allow-ssh-jump"),
            caller = user_caller(U.erik, APPS.portal, U.erik.ip), ip = U.erik.ip, ms = T(13, 52, 44, 0),
            success_signature = "Succeeded.Created" }
operation { rng = "erik-nsg2", op = "Microsoft.Network/networkSecurityGroups/securityRules/write", category = "Write",
            resource = res(SUB_PROD, "rg-network-hub", "Microsoft.Network", "networkSecurityGroups/nsg-hub/securityRules/allow-ssh-jump"),
            caller = user_caller(U.erik, APPS.portal, U.erik.ip), ip = U.erik.ip, ms = T(14, 58, 3, 0),
            result = "Failure", status_code = "Conflict",
            status_message = encode({ error = { code = "AnotherOperationInProgress",
              message = "Another operation on this or dependent resource is in progress." } }) }

user_signin { rng = "jordan-fail", u = U.jordan, ms = T(14, 15, 9, 377), app = APPS.portal, interactive = true, code = 50074 }
user_signin { rng = "jordan-ok", u = U.jordan, ms = T(14, 15, 52, 46), app = APPS.portal, interactive = true, mfa = true }
operation { rng = "jordan-kv", op = "Microsoft.KeyVault/vaults/write", category = "Write",
            resource = res(SUB_PROD, "rg-secrets", "Microsoft.KeyVault", "vaults/kv-contoso-prod"),
            caller = user_caller(U.jordan, APPS.portal, U.jordan.ip), ip = U.jordan.ip, ms = T(14, 22, 8, 0) }
operation { rng = "jordan-kvap", op = "Microsoft.KeyVault/vaults/accessPolicies/write", category = "Write",
            resource = res(SUB_PROD, "rg-secrets", "Microsoft.KeyVault", "vaults/kv-contoso-prod/accessPolicies/add"),
            caller = user_caller(U.jordan, APPS.portal, U.jordan.ip), ip = U.jordan.ip, ms = T(14, 23, 30, 0) }

user_signin { rng = "sam-kmsi", u = U.sam, ms = T(13, 55, 30, 902), app = APPS.office, interactive = true,
              code = 50140, resource = GRAPH_RESOURCE }
user_signin { rng = "sam-ok", u = U.sam, ms = T(13, 55, 37, 410), app = APPS.office, interactive = true, mfa = true,
              resource = GRAPH_RESOURCE }

-- ---- Sort, check, write ----
local function by_time(a, b) return a.ms < b.ms end
table.sort(entries.signin, by_time)
table.sort(entries.activity, by_time)
for _, e in ipairs(entries.signin) do assert(e.ms >= START and e.ms < STOP + 10 * MIN, "out of window: " .. iso(e.ms)) end
for _, e in ipairs(entries.activity) do assert(e.ms >= START and e.ms < STOP + 10 * MIN, "out of window: " .. iso(e.ms)) end

local function events_of(list)
  local evs = {}
  for i, e in ipairs(list) do evs[i] = e.ev end
  return evs
end
local sign_lines = ndjson(events_of(entries.signin))
local act_lines = ndjson(events_of(entries.activity))
for i, e in ipairs(entries.signin) do e.line = i; e.bytes = #sign_lines[i] end
for i, e in ipairs(entries.activity) do e.line = i; e.bytes = #act_lines[i] end
write_lines("examples/azure-arc/signinlogs.ndjson", sign_lines)
write_lines("examples/azure-arc/activitylogs.ndjson", act_lines)

local STORY = { entries = entries, named = NAMED, sizes = {} }
for _, f in ipairs { "signin", "activity" } do
  local lo, hi = math.huge, 0
  for _, e in ipairs(entries[f]) do lo = math.min(lo, e.bytes); hi = math.max(hi, e.bytes) end
  STORY.sizes[f] = { lo, hi }
end

-- ---- expected-alerts.tsv ----
local CHAINS = {
  { first = NAMED.c1_signin, last = NAMED.c1_list, sp = SP.tf },
  { first = NAMED.c2_signin, last = NAMED.c2_list, sp = SP.fleet },
}
do
  local rows = { "rule_id\tjoin_key\tfirst_timestamp\tlast_timestamp\tfirst_event_id\tlast_event_id" }
  for _, c in ipairs(CHAINS) do
    rows[#rows + 1] = table.concat({ RULE_ID, c.sp.app, c.first.ev["@timestamp"], c.last.ev["@timestamp"],
                                     c.first.ev.event.id, c.last.ev.event.id }, "\t")
  end
  write_lines("examples/azure-arc/expected-alerts.tsv", rows)
end

-- ---- README.md ----
local function fname(e) return e.file == "signin" and "signinlogs.ndjson" or "activitylogs.ndjson" end
local function where(e) return string.format("`%s:%d`", fname(e), e.line) end
local function ts(e) return "`" .. e.ev["@timestamp"] .. "`" end
local function eid(e) return "`" .. e.ev.event.id .. "`" end
local function N(name) return assert(NAMED[name], "no event named " .. name) end
local function hm(e) return e.ev["@timestamp"]:sub(12, 23) end

local function describe(e)
  local ev = e.ev
  if e.file == "signin" then
    local s = ev.azure.signinlogs
    local p = s.properties
    local who = p.service_principal_name or p.user_principal_name or "?"
    local ip = ev.source and ev.source.ip or "no IP"
    return string.format("%s sign-in of %s (app `%s`) from %s, error_code %d", s.category, who, p.app_id, ip,
      p.status.error_code)
  else
    local a = ev.azure.activitylogs
    local out = ev.event.outcome and ("outcome `" .. ev.event.outcome .. "`") or "no `event.outcome`"
    return string.format("`%s` %s, %s, by app `%s` (%s) from %s", a.operation_name, a.result_type, out,
      a.identity.claims.appid, a.identity.authorization.evidence.principal_type, ev.source.ip)
  end
end

local R = {}
local function P(s) R[#R + 1] = s or "" end
local function fmt(...) P(string.format(...)) end

P("# Example: a service principal's stolen secret used against Azure Arc")
P()
P("A realistic afternoon of Azure logs for one tenant, in the ECS form that Elastic's Azure")
P("integration indexes, with exactly **two** true attack chains for the rule")
fmt("\"Azure Service Principal Sign-In Followed by Arc Cluster Credential Access\" (`%s`)", RULE_ID)
P("and a dozen look-alikes that must not alert.")
P()
P("**Generated file: do not edit by hand.** This README, both NDJSON files and")
P("`expected-alerts.tsv` are written by `examples/gen_story.lua` (plain Lua 5.4, seeded")
P("PRNG, byte-stable output). Regenerate from the repository root with:")
P()
P("```sh")
P("lua5.4 examples/gen_story.lua .")
P("```")
P()
P("It also writes the end-to-end fixtures under `tests/fixtures/arc/` and `tests/fixtures/bad/`.")
P()
P("| file | events | what |")
P("|---|---|---|")
fmt("| `signinlogs.ndjson` | %d | `azure.signinlogs` (Entra ID sign-in logs), in `@timestamp` order |", #entries.signin)
fmt("| `activitylogs.ndjson` | %d | `azure.activitylogs` (Azure Activity Log), in `@timestamp` order |", #entries.activity)
P("| `expected-alerts.tsv` | 2 rows | the alerts the rule must raise, in completion order |")
P()
fmt("Events are one JSON object per line (%d-%d bytes for sign-ins, %d-%d bytes for activity",
  STORY.sizes.signin[1], STORY.sizes.signin[2], STORY.sizes.activity[1], STORY.sizes.activity[2])
P("records), keys sorted, `@timestamp` in RFC 3339 with a millisecond fraction and `Z`.")
P("Every event in the two files has a distinct millisecond, so the merged order never")
P("depends on a tiebreaker. The two files interleave in time: a host has to merge them by")
P("event time (the rule's two stages come from different files).")
P()
P("## Run it")
P()
P("```sh")
P("bin/moonwatch run --rules rules/azure \\")
P("    examples/azure-arc/signinlogs.ndjson examples/azure-arc/activitylogs.ndjson")
P("```")
P()
P("(point `--rules` at the Arc rule's file or at its directory).")
P()
P("## Expected result: exactly 2 alerts")
P()
P("| # | join key (`app_id` = `claims.appid`) | principal | stage 1: sign-in | stage 2: credential listing | gap |")
P("|---|---|---|---|---|---|")
for i, c in ipairs(CHAINS) do
  fmt("| %d | `%s` | %s | %s<br>event.id %s<br>%s | %s<br>event.id %s<br>%s | %s |", i, c.sp.app, c.sp.name,
    ts(c.first), eid(c.first), where(c.first), ts(c.last), eid(c.last), where(c.last), dur(c.last.ms - c.first.ms))
end
P()
P("Both rows are also in `expected-alerts.tsv` (columns rule_id, join_key, first_timestamp,")
P("last_timestamp, first_event_id, last_event_id). No other alert may be raised; in")
P("particular not for the second listing of chain 2 and not for any near miss below.")
P()

P("## The tenant")
P()
fmt("Tenant `%s` (Contoso, Melbourne). Subscriptions `%s` (production) and `%s`", TENANT, SUB_PROD, SUB_EDGE)
P("(edge), two Arc-connected Kubernetes clusters in resource group `rg-arc-edge`:")
P("`arc-edge-syd-01` and `arc-factory-mel-02`, and an AKS cluster `aks-prod-aue`.")
P()
P("| principal | kind | app id | signs in from | in this story |")
P("|---|---|---|---|---|")
local CAST = {
  { SP.tf, "service principal", "198.51.100.20 (Terraform runner)", "every 30 min: updates the Datadog action group; holds a forgotten Arc cluster-user role on `arc-factory-mel-02`. **Its secret is used from 1.128.3.4 (chain 1).**" },
  { SP.fleet, "service principal", "192.0.2.44 (Azure VM)", "one run at 13:12 that tags `arc-edge-syd-01`. **Its secret is used from 203.0.113.50 (chain 2).**" },
  { SP.gh, "service principal", "198.51.100.31-33", "CI: deployments every 15 min; once lists AKS (not Arc) user credentials (N6)" },
  { SP.azdo, "service principal", "198.51.100.42", "CI: scale-set and NSG writes every 20 min; once lists AKS admin credentials (N7)" },
  { SP.backup, "service principal", "192.0.2.18", "every 30 min: storage listKeys, snapshot write and delete" },
  { SP.dd, "service principal (multi-tenant app)", "203.0.113.210-213", "metrics reader, signs in every 10 min, writes nothing" },
  { SP.legacy, "service principal", "198.51.100.88", "expired secret: fails with 7000222 every 20 min" },
  { SP.arcrel, "service principal", "198.51.100.37", "release pipeline; lists Arc credentials 45 min after its sign-in (N3)" },
  { SP.onboard, "service principal", "198.51.100.61", "tries to list Arc credentials without the role (N4)" },
  { SP.inventory, "service principal", "192.0.2.71 (and a stale runner at 198.51.100.72)", "lists Arc credentials 63 min after its only successful sign-in (N5)" },
}
for _, c in ipairs(CAST) do
  fmt("| %s | %s | `%s` | %s | %s |", c[1].name, c[2], c[1].app, c[3], c[4])
end
local MICAST = {
  { MI.flux, "signs in every 30 min; lists Arc credentials once (N2)" },
  { MI.buildvm, "signs in every 25 min" },
  { MI.costfn, "signs in hourly" },
  { MI.aks, "signs in every 20 min, writes the AKS load balancer" },
}
for _, c in ipairs(MICAST) do
  fmt("| %s | managed identity (%s) | `%s` | (no caller IP) | %s |", c[1].name, c[1].msi_type, c[1].app, c[2])
end
for _, u in ipairs(USERS) do
  fmt("| %s (`%s`) | user | (Portal, Office, Teams, Outlook, az CLI) | %s | interactive and non-interactive sign-ins%s |",
    u.full, u.upn, u.ip, u == U.priya and "; lists Arc credentials with az CLI (N1)" or "")
end
P()

P("## Timeline of the events that matter")
P()
P("All times UTC, 2025-10-14. Every other event is background (counted further down).")
P()
P("| time | where | event.id | event | role |")
P("|---|---|---|---|---|")
local ROLE = {
  c2_legit = "chain 2's principal, legitimately; pending for its key, expires unused",
  c2_legit_write_start = "background",
  c2_legit_write = "background",
  n1_signin = "N1: a user sign-in (SignInLogs), not stage 1",
  n1_list_start = "N1: Start record, no outcome",
  n1_list = "N1: stage-2 shaped, but no stage-1 event for app `04b07795-…`: **no alert**",
  n2_signin = "N2: ManagedIdentitySignInLogs, not stage 1",
  n2_list_start = "N2: Start record, no outcome",
  n2_list = "N2: stage-2 shaped, no stage-1 partner: **no alert**",
  n3_signin = "N3: stage 1 for AzDO-Arc-Release",
  n3_deploy_start = "background", n3_deploy = "background",
  n3_list_start = "N3: Start record, no outcome",
  n3_list = "N3: stage-2 shaped, " .. dur(N3_LIST - N3_SIGNIN) .. " after its sign-in (> maxspan 30m): **no alert**",
  n5_signin = "N5: stage 1 for ArcOps-Inventory (the listing comes 63 min later)",
  c1_replaced = "chain 1's principal, legitimately: stage 1, pending for its key",
  c1_signin = "**chain 1, stage 1** (replaces the pending 14:05 sign-in of the same app)",
  c1_list_start = "chain 1: Start record, no outcome: not stage 2",
  c1_list = "**chain 1, stage 2: alert 1** (" .. dur(C1_LIST - C1_SIGNIN) .. " after stage 1)",
  n4_signin = "N4: stage 1 for Arc-Onboarding-Script",
  n4_list_start = "N4: Start record, no outcome",
  n4_list = "N4: Failure (AuthorizationFailed), outcome `failure`: **no alert**",
  n5_fail = "N5: failed sign-in (7000215): not stage 1",
  n5_list_start = "N5: Start record, no outcome",
  n5_list = "N5: stage-2 shaped; its last successful sign-in is " .. dur(NAMED.n5_list.ms - NAMED.n5_signin.ms) .. " earlier: **no alert**",
  n6_list_start = "N6: background", n6_list = "N6: AKS `managedClusters`, not Arc: **no alert**",
  n7_list_start = "N7: background", n7_list = "N7: AKS admin credential, not Arc: **no alert**",
  c2_fail = "chain 2: the attacker's first secret is wrong (7000215): not stage 1",
  c2_signin = "**chain 2, stage 1**",
  c2_list_start = "chain 2: Start record, no outcome: not stage 2",
  c2_list = "**chain 2, stage 2: alert 2** (" .. dur(C2_LIST - C2_SIGNIN) .. " after stage 1; mixed-case op, outcome `Success`)",
  c2_list2_start = "chain 2: Start record of the second listing",
  c2_list2 = "chain 2: second listing, 2 min after the first: the sequence already completed and cleared the key: **no second alert**",
  c2_ra_start = "chain 2: the attacker tries to grant itself a role",
  c2_ra = "chain 2: role assignment denied (Failure): not part of the rule",
}
local named_list = {}
for name, e in pairs(NAMED) do named_list[#named_list + 1] = { name = name, e = e } end
table.sort(named_list, function(a, b) return a.e.ms < b.e.ms end)
for _, x in ipairs(named_list) do
  local e = x.e
  fmt("| %s | %s | %s | %s | %s |", hm(e), where(e), eid(e), describe(e), assert(ROLE[x.name], x.name))
end
P()

P("## Chain 1: Terraform-Datadog-CLI from a Telstra address")
P()
fmt("The Terraform principal (app `%s`, the app of Elastic's real sample sign-in) normally", SP.tf.app)
P("runs every 30 minutes from the Terraform runner at 198.51.100.20 and only writes the")
P("Datadog action group and monitors. Two years ago it was given the *Azure Arc Enabled")
P("Kubernetes Cluster User Role* on `arc-factory-mel-02` to install the Datadog agent, and")
P("nobody removed it.")
P()
fmt("- %s its legitimate 14:05 run signs in from 198.51.100.20 (%s). That sign-in is a stage-1", hm(N("c1_replaced")), eid(N("c1_replaced")))
P("  match and is pending for the key when the attacker arrives.")
fmt("- %s the same app id signs in with the same credential key (`%s`) from **1.128.3.4**", hm(N("c1_signin")), SP.tf.key)
P("  (AS 1221 Telstra Pty Ltd; Azure places it in Hyderabad, GeoIP has no city): event.id")
fmt("  %s. It **replaces** the pending 14:05 sign-in (R3/R4): the alert's first event is", eid(N("c1_signin")))
P("  this one, not the legitimate run. (The 13:35 run is more than 30 minutes before the")
P("  listing, so the 14:05 run is the only other candidate: an engine that kept the older")
P("  pending sign-in would report it as the first event, and one that kept every pending")
P("  sign-in would raise two alerts here.)")
fmt("- %s `LISTCLUSTERUSERCREDENTIAL` Start record (no `event.outcome`): not stage 2.", hm(N("c1_list_start")))
fmt("- %s the end record, `MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION`,", hm(N("c1_list")))
fmt("  `result_type` Success, `event.outcome` `success`, `claims.appid` = the app id, event.id %s.", eid(N("c1_list")))
fmt("  %s after the sign-in: **alert 1**. The token's `iat` is the sign-in time.", dur(N("c1_list").ms - N("c1_signin").ms))
P("- After that the legitimate runs go on from 198.51.100.20 every 30 minutes; each starts a")
P("  new pending sequence that is never completed (no further listing by this app).")
P()
P("## Chain 2: arc-fleet-automation from a VPS")
P()
fmt("`arc-fleet-automation` (app `%s`) ran once legitimately at %s from 192.0.2.44", SP.fleet.app, hm(N("c2_legit")))
P("(pending until it expired after 30 minutes). Its secret leaked; the attacker works from")
P("**203.0.113.50** (AS 64511, Amsterdam).")
P()
fmt("- %s first attempt with a wrong secret: error 7000215, outcome `failure`: not stage 1.", hm(N("c2_fail")))
fmt("- %s successful sign-in, event.id %s: stage 1.", hm(N("c2_signin")), eid(N("c2_signin")))
fmt("- %s Start record of the listing: not stage 2.", hm(N("c2_list_start")))
fmt("- %s `Microsoft.Kubernetes/connectedClusters/listClusterUserCredential/action` (mixed case,", hm(N("c2_list")))
fmt("  as the REST API spells it), `event.outcome` `Success` (capitalised, as an older pipeline leaves it),")
fmt("  event.id %s, %s after the sign-in: **alert 2**. `:` ignores case on both fields.", eid(N("c2_list")), dur(N("c2_list").ms - N("c2_signin").ms))
fmt("- %s a second listing by the same app, 2 minutes later and still inside 30 minutes of the", hm(N("c2_list2")))
fmt("  sign-in (event.id %s): **no alert**. The completed sequence cleared the key's", eid(N("c2_list2")))
P("  state (R6); a second alert would need a new sign-in.")
fmt("- %s the attacker tries `Microsoft.Authorization/roleAssignments/write`, denied (Failure).", hm(N("c2_ra")))
P()

P("## Near misses: what looks close and why it does not alert")
P()
P("| | what happens | why no alert |")
P("|---|---|---|")
fmt("| N1 | Priya Raman signs in interactively with az CLI (%s) and lists `arc-edge-syd-01` credentials %s later (`az connectedk8s proxy`) | the sign-in is `SignInLogs`, not `ServicePrincipalSignInLogs`; the listing's `claims.appid` is the Azure CLI's app id `%s`, which no service-principal sign-in has |",
  hm(N("n1_signin")), dur(N("n1_list").ms - N("n1_signin").ms), APPS.cli.id)
fmt("| N2 | managed identity `id-arc-flux-gitops` signs in (%s) and lists credentials %s later | category `ManagedIdentitySignInLogs` never starts the sequence |",
  hm(N("n2_signin")), dur(N("n2_list").ms - N("n2_signin").ms))
fmt("| N3 | AzDO-Arc-Release signs in at %s and lists `arc-factory-mel-02` credentials at %s | %s > maxspan 30m (it has no other sign-in in between) |",
  hm(N("n3_signin")), hm(N("n3_list")), dur(N("n3_list").ms - N("n3_signin").ms))
fmt("| N4 | Arc-Onboarding-Script signs in (%s); its listing has a Start record and a Failure end record | Start has no `event.outcome`; the end record's outcome is `failure` |",
  hm(N("n4_signin")))
fmt("| N5 | ArcOps-Inventory signed in successfully at %s; a stale runner fails with 7000215 at %s; the listing at %s uses the older token | the failed sign-in is not stage 1; the successful one is %s before the listing |",
  hm(N("n5_signin")), hm(N("n5_fail")), hm(N("n5_list")), dur(N("n5_list").ms - N("n5_signin").ms))
fmt("| N6 | GitHub-Actions-Deploy signs in and lists credentials 1 min later | the operation is AKS `Microsoft.ContainerService/managedClusters/listClusterUserCredential/action`, not Arc |")
fmt("| N7 | AzDO-Pipeline-Prod signs in and lists credentials | AKS `listClusterAdminCredential`, not the Arc user credential |")
fmt("| C1′ | Terraform-Datadog-CLI's legitimate 14:05 sign-in | replaced by the attacker's 14:07 sign-in before the listing |")
fmt("| C2′ | arc-fleet-automation's legitimate 13:12 sign-in | expired (no listing within 30 min) |")
fmt("| C2″ | chain 2's second listing at %s | its sequence already completed; no pending sign-in |", hm(N("c2_list2")))
P("| Start | every listing's Start record (`result_type` Start) | no `event.outcome` at all |")
P("| noise | failed SP sign-ins (7000215, 7000222), user and managed-identity sign-ins, CI sign-ins followed by writes, deletes, `listKeys` | no Arc `listClusterUserCredential` success by the same app within 30 min |")
P()

P("## Background noise")
P()
do
  local cats, ops = {}, {}
  for _, e in ipairs(entries.signin) do
    local s = e.ev.azure.signinlogs
    local k = s.category .. (s.properties.status.error_code == 0 and " (success)" or (" (error " .. s.properties.status.error_code .. ")"))
    cats[k] = (cats[k] or 0) + 1
  end
  for _, e in ipairs(entries.activity) do
    local a = e.ev.azure.activitylogs
    local k = "`" .. a.operation_name .. "` " .. a.result_type
    ops[k] = (ops[k] or 0) + 1
  end
  local function dump(t, head)
    local keys = {}
    for k in pairs(t) do keys[#keys + 1] = k end
    table.sort(keys)
    P(head)
    P("|---|---|")
    for _, k in ipairs(keys) do fmt("| %s | %d |", k, t[k]) end
    P()
  end
  dump(cats, "| sign-in category (status) | events |")
  dump(ops, "| activity operation, result_type | events |")
end

P("## How the data was made")
P()
P("- The shapes follow Elastic's Azure integration (ecs 8.11 pipeline output) as in")
P("  `shared/samples/azure/` (Elastic License 2.0 test data): `azure.signinlogs.*`,")
P("  `azure.activitylogs.*`, `event.*` (with `event.dataset` and `data_stream.dataset` set),")
P("  `source.*`, `client.ip`, `cloud.*`, `related.*`, top-level `geo.*` (Azure's own location")
P("  for sign-ins). `event.original` is left out to keep events small.")
P("- Everything is synthetic. IPs come from the documentation ranges 192.0.2.0/24,")
P("  198.51.100.0/24 and 203.0.113.0/24, plus the MaxMind test-database addresses used by")
P("  Elastic's samples (1.128.3.4, 81.2.69.144, 89.160.20.112, 216.160.83.56), whose")
P("  `source.geo`/`source.as` are the test database's. For documentation addresses the geo")
P("  and AS values are invented (documentation ASNs 64500-64511, and 8075 for Azure hosts).")
P("  As in Elastic's sample, 1.128.3.4 has only `source.as`, no `source.geo`.")
P("- Managed-identity sign-ins have no `source.*`, `client.*` or `related.ip`: Azure logs no")
P("  caller IP for them.")
P("- `event.id` of an activity record stands for the Activity Log's `eventDataId`; Elastic's")
P("  pipeline does not set one, these files do so that alerts can be checked by id.")
P("- Each write or action is logged twice, a Start record and an end record (Success or")
P("  Failure) with the same `azure.correlation_id`, as Azure does.")
P("- Token claims are consistent with the story: `claims.iat` of an SP's activity is the")
P("  time of the sign-in that issued its token.")
P()
P("## Semantics this data exercises")
P()
P("(See `shared/EQL-SEMANTICS.md`.)")
P()
P("- `authentication where` tests `event.category` (an array here) for `authentication` (R1).")
P("- Stage 2 must come strictly after stage 1 in event time; the two files must be merged")
P("  by `@timestamp` (R2).")
P("- A newer stage-1 event for the same key replaces the pending one (R3, R4): chain 1's")
P("  alert starts at the attacker's sign-in, not the legitimate one 2 minutes earlier.")
P("- A completed sequence clears the key (R6): chain 2's second listing raises nothing.")
P("- `maxspan=30m` is measured from stage 1 to stage 2, inclusive (R7): N3 (45m) and N5")
P("  (63m) are outside it.")
P("- `:` is case-insensitive: the upper-case and the mixed-case operation name both match,")
P("  and so do outcomes `success` and `Success` (R12).")
P("- Keys are positional and compared exactly (R8): `app_id` of the sign-in against")
P("  `claims.appid` of the activity record.")

write_lines("examples/azure-arc/README.md", R)

---------------------------------------------------------------------------
-- B) Focused end-to-end fixtures: tests/fixtures/arc/
---------------------------------------------------------------------------

local F0 = at(2025, 10, 14, 9, 0, 0, 0)
local GAP = 4 * MIN + 12 * SEC -- 4m12s, as in chain 1
local A = SP.tf                  -- the usual app of the fixtures

-- o: s (SP; default A), ms, code, category, ip
local function fx_signin(rname, o)
  local s = o.s or A
  return signin { rng = new_rng("fx:" .. rname), ts = o.ms, category = o.category or "ServicePrincipalSignInLogs",
                  app = s.app, sp = s, ip = o.ip or (s == A and "1.128.3.4" or s.home), error_code = o.code,
                  created_offset = o.created_offset }
end
-- o: s (SP; default A) or caller, ms, result, outcome, op, op_case, resource, ip, token_ts, status_code
local function fx_list(rname, o)
  local s = o.s or A
  local r = new_rng("fx:" .. rname)
  return activity { rng = r, ts = o.ms, op = o.op or ARC_OP, op_case = o.op_case or "upper",
                    result = o.result or "Success", outcome = o.outcome, category = "Action",
                    resource = o.resource or ARC_MEL, caller = o.caller or sp_caller(s, ARC_ROLE),
                    ip = o.ip or (s == A and "1.128.3.4" or s.home), corr = r:guid(),
                    token_ts = o.token_ts or (o.ms - GAP), status_code = o.status_code }
end

local CASES = {}   -- { file, count, description }
local function fixture(file, count, desc, events)
  write_lines("tests/fixtures/arc/" .. file, ndjson(events))
  assert(not desc:find("\t"))
  CASES[#CASES + 1] = { file, count, desc }
end

-- true positive (also split in two files)
local tp_s = fx_signin("tp-s", { ms = F0 })
local tp_l = fx_list("tp-l", { ms = F0 + GAP })
fixture("true_positive.ndjson", 1,
  "SP sign-in (error_code 0) then LISTCLUSTERUSERCREDENTIAL success by the same app 4m12s later", { tp_s, tp_l })
write_lines("tests/fixtures/arc/split_signin.ndjson", ndjson { tp_s })
write_lines("tests/fixtures/arc/split_activity.ndjson", ndjson { tp_l })
CASES[#CASES + 1] = { "split_signin.ndjson+split_activity.ndjson", 1,
  "the true positive as two inputs (sign-in file, activity file): inputs are merged by event time" }

do
  local s = fx_signin("failed-s", { ms = F0, code = 7000215 })
  fixture("failed_signin.ndjson", 0, "stage 1 fails: error_code 7000215, event.outcome failure",
    { s, fx_list("failed-l", { ms = F0 + GAP }) })
end

do
  local m = MI.flux
  local s = signin { rng = new_rng("fx:mi-s"), ts = F0, category = "ManagedIdentitySignInLogs", app = m.app, mi = m }
  local l = fx_list("mi-l", { ms = F0 + GAP, caller = mi_caller(m, ARC_ROLE), ip = m.ip, resource = ARC_SYD })
  fixture("managed_identity.ndjson", 0,
    "category ManagedIdentitySignInLogs (error_code 0, outcome success) then a listing by the same identity", { s, l })
end

do
  local s = fx_signin("notauth-s", { ms = F0 })
  s.event.category = { "iam" }
  fixture("not_authentication.ndjson", 0, "stage-1 event has event.category [\"iam\"]: `authentication where` fails",
    { s, fx_list("notauth-l", { ms = F0 + GAP }) })
end

fixture("outcome_failure.ndjson", 0, "stage-2 result_type Failure, event.outcome \"failure\"",
  { fx_signin("ofail-s", { ms = F0 }),
    fx_list("ofail-l", { ms = F0 + GAP, result = "Failure", status_code = "Forbidden" }) })

fixture("outcome_start.ndjson", 0, "stage-2 result_type Start (begin record) without any event.outcome",
  { fx_signin("ostart-s", { ms = F0 }), fx_list("ostart-l", { ms = F0 + GAP, result = "Start" }) })

fixture("other_operation.ndjson", 0,
  "same app lists LISTCLUSTERADMINCREDENTIAL (connectedClusters) and storage LISTKEYS, both success; never the user credential",
  { fx_signin("oop-s", { ms = F0 }),
    fx_list("oop-l1", { ms = F0 + GAP, op = "Microsoft.Kubernetes/connectedClusters/listClusterAdminCredential/action" }),
    fx_list("oop-l2", { ms = F0 + GAP + 60 * SEC, op = "Microsoft.Storage/storageAccounts/listKeys/action",
                        resource = res(SUB_PROD, "rg-backup", "Microsoft.Storage", "storageAccounts/stcontosobackup01") }) })

fixture("other_app.ndjson", 0, "listing claims.appid is a different app than the sign-in's app_id",
  { fx_signin("oapp-s", { ms = F0 }), fx_list("oapp-l", { ms = F0 + GAP, s = SP.fixb }) })

fixture("beyond_maxspan.ndjson", 0, "listing 30m0.001s after the sign-in: maxspan=30m exceeded by 1 ms",
  { fx_signin("beyond-s", { ms = F0 }), fx_list("beyond-l", { ms = F0 + 30 * MIN + 1 }) })

fixture("at_maxspan.ndjson", 1, "listing exactly 30m0s after the sign-in: maxspan is inclusive",
  { fx_signin("atmax-s", { ms = F0 }), fx_list("atmax-l", { ms = F0 + 30 * MIN }) })

fixture("wrong_order.ndjson", 0, "listing 1 minute BEFORE the sign-in (file in time order): stages must be in time order",
  { fx_list("order-l", { ms = F0 - 60 * SEC, token_ts = F0 - 5 * MIN }), fx_signin("order-s", { ms = F0 }) })

fixture("same_timestamp.ndjson", 1,
  "listing with exactly the sign-in's @timestamp, sign-in first in the input: events are ordered by (timestamp, arrival), so equal timestamps chain in arrival order (EQL-SEMANTICS R2; Elasticsearch's implicit tiebreaker)",
  { fx_signin("same-s", { ms = F0 }), fx_list("same-l", { ms = F0, token_ts = F0 }) })

fixture("same_timestamp_reversed.ndjson", 0,
  "the same two events with the listing first in the input: by arrival the listing comes before the sign-in, so no sequence",
  { fx_list("samer-l", { ms = F0, token_ts = F0 }), fx_signin("samer-s", { ms = F0 }) })

do
  local s = fx_signin("nokey1-s", { ms = F0 })
  del_path(s, "azure.signinlogs.properties.app_id")
  local ents = {}
  for _, x in ipairs(s.related.entity) do if x ~= A.app then ents[#ents + 1] = x end end
  s.related.entity = ents
  fixture("missing_key_stage1.ndjson", 0, "stage-1 event has no azure.signinlogs.properties.app_id",
    { s, fx_list("nokey1-l", { ms = F0 + GAP }) })
end

do
  local l = fx_list("nokey2-l", { ms = F0 + GAP })
  del_path(l, "azure.activitylogs.identity.claims.appid")
  fixture("missing_key_stage2.ndjson", 0, "stage-2 event has no azure.activitylogs.identity.claims.appid",
    { fx_signin("nokey2-s", { ms = F0 }), l })
end

do
  local s = fx_signin("null-s", { ms = F0 })
  s.azure.signinlogs.properties.app_id = NULL
  local l = fx_list("null-l", { ms = F0 + GAP })
  l.azure.activitylogs.identity.claims.appid = NULL
  fixture("null_key.ndjson", 0, "app_id null and claims.appid null: null keys never join (no ?field)", { s, l })
end

fixture("lowercase_op.ndjson", 1, "operation_name all lower case: `:` is case-insensitive",
  { fx_signin("lower-s", { ms = F0 }), fx_list("lower-l", { ms = F0 + GAP, op_case = "lower" }) })

fixture("mixedcase_outcome.ndjson", 1, "event.outcome \"Success\" (capitalised): listed in the rule and `:` ignores case",
  { fx_signin("mixout-s", { ms = F0 }), fx_list("mixout-l", { ms = F0 + GAP, outcome = "Success" }) })

do
  local s = fx_signin("strcode-s", { ms = F0 })
  s.azure.signinlogs.properties.status.error_code = "0"
  fixture("error_code_string.ndjson", 0,
    "error_code is the string \"0\": EQL == against the number 0 is typed, a string never equals a number (Elasticsearch would coerce at index time; a host reading JSON must not)",
    { s, fx_list("strcode-l", { ms = F0 + GAP }) })
end

do
  local s1 = fx_signin("repl-s1", { ms = F0 })
  local s2 = fx_signin("repl-s2", { ms = F0 + 40 * MIN })
  local l = fx_list("repl-l", { ms = F0 + 50 * MIN })
  fixture("replaced_start.ndjson", 1, string.format(
    "two sign-ins 40m apart, listing 10m after the second: the alert's first event is the SECOND sign-in (event.id %s), last event.id %s",
    s2.event.id, l.event.id), { s1, s2, l })
end

do
  local s1 = fx_signin("replw-s1", { ms = F0 })
  local s2 = fx_signin("replw-s2", { ms = F0 + 10 * MIN })
  local l1 = fx_list("replw-l1", { ms = F0 + 20 * MIN })
  local l2 = fx_list("replw-l2", { ms = F0 + 25 * MIN })
  fixture("replaced_within_span.ndjson", 1, string.format(
    "(extra) sign-ins at 0 and 10m, listings at 20m and 25m: the second sign-in replaces the first, so one alert [%s, %s]; keeping both pending would give 2",
    s2.event.id, l1.event.id), { s1, s2, l1, l2 })
end

fixture("two_listings.ndjson", 1, "one sign-in, two listings 2 minutes apart: a completed sequence clears the key",
  { fx_signin("twol-s", { ms = F0 }), fx_list("twol-l1", { ms = F0 + GAP }),
    fx_list("twol-l2", { ms = F0 + GAP + 2 * MIN }) })

fixture("two_chains_same_app.ndjson", 2, "sign-in, listing, sign-in, listing for the same app: two alerts",
  { fx_signin("twoc-s1", { ms = F0 }), fx_list("twoc-l1", { ms = F0 + GAP }),
    fx_signin("twoc-s2", { ms = F0 + 10 * MIN }), fx_list("twoc-l2", { ms = F0 + 10 * MIN + GAP }) })

do
  -- move a nested leaf to a flattened dotted key at some level:
  -- flatten(ev, "azure.signinlogs", "properties.app_id") puts
  -- ev.azure.signinlogs["properties.app_id"]; prefix "" puts it at the top
  local function flatten(ev, prefix, rest)
    local full = (prefix == "" and "" or prefix .. ".") .. rest
    local v = get_path(ev, full)
    assert(v ~= nil, full)
    del_path(ev, full)
    local holder = prefix == "" and ev or get_path(ev, prefix)
    if holder == nil then holder = {}; set_path(ev, prefix, holder) end
    holder[rest] = v
  end
  local s = fx_signin("flat-s", { ms = F0 })
  flatten(s, "", "azure.signinlogs.properties.app_id")
  flatten(s, "", "event.dataset")
  flatten(s, "azure", "signinlogs.category")
  flatten(s, "azure.signinlogs", "properties.status.error_code")
  flatten(s, "", "data_stream.dataset")
  local l = fx_list("flat-l", { ms = F0 + GAP })
  flatten(l, "", "azure.activitylogs.operation_name")
  flatten(l, "azure.activitylogs", "identity.claims.appid")
  flatten(l, "", "event.outcome")
  flatten(l, "azure", "activitylogs.identity.authorization.evidence.principal_type")
  fixture("flattened_keys.ndjson", 1,
    "rule fields written as flattened dotted keys (\"azure.signinlogs.properties.app_id\", \"event.dataset\", ...) at several levels, mixed with nested objects",
    { s, l })
end

do
  local s = fx_signin("epoch-s", { ms = F0 })
  local l = fx_list("epoch-l", { ms = F0 + GAP })
  s["@timestamp"] = F0
  l["@timestamp"] = F0 + GAP
  fixture("epoch_millis.ndjson", 1, string.format("@timestamp as epoch milliseconds (JSON integers %d and %d), 4m12s apart",
    F0, F0 + GAP), { s, l })
end

do
  local t = F0 + 351
  local s = fx_signin("offset-s", { ms = t, created_offset = 120 })
  local l = fx_list("offset-l", { ms = t + GAP })
  s["@timestamp"] = iso7(t, 8405, 120)
  s.azure.signinlogs.properties.created_at = s["@timestamp"]
  l["@timestamp"] = iso7(t + GAP, 8405, 0)
  fixture("offset_timestamps.ndjson", 1, string.format(
    "@timestamp with 7-digit fractions and offsets: sign-in %s, listing %s; in UTC the listing is 4m12s later (compared as local clock times it would come first)",
    s["@timestamp"], l["@timestamp"]), { s, l })
end

do
  local B, C = SP.fixb, SP.fixc
  local evs = {
    fx_signin("inter-sa", { ms = F0 }),
    fx_signin("inter-sb", { ms = F0 + 1 * MIN, s = B }),
    fx_signin("inter-sc", { ms = F0 + 2 * MIN, s = C }),
    fx_list("inter-la", { ms = F0 + 5 * MIN }),
    fx_list("inter-lc0", { ms = F0 + 6 * MIN, s = C, result = "Start" }),
    fx_list("inter-lc1", { ms = F0 + 6 * MIN + 1 * SEC, s = C, result = "Failure", status_code = "Forbidden" }),
    fx_list("inter-lb", { ms = F0 + 8 * MIN, s = B }),
  }
  fixture("interleaved_apps.ndjson", 2,
    "three apps sign in and list interleaved; A and B complete, C's listing is only Start + Failure", evs)
end

do
  local rows = { "file\texpected_alert_count\tdescription" }
  for _, c in ipairs(CASES) do rows[#rows + 1] = table.concat({ c[1], tostring(c[2]), c[3] }, "\t") end
  write_lines("tests/fixtures/arc/CASES.tsv", rows)
end

---------------------------------------------------------------------------
-- Bad input: tests/fixtures/bad/
---------------------------------------------------------------------------

local function noise_user_signin(rname, ms)
  return signin { rng = new_rng("bad:" .. rname), ts = ms, category = "NonInteractiveUserSignInLogs",
                  app = APPS.teams.id, app_name = APPS.teams.name, user = U.mei, ip = U.mei.ip,
                  resource = TEAMS_RESOURCE, client_app = "Mobile Apps and Desktop clients" }
end
-- encode ev with its `message` replaced by raw bytes (which the encoder would escape)
local function with_raw_message(ev, raw)
  ev.message = "@@RAW@@"
  local line = encode(ev)
  local i, j = line:find('"@@RAW@@"', 1, true)
  assert(i)
  return line:sub(1, i) .. raw .. line:sub(j)
end

local EXPECTED = { "file\tline\treason" }
local BADCASES = { "file\texpected_alert_count\tdescription" }

do
  local s = fx_signin("malformed-s", { ms = F0 })
  local l = fx_list("malformed-l", { ms = F0 + GAP })
  local function n(k) return noise_user_signin("malformed-" .. k, F0 + k * 10 * SEC) end
  local lines, reasons = {}, {}
  local function add(line, reason) lines[#lines + 1] = line; reasons[#lines] = reason end
  add(encode(s))
  add(encode(n(1)):sub(1, 700), "malformed_json")                                -- truncated
  add(encode(n(2)) .. " }garbage", "malformed_json")                               -- trailing garbage
  add("[" .. encode(n(3)) .. "]", "not_object")                                   -- bare array
  add('"2025-10-14T09:00:40.000Z"', "not_object")                                 -- bare string
  add("", "blank")                                                                -- empty line
  add("    ", "blank")                                                            -- only spaces
  local nots = n(5); nots["@timestamp"] = nil
  add(encode(nots), "missing_timestamp")
  local bad1 = n(6); bad1["@timestamp"] = "not a date"
  add(encode(bad1), "bad_timestamp")
  local bad2 = n(7); bad2["@timestamp"] = "2024-13-45T99:00:00Z"
  add(encode(bad2), "bad_timestamp")
  add(with_raw_message(n(8), "caf" .. string.char(0xff, 0xfe) .. " latte"), "invalid_utf8")
  add(with_raw_message(n(9), "before" .. string.char(0) .. "after"), "malformed_json")
  local dup = encode(n(10))
  add('{"event":{"dataset":"azure.activitylogs"},' .. dup:sub(2), "duplicate_key")  -- "event" twice
  add(encode(l))
  write_file("tests/fixtures/bad/malformed.ndjson", table.concat(lines, "\n") .. "\n")
  for i = 1, #lines do
    if reasons[i] then EXPECTED[#EXPECTED + 1] = "malformed.ndjson\t" .. i .. "\t" .. reasons[i] end
  end
  BADCASES[#BADCASES + 1] = "malformed.ndjson\t1\tthe true positive (first and last line) with 12 bad or blank lines between its events"
end

-- The over-long line case (2 MiB) is built at test time by
-- tests/e2e/t_bad_input.sh rather than committed.

write_lines("tests/fixtures/bad/EXPECTED.tsv", EXPECTED)
write_lines("tests/fixtures/bad/CASES.tsv", BADCASES)

---------------------------------------------------------------------------

table.sort(written, function(a, b) return a[1] < b[1] end)
for _, w in ipairs(written) do io.stderr:write(string.format("%9d  %s\n", w[2], w[1])) end
