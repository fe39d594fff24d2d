-- discoveryd: durable registration of a new instance per request, spread
-- over COMPANIES companies. With INSTANCES set, each wrk thread re-registers
-- the same INSTANCES instances in turn (updates: the soak's fleet stays the
-- same size); with VARY set, every request carries a new serviceInfo.version,
-- so that each re-registration is a real change (an identical one is not:
-- no index bump, no watch event).
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
local counter = 0
function init(args)
  companies = tonumber(os.getenv("COMPANIES") or "1000")
  run = os.getenv("RUN") or "0"
  instances = tonumber(os.getenv("INSTANCES") or "0")
  vary = os.getenv("VARY")
  sent = 0
  headers = {["Authorization"] = "Bearer " .. read_token(), ["Content-Type"] = "application/json"}
end
request = function()
  counter = counter + 1
  if instances > 0 then counter = counter % instances end
  local company = "r" .. (counter % companies)
  local instance = string.format("%s-%s-%d-%d", company, run, thread_id, counter)
  local body = register_body(company, instance)
  if vary then
    sent = sent + 1
    body = body:gsub('"version":"1.0.0"', '"version":"1.0.' .. sent .. '"')
  end
  return wrk.format("POST", "/api/v1/services/register", headers, body)
end
