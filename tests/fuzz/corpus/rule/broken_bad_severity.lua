local mw = require("moonwatch")

return mw.rule {
  id = "broken-severity",
  name = "Bad severity",
  severity = "urgent",
  where = mw.eq("event.dataset", "x"),
}
