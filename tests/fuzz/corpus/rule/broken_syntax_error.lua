local mw = require("moonwatch")

return mw.rule {
  id = "broken-syntax"
  name = "missing comma above",
}
