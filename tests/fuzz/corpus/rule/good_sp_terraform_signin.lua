-- A single-event rule with a Lua predicate: successful service-principal
-- sign-ins by principals whose name starts with "Terraform". The declarative
-- matchers run first in C; the function only sees events they let through.
local mw = require("moonwatch")

return mw.rule {
  id = "test-sp-terraform-signin",
  name = "Test: Terraform service principal sign-in",
  severity = "low",
  message = "Terraform principal {1:azure.signinlogs.properties.service_principal_name} signed in from {1:source.ip}",
  where = mw.all {
    mw.eq("event.dataset", "azure.signinlogs"),
    mw.eq("azure.signinlogs.category", "ServicePrincipalSignInLogs"),
    function(ev)
      local name = ev:get("azure.signinlogs.properties.service_principal_name")
      return type(name) == "string" and name:sub(1, 9) == "Terraform"
    end,
  },
}
