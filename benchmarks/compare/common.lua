-- Shared by the wrk scripts of benchmarks/compare: a thread id per wrk
-- thread, the bearer token read from the file named by TOKEN_FILE (never
-- from the command line), and the figures printed as key=value lines.
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function read_token()
  local path = os.getenv("TOKEN_FILE")
  if not path or path == "" then return nil end
  local f = assert(io.open(path, "r"))
  local t = f:read("*a"):gsub("%s+$", "")
  f:close()
  return t
end

function read_file(path)
  local f = assert(io.open(path, "rb"))
  local t = f:read("*a")
  f:close()
  return t
end

-- The JSON body of a registration, the same for discoveryd and etcd. With
-- PRIMARY set (the soak's local health-check target) the endpoints point there.
local primary = os.getenv("PRIMARY")
function register_body(company, instance)
  local p = primary or string.format("https://mcp.%s.2100.cool", company)
  return string.format(
    '{"companyName":"%s","instanceId":"%s","serviceInfo":{"version":"1.0.0","region":"us-west1",' ..
    '"environment":"production","capabilities":["tools","search"],' ..
    '"endpoints":{"primary":"%s","mcp":"%s/mcp"}},"tags":["beta"]}',
    company, instance, p, p)
end

local b64chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
function base64(data)
  return ((data:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d?%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("rps=%.0f\n", summary.requests / seconds))
  io.write(string.format("mib_s=%.1f\n", summary.bytes / seconds / 1048576))
  io.write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p90_ms=%.3f\n", latency:percentile(90) / 1000))
  io.write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("errors=%d\n", summary.errors.status + summary.errors.connect +
    summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("non2xx=%d\n", summary.errors.status))
end
