// The service record: its JSON forms, every validation rule of API.md (with
// the field path each error names), identifiers, and JSON Merge Patch.
#define BOOST_TEST_MODULE test_records
#include <boost/test/unit_test.hpp>

#include <discovery/merge_patch.hpp>
#include <discovery/record_json.hpp>
#include <discovery/service_record.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace json = boost::json;
using discovery::Error;
using discovery::ErrorCode;
using discovery::HealthCheckConfig;
using discovery::JsonView;
using discovery::McpInfo;
using discovery::RecordLimits;
using discovery::SaoLevel;
using discovery::ServiceRecord;
using discovery::ServiceStatus;
using discovery::StatusCause;
using discovery::TimePoint;
using namespace std::chrono_literals;

// Failed comparisons print API spellings rather than "??".
template <>
struct boost::test_tools::tt_detail::print_log_value<SaoLevel> {
  void operator()(std::ostream& os, SaoLevel v) { os << discovery::to_string(v); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<ServiceStatus> {
  void operator()(std::ostream& os, ServiceStatus v) { os << discovery::to_string(v); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<StatusCause> {
  void operator()(std::ostream& os, StatusCause v) { os << discovery::to_string(v); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<ErrorCode> {
  void operator()(std::ostream& os, ErrorCode v) { os << discovery::to_string(v); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<TimePoint> {
  void operator()(std::ostream& os, TimePoint v) { os << discovery::format_time(v); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<discovery::Duration> {
  void operator()(std::ostream& os, discovery::Duration v) { os << v.count() << "ms"; }
};

namespace {

constexpr const char* kMinimalBody =
    R"({"companyName": "acme",
        "serviceInfo": {"endpoints": {"primary": "https://mcp.acme.2100.cool"}}})";

// API.md's example record without the read-only fields: a full registration.
constexpr const char* kApiExampleBody = R"({
  "companyName": "acme",
  "domain": "mcp.acme.2100.cool",
  "instanceId": "acme-1767225600000-9f2c1a",
  "serviceInfo": {
    "version": "1.4.2",
    "capabilities": ["tools", "resources", "search"],
    "region": "us-west1",
    "environment": "production",
    "endpoints": {
      "primary": "https://mcp.acme.2100.cool",
      "health": "https://mcp.acme.2100.cool/health",
      "metrics": "https://mcp.acme.2100.cool/metrics",
      "mcp": "https://mcp.acme.2100.cool/mcp"
    }
  },
  "healthCheckConfig": { "interval": "30s", "timeout": "10s", "retries": 3,
    "failureThreshold": 3, "successThreshold": 2,
    "endpoints": ["/health", "/ready"], "expectedStatus": 200,
    "mcp": true, "ttl": null,
    "alerting": { "enabled": true, "channels": ["webhook"],
                  "escalationLevels": ["warning", "critical", "emergency"] } },
  "personalConfig": {},
  "demoConfig": {},
  "saoLevel": "sapphire",
  "tags": ["beta", "gpu"],
  "metadata": {}
})";

TimePoint at_ms(long long ms) { return TimePoint{discovery::Duration{ms}}; }

json::value minimal_body() { return json::parse(kMinimalBody); }

// `body` with a merge patch applied: the shortest way to vary one field.
json::value patched(json::value body, std::string_view patch) {
  discovery::apply_merge_patch(body, json::parse(patch));
  return body;
}
json::value minimal_with(std::string_view patch) { return patched(minimal_body(), patch); }

// `body` with `path` (keys from the root) set to `value`, which may be null
// (a merge patch cannot say that).
json::value with_value(json::value body, std::initializer_list<std::string_view> path,
                       json::value value) {
  json::value* at = &body;
  for (const std::string_view key : path) at = &at->as_object()[key];
  *at = std::move(value);
  return body;
}

ServiceRecord accepted(const json::value& body, SaoLevel caller = SaoLevel::sapphire,
                       const RecordLimits& limits = {}) {
  auto parsed = discovery::parse_registration(body, caller, limits);
  if (!parsed) BOOST_FAIL("rejected: " << parsed.error() << "\nbody: " << body);
  return *parsed;
}

Error rejected(const json::value& body, SaoLevel caller = SaoLevel::sapphire,
               const RecordLimits& limits = {}) {
  auto parsed = discovery::parse_registration(body, caller, limits);
  if (parsed) BOOST_FAIL("accepted: " << body);
  return parsed.error();
}

// The registration must fail naming exactly `field` with exactly `message`.
void check_rejected(const json::value& body, std::string_view field, std::string_view message,
                    SaoLevel caller = SaoLevel::sapphire, const RecordLimits& limits = {}) {
  BOOST_TEST_CONTEXT("body: " << body) {
    const Error error = rejected(body, caller, limits);
    BOOST_TEST(error.code == ErrorCode::invalid_argument);
    BOOST_TEST(error.field == field);
    BOOST_TEST(error.message == message);
  }
}

void check_error(const Error& error, std::string_view field, std::string_view message) {
  BOOST_TEST(error.code == ErrorCode::invalid_argument);
  BOOST_TEST(error.field == field);
  BOOST_TEST(error.message == message);
}

std::string repeat(char c, std::size_t n) { return std::string(n, c); }

json::array string_list(std::size_t n, const std::string& prefix) {
  json::array list;
  for (std::size_t i = 0; i < n; ++i) list.emplace_back(json::string(prefix + std::to_string(i)));
  return list;
}

// A record with every field set, as the registry would hold it.
ServiceRecord full_record() {
  ServiceRecord r;
  r.service_id = "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10";
  r.company_name = "acme";
  r.domain = "mcp.acme.2100.cool";
  r.instance_id = "acme-1767225600000-9f2c1a";
  r.status = ServiceStatus::unhealthy;
  r.health_status.last_check = at_ms(1769860800123);
  r.health_status.response_time_ms = 12.4;
  r.health_status.uptime = 99.98;
  r.health_status.consecutive_failures = 3;
  r.health_status.consecutive_successes = 0;
  r.health_status.last_failure = at_ms(1769860800123);
  r.health_status.last_error = "connect: connection refused";
  r.service_info.version = "1.4.2";
  r.service_info.capabilities = {"tools", "resources", "search"};
  r.service_info.region = "us-west1";
  r.service_info.environment = "production";
  r.service_info.endpoints = {"https://mcp.acme.2100.cool", "https://mcp.acme.2100.cool/health",
                              "https://mcp.acme.2100.cool/metrics",
                              "https://mcp.acme.2100.cool/mcp"};
  McpInfo mcp;
  mcp.protocol_version = "2025-06-18";
  mcp.transport = "streamable-http";
  mcp.server_name = "acme-tools";
  mcp.server_version = "1.4.2";
  mcp.capabilities = json::parse(R"({"tools": {"listChanged": true}})").as_object();
  mcp.tools = {{"search", "Search", "Full-text search"}, {"fetch", "", "Fetches\na page"}};
  mcp.introspected_at = at_ms(1769860800000);
  r.mcp = mcp;
  r.health_check_config.interval = 15s;
  r.health_check_config.timeout = 1500ms;
  r.health_check_config.retries = 0;
  r.health_check_config.failure_threshold = 5;
  r.health_check_config.success_threshold = 1;
  r.health_check_config.endpoints = {"/health", "/ready", "https://status.acme.example/ok"};
  r.health_check_config.expected_status = {200, 299};
  r.health_check_config.mcp = true;
  r.health_check_config.ttl = 90s;
  r.health_check_config.alerting = {true, {"webhook", "pager"}, {"warning", "critical"}};
  r.personal_config =
      json::parse(R"({"owner": "ops@acme.example", "nested": {"a": [1, 2.5]}})").as_object();
  r.demo_config = json::parse(R"({"enabled": true})").as_object();
  r.sao_level = SaoLevel::emerald;
  r.registered_at = at_ms(1769857200000);
  r.last_updated = at_ms(1769860800123);
  r.tags = {"beta", "gpu"};
  r.metadata = json::parse(R"({"team": "search", "cost": 12})").as_object();
  r.status_cause = StatusCause::health_check;
  r.create_index = 7;
  r.modify_index = 42;
  return r;
}

// Compares the printable storage forms first, so a mismatch shows where.
void check_same(const ServiceRecord& actual, const ServiceRecord& expected) {
  BOOST_TEST(json::value(discovery::to_json(actual, JsonView::storage)) ==
             json::value(discovery::to_json(expected, JsonView::storage)));
  BOOST_TEST((actual == expected));
}

std::vector<std::string> keys_of(const json::object& object) {
  std::vector<std::string> keys;
  for (const auto& member : object) keys.emplace_back(member.key());
  return keys;
}

bool is_lowercase_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool is_uuid_v4(const std::string& uuid) {
  if (uuid.size() != 36) return false;
  for (const std::size_t dash : {8u, 13u, 18u, 23u}) {
    if (uuid[dash] != '-') return false;
  }
  std::string hex = uuid;
  hex.erase(std::remove(hex.begin(), hex.end(), '-'), hex.end());
  return hex.size() == 32 && is_lowercase_hex(hex) && uuid[14] == '4' &&
         std::string_view("89ab").find(uuid[19]) != std::string_view::npos;
}

}  // namespace

// ===========================================================================
BOOST_AUTO_TEST_SUITE(enums)

BOOST_AUTO_TEST_CASE(status_spellings_round_trip) {
  const std::vector<std::string> expected = {"active", "inactive", "maintenance", "unhealthy"};
  std::size_t i = 0;
  for (const ServiceStatus status : discovery::kAllStatuses) {
    BOOST_TEST(discovery::to_string(status) == expected[i++]);
    BOOST_TEST(discovery::parse_status(discovery::to_string(status)).value() == status);
  }
  BOOST_TEST(!discovery::parse_status("Active").has_value());
  BOOST_TEST(!discovery::parse_status("").has_value());
  BOOST_TEST(!discovery::parse_status("down").has_value());
}

BOOST_AUTO_TEST_CASE(sao_level_spellings_round_trip) {
  const std::vector<std::string> expected = {"diamond", "emerald", "sapphire", "opal", "onyx"};
  std::size_t i = 0;
  for (const SaoLevel level : discovery::kAllSaoLevels) {
    BOOST_TEST(discovery::to_string(level) == expected[i++]);
    BOOST_TEST(discovery::parse_sao_level(discovery::to_string(level)).value() == level);
  }
  BOOST_TEST(!discovery::parse_sao_level("gold").has_value());
  BOOST_TEST(!discovery::parse_sao_level("Diamond").has_value());
}

BOOST_AUTO_TEST_CASE(status_cause_spellings_round_trip) {
  BOOST_TEST(discovery::to_string(StatusCause::registration) == "registration");
  BOOST_TEST(discovery::to_string(StatusCause::operator_set) == "operator");
  BOOST_TEST(discovery::to_string(StatusCause::health_check) == "health");
  BOOST_TEST(discovery::to_string(StatusCause::heartbeat_ttl) == "ttl");
  for (const StatusCause cause : {StatusCause::registration, StatusCause::operator_set,
                                  StatusCause::health_check, StatusCause::heartbeat_ttl}) {
    BOOST_TEST(discovery::parse_status_cause(discovery::to_string(cause)).value() == cause);
  }
  BOOST_TEST(!discovery::parse_status_cause("operator_set").has_value());
  BOOST_TEST(!discovery::parse_status_cause("heartbeat").has_value());
}

BOOST_AUTO_TEST_CASE(at_least_orders_levels_highest_first) {
  BOOST_TEST(discovery::at_least(SaoLevel::diamond, SaoLevel::onyx));
  BOOST_TEST(discovery::at_least(SaoLevel::sapphire, SaoLevel::sapphire));
  BOOST_TEST(discovery::at_least(SaoLevel::sapphire, SaoLevel::opal));
  BOOST_TEST(!discovery::at_least(SaoLevel::sapphire, SaoLevel::emerald));
  BOOST_TEST(!discovery::at_least(SaoLevel::onyx, SaoLevel::opal));
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(identifiers)

BOOST_AUTO_TEST_CASE(uuid_is_v4_lowercase_canonical) {
  for (int i = 0; i < 1000; ++i) {
    const std::string uuid = discovery::generate_uuid();
    BOOST_TEST_INFO("uuid: " << uuid);
    BOOST_TEST(is_uuid_v4(uuid));
  }
}

BOOST_AUTO_TEST_CASE(uuids_are_unique_across_threads) {
  std::mutex mutex;
  std::set<std::string> seen;
  std::size_t generated = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::string> mine;
      for (int i = 0; i < 5000; ++i) mine.push_back(discovery::generate_uuid());
      const std::lock_guard lock(mutex);
      generated += mine.size();
      seen.insert(mine.begin(), mine.end());
    });
  }
  for (std::thread& thread : threads) thread.join();
  BOOST_TEST(generated == 20000u);
  BOOST_TEST(seen.size() == 20000u);
}

BOOST_AUTO_TEST_CASE(uuid_bits_are_random) {
  // Every hex position outside the fixed version nibble varies.
  std::vector<std::set<char>> seen(36);
  for (int i = 0; i < 200; ++i) {
    const std::string uuid = discovery::generate_uuid();
    for (std::size_t p = 0; p < uuid.size(); ++p) seen[p].insert(uuid[p]);
  }
  for (std::size_t p = 0; p < 36; ++p) {
    BOOST_TEST_INFO("position " << p);
    if (p == 8 || p == 13 || p == 18 || p == 23 || p == 14) {
      BOOST_TEST(seen[p].size() == 1u);
    } else if (p == 19) {
      BOOST_TEST(seen[p].size() == 4u);  // the variant: 8, 9, a, b
    } else {
      BOOST_TEST(seen[p].size() > 8u);
    }
  }
}

BOOST_AUTO_TEST_CASE(instance_id_is_company_millis_hex) {
  const std::string id = discovery::generate_instance_id("acme", at_ms(1767225600000));
  BOOST_TEST(id.size() == std::string("acme-1767225600000-").size() + 6);
  BOOST_TEST(id.rfind("acme-1767225600000-", 0) == 0u);
  BOOST_TEST(is_lowercase_hex(id.substr(id.size() - 6)));
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(discovery::generate_instance_id("acme", at_ms(1)));
  BOOST_TEST(ids.size() > 1u);  // random suffix, even within one millisecond
}

BOOST_AUTO_TEST_CASE(make_domain_follows_the_seed_convention) {
  BOOST_TEST(discovery::make_domain("acme") == "mcp.acme.2100.cool");
  BOOST_TEST(discovery::make_domain("acme", "example.org") == "mcp.acme.example.org");
}

BOOST_AUTO_TEST_CASE(generated_identifiers_pass_validation) {
  ServiceRecord record = full_record();
  record.company_name = repeat('z', 63);
  record.service_id = discovery::generate_uuid();
  record.instance_id = discovery::generate_instance_id(record.company_name, at_ms(1767225600000));
  record.domain = discovery::make_domain(record.company_name);
  const auto valid = discovery::validate(record);
  if (!valid) BOOST_FAIL(valid.error());
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(registration)

BOOST_AUTO_TEST_CASE(minimal_body_gets_defaults) {
  const ServiceRecord r = accepted(minimal_body());
  BOOST_TEST(r.company_name == "acme");
  BOOST_TEST(r.service_info.endpoints.primary == "https://mcp.acme.2100.cool");
  BOOST_TEST(r.service_id.empty());
  BOOST_TEST(r.instance_id.empty());  // the registry fills these two
  BOOST_TEST(r.domain.empty());
  BOOST_TEST(r.status == ServiceStatus::active);
  BOOST_TEST(r.sao_level == SaoLevel::sapphire);
  BOOST_TEST(!r.mcp.has_value());
  BOOST_TEST(r.tags.empty());
  BOOST_TEST(r.metadata.empty());
  BOOST_TEST((r.health_check_config == HealthCheckConfig{}));
  // API.md's defaults, spelled out so a changed struct default fails here.
  const json::value config = discovery::to_json(r.health_check_config);
  BOOST_TEST(config == json::parse(R"({"interval": "30s", "timeout": "10s", "retries": 3,
      "failureThreshold": 3, "successThreshold": 2, "endpoints": ["/health"],
      "expectedStatus": 200, "mcp": false, "ttl": null,
      "alerting": {"enabled": false, "channels": [], "escalationLevels": []}})"));
}

BOOST_AUTO_TEST_CASE(api_example_parses_field_by_field) {
  const ServiceRecord r = accepted(json::parse(kApiExampleBody));
  BOOST_TEST(r.company_name == "acme");
  BOOST_TEST(r.domain == "mcp.acme.2100.cool");
  BOOST_TEST(r.instance_id == "acme-1767225600000-9f2c1a");
  BOOST_TEST(r.service_info.version == "1.4.2");
  BOOST_TEST(
      r.service_info.capabilities == (std::vector<std::string>{"tools", "resources", "search"}),
      boost::test_tools::per_element());
  BOOST_TEST(r.service_info.region == "us-west1");
  BOOST_TEST(r.service_info.environment == "production");
  BOOST_TEST(r.service_info.endpoints.health == "https://mcp.acme.2100.cool/health");
  BOOST_TEST(r.service_info.endpoints.metrics == "https://mcp.acme.2100.cool/metrics");
  BOOST_TEST(r.service_info.endpoints.mcp == "https://mcp.acme.2100.cool/mcp");
  const HealthCheckConfig& c = r.health_check_config;
  BOOST_TEST(c.interval == 30s);
  BOOST_TEST(c.timeout == 10s);
  BOOST_TEST(c.retries == 3u);
  BOOST_TEST(c.failure_threshold == 3u);
  BOOST_TEST(c.success_threshold == 2u);
  BOOST_TEST(c.endpoints == (std::vector<std::string>{"/health", "/ready"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.expected_status.low == 200);
  BOOST_TEST(c.expected_status.high == 200);
  BOOST_TEST(c.mcp);
  BOOST_TEST(!c.ttl.has_value());
  BOOST_TEST(c.alerting.enabled);
  BOOST_TEST(c.alerting.channels == (std::vector<std::string>{"webhook"}),
             boost::test_tools::per_element());
  BOOST_TEST(c.alerting.escalation_levels ==
                 (std::vector<std::string>{"warning", "critical", "emergency"}),
             boost::test_tools::per_element());
  BOOST_TEST(r.sao_level == SaoLevel::sapphire);
  BOOST_TEST(r.tags == (std::vector<std::string>{"beta", "gpu"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(omitted_health_check_fields_take_defaults) {
  const ServiceRecord r =
      accepted(minimal_with(R"({"healthCheckConfig": {"retries": 5, "mcp": true}})"));
  HealthCheckConfig expected;
  expected.retries = 5;
  expected.mcp = true;
  BOOST_TEST((r.health_check_config == expected));
  BOOST_TEST(r.health_check_config.endpoints == (std::vector<std::string>{"/health"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(omitted_timeout_follows_a_short_interval) {
  // Decision: the 10s default timeout would make "interval": "5s" invalid on
  // its own, so an omitted timeout is capped at the interval.
  BOOST_TEST(accepted(minimal_with(R"({"healthCheckConfig": {"interval": "5s"}})"))
                 .health_check_config.timeout == 5s);
  BOOST_TEST(accepted(minimal_with(R"({"healthCheckConfig": {"interval": "1m"}})"))
                 .health_check_config.timeout == 10s);
  // A timeout the client chose is never changed.
  check_rejected(minimal_with(R"({"healthCheckConfig": {"interval": "5s", "timeout": "10s"}})"),
                 "healthCheckConfig.timeout", "must not exceed interval");
}

BOOST_AUTO_TEST_CASE(null_means_absent) {
  json::value body = minimal_body();
  body = with_value(body, {"serviceInfo", "region"}, nullptr);
  body = with_value(body, {"serviceInfo", "version"}, nullptr);
  body = with_value(body, {"serviceInfo", "endpoints", "health"}, nullptr);
  body = with_value(body, {"tags"}, nullptr);
  body = with_value(body, {"metadata"}, nullptr);
  body = with_value(body, {"instanceId"}, nullptr);
  body = with_value(body, {"saoLevel"}, nullptr);
  body = with_value(body, {"healthCheckConfig"}, json::object{});
  body = with_value(body, {"healthCheckConfig", "ttl"}, nullptr);
  body = with_value(body, {"healthCheckConfig", "interval"}, nullptr);
  const ServiceRecord r = accepted(body, SaoLevel::opal);
  BOOST_TEST(r.service_info.region.empty());
  BOOST_TEST(r.tags.empty());
  BOOST_TEST(r.sao_level == SaoLevel::opal);
  BOOST_TEST((r.health_check_config == HealthCheckConfig{}));
  check_rejected(with_value(minimal_body(), {"companyName"}, nullptr), "companyName",
                 "is required");
}

BOOST_AUTO_TEST_CASE(body_must_be_an_object) {
  for (const char* body : {"[]", "\"acme\"", "42", "null", "true"}) {
    BOOST_TEST_CONTEXT("body: " << body) {
      const Error error = rejected(json::parse(body));
      BOOST_TEST(error.code == ErrorCode::invalid_argument);
      BOOST_TEST(error.field == "");
      BOOST_TEST(error.message == "the record must be a JSON object");
    }
  }
}

BOOST_AUTO_TEST_CASE(required_fields) {
  check_rejected(json::parse(R"({"serviceInfo": {"endpoints": {"primary": "https://a.b"}}})"),
                 "companyName", "is required");
  check_rejected(minimal_with(R"({"companyName": ""})"), "companyName", "is required");
  check_rejected(json::parse(R"({"companyName": "acme"})"), "serviceInfo.endpoints.primary",
                 "is required");
  check_rejected(json::parse(R"({"companyName": "acme", "serviceInfo": {}})"),
                 "serviceInfo.endpoints.primary", "is required");
  check_rejected(json::parse(R"({"companyName": "acme", "serviceInfo": {"endpoints": {}}})"),
                 "serviceInfo.endpoints.primary", "is required");
  check_rejected(json::parse(R"({"companyName": "acme",
                      "serviceInfo": {"endpoints": {"health": "https://a.b/health"}}})"),
                 "serviceInfo.endpoints.primary", "is required");
}

BOOST_AUTO_TEST_CASE(read_only_fields_are_refused) {
  for (const char* field :
       {"serviceId", "status", "healthStatus", "mcp", "registeredAt", "lastUpdated"}) {
    // Refused whatever the value, null included: the client named it.
    check_rejected(with_value(minimal_body(), {field}, "x"), field, "is read-only");
    check_rejected(with_value(minimal_body(), {field}, nullptr), field, "is read-only");
  }
  check_rejected(minimal_with(R"({"status": "active"})"), "status", "is read-only");
  check_rejected(minimal_with(R"({"mcp": {"tools": []}})"), "mcp", "is read-only");
}

BOOST_AUTO_TEST_CASE(bookkeeping_fields_are_not_part_of_the_api) {
  for (const char* field : {"statusCause", "createIndex", "modifyIndex"}) {
    check_rejected(with_value(minimal_body(), {field}, 1), field, "unknown field");
  }
}

BOOST_AUTO_TEST_CASE(unknown_fields_at_every_level) {
  check_rejected(minimal_with(R"({"colour": "blue"})"), "colour", "unknown field");
  check_rejected(minimal_with(R"({"serviceInfo": {"colour": "blue"}})"), "serviceInfo.colour",
                 "unknown field");
  check_rejected(minimal_with(R"({"serviceInfo": {"endpoints": {"admin": "https://a.b"}}})"),
                 "serviceInfo.endpoints.admin", "unknown field");
  check_rejected(minimal_with(R"({"healthCheckConfig": {"intervall": "5s"}})"),
                 "healthCheckConfig.intervall", "unknown field");
  check_rejected(minimal_with(R"({"healthCheckConfig": {"alerting": {"email": "a@b"}}})"),
                 "healthCheckConfig.alerting.email", "unknown field");
  // camelCase only: the snake_case spelling of a real field is unknown.
  check_rejected(minimal_with(R"({"company_name": "acme"})"), "company_name", "unknown field");
}

BOOST_AUTO_TEST_CASE(free_objects_take_any_members) {
  const ServiceRecord r = accepted(minimal_with(R"({
      "personalConfig": {"anything": {"goes": [1, "two", null, {"x": false}]}},
      "demoConfig": {"seed": 7},
      "metadata": {"team": "search", "nested": {"deep": {"er": 1}}}})"));
  BOOST_TEST(r.personal_config.at("anything").at("goes").as_array().size() == 4u);
  BOOST_TEST(r.demo_config.at("seed") == 7);
  BOOST_TEST(r.metadata.at("team") == "search");
}

BOOST_AUTO_TEST_CASE(wrong_types_name_the_field) {
  struct Case {
    const char* patch;
    const char* field;
    const char* message;
  };
  for (const Case& c : {
           Case{R"({"companyName": 5})", "companyName", "must be a string"},
           Case{R"({"companyName": ["acme"]})", "companyName", "must be a string"},
           Case{R"({"domain": true})", "domain", "must be a string"},
           Case{R"({"instanceId": 12})", "instanceId", "must be a string"},
           Case{R"({"serviceInfo": "https://a.b"})", "serviceInfo", "must be an object"},
           Case{R"({"serviceInfo": {"endpoints": ["https://a.b"]}})", "serviceInfo.endpoints",
                "must be an object"},
           Case{R"({"serviceInfo": {"endpoints": {"primary": 1}}})",
                "serviceInfo.endpoints.primary", "must be a string"},
           Case{R"({"serviceInfo": {"endpoints": {"mcp": {}}}})", "serviceInfo.endpoints.mcp",
                "must be a string"},
           Case{R"({"serviceInfo": {"version": 1.4}})", "serviceInfo.version", "must be a string"},
           Case{R"({"serviceInfo": {"region": 1}})", "serviceInfo.region", "must be a string"},
           Case{R"({"serviceInfo": {"environment": false}})", "serviceInfo.environment",
                "must be a string"},
           Case{R"({"serviceInfo": {"capabilities": "tools"}})", "serviceInfo.capabilities",
                "must be an array of strings"},
           Case{R"({"serviceInfo": {"capabilities": ["tools", 2]}})", "serviceInfo.capabilities[1]",
                "must be a string"},
           Case{R"({"tags": {"beta": true}})", "tags", "must be an array of strings"},
           Case{R"({"tags": ["a", "b", "c", null]})", "tags[3]", "must be a string"},
           Case{R"({"personalConfig": []})", "personalConfig", "must be an object"},
           Case{R"({"demoConfig": "on"})", "demoConfig", "must be an object"},
           Case{R"({"metadata": 1})", "metadata", "must be an object"},
           Case{R"({"saoLevel": 2})", "saoLevel", "must be a string"},
           Case{R"({"healthCheckConfig": "30s"})", "healthCheckConfig", "must be an object"},
           Case{R"({"healthCheckConfig": {"interval": 30}})", "healthCheckConfig.interval",
                "must be a duration string such as \"30s\""},
           Case{R"({"healthCheckConfig": {"ttl": 30}})", "healthCheckConfig.ttl",
                "must be a duration string such as \"30s\""},
           Case{R"({"healthCheckConfig": {"mcp": "yes"}})", "healthCheckConfig.mcp",
                "must be true or false"},
           Case{R"({"healthCheckConfig": {"mcp": 1}})", "healthCheckConfig.mcp",
                "must be true or false"},
           Case{R"({"healthCheckConfig": {"endpoints": "/health"}})", "healthCheckConfig.endpoints",
                "must be an array of strings"},
           Case{R"({"healthCheckConfig": {"alerting": []}})", "healthCheckConfig.alerting",
                "must be an object"},
           Case{R"({"healthCheckConfig": {"alerting": {"enabled": "true"}}})",
                "healthCheckConfig.alerting.enabled", "must be true or false"},
           Case{R"({"healthCheckConfig": {"alerting": {"channels": [1]}}})",
                "healthCheckConfig.alerting.channels[0]", "must be a string"},
       }) {
    check_rejected(minimal_with(c.patch), c.field, c.message);
  }
}

// schemathesis found the server taking "" for an optional endpoint as
// "absent" while the OpenAPI document (an http(s) URL) and API.md reject it.
BOOST_AUTO_TEST_CASE(an_empty_optional_endpoint_is_rejected_not_read_as_absent) {
  for (const char* name : {"health", "metrics", "mcp"}) {
    const std::string patch = std::string(R"({"serviceInfo": {"endpoints": {"primary": "https://a.example", ")") +
                              name + R"(": ""}}})";
    check_rejected(minimal_with(patch), std::string("serviceInfo.endpoints.") + name,
                   "must be an absolute http or https URL with a host (null removes it)");
  }
  // null is how an optional endpoint is left out.
  accepted(minimal_with(R"({"serviceInfo": {"endpoints": {"primary": "https://a.example", "mcp": null}}})"));
}

// schemathesis: "domain": "" was read as "no domain" (derived from the
// primary endpoint) while the document requires a DNS name; null derives it.
BOOST_AUTO_TEST_CASE(an_empty_domain_is_rejected_and_null_derives_it) {
  check_rejected(minimal_with(R"({"domain": ""})"), "domain",
                 "must be a DNS name: lowercase letters, digits, '-' and '.', labels of 1 to 63 characters "
                 "(null derives it from serviceInfo.endpoints.primary)");
  BOOST_TEST(accepted(minimal_with(R"({"domain": null})")).domain.empty());  // the registry fills it
}

// schemathesis: "instanceId": "" was read as absent and one was generated
// (201), while the document's pattern needs 1 to 128 characters.
BOOST_AUTO_TEST_CASE(an_empty_instance_id_is_rejected_and_null_generates_one) {
  check_rejected(minimal_with(R"({"instanceId": ""})"), "instanceId",
                 "must match [A-Za-z0-9._-]{1,128} (null, or no instanceId, has one generated)");
  BOOST_TEST(accepted(minimal_with(R"({"instanceId": null})")).instance_id.empty());  // the registry fills it
}

// fuzz_merge_patch: Boost.JSON reads 1e400 as Infinity and 0e400 as NaN and
// writes them as `Infinity` / `NaN`, which is not JSON: such metadata made
// every answer with the record invalid and the daemon unable to load its
// store after a restart.
BOOST_AUTO_TEST_CASE(numbers_beyond_a_double_are_rejected_in_free_objects) {
  check_rejected(json::parse(R"({"companyName":"acme","serviceInfo":{"endpoints":{"primary":"https://a.b"}},"metadata":{"y":1e400}})"),
                 "metadata", "must not hold a number beyond the range of a double (such as 1e400)");
  check_rejected(json::parse(R"({"companyName":"acme","serviceInfo":{"endpoints":{"primary":"https://a.b"}},"personalConfig":{"a":[{"b":0e400}]}})"),
                 "personalConfig", "must not hold a number beyond the range of a double (such as 1e400)");
  accepted(json::parse(R"({"companyName":"acme","serviceInfo":{"endpoints":{"primary":"https://a.b"}},"metadata":{"y":1e308,"z":-0.0}})"));
}

// fuzz_record_json: a stored healthStatus.uptime of 1e400 was read as
// Infinity and written back as `Infinity`, which is not JSON.
BOOST_AUTO_TEST_CASE(a_stored_number_beyond_a_double_is_rejected) {
  auto stored = discovery::to_json(accepted(minimal_body()), discovery::JsonView::storage);
  stored["serviceId"] = "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10";
  stored["healthStatus"].as_object()["uptime"] = json::parse("1e400");
  auto parsed = discovery::parse_stored_record(stored);
  BOOST_REQUIRE(parsed.has_error());
  BOOST_TEST(parsed.error().field == "healthStatus.uptime");
  BOOST_TEST(parsed.error().message == "must be a finite number");
}

BOOST_AUTO_TEST_CASE(error_text_is_field_colon_message) {
  const Error error = rejected(minimal_with(R"({"serviceInfo": {"region": "US West"}})"));
  BOOST_TEST(error.to_string() == "serviceInfo.region: must match [a-z0-9-]+");
}

BOOST_AUTO_TEST_CASE(first_offending_field_is_named) {
  // Type errors are found in document order, before any value rule.
  const Error error = rejected(json::parse(R"({"companyName": "Bad Name", "tags": 5,
      "serviceInfo": {"endpoints": {"primary": "https://a.b"}}})"));
  check_error(error, "tags", "must be an array of strings");
}

BOOST_AUTO_TEST_CASE(sao_level_defaults_to_the_caller) {
  for (const SaoLevel level : discovery::kAllSaoLevels) {
    BOOST_TEST(accepted(minimal_body(), level).sao_level == level);
  }
}

BOOST_AUTO_TEST_CASE(sao_level_at_or_below_the_caller) {
  BOOST_TEST(accepted(minimal_with(R"({"saoLevel": "opal"})")).sao_level == SaoLevel::opal);
  BOOST_TEST(accepted(minimal_with(R"({"saoLevel": "onyx"})")).sao_level == SaoLevel::onyx);
  BOOST_TEST(accepted(minimal_with(R"({"saoLevel": "sapphire"})")).sao_level == SaoLevel::sapphire);
  BOOST_TEST(accepted(minimal_with(R"({"saoLevel": "diamond"})"), SaoLevel::diamond).sao_level ==
             SaoLevel::diamond);
}

BOOST_AUTO_TEST_CASE(sao_level_above_the_caller_is_refused) {
  check_rejected(minimal_with(R"({"saoLevel": "emerald"})"), "saoLevel",
                 "may not be above the registering token's level (sapphire)");
  check_rejected(minimal_with(R"({"saoLevel": "diamond"})"), "saoLevel",
                 "may not be above the registering token's level (sapphire)");
  check_rejected(minimal_with(R"({"saoLevel": "sapphire"})"), "saoLevel",
                 "may not be above the registering token's level (onyx)", SaoLevel::onyx);
  check_rejected(minimal_with(R"({"saoLevel": "diamond"})"), "saoLevel",
                 "may not be above the registering token's level (emerald)", SaoLevel::emerald);
}

BOOST_AUTO_TEST_CASE(sao_level_unknown_value) {
  for (const char* level : {"gold", "Diamond", "", "sapphire "}) {
    check_rejected(with_value(minimal_body(), {"saoLevel"}, json::string(level)), "saoLevel",
                   "must be one of diamond, emerald, sapphire, opal, onyx", SaoLevel::diamond);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(patterns_and_limits)

BOOST_AUTO_TEST_CASE(company_name_pattern) {
  for (const std::string& good :
       std::vector<std::string>{"a", "acme", "0acme", "acme-2", "acme-", repeat('a', 63)}) {
    BOOST_TEST(
        accepted(with_value(minimal_body(), {"companyName"}, json::string(good))).company_name ==
        good);
  }
  for (const std::string& bad : std::vector<std::string>{"Acme", "-acme", "acme_corp", "acme corp",
                                                         "acme.io", repeat('a', 64),
                                                         "\xc3\xa1"
                                                         "cme"}) {
    check_rejected(with_value(minimal_body(), {"companyName"}, json::string(bad)), "companyName",
                   "must match [a-z0-9][a-z0-9-]{0,62}");
  }
}

BOOST_AUTO_TEST_CASE(instance_id_pattern) {
  for (const std::string& good :
       std::vector<std::string>{"i", "acme-1767225600000-9f2c1a", "A.b_c-9", repeat('x', 128)}) {
    BOOST_TEST(
        accepted(with_value(minimal_body(), {"instanceId"}, json::string(good))).instance_id ==
        good);
  }
  for (const std::string& bad :
       std::vector<std::string>{"a b", "a/b", "a:b", "id#1", repeat('x', 129)}) {
    check_rejected(with_value(minimal_body(), {"instanceId"}, json::string(bad)), "instanceId",
                   "must match [A-Za-z0-9._-]{1,128}");
  }
}

BOOST_AUTO_TEST_CASE(domain_is_a_dns_name) {
  const std::string label63 = repeat('a', 63);
  for (const std::string& good :
       std::vector<std::string>{"mcp.acme.2100.cool", "localhost", "127.0.0.1", "a-b.c-d",
                                label63 + ".example", "mcp.acme-.2100.cool"}) {
    BOOST_TEST(accepted(with_value(minimal_body(), {"domain"}, json::string(good))).domain == good);
  }
  const char* kMessage =
      "must be a DNS name: lowercase letters, digits, '-' and '.', labels of 1 to 63 characters";
  for (const std::string& bad :
       std::vector<std::string>{"MCP.acme.com", "a..b", ".a", "a.", "a_b.com", "a b", "https://a.b",
                                "[::1]", repeat('a', 64) + ".example"}) {
    check_rejected(with_value(minimal_body(), {"domain"}, json::string(bad)), "domain", kMessage);
  }
  // 253 characters in all: four labels of 63 and one of 1, with dots.
  const std::string longest = label63 + "." + label63 + "." + label63 + "." + repeat('a', 61);
  BOOST_REQUIRE(longest.size() == 253u);
  BOOST_TEST(accepted(with_value(minimal_body(), {"domain"}, json::string(longest))).domain ==
             longest);
  check_rejected(with_value(minimal_body(), {"domain"}, json::string(longest + "a")), "domain",
                 "must be at most 253 characters");
}

BOOST_AUTO_TEST_CASE(endpoint_urls) {
  for (const char* good :
       {"http://a", "https://mcp.acme.2100.cool", "https://mcp.acme.2100.cool/mcp?x=1#top",
        "http://127.0.0.1:8080", "http://[::1]:8080/health", "HTTPS://Example.COM/",
        "https://a.b:65535", "https://a.b?q"}) {
    for (const char* endpoint : {"primary", "health", "metrics", "mcp"}) {
      json::value body =
          with_value(minimal_body(), {"serviceInfo", "endpoints", endpoint}, json::string(good));
      BOOST_TEST_CONTEXT("url: " << good) { accepted(body); }
    }
  }
  const char* kMessage = "must be an absolute http or https URL with a host";
  for (const char* bad :
       {"ftp://a.b",     "mcp.acme.2100.cool", "//a.b/x",          "/health",
        "https://",      "https:///path",      "https://:80",      "http://user:pw@a.b",
        "https://a.b:0", "https://a.b:65536",  "https://a.b:http", "https://a.b:",
        "https://a b",   "https://a.b/ x",     "https://[::1",     "https://[]",
        "http:/a.b",     "https://a.b\n",      "javascript://a.b", "https://a,b"}) {
    for (const char* endpoint : {"primary", "health", "metrics", "mcp"}) {
      check_rejected(
          with_value(minimal_body(), {"serviceInfo", "endpoints", endpoint}, json::string(bad)),
          std::string("serviceInfo.endpoints.") + endpoint, kMessage);
    }
  }
}

BOOST_AUTO_TEST_CASE(endpoint_url_length) {
  const std::string prefix = "https://a.b/";
  const std::string longest = prefix + repeat('p', 2048 - prefix.size());
  accepted(
      with_value(minimal_body(), {"serviceInfo", "endpoints", "primary"}, json::string(longest)));
  check_rejected(with_value(minimal_body(), {"serviceInfo", "endpoints", "metrics"},
                            json::string(longest + "p")),
                 "serviceInfo.endpoints.metrics", "must be at most 2048 characters");
}

BOOST_AUTO_TEST_CASE(region_and_environment) {
  for (const char* field : {"region", "environment"}) {
    const std::string path = std::string("serviceInfo.") + field;
    for (const std::string& good :
         std::vector<std::string>{"us-west1", "eu", "0", "production", repeat('r', 256)}) {
      accepted(with_value(minimal_body(), {"serviceInfo", field}, json::string(good)));
    }
    for (const std::string& bad :
         std::vector<std::string>{"US-West1", "us_west1", "us west", "eu.1", "\xc3\xa9u"}) {
      check_rejected(with_value(minimal_body(), {"serviceInfo", field}, json::string(bad)), path,
                     "must match [a-z0-9-]+");
    }
    check_rejected(
        with_value(minimal_body(), {"serviceInfo", field}, json::string(repeat('r', 257))), path,
        "must be at most 256 characters");
    // An empty string is the same as absent.
    const ServiceRecord r =
        accepted(with_value(minimal_body(), {"serviceInfo", field}, json::string("")));
    BOOST_TEST(r.service_info.region.empty());
    BOOST_TEST(r.service_info.environment.empty());
  }
}

BOOST_AUTO_TEST_CASE(version_text) {
  BOOST_TEST(
      accepted(minimal_with(R"json({"serviceInfo": {"version": "1.4.2-beta+sha.5 (café)"}})json"))
          .service_info.version == "1.4.2-beta+sha.5 (café)");
  accepted(with_value(minimal_body(), {"serviceInfo", "version"}, json::string(repeat('v', 256))));
  check_rejected(
      with_value(minimal_body(), {"serviceInfo", "version"}, json::string(repeat('v', 257))),
      "serviceInfo.version", "must be at most 256 characters");
  for (const char* bad : {"1.0\n", "1.0\t", "\x1b[31m1.0", "1.0\x7f"}) {
    check_rejected(with_value(minimal_body(), {"serviceInfo", "version"}, json::string(bad)),
                   "serviceInfo.version", "must not contain control characters");
  }
}

BOOST_AUTO_TEST_CASE(tags_and_capabilities) {
  struct List {
    std::initializer_list<std::string_view> path;
    std::string field;
  };
  for (const List& list : {List{{"tags"}, "tags"},
                           List{{"serviceInfo", "capabilities"}, "serviceInfo.capabilities"}}) {
    const auto body_with = [&](json::array items) {
      return with_value(minimal_body(), list.path, std::move(items));
    };
    accepted(body_with(
        {"beta", "gpu", "mcp:tools", "v1.2_beta-x", "UPPER", json::string(repeat('t', 256))}));
    accepted(body_with(string_list(64, "t")));
    accepted(body_with({}));
    check_rejected(body_with(string_list(65, "t")), list.field, "must be at most 64 items");
    for (const std::string& bad :
         std::vector<std::string>{"has space", "a,b", "a/b", "\xc3\xbc", "a@b", "#gpu"}) {
      check_rejected(body_with({"ok", json::string(bad)}), list.field + "[1]",
                     "must match [A-Za-z0-9._:-]+");
    }
    check_rejected(body_with({"ok", "", "x"}), list.field + "[1]", "must not be empty");
    check_rejected(body_with({json::string(repeat('t', 257))}), list.field + "[0]",
                   "must be at most 256 characters");
    check_rejected(body_with({"a", "b", "c", "b"}), list.field + "[3]",
                   "is a duplicate of " + list.field + "[1]");
    check_rejected(body_with({"gpu", "GPU", "gpu"}), list.field + "[2]",
                   "is a duplicate of " + list.field + "[0]");
  }
}

BOOST_AUTO_TEST_CASE(limits_are_configurable) {
  RecordLimits limits;
  limits.max_list = 2;
  limits.max_string = 4;
  limits.max_url = 26;  // exactly the minimal body's primary URL
  limits.max_domain = 10;
  check_rejected(minimal_with(R"({"tags": ["a", "b", "c"]})"), "tags", "must be at most 2 items",
                 SaoLevel::sapphire, limits);
  check_rejected(minimal_with(R"({"tags": ["abcde"]})"), "tags[0]", "must be at most 4 characters",
                 SaoLevel::sapphire, limits);
  check_rejected(minimal_with(R"({"serviceInfo": {"region": "abcde"}})"), "serviceInfo.region",
                 "must be at most 4 characters", SaoLevel::sapphire, limits);
  check_rejected(
      minimal_with(R"({"serviceInfo": {"endpoints": {"metrics": "https://a.b/metrics/abcdefg"}}})"),
      "serviceInfo.endpoints.metrics", "must be at most 26 characters", SaoLevel::sapphire, limits);
  check_rejected(json::parse(R"({"companyName": "acme", "domain": "mcp.acme.io",
                     "serviceInfo": {"endpoints": {"primary": "https://a.b"}}})"),
                 "domain", "must be at most 10 characters", SaoLevel::sapphire, limits);
  check_rejected(
      json::parse(
          R"({"companyName": "acme", "serviceInfo": {"endpoints": {"primary": "https://a.b"}},
                      "healthCheckConfig": {"endpoints": ["/a", "/b", "/c"]}})"),
      "healthCheckConfig.endpoints", "must be at most 2 items", SaoLevel::sapphire, limits);
}

BOOST_AUTO_TEST_CASE(free_object_size_and_depth) {
  RecordLimits limits;
  limits.max_object_bytes = 40;
  limits.max_object_depth = 3;
  for (const char* field : {"personalConfig", "demoConfig", "metadata"}) {
    // {"k":"xxx..."}: 8 bytes of framing around the value.
    accepted(
        with_value(minimal_body(), {field}, json::object{{"k", json::string(repeat('x', 40 - 8))}}),
        SaoLevel::sapphire, limits);
    check_rejected(
        with_value(minimal_body(), {field}, json::object{{"k", json::string(repeat('x', 40 - 7))}}),
        field, "must be at most 40 bytes when serialized", SaoLevel::sapphire, limits);
    accepted(with_value(minimal_body(), {field}, json::parse(R"({"a": {"b": [1]}})")),
             SaoLevel::sapphire, limits);
    check_rejected(with_value(minimal_body(), {field}, json::parse(R"({"a": {"b": [[1]]}})")),
                   field, "must be nested at most 3 levels deep", SaoLevel::sapphire, limits);
    check_rejected(with_value(minimal_body(), {field}, json::parse(R"({"a": {"b": {"c": {}}}})")),
                   field, "must be nested at most 3 levels deep", SaoLevel::sapphire, limits);
  }
}

BOOST_AUTO_TEST_CASE(free_object_default_depth_is_sixteen) {
  json::value nested = json::object{};
  for (int i = 1; i < 16; ++i) nested = json::object{{"n", nested}};
  accepted(with_value(minimal_body(), {"metadata"}, nested));
  nested = json::object{{"n", nested}};
  check_rejected(with_value(minimal_body(), {"metadata"}, nested), "metadata",
                 "must be nested at most 16 levels deep");
}

BOOST_AUTO_TEST_CASE(whole_record_size) {
  RecordLimits limits;
  limits.max_record_bytes = 2000;
  accepted(with_value(minimal_body(), {"metadata"}, json::object{{"k", repeat('x', 100)}}),
           SaoLevel::sapphire, limits);
  const Error error =
      rejected(with_value(minimal_body(), {"metadata"}, json::object{{"k", repeat('x', 2000)}}),
               SaoLevel::sapphire, limits);
  BOOST_TEST(error.code == ErrorCode::payload_too_large);
  BOOST_TEST(error.field == "");
  BOOST_TEST(error.message.find("at most 2000 bytes") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(health_check_config)

json::value config_body(std::string_view config) {
  return with_value(minimal_body(), {"healthCheckConfig"}, json::parse(config));
}
void check_config_rejected(std::string_view config, std::string_view field,
                           std::string_view message) {
  check_rejected(config_body(config), field, message);
}
HealthCheckConfig config_accepted(std::string_view config) {
  return accepted(config_body(config)).health_check_config;
}

BOOST_AUTO_TEST_CASE(interval_and_timeout) {
  BOOST_TEST(config_accepted(R"({"interval": "1m30s", "timeout": "2s"})").interval == 90s);
  BOOST_TEST(config_accepted(R"({"interval": "500ms", "timeout": "500ms"})").timeout == 500ms);
  BOOST_TEST(config_accepted(R"({"interval": "720h"})").interval == 720h);
  check_config_rejected(R"({"interval": "0s"})", "healthCheckConfig.interval",
                        "must be a positive duration");
  check_config_rejected(R"({"timeout": "0ms"})", "healthCheckConfig.timeout",
                        "must be a positive duration");
  check_config_rejected(R"({"interval": "5s", "timeout": "5001ms"})", "healthCheckConfig.timeout",
                        "must not exceed interval");
  check_config_rejected(R"({"timeout": "31s"})", "healthCheckConfig.timeout",
                        "must not exceed interval");
  for (const char* bad : {"30", "thirty", "-5s", "", "5d", "721h"}) {
    BOOST_TEST_CONTEXT("interval: " << bad) {
      const Error error = rejected(
          with_value(config_body("{}"), {"healthCheckConfig", "interval"}, json::string(bad)));
      BOOST_TEST(error.field == "healthCheckConfig.interval");
      BOOST_TEST(error.message.find("is not a duration") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(retries_and_thresholds) {
  BOOST_TEST(config_accepted(R"({"retries": 0})").retries == 0u);
  BOOST_TEST(config_accepted(R"({"retries": 10})").retries == 10u);
  BOOST_TEST(config_accepted(R"({"retries": 4.0})").retries == 4u);  // integral double
  BOOST_TEST(
      config_accepted(R"({"failureThreshold": 1, "successThreshold": 100})").success_threshold ==
      100u);
  for (const char* bad :
       {"11", "-1", "2.5", "\"3\"", "true", "1e30", "4294967296", "18446744073709551615", "-0.5"}) {
    check_rejected(
        with_value(config_body("{}"), {"healthCheckConfig", "retries"}, json::parse(bad)),
        "healthCheckConfig.retries", "must be an integer from 0 to 10");
  }
  for (const char* field : {"failureThreshold", "successThreshold"}) {
    for (const char* bad : {"0", "101", "-3", "1.5", "\"2\"", "4294967297"}) {
      check_rejected(with_value(config_body("{}"), {"healthCheckConfig", field}, json::parse(bad)),
                     std::string("healthCheckConfig.") + field, "must be an integer from 1 to 100");
    }
  }
}

BOOST_AUTO_TEST_CASE(endpoints) {
  BOOST_TEST(config_accepted(R"({"endpoints": ["/ready", "https://status.example/ok", "/h?x=1"]})")
                 .endpoints.size() == 3u);
  json::value body = config_body("{}");
  body = with_value(body, {"healthCheckConfig", "endpoints"}, string_list(16, "/e"));
  BOOST_TEST(accepted(body).health_check_config.endpoints.size() == 16u);
  body = with_value(body, {"healthCheckConfig", "endpoints"}, string_list(17, "/e"));
  check_rejected(body, "healthCheckConfig.endpoints", "must be at most 16 items");
  // An empty list: no HTTP check (the MCP check or the heartbeat TTL alone).
  BOOST_TEST(config_accepted(R"({"endpoints": [], "mcp": true})").endpoints.empty());
  BOOST_TEST(config_accepted(R"({"endpoints": ["tcp://db.example.com:5432", "tcp://[2001:db8::1]:22"]})")
                 .endpoints.size() == 2u);
  for (const char* bad : {"health", "", "ftp://a.b/h", "/he alth", "/h\n", "https://", "tcp://host",
                          "tcp://host:80/path", "tcp://u@host:80"}) {
    check_rejected(with_value(config_body("{}"), {"healthCheckConfig", "endpoints"},
                              json::array{"/ok", json::string(bad)}),
                   "healthCheckConfig.endpoints[1]",
                   "must be a path starting with /, an absolute http or https URL, or tcp://host:port");
  }
}

BOOST_AUTO_TEST_CASE(expected_status_forms) {
  const auto range_of = [](std::string_view config) {
    const auto status = config_accepted(config).expected_status;
    return std::pair{status.low, status.high};
  };
  BOOST_TEST((range_of(R"({"expectedStatus": 204})") == std::pair{204, 204}));
  BOOST_TEST((range_of(R"({"expectedStatus": 100})") == std::pair{100, 100}));
  BOOST_TEST((range_of(R"({"expectedStatus": 599})") == std::pair{599, 599}));
  BOOST_TEST((range_of(R"({"expectedStatus": "200-299"})") == std::pair{200, 299}));
  BOOST_TEST((range_of(R"({"expectedStatus": "100-599"})") == std::pair{100, 599}));
  BOOST_TEST((range_of(R"({"expectedStatus": "301-301"})") == std::pair{301, 301}));
  BOOST_TEST((range_of(R"({"expectedStatus": 200.0})") == std::pair{200, 200}));
  const char* kMessage = "must be an HTTP status from 100 to 599 or a range such as \"200-299\"";
  for (const char* bad : {"99", "600", "0", "-200", "200.5", "\"200\"", "\"299-200\"", "\"99-200\"",
                          "\"200-600\"", "\"200-\"", "\"-299\"", "\"2xx\"", "\"200 - 299\"",
                          "\"+200-299\"", "\"200-299-300\"", "true", "[200]", "{}"}) {
    check_rejected(
        with_value(config_body("{}"), {"healthCheckConfig", "expectedStatus"}, json::parse(bad)),
        "healthCheckConfig.expectedStatus", kMessage);
  }
}

BOOST_AUTO_TEST_CASE(expected_status_is_written_in_its_short_form) {
  HealthCheckConfig config;
  config.expected_status = {204, 204};
  BOOST_TEST(discovery::to_json(config).at("expectedStatus") == 204);
  config.expected_status = {200, 299};
  BOOST_TEST(discovery::to_json(config).at("expectedStatus") == "200-299");
  // "301-301" is read as one status and written as a number.
  BOOST_TEST(discovery::to_json(config_accepted(R"({"expectedStatus": "301-301"})"))
                 .at("expectedStatus") == 301);
}

BOOST_AUTO_TEST_CASE(ttl) {
  BOOST_TEST(!config_accepted(R"({"ttl": null})").ttl.has_value());
  BOOST_TEST(config_accepted(R"({"ttl": "30s"})").ttl.value() == 30s);
  BOOST_TEST(config_accepted(R"({"ttl": "1s"})").ttl.value() == 1s);
  check_config_rejected(R"({"ttl": "999ms"})", "healthCheckConfig.ttl", "must be at least 1s");
  check_config_rejected(R"({"ttl": "0s"})", "healthCheckConfig.ttl", "must be at least 1s");
  BOOST_TEST(rejected(config_body(R"({"ttl": "31x"})")).field == "healthCheckConfig.ttl");
}

BOOST_AUTO_TEST_CASE(mcp_flag) {
  BOOST_TEST(config_accepted(R"({"mcp": true})").mcp);
  BOOST_TEST(!config_accepted(R"({"mcp": false})").mcp);
}

BOOST_AUTO_TEST_CASE(alerting) {
  const HealthCheckConfig c = config_accepted(
      R"({"alerting": {"enabled": true, "channels": ["webhook", "ops-pager", "log"],
                        "escalationLevels": ["emergency", "warning"]}})");
  BOOST_TEST(c.alerting.enabled);
  BOOST_TEST(c.alerting.channels.size() == 3u);
  BOOST_TEST(c.alerting.escalation_levels == (std::vector<std::string>{"emergency", "warning"}),
             boost::test_tools::per_element());
  check_config_rejected(R"({"alerting": {"channels": ["Webhook"]}})",
                        "healthCheckConfig.alerting.channels[0]", "must match [a-z0-9-]+");
  check_config_rejected(R"({"alerting": {"channels": ["a", "b", "a"]}})",
                        "healthCheckConfig.alerting.channels[2]",
                        "is a duplicate of healthCheckConfig.alerting.channels[0]");
  json::value body = config_body("{}");
  body = with_value(body, {"healthCheckConfig", "alerting"}, json::object{});
  body = with_value(body, {"healthCheckConfig", "alerting", "channels"}, string_list(8, "c"));
  accepted(body);
  body = with_value(body, {"healthCheckConfig", "alerting", "channels"}, string_list(9, "c"));
  check_rejected(body, "healthCheckConfig.alerting.channels", "must be at most 8 items");
  check_config_rejected(R"({"alerting": {"escalationLevels": ["warning", "fatal"]}})",
                        "healthCheckConfig.alerting.escalationLevels[1]",
                        "must be one of warning, critical, emergency");
  check_config_rejected(R"({"alerting": {"escalationLevels": ["Warning"]}})",
                        "healthCheckConfig.alerting.escalationLevels[0]",
                        "must be one of warning, critical, emergency");
  check_config_rejected(R"({"alerting": {"escalationLevels": ["critical", "critical"]}})",
                        "healthCheckConfig.alerting.escalationLevels[1]",
                        "is a duplicate of healthCheckConfig.alerting.escalationLevels[0]");
}

BOOST_AUTO_TEST_CASE(parse_health_check_config_alone) {
  auto parsed = discovery::parse_health_check_config(json::parse(R"({"interval": "10s"})"));
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->interval == 10s);
  BOOST_TEST(parsed->timeout == 10s);
  BOOST_TEST(discovery::parse_health_check_config(json::value(nullptr)).has_value());
  // Paths name the field as a registration body would.
  check_error(discovery::parse_health_check_config(json::parse(R"({"retries": 11})")).error(),
              "healthCheckConfig.retries", "must be an integer from 0 to 10");
  check_error(discovery::parse_health_check_config(json::parse(R"({"x": 1})")).error(),
              "healthCheckConfig.x", "unknown field");
  check_error(discovery::parse_health_check_config(json::parse("[]")).error(), "healthCheckConfig",
              "must be an object");
  RecordLimits limits;
  limits.max_list = 1;
  check_error(
      discovery::parse_health_check_config(json::parse(R"({"endpoints": ["/a", "/b"]})"), limits)
          .error(),
      "healthCheckConfig.endpoints", "must be at most 1 items");
}

BOOST_AUTO_TEST_CASE(value_from_and_value_to) {
  HealthCheckConfig config = full_record().health_check_config;
  const json::value json_form = json::value_from(config);
  BOOST_TEST(json_form == json::value(discovery::to_json(config)));
  BOOST_TEST((json::value_to<HealthCheckConfig>(json_form) == config));
  try {
    (void)json::value_to<HealthCheckConfig>(json::parse(R"({"interval": "never"})"));
    BOOST_FAIL("value_to accepted a bad interval");
  } catch (const discovery::ResultError& e) {
    BOOST_TEST(e.error().field == "healthCheckConfig.interval");
    BOOST_TEST(e.error().code == ErrorCode::invalid_argument);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(json_forms)

BOOST_AUTO_TEST_CASE(full_view_fields_and_values) {
  const json::object out = discovery::to_json(full_record());
  BOOST_TEST(keys_of(out) ==
                 (std::vector<std::string>{
                     "serviceId", "companyName", "domain", "instanceId", "status", "healthStatus",
                     "serviceInfo", "mcp", "healthCheckConfig", "personalConfig", "demoConfig",
                     "saoLevel", "registeredAt", "lastUpdated", "tags", "metadata"}),
             boost::test_tools::per_element());
  BOOST_TEST(out.at("serviceId") == "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10");
  BOOST_TEST(out.at("status") == "unhealthy");
  BOOST_TEST(out.at("saoLevel") == "emerald");
  BOOST_TEST(out.at("registeredAt") == "2026-01-31T11:00:00.000Z");
  BOOST_TEST(out.at("lastUpdated") == "2026-01-31T12:00:00.123Z");
  BOOST_TEST(out.at("healthStatus") == json::parse(R"({"lastCheck": "2026-01-31T12:00:00.123Z",
      "responseTime": 12.4, "uptime": 99.98, "consecutiveFailures": 3,
      "consecutiveSuccesses": 0, "lastFailure": "2026-01-31T12:00:00.123Z",
      "lastError": "connect: connection refused"})"));
  BOOST_TEST(out.at("serviceInfo") == json::parse(R"({"version": "1.4.2",
      "capabilities": ["tools", "resources", "search"], "region": "us-west1",
      "environment": "production", "endpoints": {"primary": "https://mcp.acme.2100.cool",
      "health": "https://mcp.acme.2100.cool/health",
      "metrics": "https://mcp.acme.2100.cool/metrics",
      "mcp": "https://mcp.acme.2100.cool/mcp"}})"));
  BOOST_TEST(out.at("mcp") == json::parse(R"({"protocolVersion": "2025-06-18",
      "transport": "streamable-http", "serverInfo": {"name": "acme-tools", "version": "1.4.2"},
      "capabilities": {"tools": {"listChanged": true}},
      "tools": [{"name": "search", "title": "Search", "description": "Full-text search"},
                {"name": "fetch", "title": "", "description": "Fetches\na page"}],
      "introspectedAt": "2026-01-31T12:00:00.000Z"})"));
  BOOST_TEST(out.at("healthCheckConfig") == json::parse(R"({"interval": "15s",
      "timeout": "1500ms", "retries": 0, "failureThreshold": 5, "successThreshold": 1,
      "endpoints": ["/health", "/ready", "https://status.acme.example/ok"],
      "expectedStatus": "200-299", "mcp": true, "ttl": "90s",
      "alerting": {"enabled": true, "channels": ["webhook", "pager"],
                   "escalationLevels": ["warning", "critical"]}})"));
  BOOST_TEST(out.at("personalConfig").at("owner") == "ops@acme.example");
  BOOST_TEST(out.at("demoConfig") == json::parse(R"({"enabled": true})"));
  BOOST_TEST(out.at("tags") == json::parse(R"(["beta", "gpu"])"));
  BOOST_TEST(out.at("metadata") == json::parse(R"({"team": "search", "cost": 12})"));
}

BOOST_AUTO_TEST_CASE(absent_values_are_null_or_omitted) {
  ServiceRecord r = full_record();
  r.health_status = {};
  r.mcp.reset();
  r.service_info.endpoints.health.clear();
  r.service_info.endpoints.metrics.clear();
  r.service_info.endpoints.mcp.clear();
  r.service_info.region.clear();
  r.service_info.environment.clear();
  r.service_info.version.clear();
  r.health_check_config.ttl.reset();
  const json::object out = discovery::to_json(r);
  BOOST_TEST(out.at("healthStatus") == json::parse(R"({"lastCheck": null, "responseTime": null,
      "uptime": null, "consecutiveFailures": 0, "consecutiveSuccesses": 0,
      "lastFailure": null, "lastError": null})"));
  BOOST_TEST(out.at("mcp").is_null());
  BOOST_TEST(out.at("healthCheckConfig").at("ttl").is_null());
  BOOST_TEST(out.at("serviceInfo") == json::parse(R"({"version": null, "capabilities":
      ["tools", "resources", "search"], "region": null, "environment": null,
      "endpoints": {"primary": "https://mcp.acme.2100.cool"}})"));
}

BOOST_AUTO_TEST_CASE(redacted_view_hides_personal_and_demo_config) {
  const json::object out = discovery::to_json(full_record(), JsonView::redacted);
  BOOST_TEST(!out.contains("personalConfig"));
  BOOST_TEST(!out.contains("demoConfig"));
  BOOST_TEST(!out.contains("statusCause"));
  BOOST_TEST(out.size() == 14u);
  const std::string text = json::serialize(out);
  BOOST_TEST(text.find("ops@acme.example") == std::string::npos);
  // Everything else is as in the full view.
  json::object full = discovery::to_json(full_record(), JsonView::full);
  full.erase("personalConfig");
  full.erase("demoConfig");
  BOOST_TEST(json::value(out) == json::value(full));
}

BOOST_AUTO_TEST_CASE(storage_view_adds_bookkeeping) {
  const json::object out = discovery::to_json(full_record(), JsonView::storage);
  BOOST_TEST(out.size() == 19u);
  BOOST_TEST(out.at("statusCause") == "health");
  BOOST_TEST(out.at("createIndex") == 7);
  BOOST_TEST(out.at("modifyIndex") == 42);
  BOOST_TEST(!discovery::to_json(full_record(), JsonView::full).contains("createIndex"));
}

BOOST_AUTO_TEST_CASE(writable_form) {
  const json::object out = discovery::writable_json(full_record());
  BOOST_TEST(keys_of(out) ==
                 (std::vector<std::string>{"companyName", "instanceId", "domain", "serviceInfo",
                                           "healthCheckConfig", "personalConfig", "demoConfig",
                                           "saoLevel", "tags", "metadata"}),
             boost::test_tools::per_element());
  // Parsing it back reproduces every writable field.
  const ServiceRecord parsed = accepted(out, SaoLevel::diamond);
  ServiceRecord expected = full_record();
  ServiceRecord only_writable;
  only_writable.company_name = expected.company_name;
  only_writable.instance_id = expected.instance_id;
  only_writable.domain = expected.domain;
  only_writable.service_info = expected.service_info;
  only_writable.health_check_config = expected.health_check_config;
  only_writable.personal_config = expected.personal_config;
  only_writable.demo_config = expected.demo_config;
  only_writable.sao_level = expected.sao_level;
  only_writable.tags = expected.tags;
  only_writable.metadata = expected.metadata;
  check_same(parsed, only_writable);
}

BOOST_AUTO_TEST_CASE(writable_form_of_a_fresh_registration_parses_back) {
  const ServiceRecord fresh = accepted(minimal_body());
  const json::object out = discovery::writable_json(fresh);
  BOOST_TEST(!out.contains("instanceId"));
  BOOST_TEST(!out.contains("domain"));
  check_same(accepted(out), fresh);
}

BOOST_AUTO_TEST_CASE(merge_patch_on_the_writable_form) {
  // What PATCH does: patch the writable form, parse it as a registration.
  json::value target = discovery::writable_json(full_record());
  discovery::apply_merge_patch(target, json::parse(R"({"tags": ["ga"],
      "serviceInfo": {"region": "eu-west1", "endpoints": {"metrics": null}},
      "healthCheckConfig": {"ttl": "45s", "alerting": null}, "metadata": {"team": null}})"));
  const ServiceRecord r = accepted(target, SaoLevel::emerald);
  BOOST_TEST(r.tags == (std::vector<std::string>{"ga"}), boost::test_tools::per_element());
  BOOST_TEST(r.service_info.region == "eu-west1");
  BOOST_TEST(r.service_info.endpoints.metrics.empty());
  BOOST_TEST(r.service_info.endpoints.health == full_record().service_info.endpoints.health);
  BOOST_TEST(r.health_check_config.ttl.value() == 45s);
  BOOST_TEST((r.health_check_config.alerting == discovery::AlertingConfig{}));
  BOOST_TEST(r.health_check_config.interval == 15s);
  BOOST_TEST(!r.metadata.contains("team"));
  BOOST_TEST(r.metadata.at("cost") == 12);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(round_trips)

BOOST_AUTO_TEST_CASE(full_record_through_storage_view) {
  const ServiceRecord r = full_record();
  BOOST_REQUIRE(discovery::validate(r).has_value());
  const auto parsed = discovery::parse_stored_record(discovery::to_json(r, JsonView::storage));
  if (!parsed) BOOST_FAIL(parsed.error());
  check_same(*parsed, r);
}

BOOST_AUTO_TEST_CASE(full_record_through_text) {
  const ServiceRecord r = full_record();
  const std::string text = json::serialize(discovery::to_json(r, JsonView::storage));
  const auto parsed = discovery::parse_stored_record(json::parse(text));
  if (!parsed) BOOST_FAIL(parsed.error());
  check_same(*parsed, r);
}

BOOST_AUTO_TEST_CASE(sparse_record_through_storage_view) {
  ServiceRecord r;
  r.service_id = discovery::generate_uuid();
  r.company_name = "a";
  r.domain = "a";
  r.instance_id = "a";
  r.service_info.endpoints.primary = "http://a";
  BOOST_REQUIRE(discovery::validate(r).has_value());
  const auto parsed = discovery::parse_stored_record(discovery::to_json(r, JsonView::storage));
  if (!parsed) BOOST_FAIL(parsed.error());
  check_same(*parsed, r);
}

BOOST_AUTO_TEST_CASE(full_view_parses_back_without_bookkeeping) {
  ServiceRecord r = full_record();
  const auto parsed = discovery::parse_stored_record(discovery::to_json(r, JsonView::full));
  if (!parsed) BOOST_FAIL(parsed.error());
  r.status_cause = StatusCause::registration;
  r.create_index = 0;
  r.modify_index = 0;
  check_same(*parsed, r);
}

BOOST_AUTO_TEST_CASE(value_from_and_value_to) {
  ServiceRecord r = full_record();
  const json::value json_form = json::value_from(r);
  BOOST_TEST(json_form == json::value(discovery::to_json(r)));
  r.status_cause = StatusCause::registration;
  r.create_index = r.modify_index = 0;
  check_same(json::value_to<ServiceRecord>(json_form), r);
  try {
    (void)json::value_to<ServiceRecord>(json::parse(R"({"serviceId": 5})"));
    BOOST_FAIL("value_to accepted a numeric serviceId");
  } catch (const discovery::ResultError& e) {
    BOOST_TEST(e.error().field == "serviceId");
    BOOST_TEST(std::string(e.what()).find("serviceId: must be a string") != std::string::npos);
  }
}

// Random valid records: the property parse(to_json(r)) == r over many shapes.
ServiceRecord random_record(std::mt19937_64& rng) {
  const auto chance = [&](int percent) {
    return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
  };
  const auto number = [&](long long low, long long high) {
    return std::uniform_int_distribution<long long>(low, high)(rng);
  };
  const auto word = [&](std::string_view alphabet, std::size_t min, std::size_t max) {
    std::string text(
        static_cast<std::size_t>(number(static_cast<long long>(min), static_cast<long long>(max))),
        ' ');
    for (char& c : text)
      c = alphabet[static_cast<std::size_t>(
          number(0, static_cast<long long>(alphabet.size()) - 1))];
    return text;
  };
  const auto unique_words = [&](std::string_view alphabet, std::size_t max_items) {
    std::vector<std::string> words;
    const auto n = static_cast<std::size_t>(number(0, static_cast<long long>(max_items)));
    for (std::size_t i = 0; i < n; ++i) {
      std::string w = word(alphabet, 1, 12);
      if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
    }
    return words;
  };
  const std::string_view lower = "abcdefghijklmnopqrstuvwxyz0123456789-";
  const std::string_view token = "abcXYZ019._:-";
  const auto time = [&] { return at_ms(number(-62'000'000'000'000LL, 253'402'300'799'999LL)); };

  ServiceRecord r;
  r.service_id = discovery::generate_uuid();
  r.company_name = "c" + word(lower, 0, 20);
  r.domain = discovery::make_domain(r.company_name);
  r.instance_id = discovery::generate_instance_id(r.company_name, time());
  r.status = discovery::kAllStatuses[number(0, 3)];
  if (chance(70)) r.health_status.last_check = time();
  // Microsecond resolution, as measured. (Doubles that need 17 significant
  // digits do not survive Boost.JSON 1.81's text parser exactly; see
  // any_double_survives_the_object_form.)
  if (chance(70))
    r.health_status.response_time_ms = static_cast<double>(number(0, 1'000'000'000)) / 1000.0;
  if (chance(70)) r.health_status.uptime = static_cast<double>(number(0, 10000)) / 100.0;
  r.health_status.consecutive_failures = static_cast<std::uint32_t>(number(0, 4294967295LL));
  r.health_status.consecutive_successes = static_cast<std::uint32_t>(number(0, 100));
  if (chance(50)) r.health_status.last_failure = time();
  if (chance(50)) r.health_status.last_error = word("ab \n\"\\", 0, 30);
  if (chance(50)) r.service_info.version = word("0123456789.-abc", 0, 10);
  r.service_info.capabilities = unique_words(token, 8);
  if (chance(60)) r.service_info.region = word(lower, 1, 12);
  if (chance(60)) r.service_info.environment = word(lower, 1, 12);
  r.service_info.endpoints.primary = "https://" + r.domain + "/" + word(lower, 0, 10);
  if (chance(50)) r.service_info.endpoints.health = r.service_info.endpoints.primary + "/health";
  if (chance(50)) r.service_info.endpoints.metrics = "http://127.0.0.1:9090/metrics";
  if (chance(50)) r.service_info.endpoints.mcp = "http://[::1]:8080/mcp";
  if (chance(50)) {
    McpInfo mcp;
    mcp.protocol_version = "2025-06-18";
    mcp.transport = chance(50) ? "sse" : "streamable-http";
    mcp.server_name = word(lower, 0, 10);
    mcp.server_version = word(lower, 0, 5);
    if (chance(50)) mcp.capabilities["tools"] = json::object{{"listChanged", chance(50)}};
    const auto tools = number(0, 5);
    for (long long i = 0; i < tools; ++i) {
      mcp.tools.push_back({word(lower, 1, 10), word(lower, 0, 10), word("ab \n", 0, 40)});
    }
    if (chance(50)) mcp.introspected_at = time();
    r.mcp = mcp;
  }
  HealthCheckConfig& c = r.health_check_config;
  c.interval = discovery::Duration{number(1, 720LL * 3'600'000)};
  c.timeout = discovery::Duration{number(1, c.interval.count())};
  c.retries = static_cast<std::uint32_t>(number(0, 10));
  c.failure_threshold = static_cast<std::uint32_t>(number(1, 100));
  c.success_threshold = static_cast<std::uint32_t>(number(1, 100));
  c.endpoints = {"/" + word(lower, 0, 10)};
  if (chance(30)) c.endpoints.push_back("https://status.example/" + word(lower, 0, 5));
  const int low = static_cast<int>(number(100, 599));
  c.expected_status = {low, chance(50) ? low : static_cast<int>(number(low, 599))};
  c.mcp = chance(50);
  if (chance(50)) c.ttl = discovery::Duration{number(1000, 720LL * 3'600'000)};
  c.alerting.enabled = chance(50);
  c.alerting.channels = unique_words(lower, 3);
  if (chance(50)) c.alerting.escalation_levels = {"critical", "warning"};
  if (chance(50)) r.personal_config["k"] = word(lower, 0, 10);
  if (chance(50)) r.demo_config["n"] = number(-5, 5);
  r.sao_level = discovery::kAllSaoLevels[number(0, 4)];
  r.registered_at = time();
  r.last_updated = time();
  r.tags = unique_words(token, 6);
  if (chance(50)) r.metadata["list"] = json::array{1, "two", nullptr, 4.5};
  r.status_cause = static_cast<StatusCause>(number(0, 3));
  r.create_index = static_cast<std::uint64_t>(number(0, std::numeric_limits<long long>::max()));
  r.modify_index = r.create_index + static_cast<std::uint64_t>(number(0, 1'000'000));
  return r;
}

BOOST_AUTO_TEST_CASE(random_valid_records) {
  std::mt19937_64 rng(20260131);
  for (int i = 0; i < 300; ++i) {
    const ServiceRecord r = random_record(rng);
    BOOST_TEST_CONTEXT("record #" << i << ": " << discovery::to_json(r, JsonView::storage)) {
      const auto valid = discovery::validate(r);
      if (!valid) BOOST_FAIL(valid.error());
      const auto direct = discovery::parse_stored_record(discovery::to_json(r, JsonView::storage));
      if (!direct) BOOST_FAIL(direct.error());
      check_same(*direct, r);
      const auto through_text = discovery::parse_stored_record(
          json::parse(json::serialize(discovery::to_json(r, JsonView::storage))));
      if (!through_text) BOOST_FAIL(through_text.error());
      check_same(*through_text, r);
    }
  }
}

BOOST_AUTO_TEST_CASE(any_double_survives_the_object_form) {
  ServiceRecord r = full_record();
  r.health_status.response_time_ms = 108.31176090240479;  // 17 significant digits
  r.health_status.uptime = 100.0 * 2.0 / 3.0;
  const auto parsed = discovery::parse_stored_record(discovery::to_json(r, JsonView::storage));
  if (!parsed) BOOST_FAIL(parsed.error());
  BOOST_TEST(parsed->health_status.response_time_ms.value() == *r.health_status.response_time_ms);
  BOOST_TEST(parsed->health_status.uptime.value() == *r.health_status.uptime);
}

BOOST_AUTO_TEST_CASE(index_beyond_int64_survives_text) {
  ServiceRecord r = full_record();
  r.create_index = (std::uint64_t{1} << 63) + 5;
  r.modify_index = std::numeric_limits<std::uint64_t>::max();
  const auto parsed = discovery::parse_stored_record(
      json::parse(json::serialize(discovery::to_json(r, JsonView::storage))));
  if (!parsed) BOOST_FAIL(parsed.error());
  BOOST_TEST(parsed->create_index == r.create_index);
  BOOST_TEST(parsed->modify_index == r.modify_index);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(stored_records)

BOOST_AUTO_TEST_CASE(lenient_about_absent_fields) {
  const auto parsed = discovery::parse_stored_record(json::parse(
      R"({"serviceId": "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10", "companyName": "acme"})"));
  if (!parsed) BOOST_FAIL(parsed.error());
  BOOST_TEST(parsed->company_name == "acme");
  BOOST_TEST(parsed->status == ServiceStatus::active);
  BOOST_TEST(parsed->status_cause == StatusCause::registration);
  BOOST_TEST((parsed->health_check_config == HealthCheckConfig{}));
  BOOST_TEST(!parsed->mcp.has_value());
}

BOOST_AUTO_TEST_CASE(identity_is_required) {
  check_error(discovery::parse_stored_record(json::parse(R"({"companyName": "acme"})")).error(),
              "serviceId", "is required");
  check_error(discovery::parse_stored_record(json::parse(R"({"serviceId": "x"})")).error(),
              "companyName", "is required");
  check_error(discovery::parse_stored_record(json::parse("[1]")).error(), "",
              "the record must be a JSON object");
}

BOOST_AUTO_TEST_CASE(strict_about_types) {
  struct Case {
    const char* patch;
    const char* field;
    const char* message;
  };
  const json::value base = discovery::to_json(full_record(), JsonView::storage);
  for (const Case& c : {
           Case{R"({"serviceId": 5})", "serviceId", "must be a string"},
           Case{R"({"status": "asleep"})", "status",
                "must be one of active, inactive, maintenance, unhealthy"},
           Case{R"({"status": 1})", "status", "must be a string"},
           Case{R"({"statusCause": "operator_set"})", "statusCause",
                "must be one of registration, operator, health, ttl"},
           Case{R"({"saoLevel": "gold"})", "saoLevel",
                "must be one of diamond, emerald, sapphire, opal, onyx"},
           Case{R"({"createIndex": "5"})", "createIndex",
                "must be an integer from 0 to 18446744073709551615"},
           Case{R"({"modifyIndex": -1})", "modifyIndex",
                "must be an integer from 0 to 18446744073709551615"},
           Case{R"({"registeredAt": 1767225600000})", "registeredAt",
                "must be an RFC 3339 time string"},
           Case{R"({"healthStatus": {"responseTime": "fast"}})", "healthStatus.responseTime",
                "must be a number"},
           Case{R"({"healthStatus": {"uptime": [99]}})", "healthStatus.uptime", "must be a number"},
           Case{R"({"healthStatus": {"consecutiveFailures": -1}})",
                "healthStatus.consecutiveFailures", "must be an integer from 0 to 4294967295"},
           Case{R"({"healthStatus": {"consecutiveSuccesses": 4294967296}})",
                "healthStatus.consecutiveSuccesses", "must be an integer from 0 to 4294967295"},
           Case{R"({"healthStatus": {"lastError": 500}})", "healthStatus.lastError",
                "must be a string"},
           Case{R"({"healthStatus": {"latency": 5}})", "healthStatus.latency", "unknown field"},
           Case{R"({"healthStatus": "ok"})", "healthStatus", "must be an object"},
           Case{R"({"mcp": {"tools": [{"name": "a"}, {"name": 5}]}})", "mcp.tools[1].name",
                "must be a string"},
           Case{R"({"mcp": {"tools": ["search"]}})", "mcp.tools[0]", "must be an object"},
           Case{R"({"mcp": "none"})", "mcp", "must be an object"},
           Case{R"({"expiresAt": 5})", "expiresAt", "unknown field"},
       }) {
    BOOST_TEST_CONTEXT("patch: " << c.patch) {
      const auto parsed = discovery::parse_stored_record(patched(base, c.patch));
      BOOST_REQUIRE(!parsed.has_value());
      check_error(parsed.error(), c.field, c.message);
    }
  }
  const auto bad_time =
      discovery::parse_stored_record(patched(base, R"({"lastUpdated": "yesterday"})"));
  BOOST_REQUIRE(!bad_time.has_value());
  BOOST_TEST(bad_time.error().field == "lastUpdated");
  BOOST_TEST(bad_time.error().message.find("RFC 3339") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(null_optionals_read_back_as_absent) {
  const json::value base = discovery::to_json(full_record(), JsonView::storage);
  json::value with_nulls = base;
  with_nulls = with_value(with_nulls, {"healthStatus", "lastCheck"}, nullptr);
  with_nulls = with_value(with_nulls, {"healthStatus", "lastError"}, nullptr);
  with_nulls = with_value(with_nulls, {"healthStatus", "uptime"}, nullptr);
  const auto parsed = discovery::parse_stored_record(with_nulls);
  if (!parsed) BOOST_FAIL(parsed.error());
  BOOST_TEST(!parsed->health_status.last_check.has_value());
  BOOST_TEST(!parsed->health_status.last_error.has_value());
  BOOST_TEST(!parsed->health_status.uptime.has_value());
  BOOST_TEST(parsed->health_status.response_time_ms.value() == 12.4);
  auto with_null_mcp = base;
  with_null_mcp.as_object()["mcp"] = nullptr;
  BOOST_TEST(!discovery::parse_stored_record(with_null_mcp)->mcp.has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(validate_complete_records)

void check_invalid(const ServiceRecord& r, std::string_view field, std::string_view message,
                   const RecordLimits& limits = {}) {
  const auto valid = discovery::validate(r, limits);
  BOOST_REQUIRE(!valid.has_value());
  check_error(valid.error(), field, message);
}

BOOST_AUTO_TEST_CASE(full_record_is_valid) {
  const auto valid = discovery::validate(full_record());
  if (!valid) BOOST_FAIL(valid.error());
}

BOOST_AUTO_TEST_CASE(registry_filled_fields_are_required) {
  ServiceRecord r = full_record();
  r.service_id.clear();
  check_invalid(r, "serviceId", "is required");
  r = full_record();
  r.instance_id.clear();
  check_invalid(r, "instanceId", "is required");
  r = full_record();
  r.domain.clear();
  check_invalid(r, "domain", "is required");
  r = full_record();
  r.company_name.clear();
  check_invalid(r, "companyName", "is required");
  r = full_record();
  r.service_info.endpoints.primary.clear();
  check_invalid(r, "serviceInfo.endpoints.primary", "is required");
}

BOOST_AUTO_TEST_CASE(service_id_is_a_lowercase_uuid) {
  for (const char* bad :
       {"3F0C6A52-9B8E-4A53-8A55-0F7D1B6B2F10", "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f1",
        "3f0c6a529b8e4a538a550f7d1b6b2f10", "{3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10}",
        "3f0c6a52-9b8e-4a53-8a55_0f7d1b6b2f10", "gf0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10"}) {
    ServiceRecord r = full_record();
    r.service_id = bad;
    check_invalid(r, "serviceId", "must be a lowercase UUID");
  }
}

BOOST_AUTO_TEST_CASE(same_rules_as_registration) {
  ServiceRecord r = full_record();
  r.service_info.region = "US";
  check_invalid(r, "serviceInfo.region", "must match [a-z0-9-]+");
  r = full_record();
  r.tags = {"a", "a"};
  check_invalid(r, "tags[1]", "is a duplicate of tags[0]");
  r = full_record();
  r.instance_id = "has space";
  check_invalid(r, "instanceId", "must match [A-Za-z0-9._-]{1,128}");
  r = full_record();
  r.service_info.endpoints.mcp = "ws://a.b";
  check_invalid(r, "serviceInfo.endpoints.mcp",
                "must be an absolute http or https URL with a host");
}

BOOST_AUTO_TEST_CASE(health_check_config_rules_on_the_struct) {
  ServiceRecord r = full_record();
  r.health_check_config.interval = discovery::Duration{0};
  check_invalid(r, "healthCheckConfig.interval", "must be a positive duration");
  r = full_record();
  r.health_check_config.interval = discovery::Duration{-5};
  check_invalid(r, "healthCheckConfig.interval", "must be a positive duration");
  r = full_record();
  r.health_check_config.interval = 721h;
  check_invalid(r, "healthCheckConfig.interval", "must be at most 30 days");
  r = full_record();
  r.health_check_config.timeout = 16s;
  check_invalid(r, "healthCheckConfig.timeout", "must not exceed interval");
  r = full_record();
  r.health_check_config.retries = 11;
  check_invalid(r, "healthCheckConfig.retries", "must be an integer from 0 to 10");
  r = full_record();
  r.health_check_config.failure_threshold = 0;
  check_invalid(r, "healthCheckConfig.failureThreshold", "must be an integer from 1 to 100");
  r = full_record();
  r.health_check_config.success_threshold = 101;
  check_invalid(r, "healthCheckConfig.successThreshold", "must be an integer from 1 to 100");
  r = full_record();
  r.health_check_config.expected_status = {300, 200};
  check_invalid(r, "healthCheckConfig.expectedStatus",
                "must be an HTTP status from 100 to 599 or a range such as \"200-299\"");
  r = full_record();
  r.health_check_config.ttl = 999ms;
  check_invalid(r, "healthCheckConfig.ttl", "must be at least 1s");
  r = full_record();
  r.health_check_config.ttl = 721h;
  check_invalid(r, "healthCheckConfig.ttl", "must be at most 30 days");
}

BOOST_AUTO_TEST_CASE(health_status_numbers) {
  ServiceRecord r = full_record();
  r.health_status.response_time_ms = std::numeric_limits<double>::quiet_NaN();
  check_invalid(r, "healthStatus.responseTime", "must be a non-negative number");
  r.health_status.response_time_ms = std::numeric_limits<double>::infinity();
  check_invalid(r, "healthStatus.responseTime", "must be a non-negative number");
  r.health_status.response_time_ms = -1;
  check_invalid(r, "healthStatus.responseTime", "must be a non-negative number");
  r = full_record();
  r.health_status.uptime = 100.5;
  check_invalid(r, "healthStatus.uptime", "must be a percentage from 0 to 100");
  r.health_status.uptime = std::numeric_limits<double>::quiet_NaN();
  check_invalid(r, "healthStatus.uptime", "must be a percentage from 0 to 100");
}

BOOST_AUTO_TEST_CASE(times_must_have_a_four_digit_year) {
  ServiceRecord r = full_record();
  r.registered_at = at_ms(253402300800000);  // 10000-01-01
  check_invalid(r, "registeredAt", "must be a time in the years 0000 to 9999");
  r = full_record();
  r.health_status.last_check = at_ms(-62167219200001);  // just before 0000-01-01
  check_invalid(r, "healthStatus.lastCheck", "must be a time in the years 0000 to 9999");
  r.health_status.last_check = at_ms(-62167219200000);
  BOOST_TEST(discovery::validate(r).has_value());
}

BOOST_AUTO_TEST_CASE(mcp_info_rules) {
  ServiceRecord r = full_record();
  r.mcp->tools[1].name.clear();
  check_invalid(r, "mcp.tools[1].name", "is required");
  r = full_record();
  r.mcp->tools[0].description = repeat('d', 4097);
  check_invalid(r, "mcp.tools[0].description", "must be at most 4096 characters");
  r = full_record();
  r.mcp->tools[0].title = repeat('t', 4097);
  check_invalid(r, "mcp.tools[0].title", "must be at most 4096 characters");
  r = full_record();
  r.mcp->server_name = repeat('s', 257);
  check_invalid(r, "mcp.serverInfo.name", "must be at most 256 characters");
  RecordLimits limits;
  limits.max_tools = 1;
  check_invalid(full_record(), "mcp.tools", "must be at most 1 items", limits);
}

BOOST_AUTO_TEST_CASE(custom_record_size_limit) {
  RecordLimits limits;
  limits.max_record_bytes = 500;
  const auto valid = discovery::validate(full_record(), limits);
  BOOST_REQUIRE(!valid.has_value());
  BOOST_TEST(valid.error().code == ErrorCode::payload_too_large);
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
BOOST_AUTO_TEST_SUITE(mcp_info)

BOOST_AUTO_TEST_CASE(parses_the_api_form) {
  const auto parsed = discovery::parse_mcp_info(json::parse(R"({
      "protocolVersion": "2025-06-18", "transport": "streamable-http",
      "serverInfo": {"name": "acme-tools", "version": "1.4.2"},
      "capabilities": {"tools": {"listChanged": true}},
      "tools": [{"name": "search", "title": "Search", "description": "Full-text search"},
                {"name": "bare"}],
      "introspectedAt": "2026-01-31T12:00:00.000Z"})"));
  if (!parsed) BOOST_FAIL(parsed.error());
  BOOST_TEST(parsed->protocol_version == "2025-06-18");
  BOOST_TEST(parsed->transport == "streamable-http");
  BOOST_TEST(parsed->server_name == "acme-tools");
  BOOST_TEST(parsed->server_version == "1.4.2");
  BOOST_TEST(parsed->capabilities.at("tools").at("listChanged") == true);
  BOOST_REQUIRE(parsed->tools.size() == 2u);
  BOOST_TEST((parsed->tools[0] == discovery::McpTool{"search", "Search", "Full-text search"}));
  BOOST_TEST((parsed->tools[1] == discovery::McpTool{"bare", "", ""}));
  BOOST_TEST(parsed->introspected_at.value() == at_ms(1769860800000));
  BOOST_TEST((discovery::parse_mcp_info(discovery::to_json(*parsed)).value() == *parsed));
}

BOOST_AUTO_TEST_CASE(rejects_unknown_fields_and_wrong_types) {
  check_error(discovery::parse_mcp_info(json::parse(R"({"extra": 1})")).error(), "mcp.extra",
              "unknown field");
  check_error(
      discovery::parse_mcp_info(json::parse(R"({"serverInfo": {"name": "a", "vendor": "b"}})"))
          .error(),
      "mcp.serverInfo.vendor", "unknown field");
  check_error(
      discovery::parse_mcp_info(json::parse(R"({"tools": [{"name": "a", "inputSchema": {}}]})"))
          .error(),
      "mcp.tools[0].inputSchema", "unknown field");
  check_error(discovery::parse_mcp_info(json::parse(R"({"tools": {}})")).error(), "mcp.tools",
              "must be an array");
  check_error(discovery::parse_mcp_info(json::parse(R"({"capabilities": []})")).error(),
              "mcp.capabilities", "must be an object");
  check_error(discovery::parse_mcp_info(json::parse("[]")).error(), "mcp", "must be an object");
  check_error(discovery::parse_mcp_info(json::parse(R"({"tools": [{"title": "x"}]})")).error(),
              "mcp.tools[0].name", "is required");
  BOOST_TEST(
      discovery::parse_mcp_info(json::parse(R"({"introspectedAt": "noon"})")).error().field ==
      "mcp.introspectedAt");
}

BOOST_AUTO_TEST_CASE(limits_apply) {
  RecordLimits limits;
  limits.max_tools = 2;
  check_error(
      discovery::parse_mcp_info(
          json::parse(R"({"tools": [{"name": "a"}, {"name": "b"}, {"name": "c"}]})"), limits)
          .error(),
      "mcp.tools", "must be at most 2 items");
}

BOOST_AUTO_TEST_SUITE_END()

// ===========================================================================
// RFC 7396: every example of Appendix A, and the one of section 3.
BOOST_AUTO_TEST_SUITE(merge_patch)

BOOST_AUTO_TEST_CASE(rfc7396_appendix_a) {
  struct Case {
    const char* original;
    const char* patch;
    const char* result;
  };
  for (const Case& c : {
           Case{R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
           Case{R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
           Case{R"({"a":"b"})", R"({"a":null})", R"({})"},
           Case{R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
           Case{R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
           Case{R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
           Case{R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
           Case{R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
           Case{R"(["a","b"])", R"(["c","d"])", R"(["c","d"])"},
           Case{R"({"a":"b"})", R"(["c"])", R"(["c"])"},
           Case{R"({"a":"foo"})", R"(null)", R"(null)"},
           Case{R"({"a":"foo"})", R"("bar")", R"("bar")"},
           Case{R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
           Case{R"([1,2])", R"({"a":"b","c":null})", R"({"a":"b"})"},
           Case{R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
       }) {
    BOOST_TEST_CONTEXT("original " << c.original << " patch " << c.patch) {
      json::value target = json::parse(c.original);
      const json::value patch = json::parse(c.patch);
      const json::value patch_before = patch;
      discovery::apply_merge_patch(target, patch);
      BOOST_TEST(target == json::parse(c.result));
      BOOST_TEST(patch == patch_before);
    }
  }
}

BOOST_AUTO_TEST_CASE(rfc7396_section_3_example) {
  json::value target = json::parse(R"({
      "title": "Goodbye!",
      "author": {"givenName": "John", "familyName": "Doe"},
      "tags": ["example", "sample"],
      "content": "This will be unchanged"})");
  discovery::apply_merge_patch(target, json::parse(R"({
      "title": "Hello!",
      "phoneNumber": "+01-123-456-7890",
      "author": {"familyName": null},
      "tags": ["example"]})"));
  BOOST_TEST(target == json::parse(R"({
      "title": "Hello!",
      "author": {"givenName": "John"},
      "tags": ["example"],
      "content": "This will be unchanged",
      "phoneNumber": "+01-123-456-7890"})"));
}

BOOST_AUTO_TEST_CASE(empty_patch_changes_nothing) {
  json::value target = json::parse(R"({"a": {"b": [1, 2]}, "c": null})");
  const json::value before = target;
  discovery::apply_merge_patch(target, json::object{});
  BOOST_TEST(target == before);
}

BOOST_AUTO_TEST_CASE(object_patch_into_a_scalar_member) {
  json::value target = json::parse(R"({"a": 5})");
  discovery::apply_merge_patch(target, json::parse(R"({"a": {"b": 1, "c": null}})"));
  BOOST_TEST(target == json::parse(R"({"a": {"b": 1}})"));
}

BOOST_AUTO_TEST_SUITE_END()
