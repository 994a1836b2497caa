-- Tries to rewrite the API module (and the ATT&CK catalogue behind mw.mitre)
-- at event time: module tables are read-only proxies, even through rawset.
local mw = require("moonwatch")
local attack = require("moonwatch.mitre")
local n = 0
return mw.rule {
  id = "test-modify-api",
  name = "Test: modifies the API module",
  where = function(ev)
    n = n + 1
    if n % 3 == 1 then mw.eq = function() return true end
    elseif n % 3 == 2 then attack.tactics.TA0001 = "Pwned"
    else rawset(mw, "all", function() return true end) end
    return true
  end,
}
