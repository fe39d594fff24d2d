// The Prober that talks to the network: HTTP(S) GET, TCP connect and the MCP
// handshake, all asynchronous on one Asio executor, each bounded by its
// request's timeout, every resolved address checked against an AddressPolicy
// before a connection is made.
#pragma once

#include "health/mcp_wire.hpp"
#include "health/probe.hpp"

#include <discovery/address_policy.hpp>
#include <discovery/version.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace discovery::health {

struct NetworkProberOptions {
  // Which addresses may be connected to. Default: the SSRF deny list
  // (loopback, link-local and metadata, multicast, ...). Tests and the
  // daemon's --probe-allow add exceptions with allow().
  AddressPolicy address_policy = AddressPolicy::default_deny();

  // A response body (HTTP probe, or one JSON-RPC answer) larger than this is a
  // failure, read no further. An SSE stream may carry more in total (events
  // before the answer), up to max_stream_bytes.
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_stream_bytes = 1024 * 1024;

  // HTTP probes follow at most this many redirects; each target is resolved
  // and checked against address_policy again. MCP requests never follow them.
  unsigned max_redirects = 3;

  // Trust anchors for TLS. Both empty: the system's default store. Either set:
  // only these. A file or directory that cannot be loaded makes
  // make_network_prober throw std::invalid_argument (a start-up failure).
  std::string ca_file;
  std::string ca_dir;

  // A DNS lookup that takes longer fails the probe (within its own timeout).
  // Lookups run on Asio's resolver thread (getaddrinfo); IP literals skip it.
  Duration dns_timeout{std::chrono::seconds{5}};

  // Keep-alive: idle connections kept per scheme+host+port, in total, and for
  // how long. Costs one file descriptor each.
  std::size_t idle_connections_per_host = 2;
  std::size_t max_idle_connections = 256;
  Duration idle_timeout{std::chrono::seconds{4}};

  // Open sockets at once (idle ones included). A probe waits for a slot
  // within its own timeout; idle connections are closed to make room.
  std::size_t max_concurrent_connections = 1024;

  std::string user_agent = std::string("mcp-discovery-healthcheck/") + kVersion;

  // MCP introspection caps: tools/list pages followed, tools and text kept.
  std::size_t max_tool_pages = 32;
  wire::IntrospectionLimits introspection;
};

// Thread-safety: as Prober. All work runs on a strand of `executor`; `done`
// is called there. Destroying the prober shuts it down (pending `done`s are
// still called once, with "cancelled", if the executor keeps running).
std::unique_ptr<Prober> make_network_prober(boost::asio::any_io_executor executor,
                                            NetworkProberOptions options = {});

}  // namespace discovery::health
