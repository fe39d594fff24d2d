// Testing code that talks to discoveryd, with discovery::testing: each test
// case gets its own in-process registry and HTTP server on an ephemeral
// port, and tokens of any level. A plain Boost.Beast client plays the code
// under test.
#define BOOST_TEST_MODULE fixture_example
#include <boost/test/unit_test.hpp>

#include <discovery/testing/server_fixture.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <string>

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using discovery::SaoLevel;
using discovery::testing::ServerFixture;

namespace {

struct Answer {
  unsigned status = 0;
  json::value body;
};

// One request on its own connection; the answer's body parsed as JSON.
Answer call(const ServerFixture& fixture, http::verb method, const std::string& target,
            const std::string& authorization = {}, const std::string& body = {}) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(resolver.resolve(fixture.host(), std::to_string(fixture.port())));
  http::request<http::string_body> request{method, target, 11};
  request.set(http::field::host, fixture.host());
  if (!authorization.empty()) request.set(http::field::authorization, authorization);
  if (!body.empty()) {
    request.set(http::field::content_type, "application/json");
    request.body() = body;
  }
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  beast::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  Answer answer;
  answer.status = response.result_int();
  if (!response.body().empty()) answer.body = json::parse(response.body());
  return answer;
}

discovery::ServiceRecord acme_service(const std::string& instance) {
  discovery::ServiceRecord record;
  record.company_name = "acme";
  record.instance_id = instance;
  record.service_info.region = "us-west1";
  record.service_info.capabilities = {"tools"};
  record.service_info.endpoints.primary = "https://" + instance + ".mcp.acme.example.com";
  return record;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(with_a_server, ServerFixture)

BOOST_AUTO_TEST_CASE(a_record_seeded_in_the_registry_is_discovered_over_http) {
  const auto seeded = registry().register_service(acme_service("acme-a")).value().record;
  const auto answer = call(*this, http::verb::get, "/api/v1/services/discover?company=acme",
                           authorization(SaoLevel::sapphire, "acme"));
  BOOST_TEST(answer.status == 200u);
  const auto& services = answer.body.at("services").as_array();
  BOOST_TEST_REQUIRE(services.size() == 1u);
  BOOST_TEST(services[0].at("serviceId").as_string() == seeded->service_id);
}

BOOST_AUTO_TEST_CASE(a_registration_over_http_lands_in_the_registry) {
  const auto answer = call(*this, http::verb::post, "/api/v1/services/register", authorization(SaoLevel::sapphire, "acme"),
                           R"({"companyName":"acme","instanceId":"acme-b",)"
                           R"("serviceInfo":{"endpoints":{"primary":"https://b.example.com"}}})");
  BOOST_TEST(answer.status == 201u);
  const auto found = registry().find("acme", "acme-b");
  BOOST_TEST_REQUIRE(found.has_value());
  BOOST_TEST((*found)->service_id == answer.body.at("serviceId").as_string());
}

BOOST_AUTO_TEST_CASE(access_rules_apply_to_fixture_tokens) {
  const auto id = registry().register_service(acme_service("acme-c")).value().record->service_id;
  BOOST_TEST(call(*this, http::verb::get, "/api/v1/services/" + id).status == 401u);
  BOOST_TEST(call(*this, http::verb::get, "/api/v1/services/" + id, authorization(SaoLevel::onyx, "acme")).status == 200u);
  const auto denied = call(*this, http::verb::patch, "/api/v1/services/" + id, authorization(SaoLevel::onyx, "acme"),
                           R"({"tags":["x"]})");
  BOOST_TEST(denied.status == 403u);
  BOOST_TEST(denied.body.at("error").at("code").as_string() == "permission_denied");
  BOOST_TEST(call(*this, http::verb::get, "/api/v1/services/" + id, authorization(SaoLevel::sapphire, "globex")).status ==
             404u);
  // A token from another secret is refused.
  ServerFixture other;
  BOOST_TEST(call(*this, http::verb::get, "/api/v1/services/" + id, other.authorization(SaoLevel::diamond)).status == 401u);
}

BOOST_AUTO_TEST_CASE(each_fixture_is_its_own_registry) {
  ServerFixture other;
  BOOST_TEST(other.port() != port());
  registry().register_service(acme_service("acme-d")).value();
  BOOST_TEST(other.registry().size() == 0u);
  BOOST_TEST(registry().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
