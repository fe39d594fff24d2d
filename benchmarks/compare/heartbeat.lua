-- discoveryd: heartbeats on services with a TTL, ids from IDS_FILE.
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
function init(args)
  headers = {["Authorization"] = "Bearer " .. read_token()}
  ids = {}
  for line in io.lines(os.getenv("IDS_FILE")) do table.insert(ids, line) end
  i = (thread_id * 997) % #ids
end
request = function()
  i = i % #ids + 1
  return wrk.format("POST", "/api/v1/services/" .. ids[i] .. "/heartbeat", headers)
end
