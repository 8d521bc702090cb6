-- What every wrk script of the bench shares: thread ids, the count of non-2xx answers, and the one line
-- "BENCH_JSON {...}" with counts and latency percentiles (microseconds) that bench/load.py parses.
-- Loaded by each script with dofile (wrk runs one Lua state per thread plus one for setup/done).
-- Globals on purpose: `id` and `non2xx` are read across threads with thread:get/set.

local threads = {}
non2xx = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non2xx": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "timeout": %d, "p50_us": %.1f, "p99_us": %.1f, "p999_us": %.1f, "max_us": %.1f}\n',
    summary.requests, summary.duration, bad, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max))
end
