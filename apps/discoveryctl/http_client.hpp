// The one place discoveryctl talks HTTP: a blocking Boost.Beast client over
// plain TCP or TLS with a deadline per request, the mapping of API error
// answers to messages, and a streaming GET for the SSE watch.
#pragma once

#include "args.hpp"

#include <discovery/clock.hpp>

#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace discovery::ctl {

// http[s]://host[:port][/base]; a bare host:port means http.
struct ServerUrl {
  bool tls = false;
  std::string host;       // without the brackets of an IPv6 literal
  std::string port;       // always set: 80 or 443 when the URL names none
  std::string base_path;  // "" or "/prefix", for a daemon behind a path-routing proxy
  std::string text;       // scheme://host:port, for messages

  static Outcome<ServerUrl> parse(std::string_view url);
};

struct ClientOptions {
  ServerUrl server;
  std::string token;  // empty: no Authorization header
  Duration timeout{std::chrono::seconds{10}};
  bool insecure = false;  // TLS without certificate or host name checks
};

struct HttpResponse {
  unsigned status = 0;
  std::string body;
};

// An API answer that was not an error: its status and JSON body (null for 204).
struct ApiAnswer {
  unsigned status = 0;
  boost::json::value body;
};

// Percent-encodes everything but RFC 3986's unreserved characters, so the
// result is safe as one query value or one path segment.
std::string url_encode(std::string_view text);

class HttpClient {
 public:
  explicit HttpClient(ClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One request. Any HTTP status is an answer; not getting one (cannot
  // connect, TLS failure, timeout, dropped connection) is Exit::connection.
  // Connections are kept alive between calls while the server allows it.
  Outcome<HttpResponse> request(boost::beast::http::verb method, std::string_view target,
                                std::string_view body = {}, std::string_view content_type = {});

  // request() for the JSON API: `body` (unless null) is sent as
  // `content_type`; an error status becomes an Exit::api failure carrying the
  // server's "code: field: message".
  Outcome<ApiAnswer> call(boost::beast::http::verb method, std::string_view target,
                          const boost::json::value& body = nullptr,
                          std::string_view content_type = "application/json");

  // GETs an event stream on a fresh connection: `on_open` once a 200 header
  // has arrived (within the request timeout), then `on_data` with the body as
  // it arrives. Success means the server ended the stream; silence longer
  // than `idle_timeout` or a broken connection is Exit::connection, an error
  // status the API failure.
  Outcome<> stream(std::string_view target, std::string_view last_event_id, Duration idle_timeout,
                   const std::function<void()>& on_open,
                   const std::function<void(std::string_view)>& on_data);

  // From now on SIGINT and SIGTERM end the current or next operation with
  // Exit::interrupted instead of killing the process, so a long-running
  // command can stop cleanly.
  void stop_on_signals();
  // Sleeps, but wakes with Exit::interrupted like the requests do.
  Outcome<> pause(Duration duration);

  const ServerUrl& server() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace discovery::ctl
