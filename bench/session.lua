-- GET /session with a Bearer token from a file (one per line, made by
-- signing in before the row):
--   wrk ... -s bench/session.lua URL -- <tokens-file> <wrk-threads>
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
require("common")

local tokens = {}
local step, next_index = 1, 1
non2xx, s503, s5xx_other = 0, 0, 0

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then table.insert(tokens, line) end
   end
   assert(#tokens > 0, "no tokens in " .. args[1])
   step = tonumber(args[2] or "1")
   next_index = tid
end

function request()
   local token = tokens[(next_index - 1) % #tokens + 1]
   next_index = next_index + step
   return wrk.format("GET", "/session", {["Authorization"] = "Bearer " .. token})
end

function response(status, headers, body)
   count_status(status)
end
