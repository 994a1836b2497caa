-- Unbounded non-tail recursion: stopped by the Lua stack limit, the memory
-- cap or the instruction budget, whichever comes first; never the host.
local mw = require("moonwatch")
local function down(n) return 1 + down(n + 1) end
return mw.rule {
  id = "test-deep-recursion",
  name = "Test: deep recursion",
  where = function(ev) return down(1) > 0 end,
}
