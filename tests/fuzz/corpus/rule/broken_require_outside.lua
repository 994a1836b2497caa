local mw = require("moonwatch")
local socket = require("socket") -- only lua/ modules may be required
return mw.rule { id = "req", name = "req", where = mw.exists("a") }
