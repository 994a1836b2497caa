-- fuzz rule: a distinct-count window (tests/fuzz/fuzz_engine.c)
local mw = require("moonwatch")
return mw.rule {
  id = "fuzz-distinct", name = "Service principal from 2 source IPs in an hour",
  distinct = mw.distinct {
    where = mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
    by = "azure.signinlogs.properties.app_id", field = "source.ip", count = 2, window = "1h",
  },
}
