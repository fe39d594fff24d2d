#define BOOST_TEST_MODULE test_registry
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <discovery/record_json.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <set>
#include <thread>

using namespace discovery;
using namespace discovery::testing;
using namespace std::chrono_literals;

namespace {

struct Fixture {
  ManualClock clock;
  std::unique_ptr<Storage> storage = make_memory_storage();
  std::unique_ptr<Registry> registry = Registry::open(*storage, test_options(clock)).value();

  RecordPtr add(const std::string& company, const std::string& instance) {
    return registry->register_service(make_record(company, instance)).value().record;
  }
  void reopen() {
    registry.reset();
    registry = Registry::open(*storage, test_options(clock)).value();
  }
};

boost::json::value json(std::string_view text) { return boost::json::parse(text); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(registration, Fixture)

BOOST_AUTO_TEST_CASE(a_new_registration_is_active_with_a_fresh_id_and_index) {
  auto result = registry->register_service(make_record("acme", "acme-1")).value();
  BOOST_TEST(result.created);
  const auto& r = *result.record;
  BOOST_TEST(r.service_id.size() == 36u);
  BOOST_TEST((r.status == ServiceStatus::active));
  BOOST_TEST((r.registered_at == clock.now()));
  BOOST_TEST((r.last_updated == clock.now()));
  BOOST_TEST(r.create_index == 1u);
  BOOST_TEST(registry->index() == 1u);
  BOOST_TEST(registry->size() == 1u);
  BOOST_TEST(registry->get(r.service_id).value()->instance_id == "acme-1");
  BOOST_TEST(registry->find("acme", "acme-1").value()->service_id == r.service_id);
}

BOOST_AUTO_TEST_CASE(instance_id_and_domain_are_filled_when_omitted) {
  auto candidate = make_record("acme", "");
  candidate.domain.clear();
  candidate.service_info.endpoints.primary = "https://Edge.Example.com:8443/base";
  auto r = registry->register_service(candidate).value().record;
  BOOST_TEST(r->domain == "edge.example.com");
  // {company}-{unix-ms}-{6 hex}
  const std::string prefix = "acme-" + std::to_string(clock.now().time_since_epoch().count()) + "-";
  BOOST_TEST(r->instance_id.rfind(prefix, 0) == 0u);
  BOOST_TEST(r->instance_id.size() == prefix.size() + 6);
}

BOOST_AUTO_TEST_CASE(re_registration_keeps_id_and_registered_at_and_replaces_fields) {
  auto first = add("acme", "acme-1");
  clock.advance(5s);
  auto candidate = make_record("acme", "acme-1", "eu-west1");
  candidate.tags = {"gpu"};
  auto second = registry->register_service(candidate).value();
  BOOST_TEST(!second.created);
  BOOST_TEST(second.record->service_id == first->service_id);
  BOOST_TEST((second.record->registered_at == first->registered_at));
  BOOST_TEST((second.record->last_updated == clock.now()));
  BOOST_TEST(second.record->service_info.region == "eu-west1");
  BOOST_TEST(second.record->tags == std::vector<std::string>{"gpu"});
  BOOST_TEST(registry->size() == 1u);
  BOOST_TEST(registry->index() == 2u);
}

BOOST_AUTO_TEST_CASE(an_identical_re_registration_changes_nothing) {
  auto first = add("acme", "acme-1");
  clock.advance(5s);
  auto again = registry->register_service(make_record("acme", "acme-1")).value();
  BOOST_TEST(!again.created);
  BOOST_TEST(registry->index() == 1u);
  BOOST_TEST((again.record->last_updated == first->last_updated));
}

BOOST_AUTO_TEST_CASE(invalid_records_are_rejected_naming_the_field_and_store_nothing) {
  auto candidate = make_record("acme", "acme-1");
  candidate.service_info.region = "US West";
  auto result = registry->register_service(candidate);
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST((result.error().code == ErrorCode::invalid_argument));
  BOOST_TEST(result.error().field == "serviceInfo.region");
  BOOST_TEST(registry->size() == 0u);
  BOOST_TEST(registry->index() == 0u);
  BOOST_TEST(storage->load(clock.now()).value().records.empty());
}

BOOST_AUTO_TEST_CASE(a_check_interval_below_the_minimum_is_rejected) {
  auto candidate = make_record("acme", "acme-1");
  candidate.health_check_config.interval = 500ms;
  candidate.health_check_config.timeout = 500ms;
  auto result = registry->register_service(candidate);
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST(result.error().field == "healthCheckConfig.interval");
  BOOST_TEST(result.error().message == "must be at least 1s");
}

BOOST_AUTO_TEST_CASE(json_registration_defaults_sao_level_to_the_callers_and_caps_it) {
  const auto body = json(R"({"companyName":"acme","instanceId":"i-1",
      "serviceInfo":{"endpoints":{"primary":"https://mcp.acme.2100.cool"}}})");
  RequestContext sapphire;
  sapphire.level = SaoLevel::sapphire;
  auto r = registry->register_json(body, sapphire).value();
  BOOST_TEST((r.record->sao_level == SaoLevel::sapphire));
  BOOST_TEST(r.record->domain == "mcp.acme.2100.cool");

  auto above = json(R"({"companyName":"acme","instanceId":"i-2","saoLevel":"emerald",
      "serviceInfo":{"endpoints":{"primary":"https://mcp.acme.2100.cool"}}})");
  auto denied = registry->register_json(above, sapphire);
  BOOST_REQUIRE(denied.has_error());
  BOOST_TEST(denied.error().field == "saoLevel");
  BOOST_TEST(registry->size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(updates, Fixture)

BOOST_AUTO_TEST_CASE(merge_patch_changes_writable_fields) {
  auto r = add("acme", "acme-1");
  clock.advance(1s);
  auto patched = registry->update(r->service_id, json(R"({"tags":["gpu","eu"],
      "serviceInfo":{"version":"2.0.0"},"metadata":{"owner":"ops"}})")).value();
  BOOST_TEST(patched->tags == (std::vector<std::string>{"gpu", "eu"}));
  BOOST_TEST(patched->service_info.version == "2.0.0");
  BOOST_TEST(patched->service_info.region == "us-west1");  // untouched by the patch
  BOOST_TEST(patched->metadata.at("owner").as_string() == "ops");
  BOOST_TEST((patched->last_updated == clock.now()));
  BOOST_TEST(registry->index() == 2u);

  auto removed = registry->update(r->service_id, json(R"({"metadata":{"owner":null}})")).value();
  BOOST_TEST(removed->metadata.empty());
}

BOOST_AUTO_TEST_CASE(patching_a_read_only_field_is_rejected) {
  auto r = add("acme", "acme-1");
  for (const char* field : {"serviceId", "companyName", "instanceId", "status", "healthStatus",
                            "mcp", "registeredAt", "lastUpdated"}) {
    boost::json::object patch;
    patch[field] = "x";
    auto result = registry->update(r->service_id, patch);
    BOOST_REQUIRE(result.has_error());
    BOOST_TEST(result.error().field == field);
    BOOST_TEST((result.error().code == ErrorCode::invalid_argument));
  }
  BOOST_TEST(registry->index() == 1u);
}

BOOST_AUTO_TEST_CASE(an_invalid_patch_changes_nothing) {
  auto r = add("acme", "acme-1");
  auto result = registry->update(r->service_id, json(R"({"tags":[1]})"));
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST(result.error().field == "tags[0]");
  BOOST_TEST(*registry->get(r->service_id).value() == *r);
  auto not_object = registry->update(r->service_id, json("[1]"));
  BOOST_TEST(not_object.has_error());
  BOOST_TEST(registry->index() == 1u);
}

BOOST_AUTO_TEST_CASE(an_empty_patch_bumps_nothing) {
  auto r = add("acme", "acme-1");
  auto same = registry->update(r->service_id, json("{}")).value();
  BOOST_TEST(same.get() == r.get());
  BOOST_TEST(registry->index() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_service_is_not_found) {
  auto result = registry->update("00000000-0000-4000-8000-000000000000", json("{}"));
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST((result.error().code == ErrorCode::not_found));
  BOOST_TEST((registry->set_status("nope", ServiceStatus::active).error().code == ErrorCode::not_found));
  BOOST_TEST((registry->deregister("nope").error().code == ErrorCode::not_found));
  BOOST_TEST((registry->heartbeat("nope").error().code == ErrorCode::not_found));
}

BOOST_AUTO_TEST_CASE(deregister_removes_and_publishes_the_last_state) {
  auto r = add("acme", "acme-1");
  std::vector<ChangeEvent> events;
  auto sub = registry->subscribe([&](const ChangeEvent& e) { events.push_back(e); });
  BOOST_TEST(!registry->deregister(r->service_id).has_error());
  BOOST_TEST(registry->get(r->service_id).has_error());
  BOOST_TEST(registry->find("acme", "acme-1").has_error());
  BOOST_TEST(registry->size() == 0u);
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].type == ChangeType::remove));
  BOOST_TEST(events[0].record->service_id == r->service_id);
  // The same identity registers afresh with a new id.
  auto again = add("acme", "acme-1");
  BOOST_TEST(again->service_id != r->service_id);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(status_and_health, Fixture)

// schemathesis found a huge response time (9.56e307 ms, a valid JSON number)
// rounded to Infinity, which the daemon then wrote as `Infinity`: not JSON.
// A long message with multi-byte characters was cut inside a character,
// and the record's JSON was no longer UTF-8 (found by the spec agreement
// test of a 1024-character message).
BOOST_AUTO_TEST_CASE(a_long_error_message_is_cut_at_a_character_boundary) {
  auto r = add("acme", "acme-1");
  std::string message;
  for (int i = 0; i < 1024; ++i) message += "\u20ac";  // 3 bytes each
  auto hs = registry->report_health(r->service_id, HealthReport{false, 1.0, message, "external"}).value();
  const std::string& kept = hs.last_error.value();
  BOOST_TEST(kept.size() % 3 == 0u);
  BOOST_TEST(message.starts_with(kept));
  BOOST_TEST(kept.size() >= 1000u);
  // Boost.JSON's parser checks UTF-8: the record's JSON reads back.
  BOOST_TEST(boost::json::parse(boost::json::serialize(to_json(hs))).at("lastError").as_string() == kept);
}

BOOST_AUTO_TEST_CASE(a_huge_response_time_stays_finite_and_serializable) {
  auto r = add("acme", "acme-1");
  for (const double ms : {9.56323079529432e+307, 1.7976931348623157e308, 4503599627370497.0}) {
    auto hs = registry->report_health(r->service_id, HealthReport{false, ms, "slow", "external"}).value();
    BOOST_TEST(std::isfinite(hs.response_time_ms.value()));
    BOOST_TEST(hs.response_time_ms.value() == ms);
    const auto text = boost::json::serialize(to_json(hs));
    BOOST_TEST(text.find("Infinity") == std::string::npos, text);
    BOOST_TEST(boost::json::parse(text).at("responseTime").to_number<double>() == ms);
  }
  auto hs = registry->report_health(r->service_id, HealthReport{true, 12.34567, "", "external"}).value();
  BOOST_TEST(hs.response_time_ms.value() == 12.346);  // still rounded to microseconds
}

BOOST_AUTO_TEST_CASE(failures_past_the_threshold_make_a_service_unhealthy_and_successes_recover_it) {
  auto r = add("acme", "acme-1");  // failureThreshold 3, successThreshold 2
  const HealthReport fail{false, 12.5, "connection refused", "/health"};
  const HealthReport pass{true, 3.0, "", "/health"};
  registry->report_health(r->service_id, fail).value();
  registry->report_health(r->service_id, fail).value();
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::active));
  BOOST_TEST(registry->index() == 1u);  // routine checks do not bump the index
  auto hs = registry->report_health(r->service_id, fail).value();
  BOOST_TEST(hs.consecutive_failures == 3u);
  BOOST_TEST(hs.last_error.value() == "connection refused");
  BOOST_TEST((hs.last_failure.value() == clock.now()));
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::unhealthy));
  BOOST_TEST(registry->index() == 2u);

  registry->report_health(r->service_id, pass).value();
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::unhealthy));
  hs = registry->report_health(r->service_id, pass).value();
  BOOST_TEST(hs.consecutive_successes == 2u);
  BOOST_TEST(hs.consecutive_failures == 0u);
  BOOST_TEST(hs.response_time_ms.value() == 3.0);
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::active));
  BOOST_TEST(registry->index() == 3u);

  auto detail = registry->health_detail(r->service_id).value();
  BOOST_REQUIRE(detail.recent_checks.size() == 5u);
  BOOST_TEST(detail.recent_checks.front().ok);  // newest first
  BOOST_TEST(detail.recent_checks.back().error == "connection refused");
}

