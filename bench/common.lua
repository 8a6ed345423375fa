-- Shared by signup.lua and verify.lua: per-thread status counters, and one
-- machine-readable summary line ("BENCH key=value ...") printed by done().
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function count_status(status)
   if status < 200 or status > 299 then non2xx = non2xx + 1 end
   if status == 503 then s503 = s503 + 1
   elseif status >= 500 then s5xx_other = s5xx_other + 1 end
end

function done(summary, latency, requests)
   local n_non2xx, n_503, n_5xx = 0, 0, 0
   for _, t in ipairs(threads) do
      n_non2xx = n_non2xx + (t:get("non2xx") or 0)
      n_503 = n_503 + (t:get("s503") or 0)
      n_5xx = n_5xx + (t:get("s5xx_other") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      "BENCH requests=%d seconds=%.3f rps=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
      "non2xx=%d s503=%d s5xx_other=%d connect_err=%d read_err=%d write_err=%d timeouts=%d\n",
      summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
      latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
      latency.max / 1000, n_non2xx, n_503, n_5xx, e.connect, e.read, e.write, e.timeout))
end
