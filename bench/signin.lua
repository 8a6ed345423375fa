-- POST /signin with the right password for verified accounts, one email per
-- line of a file (the accounts the sign-up rows made):
--   wrk ... -s bench/signin.lua URL -- <emails-file> <wrk-threads>
-- Thread i starts at line i and steps by the thread count.
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
require("common")

local emails = {}
local step, next_index = 1, 1
non2xx, s503, s5xx_other = 0, 0, 0

function init(args)
   for line in io.lines(args[1]) do
      if #line > 0 then table.insert(emails, line) end
   end
   assert(#emails > 0, "no emails in " .. args[1])
   step = tonumber(args[2] or "1")
   next_index = tid
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local email = emails[(next_index - 1) % #emails + 1]
   next_index = next_index + step
   return wrk.format(nil, "/signin", nil, '{"email":"' .. email .. '","password":"Str0ng!Pass"}')
end

function response(status, headers, body)
   count_status(status)
end
