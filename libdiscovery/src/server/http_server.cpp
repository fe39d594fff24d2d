// The Beast shell: listener, HTTP sessions (plain and TLS), long-polls and
// SSE streams. Knows nothing of records: every request goes to Api.
#include <discovery/server.hpp>

#include "api.hpp"
#include "hub.hpp"
#include "log.hpp"
#include "metrics.hpp"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

namespace discovery {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using server::Api;
using server::ApiRequest;
using server::ApiResponse;
using server::Route;

namespace {

constexpr auto kWriteTimeout = std::chrono::seconds{30};
// What the first read of a request asks for; the parser reads on from there.
constexpr std::size_t kFirstRead = 4096;

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  auto bits = rng();
  for (auto& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

// A client's X-Request-Id is kept when it is short and plain; else ours.
std::string request_id_from(std::string_view given) {
  if (given.empty() || given.size() > 64) return new_request_id();
  for (char c : given)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return new_request_id();
  return std::string(given);
}

}  // namespace

namespace server {
// Everything a running server holds; sessions borrow it.
struct ServerCore {
  ServerCore(Registry& r, const JwtVerifier& v, ServerOptions o)
      : registry(r),
        options(std::move(o)),
        logger(options.log_level, options.log_sink),
        api(r, v, options, metrics, logger),
        hub(r, api.authorizer()),
        writers(options.write_threads == 0 ? 1 : options.write_threads),
        ioc(static_cast<int>(io_thread_count())),
        acceptor(net::make_strand(ioc)) {}

  unsigned io_thread_count() const {
    return options.io_threads ? options.io_threads : std::max(1u, std::thread::hardware_concurrency());
  }

  Registry& registry;
  ServerOptions options;
  server::Logger logger;
  server::Metrics metrics;
  Api api;
  server::Hub hub;
  net::thread_pool writers;
  std::optional<ssl::context> tls;
  std::atomic<std::int64_t> in_flight{0};
  // Requests started with Api::start_async() whose outcome has not yet
  // reached its io thread; stop() waits for none before stopping the io threads.
  std::atomic<std::int64_t> pending_async{0};
  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  bool stopped = false;
  std::uint16_t bound_port = 0;
  std::vector<std::thread> threads;
  // Outcomes of asynchronous requests on their way to the io threads. The
  // storage's writer thread answers a whole commit group in a row: the first
  // outcome posts one drain and the others ride along, so an io thread is
  // woken once per group rather than once per request. Declared after every
  // part a session uses, so that a session still queued here goes first.
  std::mutex handoff_mutex;
  std::vector<std::function<void()>> handoff;  // guarded by handoff_mutex
  bool handoff_posted = false;                 // guarded by handoff_mutex
  // Declared last so it is destroyed first: pending handlers (and the
  // sessions they own) go before the parts they use.
  net::io_context ioc;
  // Keeps the io threads running while the acceptor is closed and requests
  // are still with the writer pool during a drain; released by stop().
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  tcp::acceptor acceptor;

  // Runs `task` on an io thread (which then dispatches to the session's strand).
  void hand_to_io(std::function<void()> task) {
    {
      std::lock_guard lock(handoff_mutex);
      handoff.push_back(std::move(task));
      if (handoff_posted) return;
      handoff_posted = true;
    }
    net::post(ioc, [this] { drain_handoff(); });
  }
  void drain_handoff() {
    std::vector<std::function<void()>> batch;
    {
      std::lock_guard lock(handoff_mutex);
      batch.swap(handoff);
      handoff_posted = false;
    }
    for (auto& task : batch) task();
  }

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void refuse(tcp::socket socket);
};
}  // namespace server

struct Server::Impl : server::ServerCore {
  using ServerCore::ServerCore;
};

namespace {

// The common part of plain and TLS sessions (CRTP, as in Beast's
// advanced_server_flex example): read a request, hand it to Api, write the
// answer, or carry out a long-poll or a watch.
template <class Derived>
class HttpSession {
 public:
  explicit HttpSession(server::ServerCore& server) : server_(server) { ++server_.metrics.connections; }
  ~HttpSession() {
    --server_.metrics.connections;
    if (watcher_id_) server_.hub.remove_watcher(watcher_id_);
    if (watching_) --server_.metrics.watchers;
  }

 protected:
  Derived& derived() { return static_cast<Derived&>(*this); }
  auto& lowest() { return beast::get_lowest_layer(derived().stream()); }

