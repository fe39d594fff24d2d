#define BOOST_TEST_MODULE test_query_engine
#include <boost/test/unit_test.hpp>

#include "catalog.hpp"
#include "test_support.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <set>
#include <thread>

using namespace discovery;
using namespace discovery::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kCompanies{"acme", "globex", "initech", "umbrella"};
const std::vector<std::string> kRegions{"us-west1", "us-central1", "eu-west1"};
const std::vector<std::string> kEnvironments{"production", "staging"};
const std::vector<std::string> kCapabilities{"tools", "resources", "prompts", "search"};
const std::vector<std::string> kTags{"beta", "gpu", "eu", "canary"};
const std::vector<std::string> kTools{"search", "fetch", "translate"};

template <class T>
std::vector<T> subset(const std::vector<T>& from, unsigned bits) {
  std::vector<T> out;
  for (std::size_t i = 0; i < from.size(); ++i)
    if (bits & (1u << i)) out.push_back(from[i]);
  return out;
}

// A registry of `n` varied records, deterministic for a seed.
struct Fleet {
  ManualClock clock;
  std::unique_ptr<Storage> storage = make_memory_storage();
  std::unique_ptr<Registry> registry = Registry::open(*storage, test_options(clock)).value();
  QueryEngine engine{*registry};
  std::mt19937 rng{42};

  RecordPtr add_random(int i) {
    auto r = make_record(kCompanies[rng() % kCompanies.size()], "i-" + std::to_string(i),
                         kRegions[rng() % kRegions.size()], kEnvironments[rng() % kEnvironments.size()]);
    r.service_info.capabilities = subset(kCapabilities, rng() % 16);
    r.tags = subset(kTags, rng() % 16);
    r.sao_level = kAllSaoLevels[rng() % 5];
    auto record = registry->register_service(r).value().record;
    if (rng() % 4 == 0) registry->set_status(record->service_id, kAllStatuses[rng() % 4]).value();
    if (rng() % 2 == 0) {
      McpInfo info;
      for (const auto& name : subset(kTools, rng() % 8)) info.tools.push_back({name, "", ""});
      registry->set_mcp_info(record->service_id, info).value();
    }
    return registry->get(record->service_id).value();
  }

  explicit Fleet(int n) {
    for (int i = 0; i < n; ++i) add_random(i);
  }

  // What a full scan says the answer is: the oracle for the indexes.
  std::vector<std::string> brute_force(const DiscoverQuery& q) const {
    std::vector<std::string> ids;
    DiscoverQuery all;
    all.limit = kMaxDiscoverLimit;
    std::string cursor;
    for (;;) {
      all.cursor = cursor;
      auto page = engine.discover(all).value();
      for (const auto& r : page.services)
        if (QueryEngine::matches(q, *r)) ids.push_back(r->service_id);
      if (!page.next_cursor) break;
      cursor = *page.next_cursor;
    }
    return ids;
  }

