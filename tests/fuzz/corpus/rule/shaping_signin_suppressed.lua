-- Test rule: every service-principal sign-in, suppressed per app for 10
-- minutes (one alert per app per window; the next alert for that app carries
-- how many were suppressed).
local mw = require("moonwatch")

return mw.rule {
  id = "test-signin-suppressed",
  name = "Test: service principal sign-in, suppressed per app",
  severity = "low",
  message = "Service principal {1:azure.signinlogs.properties.service_principal_name} signed in",
  where = mw.all {
    mw.eq("event.dataset", "azure.signinlogs"),
    mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
  },
  suppress = { by = { "azure.signinlogs.properties.app_id" }, window = "10m" },
}
