-- POST /signup with a unique corporate email per request:
--   wrk ... -s bench/signup.lua URL -- <run-tag>
package.path = debug.getinfo(1, "S").source:match("@?(.*/)") .. "?.lua;" .. package.path
require("common")

local tag = "run"
local counter = 0
non2xx, s503, s5xx_other = 0, 0, 0

function init(args)
   if args[1] then tag = args[1] end
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   counter = counter + 1
   local email = string.format("bench.%s.t%d.%d@lintasarta.co.id", tag, tid, counter)
   local body = '{"full_name":"Budi Santoso","email":"' .. email ..
      '","password":"Str0ng!Pass","phone_number":"0812-3456-7890","accept_terms":true}'
   return wrk.format(nil, "/signup", nil, body)
end

function response(status, headers, body)
   count_status(status)
end