  // A connection may sit idle for idle_timeout between requests; once a
  // request's first byte arrives, the whole request (headers and body) must
  // arrive within read_timeout. So a client that dribbles a request (a
  // slowloris) is cut off after read_timeout, not after the idle allowance.
  void do_read() {
    if (server_.stopping) return derived().do_close();
    parser_.emplace();
    parser_->body_limit(server_.options.max_body_bytes);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header_bytes));
    if (buffer_.size() > 0) return read_request();  // a pipelined request has begun
    lowest().expires_after(server_.options.idle_timeout);
    derived().stream().async_read_some(buffer_.prepare(kFirstRead),
                                       [self = derived().shared_from_this()](beast::error_code ec, std::size_t n) {
                                         self->buffer_.commit(n);
                                         if (ec) return self->on_read_error(ec);
                                         self->read_request();
                                       });
  }

  void read_request() {
    lowest().expires_after(server_.options.read_timeout);
    http::async_read_header(derived().stream(), buffer_, *parser_,
                            [self = derived().shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    http::async_read(derived().stream(), buffer_, *parser_,
                     [self = derived().shared_from_this()](beast::error_code e, std::size_t) { self->on_read(e); });
  }

  void on_read_error(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset)
      return derived().do_close();
    keep_alive_ = false;
    started_ = std::chrono::steady_clock::now();
    request_id_ = new_request_id();
    route_ = Route::unknown;
    ++server_.in_flight;
    if (ec == http::error::body_limit) {
      // The headers were read: the refusal of a mutating request is audited.
      const auto& req = parser_->get();
      ApiRequest request;
      request.method = req.method();
      request.target = req.target();
      request.request_id = request_id_ = request_id_from(req["X-Request-Id"]);
      // The audit write waits for storage: it runs on the writer pool, and
      // the refusal is answered once it is durable, like any other.
      net::post(server_.writers, [self = derived().shared_from_this(), method = request.method,
                                  target = std::string(request.target)] {
        ApiRequest refused;
        refused.method = method;
        refused.target = target;
        refused.request_id = self->request_id_;
        self->server_.api.audit_refusal(refused, Principal{}, "payload_too_large");
        net::post(self->derived().stream().get_executor(), [self] {
          self->send(Api::error_response(Error{ErrorCode::payload_too_large,
                                               "request body larger than " +
                                                   std::to_string(self->server_.options.max_body_bytes) + " bytes",
                                               {}}));
        });
      });
      return;
    }
    if (ec == http::error::header_limit)
      return send(Api::error_response(Error{ErrorCode::request_header_too_large,
                                            "request headers larger than " + std::to_string(server_.options.max_header_bytes) + " bytes", {}}));
    send(Api::error_response(invalid_argument("", "malformed HTTP request (" + ec.message() + ")")));
  }

  void on_read(beast::error_code ec) {
    if (ec) return on_read_error(ec);
    started_ = std::chrono::steady_clock::now();
    ++server_.in_flight;
    const auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    request_id_ = request_id_from(req["X-Request-Id"]);
    ApiRequest request;
    request.method = head_ ? http::verb::get : req.method();
    request.target = req.target();
    request.body = req.body();
    request.content_type = req[http::field::content_type];
    request.authorization = req[http::field::authorization];
    request.last_event_id = req["Last-Event-ID"];
    request.request_id = request_id_;

    if (request.method == http::verb::post && start_async(request)) return;
    if (Api::may_block(request.method, request.target)) {
      // What needs no storage after all (a routine heartbeat) is answered
      // here, sparing two thread hand-offs.
      if (auto result = try_without_storage(request)) return dispatch(std::move(*result));
      // Storage work runs off the io threads, so that concurrent writers
      // share commits and other requests are never held up.
      net::post(server_.writers, [self = derived().shared_from_this(), request]() mutable {
        const auto start = std::chrono::steady_clock::now();
        auto result = self->handle_safely(request);
        if (request.method != http::verb::get)
          self->server_.metrics.observe_storage_write(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        net::post(self->derived().stream().get_executor(),
                  [self, result = std::move(result)]() mutable { self->dispatch(std::move(result)); });
      });
      return;
    }
    dispatch(handle_safely(request));
  }

  std::optional<server::ApiResult> try_without_storage(ApiRequest& request) {
    try {
      return server_.api.try_without_storage(request);
    } catch (...) {
      return std::nullopt;  // handle_safely() will meet the failure again, and answer it
    }
  }

  // A registration waits for its durable commit with no thread held: the
  // storage's writer thread hands the outcome back to this session's io
  // thread, which builds the answer. Refusals are audited on the writer pool
  // first, as on the blocking path. False: not such a request.
  bool start_async(const ApiRequest& request) {
    const auto start = std::chrono::steady_clock::now();
    ++server_.pending_async;
    bool started = false;
    try {
      started = server_.api.start_async(
          request, [self = derived().shared_from_this(), start](server::AsyncOutcome outcome) mutable {
            auto& core = self->server_;
            core.metrics.observe_storage_write(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
            // The session moves along with the outcome: this callback may
            // outlive the server once the io thread has answered.
            core.hand_to_io([self = std::move(self), outcome = std::move(outcome)]() mutable {
              auto executor = self->derived().stream().get_executor();
              // On an io thread, outside the session's strand: dispatch runs
              // it here and now unless the strand is busy.
              net::dispatch(executor, [self = std::move(self), outcome = std::move(outcome)]() mutable {
                --self->server_.pending_async;
                self->on_async_outcome(std::move(outcome));
              });
            });
          });
    } catch (const std::exception& e) {
      // Thrown before anything was started: the blocking path takes it.
      server_.logger.log(LogLevel::warn, "async request start failed", {{"error", e.what()}, {"request_id", request_id_}});
    }
    if (!started) --server_.pending_async;
    return started;
  }

  void on_async_outcome(server::AsyncOutcome outcome) {
    if (!outcome.audit) return dispatch(answer_safely(outcome));
    net::post(server_.writers, [self = derived().shared_from_this(), outcome = std::move(outcome)]() mutable {
      try {
        outcome.audit();
      } catch (const std::exception& e) {
        self->server_.logger.log(LogLevel::warn, "audit write failed", {{"error", e.what()}});
      }
      net::post(self->derived().stream().get_executor(), [self, outcome = std::move(outcome)]() mutable {
        self->dispatch(self->answer_safely(outcome));
      });
    });
  }

  server::ApiResult answer_safely(server::AsyncOutcome& outcome) {
    try {
      return outcome.answer();
    } catch (const std::exception& e) {
      server_.logger.log(LogLevel::error, "request failed", {{"error", e.what()}, {"request_id", request_id_}});
    }
    return {Route::unknown, Api::error_response(internal_error("internal error; see the daemon's log"))};
  }

  // A failure nobody expected (out of memory, a bug) answers 500 and is
  // logged; it must not take the daemon down.
  server::ApiResult handle_safely(const ApiRequest& request) {
    try {
      return server_.api.handle(request);
    } catch (const std::exception& e) {
      server_.logger.log(LogLevel::error, "request failed", {{"error", e.what()}, {"request_id", request_id_}});
    } catch (...) {
      server_.logger.log(LogLevel::error, "request failed", {{"request_id", request_id_}});
    }
    return {Route::unknown, Api::error_response(internal_error("internal error; see the daemon's log"))};
  }

  void dispatch(server::ApiResult result) {
    route_ = result.route;
    if (auto* response = std::get_if<ApiResponse>(&result.outcome)) return send(std::move(*response));
    if (head_) {
      // HEAD never waits or streams: the headers of the answer, no body.
      if (auto* wait = std::get_if<server::DiscoverWait>(&result.outcome)) return send(server_.api.answer_discover(*wait));
      ApiResponse r;
      r.content_type = "text/event-stream";
      return send(std::move(r));
    }
    if (auto* wait = std::get_if<server::DiscoverWait>(&result.outcome)) return start_wait(std::move(*wait));
    start_watch(std::move(std::get<server::WatchStart>(result.outcome)));
  }

  void send(ApiResponse r) {
    if (r.shared_body) {
      // Shared bytes (a cached answer) go out as they are, kept alive by
      // the write's handler.
      auto owner = std::move(r.shared_body);
      auto res = std::make_shared<http::response<http::span_body<const char>>>(static_cast<http::status>(r.status),
                                                                               version_);
      res->body() = {owner->data(), owner->size()};
      set_headers(*res, r);
      if (head_) res->body() = {};  // HEAD: the GET's headers, Content-Length included, no body
      return write_response(std::move(res), std::move(owner));
    }
    auto res = std::make_shared<http::response<http::string_body>>(static_cast<http::status>(r.status), version_);
    res->body() = std::move(r.body);
    set_headers(*res, r);
    if (head_) res->body().clear();
    write_response(std::move(res), nullptr);
  }

  template <class Body>
  void set_headers(http::response<Body>& res, const ApiResponse& r) {
    res.set(http::field::server, "discoveryd");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    res.set("X-Request-Id", request_id_);
    for (const auto& [name, value] : r.headers) res.set(name, value);
    res.keep_alive(keep_alive_ && !server_.stopping);
    res.prepare_payload();
  }

  template <class Body>
  void write_response(std::shared_ptr<http::response<Body>> res, std::shared_ptr<const void> keep) {
    lowest().expires_after(kWriteTimeout);
    http::async_write(derived().stream(), *res,
                      [self = derived().shared_from_this(), res, keep = std::move(keep)](beast::error_code ec, std::size_t) {
                        self->on_write(ec, res->keep_alive(), res->result_int());
                      });
  }

  void on_write(beast::error_code ec, bool keep_alive, unsigned status) {
    finish_request(status);
    if (ec) return derived().do_close();
    if (!keep_alive) return derived().do_eof();
    do_read();
  }

  void finish_request(unsigned status) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_.metrics.observe_request(route_, status, seconds);
    --server_.in_flight;
    if (server_.logger.enabled(LogLevel::debug)) {
      const auto& req = parser_->get();
      const std::string target(req.target().substr(0, 512));
      server_.logger.log(LogLevel::debug, "request",
                         {{"method", std::string_view(req.method_string())},
                          {"target", target},
                          {"status", std::to_string(status)},
                          {"ms", std::to_string(seconds * 1000)},
                          {"request_id", request_id_}});
    }
  }

  // ---- long-poll ----
  class WaitWaker : public server::Waiter {
   public:
    WaitWaker(std::shared_ptr<Derived> session, std::uint64_t generation)
        : session_(std::move(session)), generation_(generation) {}
    void wake() override {
      auto session = session_;
      net::post(session->derived().stream().get_executor(),
                [session, generation = generation_] { session->finish_wait(generation); });
    }

   private:
    std::shared_ptr<Derived> session_;
    std::uint64_t generation_;  // which long-poll of the connection it wakes
  };

  void start_wait(server::DiscoverWait wait) {
    wait_ = std::move(wait);
    ++server_.metrics.long_polls;
    lowest().expires_never();
    timer_.emplace(derived().stream().get_executor());
    timer_->expires_after(wait_->wait);
    const auto generation = ++wait_generation_;
    timer_->async_wait([self = derived().shared_from_this(), generation](beast::error_code ec) {
      if (ec != net::error::operation_aborted) self->finish_wait(generation);
    });
    waiter_id_ = server_.hub.add_waiter(
        wait_->index, std::make_shared<WaitWaker>(derived().shared_from_this(), generation));
  }

  void finish_wait(std::uint64_t generation) {
    // Already answered, or a late wake-up of an earlier long-poll on this
    // keep-alive connection.
    if (!wait_ || generation != wait_generation_) return;
    auto wait = std::move(*wait_);
    wait_.reset();
    --server_.metrics.long_polls;
    timer_->cancel();
    if (waiter_id_) server_.hub.remove_waiter(waiter_id_);
    waiter_id_ = 0;
    send(server_.api.answer_discover(wait));
  }

  // ---- SSE watch ----
  class Sink : public server::WatchSink {
   public:
    Sink(std::shared_ptr<Derived> session, server::WatchStart watch)
        : session_(std::move(session)), watch_(std::move(watch)) {}
    const server::WatchStart& watch() const override { return watch_; }
    void push(std::uint64_t index, std::shared_ptr<const std::string> frame) override {
      auto session = session_.lock();
      if (!session) return;
      net::post(session->derived().stream().get_executor(),
                [session, index, frame = std::move(frame)]() mutable { session->enqueue(index, std::move(frame)); });
    }
    void close() override {
      auto session = session_.lock();
      if (!session) return;
      net::post(session->derived().stream().get_executor(), [session] { session->end_watch(); });
    }

   private:
    std::weak_ptr<Derived> session_;
    server::WatchStart watch_;
  };

  void start_watch(server::WatchStart watch) {
    if (static_cast<std::size_t>(server_.metrics.watchers.load()) >= server_.options.max_watchers)
      return send(Api::error_response(Error{ErrorCode::unavailable, "too many watchers; try again later", {}}));
    watching_ = true;
    ++server_.metrics.watchers;
    --server_.in_flight;  // a stream is not a request to wait for when draining
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    server_.metrics.observe_request(route_, 200, seconds);

    auto res = std::make_shared<http::response<http::empty_body>>(http::status::ok, version_);
    res->set(http::field::server, "discoveryd");
    res->set(http::field::content_type, "text/event-stream");
    res->set(http::field::cache_control, "no-cache");
    res->set("X-Request-Id", request_id_);
    res->keep_alive(false);  // the stream ends with the connection
    auto serializer = std::make_shared<http::response_serializer<http::empty_body>>(*res);
    lowest().expires_never();
    http::async_write_header(derived().stream(), *serializer,
                             [self = derived().shared_from_this(), res, serializer](beast::error_code ec, std::size_t) {
                               if (ec) return self->derived().do_close();
                               self->on_watch_started();
                             });
    watch_ = std::move(watch);
  }

  void on_watch_started() {
    // Register first, then replay, all on this strand: changes the hub hands
    // over meanwhile queue behind this handler and are filtered by index.
    auto sink = std::make_shared<Sink>(derived().shared_from_this(), *watch_);
    watcher_id_ = server_.hub.add_watcher(sink);
    if (watch_->resume_after) {
      // A resume point beyond the registry's index (a restarted daemon that
      // kept nothing) is treated like one too old: resynchronise.
      auto replay = *watch_->resume_after <= server_.registry.index()
                        ? server_.registry.events_since(*watch_->resume_after)
                        : std::nullopt;
      if (replay) {
        for (const auto& event : *replay) {
          if (watch_ended_) return;
          if (Api::watch_matches(*watch_, event))
            enqueue(event.index, std::make_shared<const std::string>(server_.api.watch_frame(watch_->principal, event)),
                    /*catch_up=*/true);
        }
        last_index_ = std::max(last_index_, replay->empty() ? *watch_->resume_after : replay->back().index);
      } else {
        // Older than what is retained: resynchronise with every current match.
        std::uint64_t index = 0;
        for (auto& frame : server_.api.watch_snapshot(*watch_, index))
          enqueue(0, std::make_shared<const std::string>(std::move(frame)), /*catch_up=*/true);
        last_index_ = std::max(last_index_, index);
      }
    } else {
      last_index_ = server_.registry.index();
    }
    if (watch_ended_) return;
    // Comment lines keep proxies from closing an idle stream.
    schedule_keepalive();
    // Reading tells us when the client goes away.
    derived().stream().async_read_some(net::buffer(discard_),
                                       [self = derived().shared_from_this()](beast::error_code ec, std::size_t) {
                                         self->on_watch_read(ec);
                                       });
  }

  void on_watch_read(beast::error_code ec) {
    if (ec) return end_watch();
    derived().stream().async_read_some(net::buffer(discard_),
                                       [self = derived().shared_from_this()](beast::error_code e, std::size_t) {
                                         self->on_watch_read(e);
                                       });
  }

  void schedule_keepalive() {
    if (!timer_) timer_.emplace(derived().stream().get_executor());
    timer_->expires_after(server_.options.keepalive_interval);
    timer_->async_wait([self = derived().shared_from_this()](beast::error_code ec) {
      if (ec || self->watch_ended_) return;
      static const auto keep_alive = std::make_shared<const std::string>(": keep-alive\n\n");
      self->enqueue(0, keep_alive);
      self->schedule_keepalive();
    });
  }

  // index 0: not a change (keep-alive, snapshot), always sent. Frames are
  // shared with every other watcher of the change, never copied. The catch-up
  // of a resumed stream (replay or snapshot) is exempt from the queue bound:
  // it is bounded by what the registry retains, and dropping it would make
  // the client reconnect into the same catch-up forever.
  void enqueue(std::uint64_t index, std::shared_ptr<const std::string> frame, bool catch_up = false) {
    if (watch_ended_) return;
    if (index != 0) {
      if (index <= last_index_) return;
      last_index_ = index;
    }
    queued_bytes_ += frame->size();
    if (!catch_up && queued_bytes_ > server_.options.watch_queue_bytes) {
      // A consumer this far behind is dropped, so it cannot stall the others
      // or hold memory; it reconnects with Last-Event-ID.
      ++server_.metrics.watchers_dropped;
      server_.logger.log(LogLevel::info, "watcher dropped: too far behind", {{"request_id", request_id_}});
      return end_watch();
    }
    outbox_.push_back(std::move(frame));
    if (!writing_) write_next();
  }

  void write_next() {
    if (outbox_.empty() || watch_ended_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    // Everything queued goes out in one gathered write.
    in_write_.assign(std::make_move_iterator(outbox_.begin()), std::make_move_iterator(outbox_.end()));
    outbox_.clear();
    buffers_.clear();
    for (const auto& frame : in_write_) buffers_.emplace_back(frame->data(), frame->size());
    net::async_write(derived().stream(), buffers_,
                     [self = derived().shared_from_this()](beast::error_code ec, std::size_t n) {
                       self->queued_bytes_ -= std::min(self->queued_bytes_, n);
                       self->in_write_.clear();
                       if (ec) return self->end_watch();
                       self->write_next();
                     });
  }

  void end_watch() {
    if (watch_ended_) return;
    watch_ended_ = true;
    if (watcher_id_) server_.hub.remove_watcher(watcher_id_);
    watcher_id_ = 0;
    if (timer_) timer_->cancel();
    derived().do_close();
  }

  server::ServerCore& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = true;
  bool head_ = false;
  unsigned version_ = 11;
  std::string request_id_;
  Route route_ = Route::unknown;
  std::chrono::steady_clock::time_point started_;
  std::optional<net::steady_timer> timer_;
  std::optional<server::DiscoverWait> wait_;
  std::uint64_t waiter_id_ = 0;
  std::uint64_t wait_generation_ = 0;
  std::optional<server::WatchStart> watch_;
  std::uint64_t watcher_id_ = 0;
  bool watching_ = false;
  bool watch_ended_ = false;
  bool writing_ = false;
  std::uint64_t last_index_ = 0;
  std::size_t queued_bytes_ = 0;
  std::deque<std::shared_ptr<const std::string>> outbox_;
  std::vector<std::shared_ptr<const std::string>> in_write_;  // kept alive while written
  std::vector<net::const_buffer> buffers_;
  std::array<char, 512> discard_{};
};

class PlainSession : public HttpSession<PlainSession>, public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(server::ServerCore& server, tcp::socket&& socket)
      : HttpSession<PlainSession>(server), stream_(std::move(socket)) {}
  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }
  beast::tcp_stream& stream() { return stream_; }
  void do_eof() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }
  void do_close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  friend class HttpSession<PlainSession>;
  beast::tcp_stream stream_;
};

class TlsSession : public HttpSession<TlsSession>, public std::enable_shared_from_this<TlsSession> {
 public:
  TlsSession(server::ServerCore& server, tcp::socket&& socket, ssl::context& context)
      : HttpSession<TlsSession>(server), stream_(std::move(socket), context) {}
  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      beast::get_lowest_layer(self->stream_).expires_after(self->server_.options.read_timeout);
      self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
        if (ec) return self->do_close();
        self->do_read();
      });
    });
  }
  beast::ssl_stream<beast::tcp_stream>& stream() { return stream_; }
  void do_eof() {
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds{5});
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) { self->do_close(); });
  }
  void do_close() {
    beast::error_code ec;
    beast::get_lowest_layer(stream_).socket().shutdown(tcp::socket::shutdown_both, ec);
    beast::get_lowest_layer(stream_).close();
  }

 private:
  friend class HttpSession<TlsSession>;
  beast::ssl_stream<beast::tcp_stream> stream_;
};

}  // namespace