BOOST_AUTO_TEST_CASE(checks_never_override_maintenance_or_inactive) {
  auto r = add("acme", "acme-1");
  for (auto status : {ServiceStatus::maintenance, ServiceStatus::inactive}) {
    registry->set_status(r->service_id, status).value();
    for (int i = 0; i < 5; ++i) registry->report_health(r->service_id, {false, {}, "down", ""}).value();
    BOOST_TEST((registry->get(r->service_id).value()->status == status));
    for (int i = 0; i < 5; ++i) registry->report_health(r->service_id, {true, {}, "", ""}).value();
    BOOST_TEST((registry->get(r->service_id).value()->status == status));
    // Checks keep healthStatus current all the same.
    BOOST_TEST(registry->get(r->service_id).value()->health_status.consecutive_successes == 5u);
  }
}

BOOST_AUTO_TEST_CASE(operator_status_is_an_indexed_status_event) {
  auto r = add("acme", "acme-1");
  std::vector<ChangeEvent> events;
  auto sub = registry->subscribe([&](const ChangeEvent& e) { events.push_back(e); });
  auto m = registry->set_status(r->service_id, ServiceStatus::maintenance).value();
  BOOST_TEST((m->status == ServiceStatus::maintenance));
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].type == ChangeType::status));
  BOOST_TEST(events[0].index == 2u);
  // The event carries the state before the change, for watchers whose filter it left.
  BOOST_REQUIRE(events[0].previous != nullptr);
  BOOST_TEST((events[0].previous->status == ServiceStatus::active));
  // Setting the same operator status again changes nothing.
  registry->set_status(r->service_id, ServiceStatus::maintenance).value();
  BOOST_TEST(events.size() == 1u);
}

