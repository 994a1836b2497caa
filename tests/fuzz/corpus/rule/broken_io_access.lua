local mw = require("moonwatch")
local f = io.open("/etc/passwd") -- io is not available to rules
return mw.rule { id = "io", name = "io", where = mw.exists("a") }
