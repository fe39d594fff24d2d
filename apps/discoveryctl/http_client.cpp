#include "http_client.hpp"

#include <discovery/version.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <optional>

namespace discovery::ctl {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
namespace json = boost::json;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

// A discover page of 1000 large records stays well below this.
constexpr std::uint64_t kMaxResponseBytes = 64ull << 20;
constexpr std::size_t kMaxErrorBodyBytes = 1 << 20;

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_' ||
         c == '~';
}

// Where a request failed, which decides how the failure reads.
enum class Stage { connect, exchange, stream };

// The API's error body as "code: field: message" (API.md, "Errors"), the
// field once; any
// other answer as its HTTP status and the start of its body.
Failure api_failure(const HttpResponse& response, bool have_token) {
  std::string text;
  boost::system::error_code ec;
  const auto doc = json::parse(response.body, ec);
  if (!ec && doc.is_object()) {
    if (const auto* error = doc.as_object().if_contains("error"); error && error->is_object()) {
      const auto string_at = [&](std::string_view key) -> std::string {
        const auto* v = error->as_object().if_contains(key);
        return v && v->is_string() ? std::string(v->as_string()) : std::string{};
      };
      const auto code = string_at("code");
      const auto field = string_at("field");
      auto message = string_at("message");
      // The server's message already starts with the field (API.md); older
      // servers sent it bare.
      if (!field.empty() && message.rfind(field + ": ", 0) != 0) message = field + ": " + message;
      text = (code.empty() ? "error" : code) + ": " + message;
    }
  }
  if (text.empty()) {
    text = "HTTP " + std::to_string(response.status) + " " +
           std::string(http::obsolete_reason(static_cast<http::status>(response.status)));
    auto first_line = std::string_view(response.body).substr(0, response.body.find('\n'));
    if (!first_line.empty()) text += ": " + std::string(first_line.substr(0, 200));
  }
  if (response.status == 401 && !have_token)
    text += " (no token given: set DISCOVERY_TOKEN_FILE or DISCOVERY_TOKEN, or use --token-file)";
  return {Exit::api, std::move(text)};
}

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (unreserved(c)) {
      out.push_back(c);
    } else {
      const auto byte = static_cast<unsigned char>(c);
      out += {'%', kHex[byte >> 4], kHex[byte & 0xF]};
    }
  }
  return out;
}

Outcome<ServerUrl> ServerUrl::parse(std::string_view url) {
  const auto bad = [&](std::string_view why) {
    return usage_error("--server: " + std::string(why) + " in '" + std::string(url) + "'");
  };
  ServerUrl out;
  std::string_view rest = url;
  if (const auto sep = rest.find("://"); sep != std::string_view::npos) {
    std::string scheme(rest.substr(0, sep));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme == "https")
      out.tls = true;
    else if (scheme != "http")
      return bad("the scheme must be http or https");
    rest.remove_prefix(sep + 3);
  }
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (path.find_first_of("?#") != std::string_view::npos) return bad("a query or fragment");
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.find('@') != std::string_view::npos) return bad("user information");

  std::string_view port;
  const bool bracketed = !authority.empty() && authority.front() == '[';
  if (bracketed) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return bad("an unclosed '['");
    out.host = std::string(authority.substr(1, close - 1));
    const auto after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return bad("junk after ']'");
    if (!after.empty()) port = after.substr(1);
  } else {
    const auto colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) return bad("an IPv6 address not in [brackets]");
  }
  if (out.host.empty()) return bad("no host");
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";
  } else {
    const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) {
                          return std::isdigit(static_cast<unsigned char>(c));
                        });
    if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
      return bad("a port that is not 1 to 65535");
    out.port = std::string(port);
  }
  out.base_path = std::string(path);
  out.text = std::string(out.tls ? "https://" : "http://") + (bracketed ? "[" : "") + out.host +
             (bracketed ? "]" : "") + ":" + out.port;
  return out;
}

