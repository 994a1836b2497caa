local mw = require("moonwatch")
local x = nil
local y = x.field -- line 3: attempt to index a nil value
return mw.rule { id = "never", name = "never", where = mw.exists("a") }
