// Alert sinks and the webhook recovery action. Webhooks are sent from a
// thread of their own with a bounded queue, so a slow or dead receiver never
// delays a health check.
#include <discovery/health_checker.hpp>

#include "health/url.hpp"
#include "logfmt.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>
#include <boost/json/serialize.hpp>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

namespace discovery {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

using detail::logfmt_quote;

class LogAlertSink final : public AlertSink {
 public:
  explicit LogAlertSink(std::function<void(std::string_view)> write) : write_(std::move(write)) {}
  std::string_view channel() const override { return "log"; }
  void deliver(const Alert& alert) override {
    std::string line = "at=" + format_time(alert.at) + " level=" +
                       (alert.kind == AlertKind::resolved ? "info" : alert.level == AlertLevel::warning ? "warn" : "error") +
                       " component=alert alert=" + std::string(to_string(alert.level)) +
                       " kind=" + std::string(to_string(alert.kind));
    if (!alert.service_id.empty())
      line += " service=" + alert.service_id + " company=" + alert.company_name + " instance=" + alert.instance_id;
    line += " msg=" + logfmt_quote(alert.message);
    if (write_)
      write_(line);
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  }

 private:
  std::function<void(std::string_view)> write_;
};

std::string slack_text(const Alert& alert) {
  std::string icon = alert.kind == AlertKind::resolved ? ":white_check_mark:" : alert.level == AlertLevel::warning ? ":warning:" : ":rotating_light:";
  std::string text = icon + " *" + std::string(to_string(alert.level)) + "* " + std::string(to_string(alert.kind));
  if (!alert.service_id.empty())
    text += " — " + alert.company_name + "/" + alert.instance_id + " (" + alert.service_id + ")";
  return text + ": " + alert.message;
}

// One POST with a deadline over everything (resolve, connect, TLS, write, read).
asio::awaitable<int> post_once(const health::Url& url, ssl::context& tls, const std::string& body,
                               const WebhookOptions& options) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  const auto endpoints = co_await resolver.async_resolve(url.host, std::to_string(url.port), asio::use_awaitable);
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host_header());
  request.set(http::field::user_agent, "mcp-discovery-webhook");
  request.set(http::field::content_type, "application/json");
  if (!options.authorization.empty()) request.set(http::field::authorization, options.authorization);
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  if (url.tls()) {
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wold-style-cast"  // OpenSSL's macro
    const bool sni = SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str());
#pragma GCC diagnostic pop
    if (!sni)
      throw boost::system::system_error(beast::error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()));
    stream.set_verify_callback(ssl::host_name_verification(url.host));
    beast::get_lowest_layer(stream).expires_after(options.timeout);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    co_await stream.async_handshake(ssl::stream_base::client, asio::use_awaitable);
    co_await http::async_write(stream, request, asio::use_awaitable);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    co_return static_cast<int>(parser.get().result_int());
  }
  beast::tcp_stream stream(executor);
  stream.expires_after(options.timeout);
  co_await stream.async_connect(endpoints, asio::use_awaitable);
  co_await http::async_write(stream, request, asio::use_awaitable);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return static_cast<int>(parser.get().result_int());
}

// A worker thread that POSTs queued bodies with retries and backoff.
class WebhookPoster {
 public:
  struct Job {
    std::string body;
    std::function<void(bool ok, std::string error)> done;
  };

  static Result<std::unique_ptr<WebhookPoster>> create(WebhookOptions options) {
    auto url = health::parse_url(options.url);
    if (!url) return Error{ErrorCode::invalid_argument, url.error().message, "url"};
    if (!url->http()) return Error{ErrorCode::invalid_argument, "must be an http or https URL", "url"};
    auto poster = std::unique_ptr<WebhookPoster>(new WebhookPoster(std::move(options), std::move(*url)));
    if (poster->options_.ca_file.empty()) {
      poster->tls_.set_default_verify_paths();
    } else {
      boost::system::error_code ec;
      poster->tls_.load_verify_file(poster->options_.ca_file, ec);
      if (ec) return Error{ErrorCode::invalid_argument, "cannot read " + poster->options_.ca_file + ": " + ec.message(), "ca_file"};
    }
    poster->tls_.set_verify_mode(ssl::verify_peer);
    poster->thread_ = std::thread([p = poster.get()] { p->run(); });
    return poster;
  }

