local mw = require("moonwatch")
local r = mw.rule { id = "noreturn", name = "forgot to return", where = mw.exists("a") }
