-- GET REQ_PATH with the bearer token (ignored by the static peers), the same
-- request bytes for discoveryd, nginx and the bare Beast server.
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
function init(args)
  local token = read_token()
  local headers = {}
  if token then headers["Authorization"] = "Bearer " .. token end
  req = wrk.format("GET", os.getenv("REQ_PATH"), headers)
end
request = function() return req end