  std::vector<std::string> walk(DiscoverQuery q, std::size_t page_size) const {
    q.limit = page_size;
    std::vector<std::string> ids;
    for (;;) {
      auto page = engine.discover(q).value();
      BOOST_REQUIRE(page.services.size() <= page_size);
      for (const auto& r : page.services) ids.push_back(r->service_id);
      if (!page.next_cursor) break;
      BOOST_REQUIRE(page.services.size() == page_size);
      q.cursor = *page.next_cursor;
    }
    return ids;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(every_filter_alone_and_combined_matches_a_full_scan) {
  Fleet fleet(600);
  std::mt19937 rng(7);
  int non_empty = 0;
  for (int round = 0; round < 300; ++round) {
    DiscoverQuery q;
    if (rng() % 2) q.company = kCompanies[rng() % kCompanies.size()];
    if (rng() % 2) q.region = kRegions[rng() % kRegions.size()];
    if (rng() % 3 == 0) q.environment = kEnvironments[rng() % kEnvironments.size()];
    if (rng() % 3 == 0) q.status = kAllStatuses[rng() % 4];
    if (rng() % 4 == 0) q.sao_level = kAllSaoLevels[rng() % 5];
    if (rng() % 3 == 0) q.capabilities = subset(kCapabilities, rng() % 16);
    if (rng() % 3 == 0) q.tags = subset(kTags, rng() % 16);
    if (rng() % 3 == 0) q.tools = subset(kTools, rng() % 8);
    const auto expected = fleet.brute_force(q);
    BOOST_REQUIRE(std::is_sorted(expected.begin(), expected.end()));
    const auto got = fleet.walk(q, 1 + rng() % 40);
    BOOST_REQUIRE(got == expected);
    non_empty += !expected.empty();
  }
  BOOST_TEST(non_empty > 50);  // the rounds exercised real matches, not only empty answers
}

BOOST_AUTO_TEST_CASE(a_reopened_registry_answers_every_query_as_before) {
  TempDir dir;
  ManualClock clock;
  std::vector<DiscoverQuery> queries;
  std::mt19937 rng(11);
  for (int i = 0; i < 100; ++i) {
    DiscoverQuery q;
    if (rng() % 2) q.company = kCompanies[rng() % kCompanies.size()];
    if (rng() % 2) q.region = kRegions[rng() % kRegions.size()];
    if (rng() % 3 == 0) q.status = kAllStatuses[rng() % 4];
    if (rng() % 3 == 0) q.tags = subset(kTags, rng() % 16);
    if (rng() % 3 == 0) q.tools = subset(kTools, rng() % 8);
    q.limit = 1000;
    queries.push_back(q);
  }
  const auto answers = [&](const Registry& registry) {
    QueryEngine engine(registry);
    std::vector<std::vector<ServiceRecord>> out;
    for (const auto& q : queries) {
      out.emplace_back();
      for (const auto& r : engine.discover(q).value().services) out.back().push_back(*r);
    }
    return out;
  };
  std::vector<std::vector<ServiceRecord>> before;
  std::uint64_t index_before = 0;
  {
    auto storage = open_sqlite_storage(dir.path() / "discovery.db").value();
    auto registry = Registry::open(*storage, test_options(clock)).value();
    std::mt19937 gen(5);
    for (int i = 0; i < 300; ++i) {
      auto r = make_record(kCompanies[gen() % 4], "i-" + std::to_string(i), kRegions[gen() % 3]);
      r.tags = subset(kTags, gen() % 16);
      auto record = registry->register_service(r).value().record;
      if (gen() % 3 == 0) registry->set_status(record->service_id, kAllStatuses[gen() % 4]).value();
      if (gen() % 2 == 0) {
        McpInfo info;
        for (const auto& name : subset(kTools, gen() % 8)) info.tools.push_back({name, "", ""});
        registry->set_mcp_info(record->service_id, info).value();
      }
      if (gen() % 10 == 0) registry->deregister(record->service_id).value();
    }
    before = answers(*registry);
    index_before = registry->index();
  }
  auto storage = open_sqlite_storage(dir.path() / "discovery.db").value();
  auto registry = Registry::open(*storage, test_options(clock)).value();
  BOOST_TEST(registry->index() == index_before);
  const auto after = answers(*registry);
  BOOST_REQUIRE(after.size() == before.size());
  std::size_t matches = 0;
  for (std::size_t i = 0; i < before.size(); ++i) {
    BOOST_REQUIRE(after[i] == before[i]);
    matches += after[i].size();
  }
  BOOST_TEST(matches > 100u);
}

BOOST_AUTO_TEST_CASE(each_single_filter_returns_exactly_its_records) {
  Fleet fleet(300);
  for (const auto& company : kCompanies) {
    DiscoverQuery q;
    q.company = company;
    q.limit = 1000;
    auto page = fleet.engine.discover(q).value();
    BOOST_TEST(!page.services.empty());
    for (const auto& r : page.services) BOOST_TEST(r->company_name == company);
    BOOST_TEST(page.services.size() == fleet.brute_force(q).size());
  }
  DiscoverQuery tools;
  tools.tools = {"search", "fetch"};
  tools.limit = 1000;
  for (const auto& r : fleet.engine.discover(tools).value().services) {
    BOOST_REQUIRE(r->mcp.has_value());
    std::set<std::string> names;
    for (const auto& t : r->mcp->tools) names.insert(t.name);
    BOOST_TEST((names.count("search") == 1 && names.count("fetch") == 1));
  }
}

BOOST_AUTO_TEST_CASE(a_value_no_record_has_matches_nothing) {
  Fleet fleet(50);
  DiscoverQuery q;
  q.region = "mars-north1";
  auto page = fleet.engine.discover(q).value();
  BOOST_TEST(page.services.empty());
  BOOST_TEST(!page.next_cursor.has_value());
  BOOST_TEST(page.index == fleet.registry->index());
}

BOOST_AUTO_TEST_CASE(pages_are_ordered_by_service_id_and_the_last_has_no_cursor) {
  Fleet fleet(250);
  DiscoverQuery q;
  q.limit = 100;
  auto first = fleet.engine.discover(q).value();
  BOOST_TEST(first.services.size() == 100u);
  BOOST_REQUIRE(first.next_cursor.has_value());
  BOOST_TEST(std::is_sorted(first.services.begin(), first.services.end(),
                            [](const RecordPtr& a, const RecordPtr& b) { return a->service_id < b->service_id; }));
  const auto all = fleet.walk(q, 100);
  BOOST_TEST(all.size() == 250u);
  BOOST_TEST(std::set<std::string>(all.begin(), all.end()).size() == 250u);
  // An exact multiple of the page size: the last full page still says "no more".
  const auto exact = fleet.walk(q, 125);
  BOOST_TEST(exact.size() == 250u);
}

BOOST_AUTO_TEST_CASE(bad_limits_and_cursors_are_rejected) {
  Fleet fleet(5);
  DiscoverQuery q;
  q.limit = 0;
  BOOST_TEST(fleet.engine.discover(q).error().field == "limit");
  q.limit = 1001;
  BOOST_TEST(fleet.engine.discover(q).error().field == "limit");
  q.limit = 10;
  q.cursor = "not-a-cursor";
  auto r = fleet.engine.discover(q);
  BOOST_REQUIRE(r.has_error());
  BOOST_TEST(r.error().field == "cursor");
  BOOST_TEST((r.error().code == ErrorCode::invalid_argument));
}

BOOST_AUTO_TEST_CASE(a_cursor_walk_under_concurrent_change_visits_each_stable_match_once) {
  Fleet fleet(400);
  // Records of "acme" that no one touches during the walk must each be seen once.
  DiscoverQuery q;
  q.company = "acme";
  const auto stable = fleet.brute_force(q);
  BOOST_REQUIRE(stable.size() > 50u);

  std::atomic<bool> done{false};
  ThreadChecks checks;
  std::thread churn([&] {
    std::mt19937 rng(99);
    int i = 1000;
    std::vector<std::string> mine;
    while (!done) {
      // Other companies come and go, and acme gains and loses records of its own.
      auto r = fleet.registry->register_service(make_record(rng() % 2 ? "acme" : "globex", "churn-" + std::to_string(i++)));
      DISCOVERY_THREAD_CHECK(checks, r.has_value());
      if (!r) continue;
      mine.push_back(r->record->service_id);
      if (mine.size() > 20) {
        DISCOVERY_THREAD_CHECK(checks, !fleet.registry->deregister(mine.front()).has_error());
        mine.erase(mine.begin());
      }
    }
  });
  for (int walk = 0; walk < 20; ++walk) {
    const auto seen = fleet.walk(q, 7);
    BOOST_REQUIRE(std::is_sorted(seen.begin(), seen.end()));
    BOOST_REQUIRE(std::adjacent_find(seen.begin(), seen.end()) == seen.end());  // no duplicates
    for (const auto& id : stable) BOOST_REQUIRE(std::binary_search(seen.begin(), seen.end(), id));
  }
  done = true;
  churn.join();
  BOOST_TEST(checks.failures().empty());
}

BOOST_AUTO_TEST_CASE(updates_move_records_between_index_entries) {
  Fleet fleet(0);
  auto r = fleet.registry->register_service(make_record("acme", "a", "us-west1")).value().record;
  DiscoverQuery west, east;
  west.region = "us-west1";
  east.region = "eu-west1";
  BOOST_TEST(fleet.engine.discover(west).value().services.size() == 1u);
  fleet.registry->update(r->service_id, boost::json::parse(R"({"serviceInfo":{"region":"eu-west1"}})")).value();
  BOOST_TEST(fleet.engine.discover(west).value().services.empty());
  BOOST_TEST(fleet.engine.discover(east).value().services.size() == 1u);
  DiscoverQuery maintenance;
  maintenance.status = ServiceStatus::maintenance;
  fleet.registry->set_status(r->service_id, ServiceStatus::maintenance).value();
  BOOST_TEST(fleet.engine.discover(maintenance).value().services.size() == 1u);
  fleet.registry->deregister(r->service_id).value();
  BOOST_TEST(fleet.engine.discover(east).value().services.empty());
  BOOST_TEST(fleet.engine.discover(maintenance).value().services.empty());
}

BOOST_AUTO_TEST_CASE(discover_after_waits_for_a_newer_index) {
  Fleet fleet(3);
  const auto index = fleet.registry->index();
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    fleet.registry->register_service(make_record("acme", "late")).value();
  });
  DiscoverQuery q;
  auto page = fleet.engine.discover_after(q, index, 10s).value();
  writer.join();
  BOOST_TEST(page.index == index + 1);
  BOOST_TEST(page.services.size() == 4u);
  // With nothing new it answers after the wait with the same index.
  auto idle = fleet.engine.discover_after(q, page.index, 10ms).value();
  BOOST_TEST(idle.index == page.index);
}

