-- wrk script of the read scenario: GET one path on every keep-alive connection, the request built once.
-- Usage: wrk ... -s read.lua URL -- PATH
-- setup, response and done (the BENCH_JSON line) come from report.lua beside this file.

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

local prepared = nil

function init(args)
  prepared = wrk.format("GET", args[1])
end

function request()
  return prepared
end
