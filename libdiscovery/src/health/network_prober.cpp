#include "health/network_prober.hpp"

#include "health/url.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <set>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace discovery::health {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using SteadyTime = SteadyClock::time_point;
using Executor = asio::strand<asio::any_io_executor>;

// Every asynchronous step reports its error as a value: a probe never throws.
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

constexpr std::size_t kHeaderLimit = 16 * 1024;
constexpr std::size_t kMaxEndpoints = 16;  // addresses tried per host
constexpr std::string_view kAllowHint = " (allow it with --probe-allow)";
constexpr std::string_view kClientName = "mcp-discovery-healthcheck";

Error failure(std::string text) { return Error{ErrorCode::unavailable, std::move(text), {}}; }

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Stable wording for the errors a user meets most; the system's text for the rest.
std::string describe(const boost::system::error_code& ec) {
  if (ec == asio::error::connection_refused) return "connection refused";
  if (ec == asio::error::connection_reset) return "connection reset by peer";
  if (ec == asio::error::eof || ec == http::error::end_of_stream) return "connection closed by peer";
  if (ec == http::error::partial_message) return "connection closed mid-message";
  if (ec == asio::error::network_unreachable) return "network unreachable";
  if (ec == asio::error::host_unreachable) return "host unreachable";
  if (ec == asio::error::broken_pipe) return "connection closed by peer";
  if (ec == http::error::header_limit) return "response header larger than 16 KiB";
  return lowercase(ec.message());
}