  ~WebhookPoster() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  void enqueue(Job job) {
    {
      std::lock_guard lock(mutex_);
      if (queue_.size() >= options_.queue_capacity) {
        ++stats_.dropped;
        queue_.pop_front();
      }
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  WebhookStats stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  WebhookPoster(WebhookOptions options, health::Url url)
      : options_(std::move(options)), url_(std::move(url)), tls_(ssl::context::tls_client) {
    tls_.set_options(ssl::context::no_sslv2 | ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  }

  void run() {
    while (true) {
      Job job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      std::string error;
      bool ok = false;
      Duration backoff = options_.initial_backoff;
      for (std::uint32_t attempt = 1; attempt <= std::max<std::uint32_t>(1, options_.max_attempts); ++attempt) {
        error = attempt_post(job.body);
        if (error.empty()) {
          ok = true;
          break;
        }
        std::unique_lock lock(mutex_);
        if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
        backoff *= 2;
      }
      {
        std::lock_guard lock(mutex_);
        ++(ok ? stats_.delivered : stats_.failed);
      }
      if (!ok)
        std::fprintf(stderr, "at=%s level=warn component=webhook msg=\"webhook delivery failed\" url=%s error=%s\n",
                     format_time(system_clock().now()).c_str(), logfmt_quote(url_.to_string()).c_str(),
                     logfmt_quote(error).c_str());
      if (job.done) job.done(ok, error);
    }
  }

  // Empty on a 2xx answer, else why not.
  std::string attempt_post(const std::string& body) {
    asio::io_context io;
    std::string error;
    asio::co_spawn(io, post_once(url_, tls_, body, options_),
                   [&](std::exception_ptr failure, int status) {
                     if (failure) {
                       try {
                         std::rethrow_exception(failure);
                       } catch (const boost::system::system_error& e) {
                         error = e.code() == beast::error::timeout ? "timeout" : e.code().message();
                       } catch (const std::exception& e) {
                         error = e.what();
                       }
                     } else if (status < 200 || status > 299) {
                       error = "status " + std::to_string(status);
                     }
                   });
    io.run();
    return error;
  }

  WebhookOptions options_;
  health::Url url_;
  ssl::context tls_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  WebhookStats stats_;
  std::thread thread_;
};

class WebhookRecovery final : public RecoveryAction {
 public:
  explicit WebhookRecovery(std::unique_ptr<WebhookPoster> poster) : poster_(std::move(poster)) {}
  void recover(const RecoveryRequest& request, std::function<void(bool, std::string)> done) override {
    boost::json::object body;
    body["action"] = "recover";
    body["serviceId"] = request.service_id;
    body["companyName"] = request.company_name;
    body["instanceId"] = request.instance_id;
    body["primary"] = request.primary;
    body["lastError"] = request.last_error;
    body["attempt"] = request.attempt;
    poster_->enqueue({boost::json::serialize(body), std::move(done)});
  }

 private:
  std::unique_ptr<WebhookPoster> poster_;
};

}  // namespace

std::unique_ptr<AlertSink> make_log_alert_sink(std::function<void(std::string_view)> write) {
  return std::make_unique<LogAlertSink>(std::move(write));
}

struct WebhookAlertSink::Impl {
  std::unique_ptr<WebhookPoster> poster;
  bool slack = false;
};

WebhookAlertSink::WebhookAlertSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WebhookAlertSink::~WebhookAlertSink() = default;

Result<std::unique_ptr<WebhookAlertSink>> WebhookAlertSink::create(WebhookOptions options) {
  const bool slack = options.slack_format;
  auto poster = WebhookPoster::create(std::move(options));
  if (!poster) return poster.error();
  auto impl = std::make_unique<Impl>();
  impl->poster = std::move(*poster);
  impl->slack = slack;
  return std::unique_ptr<WebhookAlertSink>(new WebhookAlertSink(std::move(impl)));
}

void WebhookAlertSink::deliver(const Alert& alert) {
  std::string body;
  if (impl_->slack) {
    boost::json::object slack;
    slack["text"] = slack_text(alert);
    body = boost::json::serialize(slack);
  } else {
    body = boost::json::serialize(to_json(alert));
  }
  impl_->poster->enqueue({std::move(body), nullptr});
}

WebhookStats WebhookAlertSink::stats() const { return impl_->poster->stats(); }

Result<std::unique_ptr<RecoveryAction>> make_webhook_recovery_action(WebhookOptions options) {
  auto poster = WebhookPoster::create(std::move(options));
  if (!poster) return poster.error();
  return std::unique_ptr<RecoveryAction>(std::make_unique<WebhookRecovery>(std::move(*poster)));
}

}  // namespace discovery
