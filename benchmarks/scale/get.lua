-- GET REQ_PATH with the bearer token read from TOKEN_FILE; prints the figures
-- as key=value lines (benchmarks/scale/run.sh).
function init(args)
  local f = assert(io.open(os.getenv("TOKEN_FILE"), "r"))
  local token = f:read("*a"):gsub("%s+$", "")
  f:close()
  req = wrk.format("GET", os.getenv("REQ_PATH"), {["Authorization"] = "Bearer " .. token})
end
request = function() return req end
done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("requests=%d\n", summary.requests))
  io.write(string.format("rps=%.0f\n", summary.requests / seconds))
  io.write(string.format("p50_ms=%.3f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms=%.3f\n", latency:percentile(99) / 1000))
  io.write(string.format("max_ms=%.3f\n", latency.max / 1000))
  io.write(string.format("errors=%d\n", summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout + summary.errors.status))
  io.write(string.format("bytes_per_request=%.0f\n", summary.bytes / math.max(summary.requests, 1)))
end