// A million records in 20,000 companies of 50 make 20,000 small posting
// lists; each used to reserve a whole chunk (256 postings, 6 KiB), about
// 100 MB of the index. A small list now holds little more than it needs,
// whether bulk-loaded or inserted one by one.
BOOST_AUTO_TEST_CASE(a_small_posting_list_reserves_little_more_than_its_postings) {
  using discovery::detail::Posting;
  using discovery::detail::PostingList;
  PostingList appended, inserted, long_list;
  for (std::uint64_t i = 0; i < 50; ++i) {
    appended.append(Posting{{0, i}, static_cast<std::uint32_t>(i)});
    inserted.insert(Posting{{0, 49 - i}, static_cast<std::uint32_t>(i)});
  }
  BOOST_TEST(appended.size() == 50u);
  BOOST_TEST(inserted.size() == 50u);
  BOOST_TEST(appended.capacity() <= 64u);
  BOOST_TEST(inserted.capacity() <= 64u);
  // A long list still fills whole chunks (their order is the query tests').
  for (std::uint64_t i = 0; i < 1000; ++i) long_list.append(Posting{{1, i}, static_cast<std::uint32_t>(i)});
  long_list.insert(Posting{{0, 7}, 1000});
  BOOST_TEST(long_list.size() == 1001u);
  BOOST_TEST(long_list.capacity() <= 1280u);
}

