// The REST API of API.md as a function from request to response, with no
// sockets: the HTTP session feeds it parsed requests and writes what it
// returns. Long-polls and watches come back as descriptions the session
// carries out asynchronously.
//
// Thread safety: handle() and the other methods may run on many threads.
#pragma once

#include <discovery/auth.hpp>
#include <discovery/query_engine.hpp>
#include <discovery/registry.hpp>
#include <discovery/server.hpp>

#include "answer_cache.hpp"
#include "json_cache.hpp"
#include "log.hpp"
#include "mcp_registry.hpp"
#include "metrics.hpp"

#include <boost/beast/http/verb.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace discovery::server {

struct ApiRequest {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string_view target;         // path and query
  std::string_view body;
  std::string_view content_type;
  std::string_view authorization;  // the Authorization header
  std::string_view last_event_id;
  std::string request_id;
  // Set when the request has already taken its token from the rate limiter
  // (try_without_storage() did, then handed the request on).
  bool rate_limit_charged = false;
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;
  // When set, the body instead of `body`: shared, immutable bytes (a cached
  // answer) that the session sends without copying and keeps alive until
  // they are written.
  std::shared_ptr<const std::string> shared_body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string_view error_code;  // API.md's code when this is an error answer
};

// Discover with ?index=&wait=: answer once the index passes `index`.
struct DiscoverWait {
  DiscoverQuery query;
  Principal principal;
  std::uint64_t index = 0;
  Duration wait{};
};

// GET .../watch: stream changes that match `filter`.
struct WatchStart {
  DiscoverQuery filter;
  Principal principal;
  std::optional<std::uint64_t> resume_after;  // Last-Event-ID
};

struct ApiResult {
  Route route = Route::unknown;
  std::variant<ApiResponse, DiscoverWait, WatchStart> outcome;
};

// The end of a request started with Api::start_async().
struct AsyncOutcome {
  // Builds the answer (JSON of the record): run it on the thread that sends it.
  std::function<ApiResult()> answer;
  // Set for a refusal: writes its audit entry, waiting on storage, so it must
  // run where a thread may block (the writer pool), before the answer is sent.
  std::function<void()> audit;
};

// Token buckets per subject: rate_rps sustained, 2 x rate_rps burst.
class RateLimiter {
 public:
  explicit RateLimiter(double rate_rps) : rate_(rate_rps) {}
  bool enabled() const { return rate_ > 0; }
  // 0 when allowed, else seconds until a request would be (for Retry-After).
  unsigned acquire(const std::string& subject);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point updated;
  };
  double rate_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

class Api {
 public:
  Api(Registry& registry, const JwtVerifier& verifier, const ServerOptions& options,
      Metrics& metrics, Logger& logger);

  // Requests that may wait on storage (the session runs them off io threads):
  // every mutation, and reads of the audit log.
  static bool may_block(boost::beast::http::verb method, std::string_view target);

  ApiResult handle(const ApiRequest& request);

  // For a request that may_block(): its answer when it can be given at once
  // without storage and without waiting (so on an io thread). Today that is
  // a routine heartbeat: authenticated, allowed, of an existing service, and
  // reviving nothing. Otherwise std::nullopt, and handle() must run (off the
  // io threads); nothing has changed then, except that `request` may be
  // marked rate_limit_charged. Answers only successes: a refusal is audited,
  // which is a storage write.
  std::optional<ApiResult> try_without_storage(ApiRequest& request);

  const AnswerCache& answer_cache() const { return answers_; }

  // Starts a request whose wait on storage needs no thread and returns true:
  // today a registration (POST /api/v1/services/register) when the registry
  // writes asynchronously. `done` is then called exactly once, on this thread
  // or on the storage's writer thread, when the change is durable and applied
  // (or refused); it must only hand the outcome over to another thread.
  // Returns false, calling nothing, for any other request: run it through
  // handle() on a thread that may block.
  bool start_async(const ApiRequest& request, std::function<void(AsyncOutcome)> done);

  // The answer to a long-poll once its wait is over.
  ApiResponse answer_discover(const DiscoverWait& wait) const;

  // Whether a watcher with `filter` is told of `event` (the record matches
  // now, or matched before the change).
  static bool watch_matches(const WatchStart& watch, const ChangeEvent& event);
  // The SSE frame for an event, as this principal may see it.
  std::string watch_frame(const Principal& principal, const ChangeEvent& event) const;
  // The same for a view chosen up front (full: with personalConfig/demoConfig).
  static std::string watch_frame(bool full_view, const ChangeEvent& event);
  // Every currently matching record as upsert frames at the current index:
  // what a watcher gets when its Last-Event-ID is older than what is retained.
  std::vector<std::string> watch_snapshot(const WatchStart& watch, std::uint64_t& index) const;

  static ApiResponse error_response(const Error& error);

  // The mutating route a method and path name, else Route::unknown.
  static Route mutating_route(boost::beast::http::verb method, std::string_view path);
  // Writes the audit entry of a refused mutating request (nothing for other
  // requests). The session calls it for refusals it answers itself (413).
  void audit_refusal(const ApiRequest& request, const Principal& principal, std::string_view code);
  const Authorizer& authorizer() const { return authorizer_; }
  Registry& registry() { return registry_; }

  // Set while the server drains: /ready answers 503.
  void set_draining() { draining_ = true; }

 private:
  Result<Principal> authenticate(const ApiRequest& request) const;
  boost::json::object record_view(const Principal& principal, const ServiceRecord& record) const;
  ApiResponse discover_page(const Principal& principal, const DiscoverQuery& query) const;
  static ApiResponse answer_response(AnswerCache::AnswerPtr answer);
  static ApiResponse heartbeat_response(const HeartbeatResult& beat);
  ApiResult alerts(const Principal& principal, std::string_view query) const;
  ApiResult route(const ApiRequest& request, std::string_view path, std::string_view query,
                  Principal* principal_out);
  // GET /v0.1/servers... (and /v0/...): the MCP Registry API.
  ApiResult route_mcp_registry(const ApiRequest& request, std::string_view rest, std::string_view query,
                               Principal* principal_out);
  // A 429 answer when `subject` is over the rate limit.
  std::optional<ApiResponse> rate_limited(const std::string& subject);

  Registry& registry_;
  const JwtVerifier& verifier_;
  const ServerOptions& options_;
  Metrics& metrics_;
  Logger& logger_;
  Authorizer authorizer_;
  McpRegistry mcp_registry_;
  QueryEngine engine_;
  RateLimiter limiter_;
  mutable JsonCache json_cache_;
  mutable AnswerCache answers_;
  std::atomic<bool> draining_{false};
};

}  // namespace discovery::server
