#include <discovery/testing/server_fixture.hpp>

#include <stdexcept>
#include <utility>

namespace discovery::testing {

ServerOptions ServerFixtureOptions::default_server_options() {
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.io_threads = 2;
  options.write_threads = 4;
  options.log_level = LogLevel::warn;
  return options;
}

ServerFixture::ServerFixture() : ServerFixture(ServerFixtureOptions{}) {}

ServerFixture::ServerFixture(ServerFixtureOptions options)
    : secret_(options.secret.empty() ? generate_secret() : std::move(options.secret)),
      storage_(make_memory_storage()) {
  auto registry = Registry::open(*storage_, options.registry);
  if (!registry) throw std::runtime_error("ServerFixture: registry: " + registry.error().to_string());
  registry_ = std::move(*registry);

  JwtOptions jwt;
  jwt.hs256_secret = secret_;
  auto verifier = JwtVerifier::create(std::move(jwt), system_clock());
  if (!verifier) throw std::runtime_error("ServerFixture: verifier: " + verifier.error().to_string());
  verifier_ = std::move(*verifier);

  host_ = options.server.host;
  auto server = Server::start(*registry_, *verifier_, std::move(options.server));
  if (!server) throw std::runtime_error("ServerFixture: server: " + server.error().to_string());
  server_ = std::move(*server);
  url_ = server_->url();
}

ServerFixture::~ServerFixture() {
  stop();
  // Members go in reverse order: server, verifier, registry, storage.
}

std::uint16_t ServerFixture::port() const { return server_->port(); }

std::string ServerFixture::token(SaoLevel level, std::string_view company, std::string_view subject,
                                 Duration ttl) const {
  Principal principal;
  principal.level = level;
  principal.company = std::string(company);
  principal.subject = subject.empty()
                          ? std::string(to_string(level)) + "-" + (company.empty() ? std::string("any") : principal.company)
                          : std::string(subject);
  return mint_hs256_token(secret_, principal, system_clock().now(), ttl);
}

std::string ServerFixture::authorization(SaoLevel level, std::string_view company) const {
  return "Bearer " + token(level, company);
}

void ServerFixture::stop() {
  if (server_) server_->stop();
}

}  // namespace discovery::testing