BOOST_AUTO_TEST_SUITE(query_strings)

BOOST_AUTO_TEST_CASE(every_parameter_is_parsed) {
  auto p = parse_discover_query(
               "company=acme&region=us-west1&environment=production&status=active&saoLevel=opal"
               "&capabilities=tools,search&capabilities=prompts&tags=gpu&tools=web%20search"
               "&limit=25&cursor=00000000-0000-4000-8000-000000000000&index=42&wait=30s")
               .value();
  BOOST_TEST(p.query.company == "acme");
  BOOST_TEST(p.query.region == "us-west1");
  BOOST_TEST(p.query.environment == "production");
  BOOST_TEST((p.query.status == ServiceStatus::active));
  BOOST_TEST((p.query.sao_level == SaoLevel::opal));
  BOOST_TEST(p.query.capabilities == (std::vector<std::string>{"tools", "search", "prompts"}));
  BOOST_TEST(p.query.tags == std::vector<std::string>{"gpu"});
  BOOST_TEST(p.query.tools == std::vector<std::string>{"web search"});
  BOOST_TEST(p.query.limit == 25u);
  BOOST_TEST(p.query.cursor == "00000000-0000-4000-8000-000000000000");
  BOOST_TEST(p.wait_index.value() == 42u);
  BOOST_TEST((p.wait.value() == 30s));
}

BOOST_AUTO_TEST_CASE(defaults_apply_to_an_empty_query) {
  auto p = parse_discover_query("").value();
  BOOST_TEST(p.query.limit == kDefaultDiscoverLimit);
  BOOST_TEST(!p.query.status.has_value());
  BOOST_TEST(!p.wait_index.has_value());
}