BOOST_AUTO_TEST_CASE(uptime_is_the_share_of_checked_time_spent_passing_and_survives_a_reopen) {
  auto r = add("acme", "acme-1");
  const auto id = r->service_id;
  registry->report_health(id, {true, 1.0, "", ""}).value();
  clock.advance(1h);
  registry->report_health(id, {false, {}, "down", ""}).value();
  clock.advance(1h);
  auto hs = registry->report_health(id, {true, 1.0, "", ""}).value();
  BOOST_TEST(hs.uptime.value() == 50.0, boost::test_tools::tolerance(0.01));
  clock.advance(2h);
  hs = registry->report_health(id, {true, 1.0, "", ""}).value();
  BOOST_TEST(hs.uptime.value() == 75.0, boost::test_tools::tolerance(0.01));

  reopen();
  hs = registry->report_health(id, {true, 1.0, "", ""}).value();
  BOOST_TEST(hs.uptime.value() == 75.0, boost::test_tools::tolerance(0.01));
  // 24 h later the failing hour has left the window.
  clock.advance(24h);
  hs = registry->report_health(id, {true, 1.0, "", ""}).value();
  BOOST_TEST(hs.uptime.value() == 100.0, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(a_bad_response_time_is_rejected) {
  auto r = add("acme", "acme-1");
  auto result = registry->report_health(r->service_id, {true, -1.0, "", ""});
  BOOST_REQUIRE(result.has_error());
  BOOST_TEST(result.error().field == "responseTime");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(heartbeats, Fixture)

BOOST_AUTO_TEST_CASE(a_missed_ttl_makes_a_service_inactive_and_a_heartbeat_revives_it) {
  auto candidate = make_record("acme", "acme-1");
  candidate.health_check_config.ttl = 30s;
  auto r = registry->register_service(candidate).value().record;
  clock.advance(29s);
  BOOST_TEST(registry->expire_heartbeats() == 0u);
  auto beat = registry->heartbeat(r->service_id).value();
  BOOST_TEST((beat.expires_at.value() == clock.now() + 30s));
  clock.advance(29s);
  BOOST_TEST(registry->expire_heartbeats() == 0u);
  clock.advance(2s);
  BOOST_TEST(registry->expire_heartbeats() == 1u);
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::inactive));
  BOOST_TEST(registry->expire_heartbeats() == 0u);  // once

  beat = registry->heartbeat(r->service_id).value();
  BOOST_TEST((beat.status == ServiceStatus::active));
  BOOST_TEST((registry->get(r->service_id).value()->status == ServiceStatus::active));
}

BOOST_AUTO_TEST_CASE(a_heartbeat_does_not_revive_an_operators_inactive_and_ttl_spares_maintenance) {
  auto candidate = make_record("acme", "acme-1");
  candidate.health_check_config.ttl = 10s;
  auto a = registry->register_service(candidate).value().record;
  candidate.instance_id = "acme-2";
  auto b = registry->register_service(candidate).value().record;
  registry->set_status(a->service_id, ServiceStatus::inactive).value();
  registry->set_status(b->service_id, ServiceStatus::maintenance).value();
  clock.advance(11s);
  BOOST_TEST(registry->expire_heartbeats() == 0u);
  BOOST_TEST((registry->get(b->service_id).value()->status == ServiceStatus::maintenance));
  auto beat = registry->heartbeat(a->service_id).value();
  BOOST_TEST((beat.status == ServiceStatus::inactive));
}

BOOST_AUTO_TEST_CASE(without_a_ttl_a_heartbeat_is_accepted_and_changes_nothing) {
  auto r = add("acme", "acme-1");
  auto beat = registry->heartbeat(r->service_id).value();
  BOOST_TEST(!beat.expires_at.has_value());
  BOOST_TEST(registry->index() == 1u);
  clock.advance(24h);
  BOOST_TEST(registry->expire_heartbeats() == 0u);
}

BOOST_AUTO_TEST_CASE(the_ttl_restarts_after_a_reopen) {
  auto candidate = make_record("acme", "acme-1");
  candidate.health_check_config.ttl = 30s;
  auto r = registry->register_service(candidate).value().record;
  clock.advance(20s);
  reopen();
  clock.advance(20s);  // 40 s after registration, but only 20 s after the restart
  BOOST_TEST(registry->expire_heartbeats() == 0u);
  clock.advance(11s);
  BOOST_TEST(registry->expire_heartbeats() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(events_and_indexes, Fixture)

BOOST_AUTO_TEST_CASE(events_arrive_in_index_order_and_a_subscription_ends_with_its_handle) {
  std::vector<std::uint64_t> seen;
  auto sub = registry->subscribe([&](const ChangeEvent& e) { seen.push_back(e.index); });
  auto r = add("acme", "a");
  registry->set_status(r->service_id, ServiceStatus::maintenance).value();
  registry->update(r->service_id, json(R"({"tags":["x"]})")).value();
  BOOST_TEST(seen == (std::vector<std::uint64_t>{1, 2, 3}));
  sub.reset();
  add("acme", "b");
  BOOST_TEST(seen.size() == 3u);
}

BOOST_AUTO_TEST_CASE(events_since_replays_retained_changes) {
  RegistryOptions options = test_options(clock);
  options.retained_events = 3;
  registry.reset();
  registry = Registry::open(*storage, options).value();
  for (int i = 0; i < 5; ++i) add("acme", "i" + std::to_string(i));
  auto replay = registry->events_since(3).value();
  BOOST_REQUIRE(replay.size() == 2u);
  BOOST_TEST(replay[0].index == 4u);
  BOOST_TEST(replay[1].index == 5u);
  BOOST_TEST(registry->events_since(5).value().empty());
  BOOST_TEST(!registry->events_since(1).has_value());  // dropped: resynchronise
}

BOOST_AUTO_TEST_CASE(the_index_survives_a_reopen) {
  add("acme", "a");
  add("acme", "b");
  reopen();
  BOOST_TEST(registry->index() == 2u);
  BOOST_TEST(add("acme", "c")->create_index == 3u);
}

BOOST_AUTO_TEST_CASE(wait_for_index_returns_when_a_change_lands_or_on_timeout) {
  add("acme", "a");
  BOOST_TEST(registry->wait_for_index(1, 10ms) == 1u);  // timed out, nothing new
  std::thread writer([&] {
    std::this_thread::sleep_for(20ms);
    add("acme", "b");
  });
  BOOST_TEST(registry->wait_for_index(1, 10s) == 2u);
  writer.join();
}

BOOST_AUTO_TEST_CASE(mcp_tool_changes_are_indexed_and_other_mcp_details_are_not) {
  auto r = add("acme", "a");
  McpInfo info;
  info.protocol_version = "2025-06-18";
  info.transport = "streamable-http";
  info.tools = {{"search", "Search", "Full-text search"}};
  registry->set_mcp_info(r->service_id, info).value();
  BOOST_TEST(registry->index() == 2u);
  info.server_version = "1.0.1";
  registry->set_mcp_info(r->service_id, info).value();
  BOOST_TEST(registry->index() == 2u);
  BOOST_TEST(registry->get(r->service_id).value()->mcp->server_version == "1.0.1");
  info.tools.push_back({"fetch", "", ""});
  registry->set_mcp_info(r->service_id, info).value();
  BOOST_TEST(registry->index() == 3u);
}

BOOST_AUTO_TEST_CASE(prune_history_drops_old_audit_entries_and_transitions_only) {
  RequestContext ctx{"req-1", "alice", SaoLevel::diamond, ""};
  auto old = registry->register_service(make_record("acme", "old"), ctx).value().record;
  registry->report_health(old->service_id, {true, 1.0, "", ""}).value();
  clock.advance(std::chrono::hours{24 * 91});
  auto fresh = registry->register_service(make_record("acme", "fresh"), ctx).value().record;
  registry->report_health(fresh->service_id, {true, 1.0, "", ""}).value();
  BOOST_REQUIRE(registry->prune_history().has_value());
  auto entries = registry->audit_entries(TimePoint{}, 10).value();
  BOOST_REQUIRE(entries.size() == 1u);
  BOOST_TEST(entries[0].service_id == fresh->service_id);
  BOOST_TEST(storage->health_transitions(old->service_id, TimePoint{}).value().empty());
  BOOST_TEST(storage->health_transitions(fresh->service_id, TimePoint{}).value().size() == 1u);
  BOOST_TEST(registry->size() == 2u);  // records are never pruned
}

BOOST_AUTO_TEST_CASE(audited_requests_leave_an_audit_entry) {
  RequestContext ctx{"req-1", "alice", SaoLevel::emerald, ""};
  auto r = registry->register_service(make_record("acme", "a"), ctx).value().record;
  registry->deregister(r->service_id, ctx).value();
  auto entries = registry->audit_entries(TimePoint{}, 10).value();
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[0].action == "register");
  BOOST_TEST(entries[0].subject == "alice");
  BOOST_TEST(entries[0].sao == "emerald");
  BOOST_TEST(entries[0].company == "acme");
  BOOST_TEST(entries[0].service_id == r->service_id);
  BOOST_TEST(entries[1].action == "deregister");
  // Calls without a context (in-process, trusted) are not audited.
  add("acme", "b");
  BOOST_TEST(registry->audit_entries(TimePoint{}, 10).value().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(storage_failures)

BOOST_AUTO_TEST_CASE(a_failed_write_is_reported_and_changes_nothing) {
  ManualClock clock;
  auto inner = make_memory_storage();
  FailingStorage storage(*inner);
  auto registry = Registry::open(storage, test_options(clock)).value();
  auto r = registry->register_service(make_record("acme", "a")).value().record;
  std::vector<ChangeEvent> events;
  auto sub = registry->subscribe([&](const ChangeEvent& e) { events.push_back(e); });

  storage.failing = true;
  auto reg = registry->register_service(make_record("acme", "b"));
  BOOST_REQUIRE(reg.has_error());
  BOOST_TEST((reg.error().code == ErrorCode::unavailable));
  BOOST_TEST(reg.error().message == "disk full (simulated)");
  BOOST_TEST(registry->update(r->service_id, boost::json::parse(R"({"tags":["x"]})")).has_error());
  BOOST_TEST(registry->set_status(r->service_id, ServiceStatus::maintenance).has_error());
  BOOST_TEST(registry->deregister(r->service_id).has_error());
  BOOST_TEST(registry->report_health(r->service_id, {false, {}, "x", ""}).has_error());

  BOOST_TEST(registry->size() == 1u);
  BOOST_TEST(registry->index() == 1u);
  BOOST_TEST(events.empty());
  BOOST_TEST(*registry->get(r->service_id).value() == *r);
  BOOST_TEST(registry->find("acme", "b").has_error());
  auto stored = inner->load(TimePoint{}).value();
  BOOST_REQUIRE(stored.records.size() == 1u);
  BOOST_TEST(*stored.records[0] == *r);

  // Once the disk has room again, writes go through; the index skips the failed ones.
  storage.failing = false;
  auto ok = registry->register_service(make_record("acme", "b")).value();
  BOOST_TEST(ok.created);
  BOOST_TEST(registry->size() == 2u);
  BOOST_TEST(registry->index() > 1u);
  BOOST_TEST(events.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(concurrent_writers_and_readers_keep_one_ordered_history) {
  ManualClock clock;
  auto storage = make_memory_storage();
  auto registry = Registry::open(*storage, test_options(clock)).value();
  QueryEngine engine(*registry);

  std::mutex seen_mutex;
  std::vector<std::uint64_t> seen;
  auto sub = registry->subscribe([&](const ChangeEvent& e) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(e.index);
  });

  constexpr int kWriters = 8;
  constexpr int kPerWriter = 150;
  ThreadChecks checks;
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string company = "c" + std::to_string(i % 5);
        auto r = registry->register_service(make_record(company, "w" + std::to_string(w) + "-" + std::to_string(i)));
        DISCOVERY_THREAD_CHECK(checks, r.has_value());
        if (!r) continue;
        const auto id = r->record->service_id;
        if (i % 3 == 0) DISCOVERY_THREAD_CHECK(checks, registry->set_status(id, ServiceStatus::maintenance).has_value());
        if (i % 4 == 0) DISCOVERY_THREAD_CHECK(checks, registry->update(id, boost::json::parse(R"({"tags":["x","y"]})")).has_value());
        if (i % 5 == 0) DISCOVERY_THREAD_CHECK(checks, registry->report_health(id, {false, {}, "x", ""}).has_value());
        if (i % 7 == 0) DISCOVERY_THREAD_CHECK(checks, !registry->deregister(id).has_error());
      }
    });
  }
  for (int rd = 0; rd < 2; ++rd) {
    threads.emplace_back([&] {
      while (!done) {
        DiscoverQuery q;
        q.company = "c1";
        q.limit = 50;
        auto page = engine.discover(q);
        DISCOVERY_THREAD_CHECK(checks, page.has_value());
        if (!page) continue;
        for (const auto& s : page->services) DISCOVERY_THREAD_CHECK(checks, s->company_name == "c1");
        ++reads;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<std::size_t>(w)].join();
  done = true;
  for (std::size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  BOOST_TEST(checks.failures().empty(), "failed in a thread: " << (checks.failures().empty() ? "" : checks.failures().front()));

  int removed_per_writer = 0, changes_per_writer = 0;
  for (int i = 0; i < kPerWriter; ++i) {
    changes_per_writer += 1 + (i % 3 == 0) + (i % 4 == 0) + (i % 7 == 0);
    removed_per_writer += (i % 7 == 0);
  }
  BOOST_TEST(registry->size() == static_cast<std::size_t>(kWriters * (kPerWriter - removed_per_writer)));
  BOOST_TEST(registry->index() == static_cast<std::uint64_t>(kWriters * changes_per_writer));
  const auto final_index = registry->index();  // before seen_mutex: callbacks take it under the registry's lock
  {
    std::lock_guard lock(seen_mutex);
    BOOST_REQUIRE(seen.size() == final_index);
    for (std::size_t i = 0; i < seen.size(); ++i) BOOST_REQUIRE(seen[i] == i + 1);
  }
  BOOST_TEST(reads.load() > 0);
  // What the registry holds is what the storage holds.
  auto stored = storage->load(TimePoint{}).value();
  BOOST_TEST(stored.records.size() == registry->size());
  BOOST_TEST(stored.last_index == registry->index());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Asynchronous registration: the answer comes once the write is durable and
// applied in index order, and no thread waits meanwhile.

namespace {

// A storage whose asynchronous writes wait for the test to answer them, in
// any order, with success (written to the wrapped storage) or failure.
class DeferredStorage : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  void write_async(WriteBatch batch, WriteCallback done) override {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::move(batch), std::move(done)});
  }
  bool writes_asynchronously() const override { return true; }
  std::size_t pending() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  // The index the pending write number `n` (in arrival order) carries.
  std::uint64_t index_of(std::size_t n) const {
    std::lock_guard lock(mutex_);
    return pending_.at(n).batch.index;
  }
  // Answers the pending write that carries `index`.
  void answer(std::uint64_t index, bool fail = false) {
    Pending taken;
    {
      std::lock_guard lock(mutex_);
      auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Pending& p) { return p.batch.index == index; });
      BOOST_REQUIRE(it != pending_.end());
      taken = std::move(*it);
      pending_.erase(it);
    }
    if (fail) return taken.done(Error{ErrorCode::unavailable, "disk full (simulated)", {}});
    taken.done(target().write(taken.batch));
  }
  // Answers the oldest pending write (with success), if any.
  bool answer_oldest() {
    Pending taken;
    {
      std::lock_guard lock(mutex_);
      if (pending_.empty()) return false;
      taken = std::move(pending_.front());
      pending_.erase(pending_.begin());
    }
    taken.done(target().write(taken.batch));
    return true;
  }

 private:
  struct Pending {
    WriteBatch batch;
    WriteCallback done;
  };
  mutable std::mutex mutex_;
  std::vector<Pending> pending_;
};

struct AsyncFixture {
  ManualClock clock;
  std::unique_ptr<Storage> inner = make_memory_storage();
  DeferredStorage storage{*inner};
  std::unique_ptr<Registry> registry = Registry::open(storage, test_options(clock)).value();
  std::vector<ChangeEvent> events;
  Subscription sub = registry->subscribe([this](const ChangeEvent& e) { events.push_back(e); });

  // Answers land here, in the order they arrive.
  std::vector<std::pair<std::string, Result<RegisterResult>>> answers;
  void start(const std::string& instance, std::vector<std::string> tags = {"beta"}) {
    auto record = make_record("acme", instance);
    record.tags = std::move(tags);
    registry->register_service_async(std::move(record), {}, [this, instance](Result<RegisterResult> r) {
      answers.emplace_back(instance, std::move(r));
    });
  }
  ~AsyncFixture() {
    while (storage.answer_oldest()) {
    }
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(asynchronous_registration, AsyncFixture)

BOOST_AUTO_TEST_CASE(answers_and_events_follow_the_index_whatever_order_storage_answers) {
  BOOST_TEST(registry->writes_asynchronously());
  start("a");
  start("b");
  start("c");
  BOOST_REQUIRE(storage.pending() == 3u);
  BOOST_TEST(answers.empty());  // nothing is answered before it is durable
  storage.answer(3);
  BOOST_TEST(answers.empty());  // durable, but 1 and 2 are not applied yet
  BOOST_TEST(registry->index() == 0u);
  BOOST_TEST(registry->find("acme", "c").has_error());
  storage.answer(1);
  BOOST_REQUIRE(answers.size() == 1u);
  BOOST_TEST(answers[0].first == "a");
  BOOST_TEST(registry->index() == 1u);
  storage.answer(2);
  BOOST_REQUIRE(answers.size() == 3u);
  BOOST_TEST(answers[1].first == "b");
  BOOST_TEST(answers[2].first == "c");
  for (const auto& [instance, answer] : answers) {
    BOOST_REQUIRE(answer.has_value());
    BOOST_TEST(answer->created);
    BOOST_TEST(*registry->find("acme", instance).value() == *answer->record);
  }
  BOOST_REQUIRE(events.size() == 3u);
  for (std::size_t i = 0; i < events.size(); ++i) BOOST_TEST(events[i].index == i + 1);
  BOOST_TEST(registry->index() == 3u);
}

BOOST_AUTO_TEST_CASE(a_failed_async_write_leaves_a_gap_and_changes_nothing) {
  start("a");
  start("b");
  start("c");
  storage.answer(2, /*fail=*/true);
  storage.answer(3);
  BOOST_TEST(answers.empty());  // the gap at 2 waits for 1 like any change
  storage.answer(1);
  BOOST_REQUIRE(answers.size() == 3u);
  BOOST_TEST(answers[1].first == "b");
  BOOST_REQUIRE(answers[1].second.has_error());
  BOOST_TEST((answers[1].second.error().code == ErrorCode::unavailable));
  BOOST_TEST(answers[0].second.has_value());
  BOOST_TEST(answers[2].second.has_value());
  BOOST_TEST(registry->find("acme", "b").has_error());
  BOOST_TEST(registry->size() == 2u);
  BOOST_TEST(registry->index() == 3u);
  BOOST_REQUIRE(events.size() == 2u);
  BOOST_TEST(events[0].index == 1u);
  BOOST_TEST(events[1].index == 3u);
  auto stored = inner->load(TimePoint{}).value();
  BOOST_TEST(stored.records.size() == 2u);
  // The instance can be registered once the disk has room again.
  start("b");
  storage.answer_oldest();
  BOOST_REQUIRE(answers.size() == 4u);
  BOOST_TEST(answers[3].second.has_value());
  BOOST_TEST(answers[3].second->created);
}

BOOST_AUTO_TEST_CASE(changes_to_one_instance_wait_for_each_other_without_a_thread) {
  start("x", {"one"});
  start("x", {"two"});  // same (company, instance): queued behind the first
  start("y");           // another instance goes ahead
  BOOST_REQUIRE(storage.pending() == 2u);
  BOOST_TEST(storage.index_of(0) == 1u);
  BOOST_TEST(storage.index_of(1) == 2u);  // y's write; x's second has no index yet
  storage.answer(1);
  // The first x is applied; the second now runs, sees it and re-registers.
  BOOST_REQUIRE(answers.size() == 1u);
  BOOST_REQUIRE(storage.pending() == 2u);
  storage.answer(2);
  storage.answer(3);
  BOOST_REQUIRE(answers.size() == 3u);
  const auto& first = answers[0].second;
  const auto& second = answers[2].second;
  BOOST_REQUIRE(first.has_value());
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST(answers[2].first == "x");
  BOOST_TEST(first->created);
  BOOST_TEST(!second->created);
  BOOST_TEST(second->record->service_id == first->record->service_id);
  BOOST_TEST((second->record->tags == std::vector<std::string>{"two"}));
  BOOST_TEST(registry->size() == 2u);
}

BOOST_AUTO_TEST_CASE(a_blocking_change_waits_for_an_async_one_on_the_same_service) {
  start("x", {"one"});
  BOOST_REQUIRE(storage.pending() == 1u);
  storage.answer(1);
  const std::string id = answers.at(0).second.value().record->service_id;
  start("x", {"two"});  // holds x's stripe until its write is answered
  BOOST_REQUIRE(storage.pending() == 1u);
  std::atomic<bool> updated{false};
  std::thread updater([&] {
    // Blocking: its write goes through write(), to the wrapped storage.
    (void)registry->update(id, boost::json::parse(R"({"tags":["three"]})"));
    updated = true;
  });
  std::this_thread::sleep_for(20ms);
  BOOST_TEST(!updated.load());  // waits for the registration on the same service
  storage.answer(2);
  updater.join();
  BOOST_TEST((registry->get(id).value()->tags == std::vector<std::string>{"three"}));
  BOOST_REQUIRE(events.size() == 3u);
  BOOST_TEST((events[1].record->tags == std::vector<std::string>{"two"}));
}

BOOST_AUTO_TEST_CASE(a_refusal_is_answered_at_once_and_writes_nothing) {
  auto record = make_record("acme", "bad");
  record.service_info.region = "Not A Region";
  bool answered = false;
  registry->register_service_async(std::move(record), {}, [&](Result<RegisterResult> r) {
    BOOST_TEST(r.has_error());
    answered = true;
  });
  BOOST_TEST(answered);
  BOOST_TEST(storage.pending() == 0u);
  BOOST_TEST(registry->index() == 0u);
}

BOOST_AUTO_TEST_CASE(an_unchanged_re_registration_writes_only_its_audit_entry) {
  start("x");
  storage.answer(1);
  auto record = make_record("acme", "x");
  RequestContext audited{"req-1", "alice", SaoLevel::diamond, "acme"};
  registry->register_service_async(std::move(record), audited, [this](Result<RegisterResult> r) {
    answers.emplace_back("x", std::move(r));
  });
  BOOST_REQUIRE(storage.pending() == 1u);
  BOOST_TEST(storage.index_of(0) == 0u);  // no index: nothing changes
  BOOST_REQUIRE(storage.answer_oldest());
  BOOST_REQUIRE(answers.size() == 2u);
  BOOST_REQUIRE(answers[1].second.has_value());
  BOOST_TEST(!answers[1].second->created);
  BOOST_TEST(registry->index() == 1u);
  BOOST_TEST(inner->audit_entries(TimePoint{}, 10).value().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(the_registry_answers_pending_async_registrations_before_it_is_destroyed) {
  ManualClock clock;
  auto inner = make_memory_storage();
  DeferredStorage storage(*inner);
  auto registry = Registry::open(storage, test_options(clock)).value();
  std::atomic<int> answered{0};
  for (int i = 0; i < 3; ++i)
    registry->register_service_async(make_record("acme", "i" + std::to_string(i)), {},
                                     [&](Result<RegisterResult> r) {
                                       if (r) ++answered;
                                     });
  std::thread storage_thread([&] {
    std::this_thread::sleep_for(20ms);
    while (storage.answer_oldest()) {
    }
  });
  registry.reset();  // waits for the three answers
  BOOST_TEST(answered.load() == 3);
  storage_thread.join();
}

// Many threads registering, re-registering and updating overlapping
// instances through SQLite's writer thread: one history, in index order, and
// every (company, instance) registered once.
BOOST_AUTO_TEST_CASE(concurrent_async_and_blocking_changes_on_sqlite_keep_one_ordered_history) {
  TempDir dir;
  SqliteOptions sqlite;
  sqlite.sync = false;
  auto storage = open_sqlite_storage(dir.path() / "discovery.db", sqlite).value();
  ManualClock clock;
  auto registry = Registry::open(*storage, test_options(clock)).value();
  std::mutex seen_mutex;
  std::vector<std::uint64_t> seen;
  auto sub = registry->subscribe([&](const ChangeEvent& e) {
    std::lock_guard lock(seen_mutex);
    seen.push_back(e.index);
  });
  constexpr int kThreads = 4;
  constexpr int kPerThread = 200;
  constexpr int kInstances = 50;  // threads collide on these
  ThreadChecks checks;
  std::atomic<int> outstanding{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto record = make_record("acme", "i" + std::to_string((i * 7 + t) % kInstances));
        record.tags = {"t" + std::to_string(t), "n" + std::to_string(i)};
        if (i % 4 == 0) {
          auto r = registry->register_service(std::move(record));  // the blocking wrapper
          DISCOVERY_THREAD_CHECK(checks, r.has_value());
          if (r && i % 8 == 0)
            DISCOVERY_THREAD_CHECK(checks, registry->update(r->record->service_id, boost::json::parse(R"({"tags":["u"]})")).has_value());
          continue;
        }
        ++outstanding;
        registry->register_service_async(std::move(record), {}, [&](Result<RegisterResult> r) {
          DISCOVERY_THREAD_CHECK(checks, r.has_value());
          --outstanding;
        });
      }
    });
  }
  for (auto& thread : threads) thread.join();
  while (outstanding.load() > 0) std::this_thread::sleep_for(1ms);
  BOOST_TEST(checks.failures().empty(), "failed in a thread: " << (checks.failures().empty() ? "" : checks.failures().front()));
  BOOST_TEST(registry->size() == static_cast<std::size_t>(kInstances));
  const auto final_index = registry->index();
  {
    std::lock_guard lock(seen_mutex);
    BOOST_REQUIRE(seen.size() == final_index);
    for (std::size_t i = 0; i < seen.size(); ++i) BOOST_REQUIRE(seen[i] == i + 1);
  }
  sub.reset();
  registry.reset();
  auto stored = storage->load(TimePoint{}).value();
  BOOST_TEST(stored.records.size() == static_cast<std::size_t>(kInstances));
  BOOST_TEST(stored.last_index == final_index);
}
