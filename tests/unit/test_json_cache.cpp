#define BOOST_TEST_MODULE test_json_cache
#include <boost/test/unit_test.hpp>

#include "server/json_cache.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>

using namespace discovery;
using namespace discovery::testing;

namespace {
RecordPtr record_with(const std::string& instance, const std::string& version) {
  auto r = make_record("acme", instance);
  r.service_id = generate_uuid();
  r.service_info.version = version;
  r.personal_config["secret"] = "s";
  return std::make_shared<const ServiceRecord>(std::move(r));
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_record_is_rendered_once_per_view) {
  server::JsonCache cache;
  auto r = record_with("a", "1.0.0");
  auto full = cache.get(r, JsonView::full);
  BOOST_TEST(cache.get(r, JsonView::full).get() == full.get());  // the same text, not a new one
  BOOST_TEST(boost::json::parse(*full) == boost::json::value(to_json(*r, JsonView::full)));
  auto redacted = cache.get(r, JsonView::redacted);
  BOOST_TEST(redacted.get() != full.get());
  BOOST_TEST(!boost::json::parse(*redacted).as_object().contains("personalConfig"));
}

BOOST_AUTO_TEST_CASE(a_new_version_of_a_record_gets_its_own_text) {
  server::JsonCache cache;
  auto v1 = record_with("a", "1.0.0");
  auto first = cache.get(v1, JsonView::full);
  auto v2 = std::make_shared<const ServiceRecord>([&] {
    ServiceRecord next = *v1;
    next.service_info.version = "2.0.0";
    return next;
  }());
  auto second = cache.get(v2, JsonView::full);
  BOOST_TEST(boost::json::parse(*second).at("serviceInfo").at("version").as_string() == "2.0.0");
  BOOST_TEST(boost::json::parse(*first).at("serviceInfo").at("version").as_string() == "1.0.0");
}

BOOST_AUTO_TEST_CASE(the_byte_budget_evicts_and_answers_stay_correct) {
  server::JsonCache cache(64 * 8 * 1024);  // about 8 KiB a shard
  std::vector<RecordPtr> records;
  for (int i = 0; i < 2000; ++i) records.push_back(record_with("i" + std::to_string(i), "1.0." + std::to_string(i)));
  for (int round = 0; round < 2; ++round)
    for (const auto& r : records)
      BOOST_REQUIRE(boost::json::parse(*cache.get(r, JsonView::full)).at("instanceId").as_string() ==
                    r->instance_id);
  // Dropped records' entries go with eviction; new records still render right.
  records.clear();
  auto fresh = record_with("fresh", "9.9.9");
  BOOST_TEST(boost::json::parse(*cache.get(fresh, JsonView::full)).at("instanceId").as_string() == "fresh");
}

// Every change makes a new record, a routine health check included, so a
// discover answer renders a new version of a busy record every few seconds.
// The dead versions' entries used to stay until the byte budget (256 MiB)
// pushed them out: in the soak, resident memory rose for as long as it ran.
BOOST_AUTO_TEST_CASE(entries_of_records_no_one_holds_go_without_waiting_for_the_budget) {
  server::JsonCache cache;  // the default budget: nothing here comes near it
  for (int i = 0; i < 10000; ++i) {
    auto version = record_with("busy", "1.0." + std::to_string(i));
    cache.get(version, JsonView::full);
  }  // each version dies at once, as when the next health check replaces it
  BOOST_TEST(cache.entries() <= 2u * 64u);  // at most about two a shard
  BOOST_TEST(cache.bytes() < 512u * 1024u);
}

BOOST_AUTO_TEST_CASE(the_sweep_keeps_live_records_entries) {
  server::JsonCache cache;
  std::vector<RecordPtr> live;
  std::vector<std::shared_ptr<const std::string>> first;
  for (int i = 0; i < 2000; ++i) {
    live.push_back(record_with("live" + std::to_string(i), "1.0.0"));
    first.push_back(cache.get(live.back(), JsonView::full));
    cache.get(record_with("dead" + std::to_string(i), "1.0.0"), JsonView::full);  // dies at once
  }
  for (std::size_t i = 0; i < live.size(); ++i)
    BOOST_TEST(cache.get(live[i], JsonView::full).get() == first[i].get());  // still cached, not rendered again
  BOOST_TEST(cache.entries() >= live.size());
  // Dead entries among live ones go within about one pass over a shard:
  // never more of them than live ones.
  BOOST_TEST(cache.entries() <= 2u * live.size());
}
