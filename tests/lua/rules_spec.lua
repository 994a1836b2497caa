-- tests/lua/rules_spec.lua - every rule under rules/ loads in a model of the
-- sandbox and returns a descriptor that follows docs/DESCRIPTORS.md; the Arc
-- rule says exactly what its EQL says; broken rules are reported at their line.

local dir = require("pl.dir")
local sandbox = require("helpers.sandbox")
local contract = require("helpers.contract")

local function load_rule(path, source)
  return sandbox.load_rule(path, sandbox.new(), source)
end

describe("every rule under rules/", function()
  local files = dir.getallfiles("rules", "*.lua")
  table.sort(files)

  it("exists", function()
    assert.is_true(#files > 0)
  end)

  local ids = {}
  for _, path in ipairs(files) do
    path = path:gsub("^%./", "")
    it("loads and returns a valid rule descriptor: " .. path, function()
      local ok, rule = load_rule(path)
      assert(ok, rule)
      local valid, why = contract.rule(rule)
      assert(valid, why)
      assert.is_nil(ids[rule.id], "duplicate rule id " .. rule.id)
      ids[rule.id] = path
    end)
  end
end)

describe("rules/azure/sp_signin_then_arc_credential_access.lua", function()
  local PATH = "rules/azure/sp_signin_then_arc_credential_access.lua"
  local rule
  local mw = sandbox.new().require("moonwatch")

  setup(function()
    local ok, result = load_rule(PATH)
    assert(ok, result)
    rule = result
  end)

  it("has the identity and scoring of the original", function()
    assert.equals("dacfbecd-7927-46a7-a8ba-feb65a2e990d", rule.id)
    assert.equals("Azure Service Principal Sign-In Followed by Arc Cluster Credential Access", rule.name)
    assert.equals("medium", rule.severity)
    assert.equals(47, rule.risk_score)
    assert.equals(1, rule.version)
    assert.same({ "Elastic" }, rule.author)
    assert.equals("Elastic License v2", rule.license)
    assert.is_true(#rule.description > 0)
    assert.is_true(#rule.false_positives >= 2)
  end)

  it("caps alerts at 100 per 15 minutes, like Elastic's max_signals", function()
    assert.same({ count = 100, per_ms = 15 * 60 * 1000 }, rule.max_alerts)
    assert.is_nil(rule.suppress)
    assert.is_nil(rule.on_alert)
  end)

  it("maps to ATT&CK T1552.007 and T1078.004", function()
    assert.equals(2, #rule.threat)
    local t1, t2 = rule.threat[1], rule.threat[2]
    assert.equals("TA0006", t1.tactic.id)
    assert.equals("T1552", t1.technique[1].id)
    assert.equals("T1552.007", t1.technique[1].subtechnique[1].id)
    assert.equals("Container API", t1.technique[1].subtechnique[1].name)
    assert.equals("TA0001", t2.tactic.id)
    assert.equals("T1078", t2.technique[1].id)
    assert.equals("T1078.004", t2.technique[1].subtechnique[1].id)
    assert.equals("Cloud Accounts", t2.technique[1].subtechnique[1].name)
  end)

  it("carries the tags and references", function()
    assert.same({
      "Domain: Cloud",
      "Domain: Identity",
      "Data Source: Azure",
      "Data Source: Azure Arc",
      "Data Source: Microsoft Entra ID",
      "Data Source: Microsoft Entra ID Sign-In Logs",
      "Use Case: Threat Detection",
      "Tactic: Credential Access",
      "Tactic: Initial Access",
      "Resources: Investigation Guide",
    }, rule.tags)
    assert.equals(5, #rule.references)
    for _, url in ipairs(rule.references) do
      assert.matches("^https://", url)
    end
  end)

  it("has an investigation guide", function()
    assert.is_string(rule.note)
    assert.is_true(#rule.note > 2000)
    assert.truthy(rule.note:find("listClusterUserCredential", 1, true))
    assert.truthy(rule.note:find("azure-arc-kube-aad-proxy-sa", 1, true))
    for _, heading in ipairs({ "Triage", "Response", "benign" }) do
      assert.truthy(rule.note:find(heading, 1, true), heading)
    end
  end)

  it("has a message with the documented placeholders", function()
    assert.truthy(rule.message:find("{1:azure.signinlogs.properties.service_principal_name}", 1, true))
    assert.truthy(rule.message:find("{key}", 1, true))
    assert.truthy(rule.message:find("{1:source.ip}", 1, true))
    assert.truthy(rule.message:find("{gap}", 1, true))
  end)

  it("is the EQL sequence, matcher for matcher", function()
    local seq = rule.sequence
    assert.is_nil(rule.where)
    assert.equals("sequence", seq.__kind)
    assert.equals(1800000, seq.maxspan_ms)
    assert.same({}, seq.by)
    assert.is_false(seq.keys_ci)
    assert.is_nil(seq["until"])
    assert.equals(2, #seq.steps)
    assert.same({ "azure.signinlogs.properties.app_id" }, seq.steps[1].by)
    assert.same({ "azure.activitylogs.identity.claims.appid" }, seq.steps[2].by)
    assert.equals(1, seq.steps[1].runs)
    assert.equals(1, seq.steps[2].runs)
    assert.same({
      op = "all",
      { op = "category", field = "event.category", values = { "authentication" } },
      { op = "eq", field = "event.dataset", values = { "azure.signinlogs" } },
      { op = "eq", field = "azure.signinlogs.category", values = { "ServicePrincipalSignInLogs" } },
      { op = "eq", field = "azure.signinlogs.properties.status.error_code", values = { 0 } },
    }, seq.steps[1].where)
    assert.equals("integer", math.type(seq.steps[1].where[4].values[1]))
    assert.same({
      op = "all",
      { op = "eq", field = "event.dataset", values = { "azure.activitylogs" } },
      { op = "ieq", field = "azure.activitylogs.operation_name",
        values = { "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION" } },
      { op = "ieq", field = "event.outcome", values = { "Success", "success" } },
    }, seq.steps[2].where)
  end)

  it("uses no Lua predicates (everything runs in C)", function()
    local function has_fn(m)
      if m.op == "fn" then
        return true
      end
      for _, child in ipairs(m) do
        if has_fn(child) then
          return true
        end
      end
      return false
    end
    for _, step in ipairs(rule.sequence.steps) do
      assert.is_false(has_fn(step.where))
    end
    assert.is_not_nil(mw) -- the same module loads on its own
  end)
end)

describe("a broken rule", function()
  local function broken(source)
    local ok, e = load_rule("rules/x.lua", source)
    assert.is_false(ok)
    return e
  end

  it("is reported at the line of the bad matcher", function()
    local e = broken(table.concat({
      'local mw = require("moonwatch")',                          -- 1
      "return mw.rule {",                                         -- 2
      '  id = "x", name = "Broken",',                             -- 3
      "  where = mw.all {",                                       -- 4
      '    mw.eq("", "oops"),',                                   -- 5
      "  },",                                                     -- 6
      "}",                                                        -- 7
    }, "\n"))
    assert.equals("rules/x.lua:5: mw.eq: field must be a non-empty string (got '')", e)
  end)

  it("is reported at the line of a bad sequence, maxspan or mitre call", function()
    local e = broken(table.concat({
      'local mw = require("moonwatch")',
      "return mw.rule {",
      '  id = "x", name = "Broken",',
      '  threat = { mw.mitre("TA0006", "T1552", "T1552.007") },',
      "  sequence = mw.sequence {",                               -- 5
      '    maxspan = "30 minutes",',
      '    { where = mw.eq("a", 1), by = "k" },',
      '    { where = mw.eq("b", 1), by = "k" },',
      "  },",
      "}",
    }, "\n"))
    assert.equals("rules/x.lua:5: mw.sequence: maxspan: invalid duration '30 minutes' (expected an "
                  .. "integer followed by ms, s, m, h or d, e.g. '30m')", e)
    e = broken('local mw = require("moonwatch")\n\nlocal t = mw.mitre("TA0006", "T1552", "T1078.004")\n')
    assert.equals("rules/x.lua:3: mw.mitre: sub-technique 'T1078.004' does not belong to technique 'T1552'", e)
  end)

  it("is reported at the mw.rule line when not a tail call", function()
    local e = broken(table.concat({
      'local mw = require("moonwatch")',
      "local rule = mw.rule {",                                   -- 2
      '  id = "x", name = "Broken", severity = "urgent",',
      '  where = mw.eq("a", 1),',
      "}",
      "return rule",
    }, "\n"))
    assert.equals("rules/x.lua:2: mw.rule: field 'severity' must be one of low, medium, high, critical "
                  .. "(got 'urgent')", e)
  end)

  it("names the file for mw.rule's own checks in `return mw.rule{...}`", function()
    -- A tail call leaves no caller line to report; the file name remains.
    local e = broken(table.concat({
      'local mw = require("moonwatch")',
      "return mw.rule {",
      '  id = "x", name = "Broken", severty = "high",',
      '  where = mw.eq("a", 1),',
      "}",
    }, "\n"))
    assert.equals("rules/x.lua: mw.rule: unknown field 'severty' (did you mean 'severity'?)", e)
  end)

  it("cannot reach io, os or files", function()
    assert.matches("^rules/x.lua:1: undefined global 'io'$", broken("io.write('x')"))
    assert.matches("^rules/x.lua:1: undefined global 'os'$", broken("os.exit(1)"))
    assert.matches("^rules/x.lua:1: blocked: dofile$", broken("dofile('/etc/passwd')"))
    assert.matches("^rules/x.lua:1: blocked: load$", broken("load('return 1')"))
    assert.matches("^rules/x.lua:1: module 'socket' not found %(rules may require modules from lua/ only%)$",
                   broken("require('socket')"))
  end)

  it("reports syntax errors with file and line", function()
    assert.matches("^rules/x.lua:2: ", broken("local mw = require('moonwatch')\nreturn mw.rule {{"))
  end)
end)
