-- fuzz rule: a threshold window over the Arc sign-ins (tests/fuzz/fuzz_engine.c)
local mw = require("moonwatch")
return mw.rule {
  id = "fuzz-threshold", name = "Service principal signs in 3 times in 5 minutes",
  message = "{key}: {1:source.ip}",
  threshold = mw.threshold {
    where = mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
    by = "azure.signinlogs.properties.app_id", count = 3, window = "5m",
  },
}
