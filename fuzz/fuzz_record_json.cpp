// Record JSON: a registration body, a stored record, a health-check config
// and an MCP block, as JSON text. The first byte picks the caller's level.
//
// Invariants beyond "no crash, no UB, no leak":
// - a registration that parses also validates (parse_registration promises
//   "validates everything"), and its saoLevel is not above the caller's;
// - every record that parses survives the storage round trip unchanged
//   (to_json(storage) -> parse_stored_record), and its API form parses back
//   as a stored record too.
#include <discovery/record_json.hpp>

#include "fuzz_common.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>

using namespace discovery;

namespace {

bool near(const boost::json::value& a, const boost::json::value& b);
bool near(const boost::json::object& a, const boost::json::object& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    const auto* other = b.if_contains(key);
    if (!other || !near(value, *other)) return false;
  }
  return true;
}
bool near(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    const double x = a.get_double(), y = b.get_double();
    return x == y || std::abs(x - y) <= 4e-16 * std::max(std::abs(x), std::abs(y));
  }
  if (a.is_object() && b.is_object()) return near(a.get_object(), b.get_object());
  if (a.is_array() && b.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!near(x[i], y[i])) return false;
    return true;
  }
  return a == b;
}

void check_round_trip(const ServiceRecord& record) {
  const auto stored = to_json(record, JsonView::storage);
  auto back = parse_stored_record(stored);
  FUZZ_CHECK(back.has_value(), back ? "" : back.error().to_string());
  FUZZ_CHECK(*back == record, boost::json::serialize(stored));
  // The serialized form reads back to the same record (doubles, escapes).
  auto reparsed = fuzz::parse_json(boost::json::serialize(stored));
  FUZZ_CHECK(reparsed.has_value(), boost::json::serialize(stored));
  auto again = parse_stored_record(*reparsed);
  FUZZ_CHECK(again.has_value(), boost::json::serialize(stored));
  // Boost 1.81's parser is not correctly rounded: a double in a free object
  // may come back one ulp off (3.3333333333333334e48). Known and open (see
  // benchmarks/results/fuzz.md); everything else must be exact.
  FUZZ_CHECK(near(again->personal_config, record.personal_config) && near(again->demo_config, record.demo_config) &&
                 near(again->metadata, record.metadata),
             boost::json::serialize(stored));
  ServiceRecord same = *again;
  same.personal_config = record.personal_config;
  same.demo_config = record.demo_config;
  same.metadata = record.metadata;
  if (same.mcp && record.mcp) {
    FUZZ_CHECK(near(same.mcp->capabilities, record.mcp->capabilities), boost::json::serialize(stored));
    same.mcp->capabilities = record.mcp->capabilities;
  }
  FUZZ_CHECK(same == record, boost::json::serialize(stored));
  (void)to_json(record, JsonView::full);
  (void)to_json(record, JsonView::redacted);
  (void)writable_json(record);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const SaoLevel caller = kAllSaoLevels[data[0] % 5];
  auto json = fuzz::parse_json(fuzz::as_text(data + 1, size - 1));
  if (!json) return 0;

  if (auto registration = parse_registration(*json, caller)) {
    auto valid = validate(*registration);
    // instanceId and domain may be left empty for the registry to fill; fill
    // them as the registry does before asking validate().
    ServiceRecord filled = *registration;
    if (filled.instance_id.empty()) filled.instance_id = generate_instance_id(filled.company_name, TimePoint{});
    if (filled.domain.empty()) filled.domain = "mcp.example.com";
    filled.service_id = "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10";
    auto filled_valid = validate(filled);
    FUZZ_CHECK(filled_valid.has_value(), filled_valid ? "" : filled_valid.error().to_string());
    (void)valid;
    FUZZ_CHECK(at_least(caller, registration->sao_level), "saoLevel above the caller's");
    check_round_trip(filled);
  }
  if (auto stored = parse_stored_record(*json)) {
    (void)validate(*stored);
    check_round_trip(*stored);
  }
  (void)parse_health_check_config(*json);
  (void)parse_mcp_info(*json);
  return 0;
}