// Blocking calls built from Asio's asynchronous ones: each operation runs the
// io_context until it completes, its deadline passes, or a signal arrives.
// (Beast's synchronous calls cannot time out, and a CLI that hangs forever
// on a silent server is worse than one that says so.)
struct HttpClient::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)) {
    tls_context.set_default_verify_paths();
    SSL_CTX_set_min_proto_version(tls_context.native_handle(), TLS1_2_VERSION);
  }

  // Declared so that the streams go before the context and io_context they use.
  ClientOptions options;
  net::io_context ioc;
  ssl::context tls_context{ssl::context::tls_client};
  tcp::resolver resolver{ioc};
  net::steady_timer timer{ioc};
  std::optional<net::signal_set> signals;
  bool interrupted = false;
  SteadyClock::time_point deadline;
  // At most one is open: the current connection.
  std::unique_ptr<beast::tcp_stream> plain;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;

  bool connected() const { return plain || secure; }
  beast::tcp_stream& socket_layer() { return secure ? beast::get_lowest_layer(*secure) : *plain; }

  template <class F>
  void with_stream(F&& f) {
    if (secure)
      f(*secure);
    else
      f(*plain);
  }

  // Ends whatever is pending; its handler then runs with an error.
  void abort() {
    resolver.cancel();
    timer.cancel();
    if (connected()) socket_layer().close();
  }

  void disconnect() {
    if (connected()) {
      beast::error_code ignored;
      socket_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
      socket_layer().close();
    }
    plain.reset();
    secure.reset();
    buffer.clear();
  }

  // Starts one operation through `start(handler)` and runs until it is done.
  // Past the deadline the operation is aborted and the answer is timeout; on
  // a signal, operation_aborted with `interrupted` set.
  template <class Start>
  beast::error_code await(Start&& start) {
    bool done = false;
    beast::error_code result;
    start([&done, &result](beast::error_code ec, auto&&...) {
      done = true;
      result = ec;
    });
    if (ioc.stopped()) ioc.restart();
    bool aborted = false;
    bool timed_out = false;
    while (!done) {
      if (!aborted && (interrupted || SteadyClock::now() >= deadline)) {
        timed_out = !interrupted;
        aborted = true;
        abort();
      }
      if (aborted)
        ioc.run_one();
      else
        ioc.run_one_until(deadline);
    }
    if (interrupted) return net::error::operation_aborted;
    if (timed_out) return beast::error::timeout;
    return result;
  }

  Failure failure(Stage stage, beast::error_code ec, std::string why = {}) const {
    if (interrupted) return {Exit::interrupted, "interrupted"};
    if (why.empty() && ec == beast::error::timeout)
      why = "timed out after " + format_duration(options.timeout);
    if (why.empty() && ec == http::error::end_of_stream)
      why = "the connection was closed without an answer";
    if (why.empty()) why = ec.message();
    const auto& url = options.server.text;
    switch (stage) {
      case Stage::connect:
        return {Exit::connection, "cannot connect to " + url + ": " + why};
      case Stage::exchange:
        return {Exit::connection, "no answer from " + url + ": " + why};
      case Stage::stream:
        break;
    }
    return {Exit::connection, "connection to " + url + " lost: " + why};
  }

  Outcome<> connect() {
    disconnect();
    const auto& server = options.server;
    tcp::resolver::results_type endpoints;
    auto ec = await([&](auto handler) {
      resolver.async_resolve(
          server.host, server.port,
          [&endpoints, handler](beast::error_code e, tcp::resolver::results_type found) mutable {
            endpoints = std::move(found);
            handler(e);
          });
    });
    if (ec) return failure(Stage::connect, ec);
    if (server.tls)
      secure = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc, tls_context);
    else
      plain = std::make_unique<beast::tcp_stream>(ioc);
    ec = await([&](auto handler) {
      socket_layer().async_connect(
          endpoints, [handler](beast::error_code e, const tcp::endpoint&) mutable { handler(e); });
    });
    if (ec) {
      auto failed = failure(Stage::connect, ec);
      disconnect();
      return failed;
    }
    socket_layer().socket().set_option(tcp::no_delay(true), ec);
    if (!secure) return {};
    if (auto shaken = handshake(); !shaken) {
      disconnect();
      return shaken.error();
    }
    return {};
  }

  Outcome<> handshake() {
    const std::string& host = options.server.host;
    SSL* ssl = secure->native_handle();
    beast::error_code ec;
    net::ip::make_address(host, ec);
    const bool ip_literal = !ec;
    // SNI carries names only (RFC 6066), never address literals.
    // SSL_set_tlsext_host_name is a macro with a C cast; this is its expansion.
    if (!ip_literal)
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str()));
    if (options.insecure) {
      secure->set_verify_mode(ssl::verify_none);
    } else {
      secure->set_verify_mode(ssl::verify_peer);
      // OpenSSL's own name check (rather than a verify callback) so that a
      // mismatch is reported as one by SSL_get_verify_result.
      if (ip_literal)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
      else
        SSL_set1_host(ssl, host.c_str());
    }
    ec = await([&](auto handler) { secure->async_handshake(ssl::stream_base::client, handler); });
    if (!ec) return {};
    if (interrupted) return failure(Stage::connect, ec);
    std::string why = ec == beast::error::timeout
                          ? "timed out after " + format_duration(options.timeout)
                          : ec.message();
    if (const long verify = SSL_get_verify_result(ssl); !options.insecure && verify != X509_V_OK)
      why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify) +
            " (--insecure skips verification, for test certificates only)";
    return Failure{Exit::connection,
                   "TLS handshake with " + options.server.text + " failed: " + why};
  }

  http::request<http::string_body> make_request(http::verb method, std::string_view target,
                                                std::string_view body,
                                                std::string_view content_type) const {
    http::request<http::string_body> req{method, options.server.base_path + std::string(target),
                                         11};
    const auto& url = options.server.text;
    req.set(http::field::host, url.substr(url.find("://") + 3));
    req.set(http::field::user_agent, std::string("discoveryctl/") + kVersion);
    if (!options.token.empty()) req.set(http::field::authorization, "Bearer " + options.token);
    if (!content_type.empty()) req.set(http::field::content_type, content_type);
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  beast::error_code write(const http::request<http::string_body>& req) {
    return await([&](auto handler) {
      with_stream([&](auto& stream) { http::async_write(stream, req, handler); });
    });
  }
};

