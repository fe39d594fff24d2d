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

using namespace discovery;

namespace {

void check_round_trip(const ServiceRecord& record) {
  const auto stored = to_json(record, JsonView::storage);
  auto back = parse_stored_record(stored);
  FUZZ_CHECK(back.has_value(), back ? "" : back.error().to_string());
  FUZZ_CHECK(*back == record, boost::json::serialize(stored));
  // The serialized form reads back to the same record (doubles, escapes).
  auto reparsed = fuzz::parse_json(boost::json::serialize(stored));
  FUZZ_CHECK(reparsed.has_value(), boost::json::serialize(stored));
  auto again = parse_stored_record(*reparsed);
  FUZZ_CHECK(again.has_value() && *again == record, boost::json::serialize(stored));
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
