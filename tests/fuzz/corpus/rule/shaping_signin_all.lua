-- Test rule: one alert per service-principal sign-in (no shaping): volume
-- for the output tests.
local mw = require("moonwatch")

return mw.rule {
  id = "test-signin-all",
  name = "Test: every service principal sign-in",
  severity = "low",
  message = "Service principal {1:azure.signinlogs.properties.service_principal_name} signed in",
  where = mw.all {
    mw.eq("event.dataset", "azure.signinlogs"),
    mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
  },
}