void server::ServerCore::accept() {
  acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
    on_accept(ec, std::move(socket));
  });
}

void server::ServerCore::refuse(tcp::socket socket) {
  ++metrics.connections_refused;
  static const std::string body =
      R"({"error":{"code":"unavailable","message":"too many connections; try again later"}})";
  auto response = std::make_shared<std::string>(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nX-Request-Id: " +
      new_request_id() + "\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body);
  auto sock = std::make_shared<tcp::socket>(std::move(socket));
  net::async_write(*sock, net::buffer(*response), [sock, response](beast::error_code, std::size_t) {
    beast::error_code ignored;
    sock->shutdown(tcp::socket::shutdown_both, ignored);
  });
}

void server::ServerCore::on_accept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
  if (ec) {
    logger.log(LogLevel::warn, "accept failed", {{"error", ec.message()}});
    if (ec == net::error::no_descriptors) {
      // Out of file descriptors: back off briefly instead of spinning.
      auto timer = std::make_shared<net::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds{50});
      timer->async_wait([this, timer](beast::error_code) { accept(); });
      return;
    }
    return accept();
  }
  if (stopping) return;
  // Answers go out in one gathered write each: nothing is gained by
  // holding back a short last segment for a delayed ACK of the one before.
  beast::error_code nodelay_ec;
  socket.set_option(tcp::no_delay(true), nodelay_ec);
  if (static_cast<std::size_t>(metrics.connections.load()) >= options.max_connections) {
    refuse(std::move(socket));
  } else if (tls) {
    std::make_shared<TlsSession>(*this, std::move(socket), *tls)->run();
  } else {
    std::make_shared<PlainSession>(*this, std::move(socket))->run();
  }
  accept();
}