std::string status_range_text(const StatusRange& range) {
  if (range.low == range.high) return std::to_string(range.low);
  return std::to_string(range.low) + "-" + std::to_string(range.high);
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// A session id is visible ASCII (0x21-0x7E) per the 2025-11-25 transport; we
// echo it in a header, so anything else is refused rather than sent.
bool valid_session_id(std::string_view id) {
  if (id.empty() || id.size() > 1024) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

// ---------------------------------------------------------------------------
// Open-socket accounting (max_concurrent_connections). Strand-confined.

class ConnectionBudget {
 public:
  struct Waiter {
    explicit Waiter(const Executor& ex) : timer(ex) {}
    asio::steady_timer timer;
    bool granted = false;
    bool done = false;  // granted, timed out or cancelled: release() skips it
  };

  explicit ConnectionBudget(std::size_t max) : max_(std::max<std::size_t>(max, 1)) {}

  bool try_acquire() {
    if (open_ >= max_) return false;
    ++open_;
    return true;
  }
  void enqueue(std::shared_ptr<Waiter> waiter) { waiters_.push_back(std::move(waiter)); }
  // Hands the slot to the first live waiter, else frees it.
  void release() {
    while (!waiters_.empty()) {
      std::shared_ptr<Waiter> w = std::move(waiters_.front());
      waiters_.pop_front();
      if (w->done) continue;
      w->granted = true;
      w->done = true;
      w->timer.cancel();
      return;
    }
    if (open_ > 0) --open_;
  }

 private:
  std::size_t max_;
  std::size_t open_ = 0;
  std::deque<std::shared_ptr<Waiter>> waiters_;
};

struct ProbeState;

// One socket, plain or TLS. Owns one budget slot for its lifetime.
struct Connection {
  explicit Connection(std::shared_ptr<ConnectionBudget> b) : budget(std::move(b)) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *tcp; }
  void attach(ProbeState* state);
  void detach();

  std::shared_ptr<ConnectionBudget> budget;
  std::string key;  // Url::origin()
  std::unique_ptr<beast::tcp_stream> tcp;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer{kHeaderLimit + 8192};
  SteadyTime idle_since{};
  bool reused = false;
  ProbeState* owner = nullptr;  // the probe using it, so shutdown can close it
};

struct ProbeState {
  ProbeRequest request;
  std::function<void(ProbeResult)> done;
  SteadyTime start{};
  SteadyTime deadline{};
  std::optional<SteadyTime> first_send;
  bool cancelled = false;
  bool tools_list_changed = false;
  std::set<Connection*> connections;
  std::shared_ptr<tcp::resolver> resolver;
  std::shared_ptr<ConnectionBudget::Waiter> waiter;

  std::string timeout_text(std::string_view what) const {
    return "timeout: " + std::string(what) + " within " + format_duration(request.timeout);
  }
};

Connection::~Connection() {
  detach();
  budget->release();
}

void Connection::attach(ProbeState* state) {
  detach();
  owner = state;
  if (owner) owner->connections.insert(this);
}

void Connection::detach() {
  if (owner) owner->connections.erase(this);
  owner = nullptr;
}

// A response being read: the connection, the parser, and a fixed buffer the
// body is read into piece by piece (never all at once).
struct Exchange {
  std::unique_ptr<Connection> conn;
  http::response_parser<http::buffer_body> parser;
  std::array<char, 8192> chunk{};
  std::size_t consumed = 0;

  int status() const { return static_cast<int>(parser.get().result_int()); }
  std::string header(std::string_view name) const {
    auto it = parser.get().find(beast::string_view(name.data(), name.size()));
    if (it == parser.get().end()) return {};
    return std::string(it->value());
  }
  std::string media_type() const { return wire::media_type(header("Content-Type")); }
};

// An SSE response stream read event by event; events that arrive together
// with the one we wait for are kept for the next wait.
struct SseReader {
  std::unique_ptr<Exchange> exchange;
  wire::SseParser parser;
  std::deque<wire::SseEvent> pending;

  SseReader(std::unique_ptr<Exchange> ex, std::size_t max_event)
      : exchange(std::move(ex)), parser(max_event, max_event) {}
};

using Headers = std::vector<std::pair<std::string, std::string>>;

// What a JSON-RPC POST got back, before the caller decides what it means.
struct RpcReply {
  int status = 0;
  std::string media;
  std::string session_id;
  std::optional<wire::RpcResponse> response;
  std::optional<std::string> wire_error;  // malformed body, wrong id, no answer
};

enum class Step { success, fallback, fail };
struct Attempt {
  Step step = Step::fail;
  std::string reason;  // fallback: why; fail: the probe's error
  McpInfo info;
};

struct McpSession {
  std::string_view transport;
  Url url;  // where requests are POSTed (sse: the endpoint)
  std::string session_id;
  std::string protocol_version;
  SseReader* stream = nullptr;  // sse: where answers arrive
  std::int64_t next_id = 2;
};

// ---------------------------------------------------------------------------

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(asio::any_io_executor executor, NetworkProberOptions options)
      : strand_(asio::make_strand(std::move(executor))),
        options_(std::move(options)),
        tls_(ssl::context::tls_client),
        budget_(std::make_shared<ConnectionBudget>(options_.max_concurrent_connections)) {
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_2_VERSION);
    tls_.set_verify_mode(ssl::verify_peer);
    boost::system::error_code ec;
    if (options_.ca_file.empty() && options_.ca_dir.empty()) {
      tls_.set_default_verify_paths(ec);
      if (ec) throw std::invalid_argument("TLS: cannot load the system trust store: " + ec.message());
    }
    if (!options_.ca_file.empty()) {
      tls_.load_verify_file(options_.ca_file, ec);
      if (ec) throw std::invalid_argument("TLS: cannot load CA file " + options_.ca_file + ": " + ec.message());
    }
    if (!options_.ca_dir.empty()) {
      tls_.add_verify_path(options_.ca_dir, ec);
      if (ec) throw std::invalid_argument("TLS: cannot use CA directory " + options_.ca_dir + ": " + ec.message());
    }
  }

  void probe(ProbeRequest request, std::function<void(ProbeResult)> done) {
    asio::post(strand_, [self = shared_from_this(), request = std::move(request), done = std::move(done)]() mutable {
      self->start(std::move(request), std::move(done));
    });
  }

  void shutdown() {
    asio::post(strand_, [self = shared_from_this()] { self->shutdown_on_strand(); });
  }

 private:
  void start(ProbeRequest request, std::function<void(ProbeResult)> done) {
    if (shut_down_) {
      ProbeResult result;
      result.error = "cancelled";
      done(std::move(result));  // on the strand, in a posted handler: not inline from probe()
      return;
    }
    auto state = std::make_shared<ProbeState>();
    state->request = std::move(request);
    state->done = std::move(done);
    state->start = SteadyClock::now();
    state->deadline = state->start + std::max(state->request.timeout, Duration{1});
    in_flight_.insert(state);
    asio::co_spawn(strand_, run(state),
                   [self = shared_from_this(), state](std::exception_ptr error, ProbeResult result) {
                     if (error) {
                       // Only a bug or memory exhaustion gets here; the probe still answers.
                       result = ProbeResult{};
                       try {
                         std::rethrow_exception(error);
                       } catch (const std::exception& e) {
                         result.error = std::string("internal: ") + e.what();
                       } catch (...) {
                         result.error = "internal: unknown exception";
                       }
                     }
                     self->finish(state, std::move(result));
                   });
  }

  void finish(const std::shared_ptr<ProbeState>& state, ProbeResult result) {
    in_flight_.erase(state);
    if (state->cancelled) {
      result = ProbeResult{};
      result.error = "cancelled";
    }
    auto end = SteadyClock::now();
    auto from = state->first_send.value_or(state->start);
    result.response_time_ms = std::chrono::duration<double, std::milli>(end - from).count();
    result.tools_list_changed = result.tools_list_changed || state->tools_list_changed;
    if (!result.ok) result.mcp.reset();
    auto done = std::move(state->done);
    done(std::move(result));
  }

  void shutdown_on_strand() {
    shut_down_ = true;
    for (const auto& state : in_flight_) cancel(*state);
    idle_.clear();
    idle_count_ = 0;
  }

  void cancel(ProbeState& state) {
    state.cancelled = true;
    boost::system::error_code ignored;
    for (Connection* c : state.connections) c->lowest().socket().close(ignored);
    if (state.resolver) state.resolver->cancel();
    if (state.waiter && !state.waiter->done) {
      state.waiter->done = true;
      state.waiter->timer.cancel();
    }
  }

  // -------------------------------------------------------------------------
  // Probes

  asio::awaitable<ProbeResult> run(std::shared_ptr<ProbeState> state) {
    ProbeResult result;
    auto url = parse_url(state->request.url);
    if (!url) {
      result.error = "url: " + url.error().message;
      co_return result;
    }
    switch (state->request.kind) {
      case ProbeKind::http: co_return co_await run_http(state, *url);
      case ProbeKind::tcp: co_return co_await run_tcp(state, *url);
      case ProbeKind::mcp: co_return co_await run_mcp(state, *url);
    }
    result.error = "internal: unknown probe kind";
    co_return result;
  }

  static ProbeResult failed(const Error& error) {
    ProbeResult result;
    result.error = error.message;
    return result;
  }

  asio::awaitable<ProbeResult> run_tcp(std::shared_ptr<ProbeState> state, Url url) {
    state->first_send = SteadyClock::now();
    auto conn = co_await open_socket(state, url);
    if (!conn) co_return failed(conn.error());
    ProbeResult result;
    result.ok = true;
    co_return result;
  }

  asio::awaitable<ProbeResult> run_http(std::shared_ptr<ProbeState> state, Url url) {
    const StatusRange& expected = state->request.expected_status;
    for (unsigned redirects = 0;; ++redirects) {
      http::request<http::string_body> req{http::verb::get, url.target, 11};
      req.set(http::field::accept, "*/*");
      auto ex = co_await send(state, url, std::move(req));
      if (!ex) co_return failed(ex.error());
      int status = (*ex)->status();
      std::string location = (*ex)->header("Location");
      auto drained = co_await discard_body(state, **ex, options_.max_body_bytes);
      if (!drained) co_return failed(drained.error());
      release(std::move(*ex));
      if (is_redirect(status) && !expected.contains(status) && !location.empty()) {
        if (redirects + 1 > options_.max_redirects) {
          co_return failed(failure("http: too many redirects (" + std::to_string(redirects + 1) + ")"));
        }
        auto next = resolve_reference(url, location);
        if (!next) co_return failed(failure("http: bad redirect: " + next.error().message));
        url = std::move(*next);
        continue;
      }
      if (!expected.contains(status)) {
        co_return failed(failure("http: status " + std::to_string(status) + ", expected " +
                                 status_range_text(expected)));
      }
      ProbeResult result;
      result.ok = true;
      co_return result;
    }
  }

  // -------------------------------------------------------------------------
  // MCP: negotiation in the order the 2026-07-28 specification's backward
  // compatibility sections give (transports/streamable-http, "Backward
  // Compatibility"): a modern request first; on a 4xx without a recognised
  // modern error, initialize over Streamable HTTP; on 400/404/405 there, the
  // deprecated HTTP+SSE transport's GET.

  asio::awaitable<ProbeResult> run_mcp(std::shared_ptr<ProbeState> state, Url url) {
    std::vector<std::string_view> order{wire::kTransportModern, wire::kTransportStreamable, wire::kTransportSse};
    const std::string& hint = state->request.transport_hint;
    bool hinted = false;
    if (auto it = std::find(order.begin(), order.end(), hint); it != order.end() && it != order.begin()) {
      // Skip straight to what worked last time; the rest stays as fallback.
      std::rotate(order.begin(), it, it + 1);
      hinted = true;
    }
    std::string fallbacks;
    for (std::size_t i = 0; i < order.size(); ++i) {
      std::string_view transport = order[i];
      Attempt attempt;
      if (transport == wire::kTransportModern) {
        attempt = co_await try_modern(state, url);
      } else if (transport == wire::kTransportStreamable) {
        attempt = co_await try_streamable(state, url);
      } else {
        attempt = co_await try_sse(state, url);
      }
      if (attempt.step == Step::success) {
        ProbeResult result;
        result.ok = true;
        result.transport = std::string(transport);
        attempt.info.transport = std::string(transport);
        if (state->request.introspect) result.mcp = std::move(attempt.info);
        co_return result;
      }
      bool hint_failed = hinted && i == 0;
      if (attempt.step == Step::fail) {
        // A hinted transport that fails may be a server that changed: go on
        // negotiating, unless time is up or the failure is the network's.
        bool network = attempt.reason.rfind("mcp:", 0) != 0;
        if (!hint_failed || network || state->cancelled) co_return failed(failure(attempt.reason));
      }
      if (!fallbacks.empty()) fallbacks += "; ";
      fallbacks += attempt.reason;
    }
    co_return failed(failure("mcp: no transport answered: " + fallbacks));
  }

  Headers modern_headers(std::string_view method) const {
    return {{"MCP-Protocol-Version", std::string(wire::kModernVersion)}, {"Mcp-Method", std::string(method)}};
  }

  asio::awaitable<Attempt> try_modern(std::shared_ptr<ProbeState> state, Url url) {
    const std::string version(kVersion);
    std::string body = wire::make_request(1, "server/discover", wire::modern_params({}, kClientName, version));
    auto reply = co_await post_rpc(state, url, std::move(body), 1, modern_headers("server/discover"));
    if (!reply) co_return Attempt{Step::fail, reply.error().message, {}};
    const std::string where = "server/discover: ";
    if (reply->response && reply->response->error) {
      const wire::RpcError& error = *reply->response->error;
      if (wire::is_modern_error(error)) {
        co_return Attempt{Step::fail, "mcp: " + where + error.to_string(), {}};
      }
      // A legacy server does not know the method (or has no session yet).
      co_return Attempt{Step::fallback, where + error.to_string(), {}};
    }
    if (reply->status != 200) {
      if (reply->status >= 400 && reply->status < 500) {
        co_return Attempt{Step::fallback, where + "http status " + std::to_string(reply->status), {}};
      }
      co_return Attempt{Step::fail, "mcp: " + where + "http status " + std::to_string(reply->status), {}};
    }
    if (reply->media != "application/json" && reply->media != "text/event-stream") {
      co_return Attempt{Step::fallback, where + "answered " + (reply->media.empty() ? "no content type" : reply->media), {}};
    }
    if (reply->wire_error) co_return Attempt{Step::fail, "mcp: " + where + *reply->wire_error, {}};
    auto info = wire::parse_discover_result(reply->response->result, options_.introspection);
    if (!info) {
      if (info.error().message.rfind("server does not support", 0) == 0) {
        co_return Attempt{Step::fallback, where + info.error().message, {}};
      }
      co_return Attempt{Step::fail, "mcp: " + where + info.error().message, {}};
    }
    McpSession session{wire::kTransportModern, url, {}, std::string(wire::kModernVersion), nullptr, 2};
    if (auto listed = co_await introspect(state, session, *info); !listed) {
      co_return Attempt{Step::fail, listed.error().message, {}};
    }
    co_return Attempt{Step::success, {}, std::move(*info)};
  }

  asio::awaitable<Attempt> try_streamable(std::shared_ptr<ProbeState> state, Url url) {
    const std::string version(kVersion);
    std::string body =
        wire::make_request(1, "initialize", wire::initialize_params(wire::kStreamableVersion, kClientName, version));
    auto reply = co_await post_rpc(state, url, std::move(body), 1, {});
    if (!reply) co_return Attempt{Step::fail, reply.error().message, {}};
    const std::string where = "initialize: ";
    if (reply->status == 400 || reply->status == 404 || reply->status == 405) {
      // The 2025-03-26 rule for finding a 2024-11-05 server: try its GET.
      co_return Attempt{Step::fallback, where + "http status " + std::to_string(reply->status), {}};
    }
    if (reply->status != 200) {
      co_return Attempt{Step::fail, "mcp: " + where + "http status " + std::to_string(reply->status), {}};
    }
    if (reply->wire_error) co_return Attempt{Step::fail, "mcp: " + where + *reply->wire_error, {}};
    if (reply->response->error) co_return Attempt{Step::fail, "mcp: " + where + reply->response->error->to_string(), {}};
    auto info = wire::parse_initialize_result(reply->response->result, options_.introspection);
    if (!info) co_return Attempt{Step::fail, "mcp: " + where + info.error().message, {}};
    if (!reply->session_id.empty() && !valid_session_id(reply->session_id)) {
      co_return Attempt{Step::fail, "mcp: initialize: invalid Mcp-Session-Id header", {}};
    }
    McpSession session{wire::kTransportStreamable, url, reply->session_id, info->protocol_version, nullptr, 2};
    auto outcome = co_await handshake_rest(state, session, *info);
    if (!session.session_id.empty() && !state->cancelled && SteadyClock::now() < state->deadline) {
      // Free the server's session; its answer (405 is allowed) changes nothing.
      http::request<http::string_body> del{http::verb::delete_, url.target, 11};
      del.set("Mcp-Session-Id", session.session_id);
      del.set("MCP-Protocol-Version", session.protocol_version);
      if (auto ex = co_await send(state, url, std::move(del))) {
        if (auto drained = co_await discard_body(state, **ex, options_.max_body_bytes)) release(std::move(*ex));
      }
    }
    if (!outcome) co_return Attempt{Step::fail, outcome.error().message, {}};
    co_return Attempt{Step::success, {}, std::move(*info)};
  }

  // After a legacy initialize: the initialized notification, ping, tools.
  asio::awaitable<Result<void>> handshake_rest(std::shared_ptr<ProbeState> state, McpSession& session, McpInfo& info) {
    auto note = co_await notify(state, session, "notifications/initialized");
    if (!note) co_return note.error();
    auto pong = co_await call(state, session, "ping", {});
    if (!pong) co_return pong.error();
    co_return co_await introspect(state, session, info);
  }

  asio::awaitable<Attempt> try_sse(std::shared_ptr<ProbeState> state, Url url) {
    http::request<http::string_body> req{http::verb::get, url.target, 11};
    req.set(http::field::accept, "text/event-stream");
    req.set(http::field::cache_control, "no-cache");
    auto ex = co_await send(state, url, std::move(req));
    if (!ex) co_return Attempt{Step::fail, ex.error().message, {}};
    int status = (*ex)->status();
    std::string media = (*ex)->media_type();
    if (status != 200 || media != "text/event-stream") {
      co_return Attempt{Step::fallback,
                        "sse: GET answered " + (status != 200 ? "http status " + std::to_string(status) : media.empty() ? std::string("no content type") : media),
                        {}};
    }
    SseReader reader(std::move(*ex), options_.max_body_bytes);
    // The first event names where to POST.
    std::optional<wire::SseEvent> endpoint;
    while (!endpoint) {
      auto event = co_await next_event(state, reader);
      if (!event) co_return Attempt{Step::fail, event.error().message, {}};
      if (!*event) co_return Attempt{Step::fail, "mcp: sse: stream ended before the endpoint event", {}};
      if ((*event)->type == "endpoint") endpoint = std::move(**event);
    }
    auto target = resolve_reference(url, endpoint->data);
    if (!target) co_return Attempt{Step::fail, "mcp: sse: bad endpoint: " + target.error().message, {}};
    if (target->origin() != url.origin()) {
      // The POSTs would go to a host nobody checked; the TypeScript SDK refuses this too.
      co_return Attempt{Step::fail, "mcp: sse: endpoint " + target->origin() + " is on another origin", {}};
    }
    McpSession session{wire::kTransportSse, *target, {}, std::string(wire::kLegacySseVersion), &reader, 1};
    const std::string version(kVersion);
    auto init = co_await call(state, session, "initialize",
                              wire::initialize_params(wire::kLegacySseVersion, kClientName, version));
    if (!init) co_return Attempt{Step::fail, init.error().message, {}};
    auto info = wire::parse_initialize_result(init->result, options_.introspection);
    if (!info) co_return Attempt{Step::fail, "mcp: initialize: " + info.error().message, {}};
    if (auto rest = co_await handshake_rest(state, session, *info); !rest) {
      co_return Attempt{Step::fail, rest.error().message, {}};
    }
    co_return Attempt{Step::success, {}, std::move(*info)};
  }

  asio::awaitable<Result<void>> introspect(std::shared_ptr<ProbeState> state, McpSession& session, McpInfo& info) {
    // A server without the tools capability would answer tools/list with
    // "Method not found": nothing to learn, and not a failure.
    if (!state->request.introspect || !info.capabilities.contains("tools")) co_return Result<void>{};
    std::optional<std::string> cursor;
    for (std::size_t page = 0; page < options_.max_tool_pages; ++page) {
      json::object params;
      if (cursor) params["cursor"] = *cursor;
      auto answer = co_await call(state, session, "tools/list", std::move(params));
      if (!answer) co_return answer.error();
      std::size_t room = options_.introspection.max_tools - std::min(options_.introspection.max_tools, info.tools.size());
      auto parsed = wire::parse_tools_list_result(answer->result, room, options_.introspection);
      if (!parsed) co_return failure("mcp: tools/list: " + parsed.error().message);
      for (auto& tool : parsed->tools) info.tools.push_back(std::move(tool));
      if (!parsed->next_cursor || info.tools.size() >= options_.introspection.max_tools) break;
      if (cursor && *cursor == *parsed->next_cursor) co_return failure("mcp: tools/list: nextCursor repeats");
      cursor = std::move(parsed->next_cursor);
    }
    co_return Result<void>{};
  }

  Headers session_headers(const McpSession& session, std::string_view method) const {
    if (session.transport == wire::kTransportModern) return modern_headers(method);
    Headers headers;
    if (session.transport == wire::kTransportStreamable) {
      if (!session.session_id.empty()) headers.emplace_back("Mcp-Session-Id", session.session_id);
      headers.emplace_back("MCP-Protocol-Version", session.protocol_version);
    }
    return headers;
  }

  // One request on an established session; any failure is the probe's error.
  asio::awaitable<Result<wire::RpcResponse>> call(std::shared_ptr<ProbeState> state, McpSession& session,
                                                  std::string method, json::object params) {
    const std::int64_t id = session.next_id++;
    const std::string where = "mcp: " + method + ": ";
    if (session.transport == wire::kTransportModern) {
      params = wire::modern_params(std::move(params), kClientName, std::string(kVersion));
    }
    std::string body = wire::make_request(id, method, std::move(params));
    if (session.stream) {
      // HTTP+SSE: the POST is accepted, the answer arrives on the stream.
      auto posted = co_await post_rpc(state, session.url, std::move(body), -1, {});
      if (!posted) co_return posted.error();
      if (posted->status != 202 && posted->status != 200) {
        co_return failure(where + "http status " + std::to_string(posted->status));
      }
      for (;;) {
        auto event = co_await next_event(state, *session.stream);
        if (!event) co_return event.error();
        if (!*event) co_return failure(where + "stream ended without a response");
        if ((*event)->type != "message") continue;
        auto scan = wire::scan_message((*event)->data, id);
        if (!scan) co_return failure(where + scan.error().message);
        if (scan->tools_list_changed) state->tools_list_changed = true;
        if (!scan->response) continue;
        if (scan->response->error) co_return failure(where + scan->response->error->to_string());
        co_return std::move(*scan->response);
      }
    }
    auto reply = co_await post_rpc(state, session.url, std::move(body), id, session_headers(session, method));
    if (!reply) co_return reply.error();
    if (reply->response && reply->response->error) co_return failure(where + reply->response->error->to_string());
    if (reply->status != 200) co_return failure(where + "http status " + std::to_string(reply->status));
    if (reply->wire_error) co_return failure(where + *reply->wire_error);
    co_return std::move(*reply->response);
  }

  asio::awaitable<Result<void>> notify(std::shared_ptr<ProbeState> state, McpSession& session, std::string method) {
    auto reply = co_await post_rpc(state, session.url, wire::make_notification(method), -1,
                                   session_headers(session, method));
    if (!reply) co_return reply.error();
    if (reply->status != 202 && reply->status != 200 && reply->status != 204) {
      co_return failure("mcp: " + method + ": http status " + std::to_string(reply->status));
    }
    co_return Result<void>{};
  }

  // POSTs one JSON-RPC message. id < 0: a notification, or an HTTP+SSE POST
  // whose answer comes on the stream; the body is drained, not parsed.
  asio::awaitable<Result<RpcReply>> post_rpc(std::shared_ptr<ProbeState> state, const Url& url, std::string body,
                                             std::int64_t id, Headers headers) {
    http::request<http::string_body> req{http::verb::post, url.target, 11};
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json, text/event-stream");
    for (auto& [name, value] : headers) req.set(name, value);
    req.body() = std::move(body);
    req.prepare_payload();
    auto ex = co_await send(state, url, std::move(req));
    if (!ex) co_return ex.error();
    RpcReply reply;
    reply.status = (*ex)->status();
    reply.media = (*ex)->media_type();
    reply.session_id = (*ex)->header("Mcp-Session-Id");
    if (id < 0) {
      auto drained = co_await discard_body(state, **ex, options_.max_body_bytes);
      if (!drained) co_return drained.error();
      release(std::move(*ex));
      co_return reply;
    }
    if (reply.media == "text/event-stream") {
      SseReader reader(std::move(*ex), options_.max_body_bytes);
      for (;;) {
        auto event = co_await next_event(state, reader);
        if (!event) co_return event.error();
        if (!*event) {
          reply.wire_error = "stream ended without a response to request id " + std::to_string(id);
          break;
        }
        if ((*event)->type != "message") continue;
        auto scan = wire::scan_message((*event)->data, id);
        if (!scan) {
          reply.wire_error = scan.error().message;
          break;
        }
        if (scan->tools_list_changed) state->tools_list_changed = true;
        if (scan->response) {
          reply.response = std::move(scan->response);
          break;
        }
      }
      // The stream may stay open after the answer: the connection goes with it.
      if (reader.exchange->parser.is_done()) release(std::move(reader.exchange));
      co_return reply;
    }
    auto text = co_await read_body(state, **ex, options_.max_body_bytes);
    if (!text) co_return text.error();
    release(std::move(*ex));
    if (reply.media == "application/json" || reply.status >= 400) {
      auto scan = wire::scan_message(*text, id);
      if (scan) {
        if (scan->tools_list_changed) state->tools_list_changed = true;
        reply.response = std::move(scan->response);
        if (!reply.response) reply.wire_error = "no response to request id " + std::to_string(id) + " in the body";
      } else {
        reply.wire_error = scan.error().message;
      }
    } else {
      reply.wire_error = "unexpected content type '" + reply.media + "'";
    }
    co_return reply;
  }

  // -------------------------------------------------------------------------
  // HTTP over pooled connections

  asio::awaitable<Result<std::unique_ptr<Exchange>>> send(std::shared_ptr<ProbeState> state, const Url& url,
                                                          http::request<http::string_body> req) {
    req.set(http::field::host, url.host_header());
    req.set(http::field::user_agent, options_.user_agent);
    req.keep_alive(true);
    for (int attempt = 0; attempt < 2; ++attempt) {
      auto conn = co_await connect(state, url, /*allow_reuse=*/attempt == 0);
      if (!conn) co_return conn.error();
      Connection& c = **conn;
      // A pooled connection the server closed while idle fails at once;
      // one retry on a fresh connection hides that race.
      const bool may_retry = c.reused && attempt == 0;
      c.lowest().expires_at(state->deadline);
      if (!state->first_send) state->first_send = SteadyClock::now();
      boost::system::error_code ec;
      if (c.tls) {
        std::tie(ec, std::ignore) = co_await http::async_write(*c.tls, req, use_tuple);
      } else {
        std::tie(ec, std::ignore) = co_await http::async_write(*c.tcp, req, use_tuple);
      }
      if (ec) {
        if (state->cancelled) co_return failure("cancelled");
        if (may_retry && ec != beast::error::timeout) continue;
        if (ec == beast::error::timeout) co_return failure(state->timeout_text("no response"));
        co_return failure("http: " + describe(ec));
      }
      auto ex = std::make_unique<Exchange>();
      ex->conn = std::move(*conn);
      ex->parser.header_limit(kHeaderLimit);
      ex->parser.body_limit(boost::none);  // read_some() enforces the caller's cap
      if (req.method() == http::verb::head) ex->parser.skip(true);
      if (c.tls) {
        std::tie(ec, std::ignore) = co_await http::async_read_header(*c.tls, c.buffer, ex->parser, use_tuple);
      } else {
        std::tie(ec, std::ignore) = co_await http::async_read_header(*c.tcp, c.buffer, ex->parser, use_tuple);
      }
      if (ec) {
        if (state->cancelled) co_return failure("cancelled");
        if (may_retry && (ec == http::error::end_of_stream || ec == asio::error::eof ||
                          ec == asio::error::connection_reset)) {
          continue;
        }
        if (ec == beast::error::timeout) co_return failure(state->timeout_text("no response"));
        if (ec == http::error::end_of_stream) co_return failure("http: connection closed before a response");
        co_return failure("http: " + describe(ec));
      }
      co_return ex;
    }
    co_return failure("http: connection closed before a response");
  }

  // The next piece of the body; empty when it is complete. More than `limit`
  // bytes in total is a failure: a server cannot make us read forever.
  asio::awaitable<Result<std::string_view>> read_some(std::shared_ptr<ProbeState> state, Exchange& ex,
                                                      std::size_t limit) {
    Connection& c = *ex.conn;
    while (!ex.parser.is_done()) {
      auto& body = ex.parser.get().body();
      body.data = ex.chunk.data();
      body.size = ex.chunk.size();
      c.lowest().expires_at(state->deadline);
      boost::system::error_code ec;
      if (c.tls) {
        std::tie(ec, std::ignore) = co_await http::async_read_some(*c.tls, c.buffer, ex.parser, use_tuple);
      } else {
        std::tie(ec, std::ignore) = co_await http::async_read_some(*c.tcp, c.buffer, ex.parser, use_tuple);
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        if (state->cancelled) co_return failure("cancelled");
        if (ec == beast::error::timeout) co_return failure(state->timeout_text("body not complete"));
        co_return failure("http: " + describe(ec));
      }
      std::size_t got = ex.chunk.size() - ex.parser.get().body().size;
      ex.consumed += got;
      if (ex.consumed > limit) co_return failure("http: body exceeds " + std::to_string(limit) + " bytes");
      if (got > 0) co_return std::string_view(ex.chunk.data(), got);
    }
    co_return std::string_view{};
  }

  asio::awaitable<Result<std::string>> read_body(std::shared_ptr<ProbeState> state, Exchange& ex, std::size_t limit) {
    std::string text;
    for (;;) {
      auto piece = co_await read_some(state, ex, limit);
      if (!piece) co_return piece.error();
      if (piece->empty()) co_return text;
      text.append(*piece);
    }
  }

  asio::awaitable<Result<void>> discard_body(std::shared_ptr<ProbeState> state, Exchange& ex, std::size_t limit) {
    for (;;) {
      auto piece = co_await read_some(state, ex, limit);
      if (!piece) co_return piece.error();
      if (piece->empty()) co_return Result<void>{};
    }
  }

  // The next SSE event, or nullopt when the stream ended.
  asio::awaitable<Result<std::optional<wire::SseEvent>>> next_event(std::shared_ptr<ProbeState> state,
                                                                    SseReader& reader) {
    for (;;) {
      if (!reader.pending.empty()) {
        wire::SseEvent event = std::move(reader.pending.front());
        reader.pending.pop_front();
        co_return std::optional<wire::SseEvent>(std::move(event));
      }
      auto piece = co_await read_some(state, *reader.exchange, options_.max_stream_bytes);
      if (!piece) co_return piece.error();
      if (piece->empty()) co_return std::optional<wire::SseEvent>{};
      auto status = reader.parser.feed(*piece, [&](wire::SseEvent&& event) {
        reader.pending.push_back(std::move(event));
        return true;
      });
      if (status == wire::SseParser::Status::too_large) {
        co_return failure("mcp: sse: event larger than " + std::to_string(options_.max_body_bytes) + " bytes");
      }
    }
  }

  // A connection to url's origin, with TLS done: an idle pooled one when
  // allowed, else a new one.
  asio::awaitable<Result<std::unique_ptr<Connection>>> connect(std::shared_ptr<ProbeState> state, const Url& url,
                                                               bool allow_reuse) {
    const std::string key = url.origin();
    if (allow_reuse) {
      if (auto pooled = take_idle(key)) {
        pooled->attach(state.get());
        pooled->reused = true;
        co_return pooled;
      }
    }
    auto opened = co_await open_socket(state, url);
    if (!opened) co_return opened.error();
    std::unique_ptr<Connection> conn = std::move(*opened);
    conn->key = key;
    if (!url.tls()) co_return conn;

    conn->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*conn->tcp), tls_);
    conn->tcp.reset();
    SSL* native = conn->tls->native_handle();
    boost::system::error_code ip_ec;
    asio::ip::make_address(url.host, ip_ec);
    if (ip_ec) {
      // SNI, and the name the certificate must carry.
      // SSL_set_tlsext_host_name is a macro with a C cast; this is what it expands to.
      SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(url.host.c_str()));
      SSL_set1_host(native, url.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(native), url.host.c_str());
    }
    conn->lowest().expires_at(state->deadline);
    auto [ec] = co_await conn->tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (ec) {
      if (state->cancelled) co_return failure("cancelled");
      long verify = SSL_get_verify_result(native);
      if (verify != X509_V_OK) {
        co_return failure(std::string("tls: certificate verify failed: ") + X509_verify_cert_error_string(verify));
      }
      if (ec == beast::error::timeout) co_return failure(state->timeout_text("no TLS handshake"));
      co_return failure("tls: handshake failed: " + describe(ec));
    }
    co_return conn;
  }

  // Resolve, check every address against the policy, connect to the first
  // permitted one that answers. Holds one budget slot on success.
  asio::awaitable<Result<std::unique_ptr<Connection>>> open_socket(std::shared_ptr<ProbeState> state, const Url& url) {
    if (state->cancelled) co_return failure("cancelled");
    if (SteadyClock::now() >= state->deadline) co_return failure(state->timeout_text("no response"));
    auto endpoints = co_await resolve(state, url);
    if (!endpoints) co_return endpoints.error();
    std::vector<tcp::endpoint> permitted;
    std::string refusal;
    for (const tcp::endpoint& endpoint : *endpoints) {
      std::string why = options_.address_policy.refusal(endpoint.address());
      if (why.empty()) {
        permitted.push_back(endpoint);
      } else if (refusal.empty()) {
        refusal = std::move(why);
      }
    }
    if (permitted.empty()) co_return failure("blocked: " + refusal + std::string(kAllowHint));

    auto slot = co_await acquire_slot(state);
    if (!slot) co_return slot.error();
    auto conn = std::make_unique<Connection>(budget_);  // owns the slot from here
    conn->attach(state.get());
    boost::system::error_code last;
    for (const tcp::endpoint& endpoint : permitted) {
      conn->tcp = std::make_unique<beast::tcp_stream>(strand_);
      conn->tcp->expires_at(state->deadline);
      auto [ec] = co_await conn->tcp->async_connect(endpoint, use_tuple);
      if (!ec) {
        conn->tcp->socket().set_option(tcp::no_delay(true), ec);
        co_return conn;
      }
      if (state->cancelled) co_return failure("cancelled");
      last = ec;
      if (ec == beast::error::timeout) co_return failure(state->timeout_text("no connection"));
    }
    co_return failure("connect: " + describe(last));
  }

  asio::awaitable<Result<void>> acquire_slot(std::shared_ptr<ProbeState> state) {
    if (budget_->try_acquire()) co_return Result<void>{};
    // Full: an idle connection is worth less than a probe that needs one.
    if (evict_one_idle() && budget_->try_acquire()) co_return Result<void>{};
    auto waiter = std::make_shared<ConnectionBudget::Waiter>(strand_);
    waiter->timer.expires_at(state->deadline);
    budget_->enqueue(waiter);
    state->waiter = waiter;
    co_await waiter->timer.async_wait(use_tuple);
    state->waiter.reset();
    if (waiter->granted) co_return Result<void>{};
    waiter->done = true;
    if (state->cancelled) co_return failure("cancelled");
    co_return failure(state->timeout_text("no free connection (max_concurrent_connections)"));
  }

  asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(std::shared_ptr<ProbeState> state, const Url& url) {
    boost::system::error_code ec;
    auto literal = asio::ip::make_address(url.host, ec);
    if (!ec) co_return std::vector<tcp::endpoint>{tcp::endpoint(literal, url.port)};

    auto resolver = std::make_shared<tcp::resolver>(strand_);
    state->resolver = resolver;
    auto timer = std::make_shared<asio::steady_timer>(strand_);
    auto dns_deadline = std::min(SteadyClock::now() + options_.dns_timeout, state->deadline);
    timer->expires_at(dns_deadline);
    auto timed_out = std::make_shared<bool>(false);
    // The handler owns what it touches: it may run after this frame is gone.
    timer->async_wait([resolver, timed_out](boost::system::error_code wait_ec) {
      if (!wait_ec) {
        *timed_out = true;
        resolver->cancel();
      }
    });
    auto [rec, results] = co_await resolver->async_resolve(url.host, std::to_string(url.port), use_tuple);
    timer->cancel();
    state->resolver.reset();
    if (state->cancelled) co_return failure("cancelled");
    if (*timed_out) {
      if (dns_deadline >= state->deadline) co_return failure(state->timeout_text("no response"));
      co_return failure("dns: no answer within " + format_duration(options_.dns_timeout) + " for " + url.host);
    }
    if (rec == asio::error::host_not_found || rec == asio::error::host_not_found_try_again ||
        rec == asio::error::no_data) {
      co_return failure("dns: host not found: " + url.host);
    }
    if (rec) co_return failure("dns: " + describe(rec) + ": " + url.host);
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : results) {
      if (endpoints.size() >= kMaxEndpoints) break;
      endpoints.push_back(entry.endpoint());
    }
    if (endpoints.empty()) co_return failure("dns: host not found: " + url.host);
    co_return endpoints;
  }

  // -------------------------------------------------------------------------
  // The idle pool

  void release(std::unique_ptr<Exchange> ex) {
    if (!ex || !ex->conn) return;
    // Only a fully read response on a persistent connection with nothing
    // unread behind it leaves the connection in a known state.
    if (!ex->parser.is_done() || !ex->parser.get().keep_alive() || ex->conn->buffer.size() != 0 || shut_down_) {
      return;
    }
    std::unique_ptr<Connection> conn = std::move(ex->conn);
    conn->detach();
    conn->reused = false;
    conn->idle_since = SteadyClock::now();
    auto& list = idle_[conn->key];
    if (list.size() >= options_.idle_connections_per_host || options_.idle_connections_per_host == 0) return;
    if (idle_count_ >= options_.max_idle_connections) {
      if (!evict_one_idle()) return;
    }
    list.push_back(std::move(conn));
    ++idle_count_;
  }

  std::unique_ptr<Connection> take_idle(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end()) return nullptr;
    auto now = SteadyClock::now();
    std::unique_ptr<Connection> found;
    while (!it->second.empty() && !found) {
      std::unique_ptr<Connection> conn = std::move(it->second.back());
      it->second.pop_back();
      --idle_count_;
      // Servers close idle connections after a few seconds (Node: 5 s); one
      // idle longer than idle_timeout is likely dead already.
      if (now - conn->idle_since < options_.idle_timeout) found = std::move(conn);
    }
    if (it->second.empty()) idle_.erase(it);
    return found;
  }

  bool evict_one_idle() {
    auto oldest = idle_.end();
    for (auto it = idle_.begin(); it != idle_.end(); ++it) {
      if (it->second.empty()) continue;
      if (oldest == idle_.end() || it->second.front()->idle_since < oldest->second.front()->idle_since) oldest = it;
    }
    if (oldest == idle_.end()) return false;
    oldest->second.pop_front();
    --idle_count_;
    if (oldest->second.empty()) idle_.erase(oldest);
    return true;
  }

  Executor strand_;
  NetworkProberOptions options_;
  ssl::context tls_;
  std::shared_ptr<ConnectionBudget> budget_;
  std::unordered_map<std::string, std::deque<std::unique_ptr<Connection>>> idle_;
  std::size_t idle_count_ = 0;
  std::set<std::shared_ptr<ProbeState>> in_flight_;
  bool shut_down_ = false;
};

class NetworkProber final : public Prober {
 public:
  explicit NetworkProber(std::shared_ptr<Core> core) : core_(std::move(core)) {}
  ~NetworkProber() override { core_->shutdown(); }
  NetworkProber(const NetworkProber&) = delete;
  NetworkProber& operator=(const NetworkProber&) = delete;

  void probe(ProbeRequest request, std::function<void(ProbeResult)> done) override {
    core_->probe(std::move(request), std::move(done));
  }
  void shutdown() override { core_->shutdown(); }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<Prober> make_network_prober(asio::any_io_executor executor, NetworkProberOptions options) {
  return std::make_unique<NetworkProber>(std::make_shared<Core>(std::move(executor), std::move(options)));
}

}  // namespace discovery::health
