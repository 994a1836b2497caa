-- scripts/check-docs.lua - the documentation's links and bounds (make check-docs)
--
--   lua5.4 scripts/check-docs.lua
--
-- Over README.md and docs/*.md, outside fenced code blocks and code spans:
--   * every relative link [text](path#anchor) names an existing file, and
--     the anchor, when the target is Markdown, one of its headings (GitHub's
--     slugs: lower case, punctuation dropped, spaces to '-', "-1" for a
--     repeat) or an explicit <a id="..."> / <a name="...">;
--   * every `make TARGET` written in a code span or block names a target of
--     the Makefile;
-- and README.md has at most 300 lines. Prints "FAIL: file:line: ..." for
-- each problem, then "check-docs: N passed, N failed".

local README_MAX_LINES = 300

local pass, fail = 0, 0
local function ok() pass = pass + 1 end
local function bad(where, msg)
    fail = fail + 1
    print(("FAIL: %s: %s"):format(where, msg))
end

local function read_lines(path)
    local f = io.open(path, "r")
    if not f then return nil end
    local t = {}
    for l in f:lines() do t[#t + 1] = l end
    f:close()
    return t
end

local function exists(path)
    local f = io.open(path, "r")
    if f then f:close() return true end
    return false
end

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end

local function normalize(p)
    local parts = {}
    for seg in p:gmatch("[^/]+") do
        if seg == ".." and #parts > 0 and parts[#parts] ~= ".." then
            parts[#parts] = nil
        elseif seg ~= "." then
            parts[#parts + 1] = seg
        end
    end
    return table.concat(parts, "/")
end

-- GitHub's heading slug
local function slug(text)
    text = text:gsub("%[([^%]]*)%]%b()", "%1")   -- [text](url) -> text
    text = text:lower()
    text = text:gsub("[^%w%s%-_\128-\255]", "")   -- drop ASCII punctuation
    text = text:gsub("%s", "-")
    return text
end

-- yields (lineno, text) outside fenced blocks, code spans blanked, and
-- (lineno, code) for the code (fences and spans) through on_code
local function scan(lines, on_text, on_code)
    local fence = nil
    for i, l in ipairs(lines) do
        local f = l:match("^%s*(```+)") or l:match("^%s*(~~~+)")
        if fence then
            if f and f:sub(1, 1) == fence:sub(1, 1) and #f >= #fence then
                fence = nil
            else
                on_code(i, l)
            end
        elseif f then
            fence = f
        else
            local text = l:gsub("(`+)(.-)%1", function(_, code)
                on_code(i, code)
                return ""
            end)
            on_text(i, text)
        end
    end
end

local anchors_cache = {}
local function anchors(path)
    if anchors_cache[path] then return anchors_cache[path] end
    local set, seen = {}, {}
    local lines = read_lines(path) or {}
    local fence = false
    for _, l in ipairs(lines) do
        if l:match("^%s*```") or l:match("^%s*~~~") then
            fence = not fence
        elseif not fence then
            local h = l:match("^#+%s+(.-)%s*#*%s*$")
            if h then
                local s = slug(h)
                if seen[s] then
                    seen[s] = seen[s] + 1
                    set[s .. "-" .. seen[s]] = true
                else
                    seen[s] = 0
                    set[s] = true
                end
            end
        end
        for id in l:gmatch("<a%s+[^>]*id%s*=%s*\"([^\"]+)\"") do set[id] = true end
        for id in l:gmatch("<a%s+[^>]*name%s*=%s*\"([^\"]+)\"") do set[id] = true end
    end
    anchors_cache[path] = set
    return set
end

-- Makefile targets
local targets = {}
for _, l in ipairs(read_lines("Makefile") or {}) do
    local names = l:match("^([%w%-_%. ]+):[^=]") or l:match("^([%w%-_%. ]+):$")
    if names then
        for t in names:gmatch("%S+") do targets[t] = true end
    end
    local phony = l:match("^%.PHONY:(.*)")
    if phony then for t in phony:gmatch("[%w%-_]+") do targets[t] = true end end
end

local function check_link(file, i, target)
    if target:match("^%a[%w+.-]*:") then return end         -- http:, mailto: ...
    local path, anchor = target:match("^([^#]*)#?(.*)$")
    local where = ("%s:%d"):format(file, i)
    local resolved = file
    if path ~= "" then
        resolved = normalize(dirname(file) .. "/" .. path)
        if not exists(resolved) then
            bad(where, ("link %s: no file %s"):format(target, resolved))
            return
        end
    end
    if anchor ~= "" and resolved:match("%.md$") then
        if not anchors(resolved)[anchor] then
            bad(where, ("link %s: no heading #%s in %s"):format(target, anchor, resolved))
            return
        end
    end
    ok()
end

local files = { "README.md" }
local p = io.popen("ls docs/*.md 2>/dev/null")
for f in p:lines() do files[#files + 1] = f end
p:close()

for _, file in ipairs(files) do
    local lines = read_lines(file)
    if not lines then
        bad(file, "cannot read")
    else
        scan(lines, function(i, text)
            for target in text:gmatch("%]%(<?([^)%s>]+)>?[^)]*%)") do
                check_link(file, i, target)
            end
        end, function(i, code)
            for t in code:gmatch("%f[%w]make%s+([%w][%w%-_]*)") do
                local rest = code:match("make%s+" .. t:gsub("%-", "%%-") .. "(=?)")
                if rest ~= "=" then
                    if targets[t] then ok() else
                        bad(("%s:%d"):format(file, i), ("`make %s`: no such Makefile target"):format(t))
                    end
                end
            end
        end)
    end
end

local readme = read_lines("README.md") or {}
if #readme <= README_MAX_LINES then ok() else
    bad("README.md", ("%d lines, at most %d (move the details to docs/)"):format(#readme, README_MAX_LINES))
end

print(("check-docs: %d passed, %d failed"):format(pass, fail))
os.exit(fail == 0 and 0 or 1)
