// The HTTP shell around the library: serves the REST API of API.md.
//
// A Server owns a Boost.Beast listener and its io threads; it borrows the
// registry and the token verifier. Everything it does is translation between
// HTTP and library calls: access decisions come from Authorizer, every rule
// about records from Registry and QueryEngine.
//
// Thread safety: start() and the accessors may be called from any thread;
// stop() is idempotent and may be called from any thread but an io thread.
#pragma once

#include <discovery/auth.hpp>
#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/registry.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace discovery {

class HealthChecker;

enum class LogLevel { debug, info, warn, error, off };
std::string_view to_string(LogLevel level) noexcept;
std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;

struct ServerOptions {
  // Address to listen on; port 0 picks a free port (see Server::port()).
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  // io threads; 0 = one per core.
  unsigned io_threads = 0;
  // Threads that run mutations, which wait for storage to make them durable
  // (so io threads never block on fsync). Concurrent mutations share commits.
  // Registrations with a storage that writes asynchronously (SQLite) do not
  // use them: they wait for their commit with no thread held.
  unsigned write_threads = 64;

  // Limits; each has a default, and each is enforced with API.md's code.
  std::size_t max_body_bytes = 1 << 20;        // 413 payload_too_large
  std::size_t max_header_bytes = 16 << 10;     // 431 request_header_too_large
  Duration read_timeout = std::chrono::seconds{30};   // whole request, from its first byte
  Duration idle_timeout = std::chrono::seconds{60};   // keep-alive between requests
  std::size_t max_connections = 20000;         // beyond: 503 and close
  std::size_t max_watchers = 10000;            // beyond: 503
  double rate_limit_rps = 0;                   // per token subject, burst 2x; 0 = off (429)
  Duration max_wait = std::chrono::minutes{5}; // longest long-poll (?wait=) honoured
  Duration default_wait = std::chrono::minutes{1};  // ?index= without ?wait=
  Duration keepalive_interval = std::chrono::seconds{15};  // SSE comments
  std::size_t watch_queue_bytes = 4 << 20;     // a watcher further behind is dropped
  Duration drain_grace = std::chrono::seconds{10};  // SIGTERM: in-flight requests finish within
  // Whole discover answers kept to be sent again while nothing they show has
  // changed (keyed by query and the caller's view); their bytes stay within
  // this. 0 disables the cache. Default 64 MiB.
  std::size_t answer_cache_bytes = 64 << 20;

  // HTTPS when both are set (TLS 1.2 minimum, 1.3 preferred).
  std::string tls_cert_file;
  std::string tls_key_file;
  // /metrics requires a diamond or emerald token when true.
  bool metrics_require_auth = false;
  // Companies whose servers the MCP Registry API (/v0.1/servers) lists to
  // readers without a token. Empty (the default): every request there needs
  // a token, as everywhere else.
  std::vector<std::string> registry_public_companies;

  // Serves GET /api/v1/alerts and the checker's /metrics when set; must
  // outlive the server.
  const HealthChecker* health_checker = nullptr;

  LogLevel log_level = LogLevel::info;
  // Where log lines go (one logfmt line each); default standard error.
  std::function<void(std::string_view line)> log_sink;
};

class Server {
 public:
  // Binds, starts the io threads, and returns once connections are accepted.
  // `registry` and `verifier` must outlive the server.
  static Result<std::unique_ptr<Server>> start(Registry& registry, const JwtVerifier& verifier,
                                               ServerOptions options = {});
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  // "http://127.0.0.1:8080" (https when TLS is on).
  std::string url() const;

  // Graceful stop: stops accepting, ends watches and long-polls at once (a
  // long-poll answers with the current state), lets other requests in flight
  // finish within drain_grace, then stops the io threads.
  void stop();

 private:
  struct Impl;
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace discovery
