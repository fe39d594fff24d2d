-- etcd: the usual registration, a put of the same body under
-- /services/{company}/{region}/{instance} attached to the instance's lease
-- (LEASES leases from LEASE_FIRST, granted beforehand).
dofile(os.getenv("COMPARE_DIR") .. "/common.lua")
local counter = 0
function init(args)
  companies = tonumber(os.getenv("COMPANIES") or "1000")
  first = tonumber(os.getenv("LEASE_FIRST"))
  leases = tonumber(os.getenv("LEASES"))
  run = os.getenv("RUN") or "0"
  headers = {["Content-Type"] = "application/json"}
end
request = function()
  counter = counter + 1
  local company = "r" .. (counter % companies)
  local instance = string.format("%s-%s-%d-%d", company, run, thread_id, counter)
  local key = "/services/" .. company .. "/us-west1/" .. instance
  local body = string.format('{"key":"%s","value":"%s","lease":%d}', base64(key),
    base64(register_body(company, instance)), first + (thread_id * 7919 + counter) % leases)
  return wrk.format("POST", "/v3/kv/put", headers, body)
end
