dofile(os.getenv("BENCH_DIR") .. "/report.lua")
-- Durable registrations: every request registers a new instance; companies
-- are spread so that each ends up with about ten instances.
local counter = 0

local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function init(args)
  companies = tonumber(os.getenv("COMPANIES") or "10000")
  token = os.getenv("TOKEN")
end

request = function()
  counter = counter + 1
  local n = thread_id * 100000000 + counter
  local company = "c" .. (n % companies)
  local body = string.format(
    '{"companyName":"%s","instanceId":"%s-%d","serviceInfo":{"version":"1.0.0","region":"us-west1",' ..
    '"environment":"production","capabilities":["tools","search"],' ..
    '"endpoints":{"primary":"https://mcp.%s.2100.cool","mcp":"https://mcp.%s.2100.cool/mcp"}},"tags":["beta"]}',
    company, company, n, company, company)
  return wrk.format("POST", "/api/v1/services/register",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}, body)
end
