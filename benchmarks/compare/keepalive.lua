-- etcd: lease keep-alives through the JSON gateway on LEASES leases from
-- LEASE_FIRST (one keep-alive message per request).
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
function init(args)
  first = tonumber(os.getenv("LEASE_FIRST"))
  leases = tonumber(os.getenv("LEASES"))
  headers = {["Content-Type"] = "application/json"}
  i = (thread_id * 997) % leases
end
request = function()
  i = (i + 1) % leases
  return wrk.format("POST", "/v3/lease/keepalive", headers, string.format('{"ID":%d}', first + i))
end
