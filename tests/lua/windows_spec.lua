-- tests/lua/windows_spec.lua - the window constructors (mw.threshold,
-- mw.distinct, mw.new_terms, mw.absence) against docs/DESCRIPTORS.md, their
-- validation messages, rules that use them, and the two shipped first-seen
-- rules.

local mw = require("moonwatch")
local sandbox = require("helpers.sandbox")
local contract = require("helpers.contract")

local function err(f, ...)
  local args = table.pack(...)
  local ok, e = pcall(function()
    local r = f(table.unpack(args, 1, args.n))
    return r
  end)
  assert(not ok, "expected an error")
  return (e:gsub("^[^:]+:%d+: ", ""))
end

local function rule_with(kind, w)
  return mw.rule { id = "r-" .. kind, name = "rule " .. kind, [kind] = w }
end

describe("mw.threshold", function()
  it("builds the descriptor", function()
    local w = mw.threshold { where = mw.eq("event.outcome", "failure"), by = "user.name",
                             count = 20, window = "15m" }
    assert.equals("threshold", w.__kind)
    assert.same({ "user.name" }, w.by)
    assert.equals(20, w.count)
    assert.equals(900000, w.window_ms)
    assert.is_false(w.keys_ci)
    assert.is_true(contract.rule(rule_with("threshold", w)))
  end)
  it("accepts no group key (one group for the rule) and keys_ci", function()
    local w = mw.threshold { where = mw.exists("source.ip"), count = 1, window = "1s",
                             keys_ci = true }
    assert.same({}, w.by)
    assert.is_true(w.keys_ci)
  end)
  it("refuses bad counts, windows and keys", function()
    assert.matches("'count' must be an integer from 1 to 100000",
      err(mw.threshold, { where = mw.exists("a"), count = 0, window = "1m" }), 1, true)
    assert.matches("'window' is required",
      err(mw.threshold, { where = mw.exists("a"), count = 3 }), 1, true)
    assert.matches("invalid duration",
      err(mw.threshold, { where = mw.exists("a"), count = 3, window = "soon" }), 1, true)
    assert.matches("unknown key 'windw'",
      err(mw.threshold, { where = mw.exists("a"), count = 3, windw = "1m" }), 1, true)
    assert.matches("'where' is required", err(mw.threshold, { count = 3, window = "1m" }), 1, true)
  end)
end)

describe("mw.distinct", function()
  it("builds the descriptor", function()
    local w = mw.distinct { where = mw.exists("source.ip"), by = { "user.id" },
                            field = "source.geo.country_iso_code", count = 2, window = "1h" }
    assert.equals("distinct", w.__kind)
    assert.equals("source.geo.country_iso_code", w.field)
    assert.equals(3600000, w.window_ms)
    assert.is_true(contract.rule(rule_with("distinct", w)))
  end)
  it("needs a field and a count within 1..1000", function()
    assert.matches("'field'", err(mw.distinct, { where = mw.exists("a"), count = 2, window = "1m" }),
                   1, true)
    assert.matches("from 1 to 1000", err(mw.distinct,
      { where = mw.exists("a"), field = "b", count = 5000, window = "1m" }), 1, true)
  end)
end)

describe("mw.new_terms", function()
  it("builds the descriptor", function()
    local w = mw.new_terms { where = mw.exists("a"), fields = { "a", "b" }, history = "7d" }
    assert.equals("new_terms", w.__kind)
    assert.same({ "a", "b" }, w.fields)
    assert.equals(7 * 86400000, w.history_ms)
    assert.is_false(w.warmup)
    assert.is_true(contract.rule(rule_with("new_terms", w)))
  end)
  it("takes 1 to 3 fields", function()
    assert.matches("1 to 3 field paths", err(mw.new_terms,
      { where = mw.exists("a"), fields = { "a", "b", "c", "d" }, history = "1d" }), 1, true)
    assert.matches("'fields'", err(mw.new_terms, { where = mw.exists("a"), history = "1d" }), 1, true)
    assert.matches("warmup must be a boolean", err(mw.new_terms,
      { where = mw.exists("a"), fields = "a", history = "1d", warmup = "yes" }), 1, true)
  end)
end)

