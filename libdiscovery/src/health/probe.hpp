// The seam between the health checker's scheduling and the network: a Prober
// runs one check against one target and reports once. The checker never
// touches sockets; tests of scheduling drive a scripted Prober with a
// ManualClock, and the network prober is tested against real servers.
#pragma once

#include <discovery/clock.hpp>
#include <discovery/service_record.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace discovery::health {

enum class ProbeKind {
  http,  // GET url, pass on expected_status
  tcp,   // connect to host:port of url
  mcp,   // MCP handshake (+ ping) against url, negotiating the transport
};

struct ProbeRequest {
  std::string service_id;  // for logs and connection accounting only
  ProbeKind kind = ProbeKind::http;
  std::string url;  // absolute http(s) URL; for tcp also tcp://host:port (http(s): port from the scheme)
  StatusRange expected_status;  // http only
  Duration timeout{10000};      // whole probe, DNS to last byte
  // mcp: also list tools (every page) and fill ProbeResult::mcp.
  bool introspect = false;
  // mcp: the transport that worked last time ("2026-07-28", "streamable-http",
  // "sse"); tried first, negotiation falls back from there. Empty: negotiate.
  std::string transport_hint;
};

struct ProbeResult {
  bool ok = false;
  double response_time_ms = 0;  // first byte sent to last byte needed
  // On failure: a precise, stable, human-readable reason that becomes
  // healthStatus.lastError, e.g.
  //   "timeout: no response within 10s"       "connect: connection refused"
  //   "dns: host not found: nosuch.invalid"    "tls: certificate verify failed"
  //   "http: status 503, expected 200"         "http: too many redirects (4)"
  //   "blocked: 127.0.0.1 is loopback (allow it with --probe-allow)"
  //   "mcp: initialize: JSON-RPC error -32601: Method not found"
  //   "mcp: initialize: response id 7 does not match request id 1"
  std::string error;
  std::string transport;       // mcp: the transport that answered
  std::optional<McpInfo> mcp;  // mcp with introspect, when ok
  // mcp: the server sent notifications/tools/list_changed while we were
  // connected (the checker then re-introspects on the next check).
  bool tools_list_changed = false;
};

// Thread-safety: probe() may be called from any thread; `done` is called
// exactly once, on the prober's own executor, never inline from probe().
class Prober {
 public:
  virtual ~Prober() = default;
  virtual void probe(ProbeRequest request, std::function<void(ProbeResult)> done) = 0;
  // Cancels everything in flight; each pending `done` is still called once
  // (with ok=false, error "cancelled"). Further probe() calls fail the same way.
  virtual void shutdown() = 0;
};

}  // namespace discovery::health
