-- tests/lua/engine_spec.lua - the Arc rule through the REAL engine (bin/moonwatch),
-- driven from busted with helpers/engine.lua: events as Lua tables on a
-- virtual clock, assertions on the alerts and the summary.

local engine = require("helpers.engine")

local RULE = "rules/azure/sp_signin_then_arc_credential_access.lua"
local ID = "dacfbecd-7927-46a7-a8ba-feb65a2e990d"
local APP = "6131d760-7fda-4db5-8bb1-b771898e9f15"

local function signin(app, overrides)
  local ev = {
    event = { category = { "authentication" }, dataset = "azure.signinlogs", outcome = "success" },
    azure = { signinlogs = { category = "ServicePrincipalSignInLogs", properties = {
      app_id = app, service_principal_name = "Terraform-Datadog-CLI", status = { error_code = 0 } } } },
    source = { ip = "1.128.3.4" },
  }
  for k, v in pairs(overrides or {}) do
    ev[k] = v
  end
  return ev
end

local function listing(app, outcome)
  return {
    event = { dataset = "azure.activitylogs", outcome = outcome or "success" },
    azure = { activitylogs = {
      operation_name = "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/LISTCLUSTERUSERCREDENTIAL/ACTION",
      identity = { claims = { appid = app } } } },
  }
end

describe("the Arc rule in the real engine", function()
  it("alerts on a sign-in followed by a listing 4m12s later", function()
    local s = engine.session(RULE):at("2025-10-14T09:00:00Z")
    s:feed(signin(APP)):advance("4m12s"):feed(listing(APP))
    local alerts, summary = s:run()
    assert.equals(1, #alerts)
    local a = alerts[1]
    assert.equals(ID, a.rule.id)
    assert.same({ APP }, a.moonwatch.join_key)
    assert.equals("2025-10-14T09:04:12.000Z", a["@timestamp"])   -- event time, not wall time
    assert.equals(252000000000, a.event.duration)
    assert.matches("listed Arc cluster credentials 4m12s later", a.message, 1, true)
    assert.same({ 1, 1 }, engine.rule_stats(summary, ID).matched_per_step)
  end)

  it("is inclusive at maxspan and silent 1 ms beyond it", function()
    local s = engine.session(RULE):at("2025-10-14T09:00:00Z")
    s:feed(signin(APP)):advance("30m"):feed(listing(APP))
    assert.equals(1, #s:run())
    s = engine.session(RULE):at("2025-10-14T09:00:00Z")
    s:feed(signin(APP)):advance("30m"):advance(0.001):feed(listing(APP))
    local alerts, summary = s:run()
    assert.equals(0, #alerts)
    assert.equals(1, engine.rule_stats(summary, ID).sequences.expired)
  end)

  it("does not join a listing by another app, nor a failed listing", function()
    local s = engine.session(RULE):at("2025-10-14T09:00:00Z")
    s:feed(signin(APP)):advance("1m"):feed(listing("another-app")):advance("1m")
     :feed(listing(APP, "failure"))
    local alerts, summary = s:run()
    assert.equals(0, #alerts)
    assert.same({ 1, 1 }, engine.rule_stats(summary, ID).matched_per_step)
    assert.equals(1, engine.rule_stats(summary, ID).sequences.open)
  end)

  it("keeps the typed comparison: error_code \"0\" is not 0", function()
    local bad = signin(APP)
    bad.azure.signinlogs.properties.status.error_code = "0"
    local s = engine.session(RULE):at("2025-10-14T09:00:00Z")
    s:feed(bad):advance("1m"):feed(listing(APP))
    assert.equals(0, #s:run())
  end)

  it("accepts JSON lines as they are", function()
    local s = engine.session(RULE)
    s:feed('{"@timestamp":"2025-10-14T09:00:00Z","event":{"category":"authentication",'
      .. '"dataset":"azure.signinlogs"},"azure":{"signinlogs":{"category":"ServicePrincipalSignInLogs",'
      .. '"properties":{"app_id":"a1","status":{"error_code":0}}}}}')
    s:feed('{"@timestamp":"2025-10-14T09:01:00Z","event":{"dataset":"azure.activitylogs",'
      .. '"outcome":"Success"},"azure":{"activitylogs":{"operation_name":'
      .. '"microsoft.kubernetes/connectedclusters/listclusterusercredential/action",'
      .. '"identity":{"claims":{"appid":"a1"}}}}}')
    local alerts = s:run()
    assert.equals(1, #alerts)
    assert.same({ "a1" }, alerts[1].moonwatch.join_key)
  end)
end)
