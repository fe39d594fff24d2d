dofile(os.getenv("BENCH_DIR") .. "/report.lua")
-- Heartbeats on services with a TTL, read from IDS_FILE (one id per line).
function init(args)
  token = os.getenv("TOKEN")
  ids = {}
  for line in io.lines(os.getenv("IDS_FILE")) do table.insert(ids, line) end
  i = math.random(1, #ids)
end
request = function()
  i = i % #ids + 1
  return wrk.format("POST", "/api/v1/services/" .. ids[i] .. "/heartbeat",
    {["Authorization"] = "Bearer " .. token})
end