BOOST_AUTO_TEST_CASE(bad_parameters_are_named) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"status=sleeping", "status"},   {"saoLevel=gold", "saoLevel"},
      {"limit=0", "limit"},            {"limit=1001", "limit"},
      {"limit=ten", "limit"},          {"limit=5&limit=6", "limit"},
      {"company=a&company=b", "company"}, {"colour=red", "colour"},
      {"wait=forever", "wait"},        {"index=-1", "index"},
      {"region=%zz", "region"},        {"company=", "company"},
      {"company=ACME%20Corp", "company"}, {"region=US+West", "region"},
      {"environment=Prod!", "environment"}, {"tags=has%20space", "tags"},
      {"capabilities=a,b%2Fc", "capabilities"}, {"tools=%01", "tools"},
      // schemathesis: an empty name was skipped, so "tags=" meant "any"
      // while the OpenAPI document says a name has at least one character.
      {"tags=", "tags"}, {"capabilities=a,,b", "capabilities"}, {"tools=x,", "tools"},
      {"tools=" + std::string(129, 'x'), "tools"},
  };
  for (const auto& [qs, field] : cases) {
    auto r = parse_discover_query(qs);
    BOOST_TEST_CONTEXT(qs) {
      BOOST_REQUIRE(r.has_error());
      BOOST_TEST(r.error().field == field);
      BOOST_TEST((r.error().code == ErrorCode::invalid_argument));
    }
  }
}

// Tool names are counted in characters, as the OpenAPI document (and JSON
// Schema's maxLength) counts them: 128 three-byte characters pass.
BOOST_AUTO_TEST_CASE(a_tool_name_is_up_to_128_characters_not_bytes) {
  std::string name;
  for (int i = 0; i < 128; ++i) name += "%E2%82%AC";  // U+20AC, 3 bytes
  auto p = parse_discover_query("tools=" + name).value();
  BOOST_REQUIRE(p.query.tools.size() == 1u);
  BOOST_TEST(p.query.tools[0].size() == 384u);
  BOOST_TEST(parse_discover_query("tools=" + name + "%E2%82%AC").has_error());
}

BOOST_AUTO_TEST_SUITE_END()

// The whole-answer cache relies on this: two pages of one query with equal
// versions hold the same records, even while records change in place (no
// index bump) and by indexed changes on other threads.
BOOST_AUTO_TEST_CASE(pages_with_equal_versions_are_equal_while_records_change) {
  ManualClock clock;
  auto storage = make_memory_storage();
  auto registry = Registry::open(*storage, test_options(clock)).value();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back(registry->register_service(make_record(i % 2 ? "acme" : "globex", "i" + std::to_string(i)))
                      .value()
                      .record->service_id);
  QueryEngine engine(*registry);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int n = 0; !stop; ++n) {
      const auto& id = ids[static_cast<std::size_t>(n) % ids.size()];
      if (n % 7 == 0) (void)registry->set_status(id, n % 2 ? ServiceStatus::maintenance : ServiceStatus::active);
      else (void)registry->report_health(id, HealthReport{n % 3 != 0, 1.0, "", "external"});  // mostly in place
    }
  });
  std::size_t equal_versions = 0;
  for (int round = 0; round < 2000; ++round) {
    DiscoverQuery q;
    if (round % 2) q.company = "acme";
    auto first = engine.discover(q).value();
    auto second = engine.discover(q).value();
    BOOST_TEST((engine.version(q).records >= second.version.records));
    if (first.version == second.version) {
      ++equal_versions;
      BOOST_TEST_REQUIRE(first.services.size() == second.services.size());
      for (std::size_t i = 0; i < first.services.size(); ++i)
        BOOST_TEST_REQUIRE(first.services[i].get() == second.services[i].get());  // the very same record state
      BOOST_TEST(first.index == second.index);
    }
  }
  stop = true;
  writer.join();
  BOOST_TEST_MESSAGE("equal versions: " << equal_versions);
  // Versions move on a change in place: after one more routine report on
  // an acme record the acme query's version is not the one before.
  const auto quiet = registry->register_service(make_record("acme", "quiet")).value().record->service_id;
  DiscoverQuery acme;
  acme.company = "acme";
  const auto before = engine.version(acme);
  const auto index = registry->index();
  BOOST_REQUIRE(registry->report_health(quiet, HealthReport{true, 2.0, "", "external"}));  // active stays active
  BOOST_TEST(registry->index() == index);
  BOOST_TEST(!(engine.version(acme) == before));
}
