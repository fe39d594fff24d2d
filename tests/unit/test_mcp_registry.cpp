#define BOOST_TEST_MODULE test_mcp_registry
#include <boost/test/unit_test.hpp>

#include "server/mcp_registry.hpp"
#include "test_support.hpp"

#include <discovery/storage.hpp>

using namespace discovery;
using namespace discovery::testing;
using server::compare_versions;
using server::server_name;

namespace {
ServiceRecord with_domain(const std::string& company, const std::string& domain) {
  auto r = make_record(company, "i1");
  r.domain = domain;
  return r;
}

struct Fixture {
  ManualClock clock;
  std::unique_ptr<Storage> storage = make_memory_storage();
  std::unique_ptr<Registry> registry = *Registry::open(*storage, test_options(clock));
  Authorizer authorizer;
  server::McpRegistry mcp{*registry, authorizer, {{"acme"}, 3}};

  std::string add(const std::string& company, const std::string& instance, const std::string& version) {
    auto r = make_record(company, instance);
    r.service_info.version = version;
    auto done = registry->register_service(r);
    BOOST_REQUIRE(done);
    return done->record->service_id;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_server_name_is_the_reversed_company_domain_and_the_service) {
  BOOST_TEST(server_name(with_domain("acme", "mcp.acme.2100.cool")) == "cool.2100.acme/mcp");
  BOOST_TEST(server_name(with_domain("acme", "search.eu.acme.example.com")) == "com.example.acme/search-eu");
  BOOST_TEST(server_name(with_domain("acme", "acme.example.com")) == "com.example.acme/mcp");
  // No company label, or an address: a local namespace that still ends with the company.
  BOOST_TEST(server_name(with_domain("acme", "tools.example.com")) == "local.mcp-discovery.acme/tools.example.com");
  BOOST_TEST(server_name(with_domain("acme", "127.0.0.1")) == "local.mcp-discovery.acme/127.0.0.1");
  BOOST_TEST(server_name(with_domain("acme", "::1")) == "local.mcp-discovery.acme/--1");
  // Another company cannot borrow acme's namespace.
  BOOST_TEST(server_name(with_domain("evil", "mcp.acme.2100.cool")) == "local.mcp-discovery.evil/mcp.acme.2100.cool");
}

BOOST_AUTO_TEST_CASE(versions_compare_as_semantic_versions) {
  BOOST_TEST(compare_versions("1.10.0", "1.9.0") > 0);
  BOOST_TEST(compare_versions("1.0.0", "1.0.0-rc.1") > 0);
  BOOST_TEST(compare_versions("1.0.0-rc.2", "1.0.0-rc.10") < 0);
  BOOST_TEST(compare_versions("1.0.0-alpha", "1.0.0-1") > 0);
  BOOST_TEST(compare_versions("2", "1.9.9") > 0);
  BOOST_TEST(compare_versions("1.0.0", "1.0.0") == 0);
  BOOST_TEST(compare_versions("banana", "apple") > 0);  // not versions: string order
}

BOOST_AUTO_TEST_CASE(list_parameters_are_checked) {
  BOOST_TEST(server::parse_registry_list_query("limit=100")->limit == 100u);
  BOOST_TEST(server::parse_registry_list_query("limit=101").error().field == "limit");
  BOOST_TEST(server::parse_registry_list_query("updated_since=2026-01-01T00:00:00Z")->include_deleted);
  BOOST_TEST(server::parse_registry_list_query("include_deleted=yes").error().field == "include_deleted");
  BOOST_TEST(server::parse_registry_list_query("page=2").error().field == "page");
  BOOST_TEST(*server::percent_decode_path("a.b%2Fc+1", "x") == "a.b/c+1");
  BOOST_TEST(!server::percent_decode_path("a%2", "x"));
}

BOOST_FIXTURE_TEST_CASE(scopes_follow_the_authorizer_plus_public_companies, Fixture) {
  BOOST_TEST(mcp.scope(nullptr).companies == std::vector<std::string>{"acme"});
  BOOST_TEST(!mcp.scope(nullptr).sees("beta"));
  Principal onyx{"u", SaoLevel::onyx, "beta", {}};
  BOOST_TEST(mcp.scope(&onyx).sees("beta"));
  BOOST_TEST(mcp.scope(&onyx).sees("acme"));
  BOOST_TEST(!mcp.scope(&onyx).sees("gamma"));
  Principal emerald{"e", SaoLevel::emerald, "", {}};
  BOOST_TEST(mcp.scope(&emerald).sees("gamma"));
  Principal companyless{"x", SaoLevel::onyx, "", {}};
  BOOST_TEST(mcp.scope(&companyless).companies == std::vector<std::string>{"acme"});
}

BOOST_FIXTURE_TEST_CASE(departures_are_bounded_and_mark_deleted_versions, Fixture) {
  server::RegistryScope all{true, {}};
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(add("beta", "i" + std::to_string(i), "1." + std::to_string(i) + ".0"));
  for (const auto& id : ids) {
    clock.advance(std::chrono::seconds{1});
    BOOST_REQUIRE(registry->deregister(id));
  }
  BOOST_TEST(mcp.departures() <= 3u);
  auto hidden = mcp.versions(all, "cool.2100.beta/mcp", false);
  BOOST_TEST(!hidden);
  auto shown = mcp.versions(all, "cool.2100.beta/mcp", true);
  BOOST_REQUIRE(shown);
  const auto& servers = shown->at("servers").as_array();
  BOOST_TEST(!servers.empty());
  BOOST_TEST(servers.size() <= 3u);
  // The newest departure is remembered.
  bool newest = false;
  for (const auto& s : servers) newest |= s.at("server").at("version") == "1.4.0";
  BOOST_TEST(newest);
  BOOST_TEST(servers[0].at("_meta").at(server::kMetaOfficial).at("status") == "deleted");
}

BOOST_FIXTURE_TEST_CASE(a_version_back_in_service_is_live_again, Fixture) {
  server::RegistryScope all{true, {}};
  const auto id = add("beta", "a", "1.0.0");
  BOOST_REQUIRE(registry->deregister(id));
  BOOST_TEST(!mcp.version(all, "cool.2100.beta/mcp", "latest", false));
  add("beta", "b", "1.0.0");
  auto back = mcp.version(all, "cool.2100.beta/mcp", "latest", false);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->at("_meta").at(server::kMetaOfficial).at("status") == "active");
  BOOST_TEST(back->at("_meta").at(server::kMetaOfficial).at("isLatest") == true);
}
