dofile(os.getenv("BENCH_DIR") .. "/report.lua")
-- Selective discover: one company (about ten records) per request, a
-- different company each time, bearer token on every request.
local counter = 0
function init(args)
  companies = tonumber(os.getenv("COMPANIES") or "10000")
  token = os.getenv("TOKEN")
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 1000)
end
request = function()
  local company = "c" .. math.random(0, companies - 1)
  return wrk.format("GET", "/api/v1/services/discover?company=" .. company,
    {["Authorization"] = "Bearer " .. token})
end
