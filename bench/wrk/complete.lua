-- wrk script of the ingest scenario: POST /v1/actions/win-match/complete with a token taken in turn
-- from a file of pre-minted JWTs and a fresh Idempotency-Key per request.
-- Usage: wrk ... -s complete.lua URL -- TOKENS_FILE KEY_PREFIX
-- Prints one line "BENCH_JSON {...}" with counts and latency percentiles (microseconds).
-- Globals on purpose: `id` and `non2xx` are read across threads with thread:get/set.

local threads = {}
local tokens = {}
local counter = 0
local prefix = "k"
non2xx = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  prefix = args[2] or "k"
  counter = id * 7919  -- threads start at different tokens
end

function request()
  counter = counter + 1
  local headers = {
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
    ["Idempotency-Key"] = prefix .. "-" .. id .. "-" .. counter,
  }
  return wrk.format("POST", "/v1/actions/win-match/complete", headers, nil)
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
