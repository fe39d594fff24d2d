// A test fixture: an in-process Registry (memory storage) and the HTTP
// Server on an ephemeral port, with an HS256 secret to mint tokens of any
// level. One line starts it; the destructor stops it.
//
//   discovery::testing::ServerFixture fixture;
//   auto token = fixture.token(discovery::SaoLevel::sapphire, "acme");
//   http_get(fixture.url() + "/api/v1/services/discover", "Bearer " + token);
//   fixture.registry().register_service(record);   // or seed it directly
//
// It depends on no test framework: use it as a Boost.Test fixture
// (BOOST_FIXTURE_TEST_CASE), a GoogleTest member, or a plain object.
//
// Thread safety: the accessors may be called from any thread; the registry
// is as thread-safe as Registry. Construction and destruction are not
// concurrent with anything else.
#pragma once

#include <discovery/auth.hpp>
#include <discovery/clock.hpp>
#include <discovery/registry.hpp>
#include <discovery/server.hpp>
#include <discovery/storage.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace discovery::testing {

struct ServerFixtureOptions {
  // The server's options. host and port are the fixture's (127.0.0.1:0)
  // unless changed here. Default: 2 io threads, 4 write threads, log level
  // warn (the tests' output stays readable).
  ServerOptions server = default_server_options();
  // The registry's options, e.g. a ManualClock for TTL tests (it must outlive
  // the fixture). The background TTL sweep is on, as in the daemon.
  RegistryOptions registry;
  // The HS256 secret; empty: a new random one (generate_secret()).
  std::string secret;

  static ServerOptions default_server_options();
};

class ServerFixture {
 public:
  // Starts everything; throws std::runtime_error when the server cannot start
  // (a start-up failure, not an expected one).
  ServerFixture();
  explicit ServerFixture(ServerFixtureOptions options);
  ~ServerFixture();  // stops the server, then the registry
  ServerFixture(const ServerFixture&) = delete;
  ServerFixture& operator=(const ServerFixture&) = delete;

  // "http://127.0.0.1:PORT".
  const std::string& url() const { return url_; }
  // The address it listens on (ServerOptions::host, default 127.0.0.1).
  const std::string& host() const { return host_; }
  std::uint16_t port() const;

  // The registry behind the server: seed it, or check what requests did.
  Registry& registry() { return *registry_; }
  Storage& storage() { return *storage_; }
  Server& server() { return *server_; }
  // The key tokens are signed with (for a client that mints its own).
  const std::string& secret() const { return secret_; }

  // An HS256 token for `level` (and `company`, required for sapphire, opal
  // and onyx), valid for `ttl`. `subject` defaults to "LEVEL-COMPANY".
  std::string token(SaoLevel level, std::string_view company = {}, std::string_view subject = {},
                    Duration ttl = std::chrono::hours{1}) const;
  // "Bearer " + token(...), for an Authorization header.
  std::string authorization(SaoLevel level, std::string_view company = {}) const;

  // Stops the server early (idempotent); the destructor also does.
  void stop();

 private:
  std::string secret_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<JwtVerifier> verifier_;
  std::unique_ptr<Server> server_;
  std::string host_;
  std::string url_;
};

}  // namespace discovery::testing