Result<std::unique_ptr<Server>> Server::start(Registry& registry, const JwtVerifier& verifier,
                                              ServerOptions options) {
  auto impl = std::make_shared<Impl>(registry, verifier, std::move(options));
  auto& o = impl->options;
  if (o.tls_cert_file.empty() != o.tls_key_file.empty())
    return invalid_argument("tls", "--tls-cert and --tls-key go together");
  if (!o.tls_cert_file.empty()) {
    impl->tls.emplace(ssl::context::tls_server);
    auto& ctx = *impl->tls;
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    boost::system::error_code ec;
    ctx.use_certificate_chain_file(o.tls_cert_file, ec);
    if (ec) return invalid_argument("tls-cert", "cannot load " + o.tls_cert_file + ": " + ec.message());
    ctx.use_private_key_file(o.tls_key_file, ssl::context::pem, ec);
    if (ec) return invalid_argument("tls-key", "cannot load " + o.tls_key_file + ": " + ec.message());
  }

  boost::system::error_code ec;
  const auto address = net::ip::make_address(o.host, ec);
  if (ec) return invalid_argument("listen", "'" + o.host + "' is not an IP address");
  const tcp::endpoint endpoint{address, o.port};
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return unavailable("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " + ec.message());
  impl->bound_port = impl->acceptor.local_endpoint().port();

  impl->work.emplace(impl->ioc.get_executor());
  impl->accept();
  const unsigned n = impl->io_thread_count();
  for (unsigned i = 0; i < n; ++i) impl->threads.emplace_back([raw = impl.get()] { raw->ioc.run(); });
  impl->logger.log(LogLevel::info, "listening",
                   {{"address", o.host + ":" + std::to_string(impl->bound_port)},
                    {"tls", impl->tls ? "on" : "off"},
                    {"io_threads", std::to_string(n)}});
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

std::uint16_t Server::port() const { return impl_->bound_port; }

std::string Server::url() const {
  const bool v6 = impl_->options.host.find(':') != std::string::npos;
  return std::string(impl_->tls ? "https://" : "http://") + (v6 ? "[" : "") + impl_->options.host +
         (v6 ? "]" : "") + ":" + std::to_string(impl_->bound_port);
}

void Server::stop() {
  Impl& im = *impl_;
  std::lock_guard lock(im.stop_mutex);
  if (im.stopped) return;
  im.stopping = true;
  im.api.set_draining();
  net::post(im.acceptor.get_executor(), [&im] {
    beast::error_code ec;
    im.acceptor.close(ec);
  });
  // Watches end and long-polls answer now; other requests get the grace period.
  im.hub.shutdown();
  const auto deadline = std::chrono::steady_clock::now() + im.options.drain_grace;
  while (im.in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds{5});
  if (im.in_flight.load() > 0)
    im.logger.log(LogLevel::warn, "drain grace over with requests in flight",
                  {{"in_flight", std::to_string(im.in_flight.load())}});
  // Registrations still in storage are answered whatever the grace: their
  // callbacks post to the io threads, which must still be running.
  while (im.pending_async.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds{1});
  im.work.reset();
  im.ioc.stop();
  for (auto& t : im.threads) t.join();
  im.writers.join();
  im.stopped = true;
  im.logger.log(LogLevel::info, "stopped");
}

}  // namespace discovery