HttpClient::HttpClient(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

HttpClient::~HttpClient() = default;

const ServerUrl& HttpClient::server() const { return impl_->options.server; }

Outcome<HttpResponse> HttpClient::request(http::verb method, std::string_view target,
                                          std::string_view body, std::string_view content_type) {
  Impl& im = *impl_;
  const auto req = im.make_request(method, target, body, content_type);
  for (int attempt = 0;; ++attempt) {
    im.deadline = SteadyClock::now() + im.options.timeout;
    const bool reused = im.connected();
    if (!reused)
      if (auto connected = im.connect(); !connected) return connected.error();
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    auto ec = im.write(req);
    if (!ec)
      ec = im.await([&](auto handler) {
        im.with_stream([&](auto& stream) { http::async_read(stream, im.buffer, parser, handler); });
      });
    if (ec) {
      auto failed = im.failure(Stage::exchange, ec);
      im.disconnect();
      // The server may have closed a kept-alive connection meanwhile. A GET
      // is retried once on a new one; other methods are not, as the server
      // may have acted on them.
      if (reused && attempt == 0 && method == http::verb::get && !im.interrupted &&
          ec != beast::error::timeout)
        continue;
      return failed;
    }
    auto& res = parser.get();
    if (!res.keep_alive()) im.disconnect();
    return HttpResponse{res.result_int(), std::move(res.body())};
  }
}

Outcome<ApiAnswer> HttpClient::call(http::verb method, std::string_view target,
                                    const json::value& body, std::string_view content_type) {
  const bool has_body = !body.is_null();
  auto response = request(method, target, has_body ? json::serialize(body) : std::string{},
                          has_body ? content_type : std::string_view{});
  if (!response) return response.error();
  if (response->status >= 400) return api_failure(*response, !impl_->options.token.empty());
  ApiAnswer answer{response->status, nullptr};
  if (response->status == 204 || response->body.empty()) return answer;
  boost::system::error_code ec;
  answer.body = json::parse(response->body, ec);
  if (ec)
    return Failure{Exit::api, "unexpected answer from " + server().text + ": HTTP " +
                                  std::to_string(response->status) +
                                  " with a body that is not JSON"};
  return answer;
}

Outcome<> HttpClient::stream(std::string_view target, std::string_view last_event_id,
                             Duration idle_timeout, const std::function<void()>& on_open,
                             const std::function<void(std::string_view)>& on_data) {
  Impl& im = *impl_;
  im.deadline = SteadyClock::now() + im.options.timeout;
  if (auto connected = im.connect(); !connected) return connected.error();
  auto req = im.make_request(http::verb::get, target, {}, {});
  req.set(http::field::accept, "text/event-stream");
  req.set(http::field::cache_control, "no-cache");
  if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);  // a stream has no end we could know
  auto ec = im.write(req);
  if (!ec)
    ec = im.await([&](auto handler) {
      im.with_stream(
          [&](auto& stream) { http::async_read_header(stream, im.buffer, parser, handler); });
    });
  if (ec) {
    auto failed = im.failure(Stage::exchange, ec);
    im.disconnect();
    return failed;
  }
  const unsigned status = parser.get().result_int();
  const bool streaming = status == 200;
  if (streaming) on_open();

  std::string error_body;
  char chunk[16384];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    // The request deadline covers an error body; a stream may be silent for
    // up to idle_timeout (the server sends keep-alive comments well within).
    if (streaming) im.deadline = SteadyClock::now() + idle_timeout;
    ec = im.await([&](auto handler) {
      im.with_stream(
          [&](auto& stream) { http::async_read_some(stream, im.buffer, parser, handler); });
    });
    if (ec == http::error::need_buffer) ec = {};
    const std::size_t n = sizeof chunk - parser.get().body().size;
    if (streaming && n > 0) on_data(std::string_view(chunk, n));
    if (!streaming) error_body.append(chunk, n);
    // A TLS peer that closes without close_notify ends an EOF-delimited body
    // just the same.
    if (ec == ssl::error::stream_truncated && streaming) break;
    if (ec) {
      auto failed = ec == beast::error::timeout && streaming
                        ? im.failure(Stage::stream, ec,
                                     "nothing received for " + format_duration(idle_timeout))
                        : im.failure(Stage::stream, ec);
      im.disconnect();
      return failed;
    }
    if (error_body.size() > kMaxErrorBodyBytes) break;
  }
  im.disconnect();
  if (!streaming)
    return api_failure(HttpResponse{status, std::move(error_body)}, !im.options.token.empty());
  return {};
}

void HttpClient::stop_on_signals() {
  Impl& im = *impl_;
  if (im.signals) return;
  im.signals.emplace(im.ioc, SIGINT, SIGTERM);
  im.signals->async_wait([&im](beast::error_code ec, int) {
    if (ec) return;
    im.interrupted = true;
    im.abort();
  });
}

Outcome<> HttpClient::pause(Duration duration) {
  Impl& im = *impl_;
  im.deadline = SteadyClock::time_point::max();
  im.timer.expires_after(duration);
  im.await([&](auto handler) { im.timer.async_wait(handler); });
  if (im.interrupted) return Failure{Exit::interrupted, "interrupted"};
  return {};
}

}  // namespace discovery::ctl