describe("mw.absence", function()
  it("builds the descriptor", function()
    local w = mw.absence { first = { where = mw.eq("a", 1), by = "k" },
                           absent = { where = mw.eq("a", 2), by = "k2" }, within = "10m" }
    assert.equals("absence", w.__kind)
    assert.same({ "k" }, w.first.by)
    assert.same({ "k2" }, w.absent.by)
    assert.equals(600000, w.within_ms)
    assert.is_true(contract.rule(rule_with("absence", w)))
  end)
  it("needs both parts with the same number of keys", function()
    assert.matches("'absent' must be a table", err(mw.absence,
      { first = { where = mw.eq("a", 1) }, within = "1m" }), 1, true)
    assert.matches("same number of 'by' keys", err(mw.absence,
      { first = { where = mw.eq("a", 1), by = { "x", "y" } },
        absent = { where = mw.eq("a", 2), by = "x" }, within = "1m" }), 1, true)
    assert.matches("'absent' must be a table { where", err(mw.absence,
      { first = { where = mw.eq("a", 1) }, absent = mw.eq("a", 2), within = "1m" }), 1, true)
  end)
end)

describe("mw.rule with a window", function()
  it("takes exactly one detection", function()
    local w = mw.threshold { where = mw.exists("a"), count = 2, window = "1m" }
    assert.matches("exactly one detection", err(mw.rule,
      { id = "x", name = "x", where = mw.exists("a"), threshold = w }), 1, true)
    assert.matches("must be built with mw.distinct", err(mw.rule,
      { id = "x", name = "x", distinct = w }), 1, true)
  end)
  it("checks message placeholders against one event", function()
    local w = mw.new_terms { where = mw.exists("a"), fields = "a", history = "1d" }
    assert.matches("refers to event 2", err(mw.rule,
      { id = "x", name = "x", new_terms = w, message = "{2:a}" }), 1, true)
  end)
end)

local function load_rule(path)
  return sandbox.load_rule(path, sandbox.new())
end

describe("rules/azure/unusual_source_arc_credential_access.lua", function()
  local ok, rule = load_rule("rules/azure/unusual_source_arc_credential_access.lua")
  it("loads", function()
    assert(ok, rule)
  end)
  it("is Elastic's 022c37cd-… first-seen of (app id, source IP) over 7 days", function()
    assert.equals("022c37cd-5a4f-422b-8227-b136b7a23180", rule.id)
    local nt = rule.new_terms
    assert.same({ "azure.activitylogs.identity.claims.appid", "source.ip" }, nt.fields)
    assert.equals(7 * 86400000, nt.history_ms)
    assert.is_true(nt.warmup)
  end)
  it("filters on successful listClusterUserCredential in activity logs", function()
    local where = rule.new_terms.where
    assert.equals("all", where.op)
    local seen = {}
    for _, m in ipairs(where) do
      seen[m.field] = m
    end
    assert.same({ "azure.activitylogs" }, seen["event.dataset"].values)
    assert.same({ "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION" },
                seen["azure.activitylogs.operation_name"].values)
    assert.same({ "Success", "success" }, seen["event.outcome"].values)
  end)
end)

describe("rules/azure/unusual_source_asn_service_principal.lua", function()
  local ok, rule = load_rule("rules/azure/unusual_source_asn_service_principal.lua")
  it("loads", function()
    assert(ok, rule)
  end)
  it("is Elastic's db97a2aa-… first-seen of (SP id, ASN) over 10 days", function()
    assert.equals("db97a2aa-3ba5-4fa5-b8b9-bf42284edb5f", rule.id)
    assert.same({ "azure.signinlogs.properties.service_principal_id", "source.as.number" },
                rule.new_terms.fields)
    assert.equals(10 * 86400000, rule.new_terms.history_ms)
  end)
  it("excludes Microsoft AS organisations the KQL way (a missing name passes)", function()
    local where = rule.new_terms.where
    local found
    for _, m in ipairs(where) do
      if m.op == "any" and m[2] and (m[2].op == "none" or m[2].op == "not")
          and m[2][1].field == "source.as.organization.name" then
        found = m
      end
    end
    assert.is_not_nil(found)
    assert.equals("not", found[1].op)
    assert.equals("exists", found[1][1].op)
    assert.same({ "*MICROSOFT*", "*Microsoft*" }, found[2][1].values)
  end)
end)
