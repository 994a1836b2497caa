-- Test rule: every service-principal sign-in, enriched by an on_alert hook
-- that reads the event: a dynamic message and title, severity and risk
-- overrides, context fields, an allow-listed principal dropped, and two
-- broken cases (a hook that raises, a hook that returns a bad severity).
local mw = require("moonwatch")

local ALLOWED = { ["Backup-Agent"] = true }

return mw.rule {
  id = "test-signin-hook",
  name = "Test: service principal sign-in with a hook",
  severity = "low",
  where = mw.all {
    mw.eq("event.dataset", "azure.signinlogs"),
    mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
  },
  on_alert = function(alert)
    local ev = alert.events[1]
    local sp = ev.azure.signinlogs.properties.service_principal_name
    if ALLOWED[sp] then
      return false
    elseif sp == "Hook-Raises" then
      error("hook exploded on " .. sp)
    elseif sp == "Hook-Bad-Severity" then
      return { severity = "urgent" }
    end
    local foreign = ev.source.ip ~= "1.128.3.4"
    return {
      title = "Sign-in by " .. sp,
      message = "Service principal " .. sp .. " (app " .. ev.azure.signinlogs.properties.app_id
        .. ") signed in from " .. ev.source.ip,
      severity = foreign and "high" or "medium",
      risk_score = foreign and 80 or 50,
      fields = { app_id = ev.azure.signinlogs.properties.app_id, foreign_ip = foreign,
                 rule = alert.rule_id },
    }
  end,
}
