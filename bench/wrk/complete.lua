-- wrk script of the ingest scenario: POST /v1/actions/win-match/complete with a token taken in turn
-- from a file of pre-minted JWTs and a fresh Idempotency-Key per request.
-- Usage: wrk ... -s complete.lua URL -- TOKENS_FILE KEY_PREFIX
-- setup, response and done (the BENCH_JSON line) come from report.lua beside this file.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local tokens = {}
local counter = 0
local prefix = "k"

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
