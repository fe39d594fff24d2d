#define BOOST_TEST_MODULE test_health_checker
#include <boost/test/unit_test.hpp>

#include "scripted_prober.hpp"
#include "test_support.hpp"

#include <discovery/health_checker.hpp>

#include <boost/json/parse.hpp>

#include <map>
#include <random>
#include <set>

using namespace discovery;
using namespace discovery::testing;
using namespace std::chrono_literals;

namespace {

// Collects alerts in memory: a real AlertSink, for asserting what a receiver gets.
class CollectingSink final : public AlertSink {
 public:
  explicit CollectingSink(std::vector<Alert>& out, std::string channel = "webhook")
      : out_(out), channel_(std::move(channel)) {}
  std::string_view channel() const override { return channel_; }
  void deliver(const Alert& alert) override { out_.push_back(alert); }

 private:
  std::vector<Alert>& out_;
  std::string channel_;
};

class CountingRecovery final : public RecoveryAction {
 public:
  CountingRecovery(std::vector<RecoveryRequest>& out, std::vector<TimePoint>& times, const Clock& clock)
      : out_(out), times_(times), clock_(clock) {}
  void recover(const RecoveryRequest& request, std::function<void(bool, std::string)> done) override {
    out_.push_back(request);
    times_.push_back(clock_.now());
    done(true, {});
  }

 private:
  std::vector<RecoveryRequest>& out_;
  std::vector<TimePoint>& times_;
  const Clock& clock_;
};

struct Fixture {
  ManualClock clock;
  std::unique_ptr<Storage> storage = make_memory_storage();
  std::unique_ptr<Registry> registry = Registry::open(*storage, test_options(clock)).value();
  ScriptedProber* prober = nullptr;
  std::vector<Alert> alerts;
  std::vector<RecoveryRequest> recoveries;
  std::vector<TimePoint> recovery_times;
  std::unique_ptr<HealthChecker> checker;
  // Per URL host: whether probes of it pass now.
  std::map<std::string, bool> up;

  void start(HealthCheckerOptions options = {}, bool with_recovery = false) {
    options.manual_drive = true;
    options.log_sink = [](std::string_view) {};
    options.prober_factory = [this](boost::asio::any_io_executor executor) {
      auto p = std::make_unique<ScriptedProber>(executor);
      prober = p.get();
      p->respond = [this](const health::ProbeRequest& request) {
        health::ProbeResult r;
        const auto host = request.url.substr(0, request.url.find('/', 8));
        auto it = up.find(host);
        r.ok = it == up.end() || it->second;
        r.response_time_ms = 3;
        if (!r.ok) r.error = "connect: connection refused";
        return r;
      };
      return p;
    };
    options.alert_sinks.push_back(std::make_unique<CollectingSink>(alerts));
    if (with_recovery) options.recovery_action = std::make_unique<CountingRecovery>(recoveries, recovery_times, clock);
    checker = HealthChecker::start(*registry, std::move(options)).value();
  }

  // retries 0 by default: a failing check then ends when it starts, so the
  // tests' time windows count checks exactly whatever a service's phase.
  RecordPtr add(const std::string& instance, Duration interval = 10s, std::uint32_t failure_threshold = 3,
                std::uint32_t success_threshold = 2, std::uint32_t retries = 0) {
    auto r = make_record("acme", instance);
    r.service_info.endpoints.primary = "https://" + instance + ".example.com";
    r.service_info.endpoints.mcp.clear();
    r.health_check_config.interval = interval;
    r.health_check_config.timeout = std::min<Duration>(interval, 5s);
    r.health_check_config.failure_threshold = failure_threshold;
    r.health_check_config.success_threshold = success_threshold;
    r.health_check_config.retries = retries;
    r.health_check_config.alerting.enabled = true;
    return registry->register_service(r).value().record;
  }

  std::string host(const RecordPtr& r) const { return r->service_info.endpoints.primary; }

  // Moves time in steps, running what is due at each.
  void run_for(Duration span, Duration step = 100ms) {
    for (Duration t{0}; t < span; t += step) {
      clock.advance(step);
      checker->run_due();
    }
  }

  ServiceStatus status(const RecordPtr& r) const { return registry->get(r->service_id).value()->status; }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(scheduling, Fixture)

BOOST_AUTO_TEST_CASE(checks_spread_evenly_over_the_interval_not_in_bursts) {
  for (int i = 0; i < 200; ++i) add("svc-" + std::to_string(i), 10s);
  start();
  std::vector<std::size_t> per_second(10, 0);
  for (int step = 0; step < 100; ++step) {
    clock.advance(100ms);
    per_second[static_cast<std::size_t>(step / 10)] += checker->run_due();
  }
  std::size_t total = 0;
  for (auto n : per_second) {
    total += n;
    BOOST_TEST(n <= 40u);  // 20 a second on average; a burst would put 200 in one
    BOOST_TEST(n >= 5u);
  }
  // Each service once in its first interval (one whose slot falls exactly on
  // the window's both ends is counted twice).
  BOOST_TEST(total >= 200u);
  BOOST_TEST(total <= 202u);
  std::set<std::string> checked;
  for (const auto& request : prober->requests) checked.insert(request.service_id);
  BOOST_TEST(checked.size() == 200u);
}

BOOST_AUTO_TEST_CASE(each_service_is_checked_once_per_interval_and_its_config_builds_the_probes) {
  auto r = make_record("acme", "multi");
  r.service_info.endpoints.primary = "https://multi.example.com/base/";
  r.service_info.endpoints.mcp = "https://multi.example.com/mcp";
  r.health_check_config.interval = 5s;
  r.health_check_config.timeout = 5s;
  r.health_check_config.endpoints = {"/health", "https://status.example.com/ready", "tcp://multi.example.com:7000"};
  r.health_check_config.expected_status = StatusRange{200, 299};
  r.health_check_config.mcp = true;
  auto record = registry->register_service(r).value().record;
  start();
  run_for(20s);
  // 4 checks in 20 s (5 when the phase puts a slot on both ends of the window).
  const auto checks = static_cast<int>(checker->stats().checks_started);
  BOOST_TEST((checks == 4 || checks == 5));
  BOOST_REQUIRE(prober->requests.size() == static_cast<std::size_t>(4 * checks));
  std::map<std::string, int> by_url;
  for (const auto& request : prober->requests) ++by_url[request.url];
  BOOST_TEST(by_url["https://multi.example.com/base/health"] == checks);
  BOOST_TEST(by_url["https://status.example.com/ready"] == checks);
  BOOST_TEST(by_url["tcp://multi.example.com:7000"] == checks);
  BOOST_TEST(by_url["https://multi.example.com/mcp"] == checks);
  for (const auto& request : prober->requests) {
    if (request.url.starts_with("tcp://")) BOOST_TEST((request.kind == health::ProbeKind::tcp));
    if (request.url.ends_with("/mcp")) BOOST_TEST((request.kind == health::ProbeKind::mcp));
    if (request.kind == health::ProbeKind::http) BOOST_TEST((request.expected_status == StatusRange{200, 299}));
    BOOST_TEST(request.timeout.count() <= 5000);
  }
}

BOOST_AUTO_TEST_CASE(a_service_with_a_heartbeat_ttl_is_not_probed) {
  auto r = make_record("acme", "ttl-only");
  r.health_check_config.ttl = 30s;
  registry->register_service(r).value();
  start();
  run_for(90s, 1s);
  BOOST_TEST(prober->requests.empty());
  BOOST_TEST(checker->stats().monitored == 0u);
}

BOOST_AUTO_TEST_CASE(a_changed_interval_takes_effect_and_a_deregistered_service_is_no_longer_checked) {
  auto record = add("changing", 10s);
  start();
  run_for(30s);
  const auto before = prober->requests.size();
  BOOST_TEST((before == 3u || before == 4u));  // 4 when a slot falls on both ends
  registry->update(record->service_id, boost::json::parse(R"({"healthCheckConfig": {"interval": "2s", "timeout": "1s"}})")).value();
  run_for(20s);
  const auto after_change = prober->requests.size() - before;
  BOOST_TEST(after_change >= 9u);
  BOOST_TEST(after_change <= 11u);
  registry->deregister(record->service_id).value();
  const auto at_removal = prober->requests.size();
  run_for(20s);
  BOOST_TEST(prober->requests.size() == at_removal);
  BOOST_TEST(checker->stats().monitored == 0u);
}

BOOST_AUTO_TEST_CASE(a_check_never_overlaps_the_next_and_retries_stay_within_the_timeout) {
  auto record = add("slow", 2s);
  start();
  prober->hold = true;
  run_for(10s);
  // One check started and is still pending: no second one is stacked on it.
  BOOST_TEST(prober->requests.size() == 1u);
  prober->hold = false;
  prober->release();
  run_for(4s);
  BOOST_TEST(prober->requests.size() >= 2u);
}

BOOST_AUTO_TEST_CASE(a_quick_failure_is_retried_within_the_check_and_a_passing_retry_counts_as_a_pass) {
  auto record = add("flaky", 10s, 3, 2, 3);
  start();
  int calls = 0;
  prober->respond = [&](const health::ProbeRequest&) {
    health::ProbeResult r;
    r.ok = ++calls % 2 == 0;  // the first attempt fails, its retry passes
    if (!r.ok) r.error = "connect: connection refused";
    return r;
  };
  run_for(60s);
  const auto hs = registry->get(record->service_id).value()->health_status;
  BOOST_TEST(hs.consecutive_failures == 0u);
  BOOST_TEST(hs.consecutive_successes >= 5u);
  BOOST_TEST(calls >= 10);
  BOOST_TEST((status(record) == ServiceStatus::active));
}

BOOST_AUTO_TEST_CASE(lateness_is_measured) {
  for (int i = 0; i < 20; ++i) add("l-" + std::to_string(i), 1s);
  start();
  run_for(5s, 250ms);
  auto s = checker->stats();
  BOOST_TEST(s.checks_started >= 80u);
  BOOST_TEST(s.lateness_max_ms <= 250.0);  // the step is the only lateness here
  // Twenty phases spread over the second (by a hash of the random service
  // ids), checked at 250 ms steps: lateness falls in [0, 250) ms, about
  // evenly, so the quantiles land in wide but telling bands (a median of 20
  // uniform phases has a standard deviation of about 27 ms).
  BOOST_TEST(s.lateness_p50_ms >= 40.0);
  BOOST_TEST(s.lateness_p50_ms <= 210.0);
  BOOST_TEST(s.lateness_p99_ms >= 150.0);
  BOOST_TEST(s.lateness_p50_ms <= s.lateness_p99_ms);
  BOOST_TEST(s.lateness_p99_ms <= s.lateness_max_ms);
  BOOST_TEST(s.monitored == 20u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(transitions, Fixture)

BOOST_AUTO_TEST_CASE(failure_threshold_marks_unhealthy_and_success_threshold_recovers_with_one_alert_each) {
  auto record = add("api", 10s, 3, 2);
  start();
  run_for(20s);
  BOOST_TEST((status(record) == ServiceStatus::active));
  up[host(record)] = false;
  run_for(20s);
  BOOST_TEST((status(record) == ServiceStatus::active));  // two failures: under the threshold
  run_for(10s);
  BOOST_TEST((status(record) == ServiceStatus::unhealthy));
  auto hs = registry->get(record->service_id).value()->health_status;
  BOOST_TEST(hs.last_error.value_or("") == "connect: connection refused");
  BOOST_REQUIRE(alerts.size() == 1u);
  BOOST_TEST((alerts[0].kind == AlertKind::raised));
  BOOST_TEST((alerts[0].level == AlertLevel::warning));
  BOOST_TEST(alerts[0].service_id == record->service_id);
  // No storm: more failures while unhealthy raise nothing new (below critical).
  run_for(30s);
  BOOST_TEST(alerts.size() == 1u);
  up[host(record)] = true;
  run_for(30s);
  BOOST_TEST((status(record) == ServiceStatus::active));
  BOOST_REQUIRE(alerts.size() == 2u);
  BOOST_TEST((alerts[1].kind == AlertKind::resolved));
}

BOOST_AUTO_TEST_CASE(unhealthy_services_are_checked_more_often) {
  auto record = add("api", 60s, 1, 1);
  HealthCheckerOptions options;
  options.unhealthy_interval = 5s;
  start(std::move(options));
  up[host(record)] = false;
  run_for(61s, 500ms);
  BOOST_REQUIRE((status(record) == ServiceStatus::unhealthy));
  const auto before = prober->requests.size();
  run_for(30s, 500ms);
  BOOST_TEST(prober->requests.size() - before >= 5u);
}

BOOST_AUTO_TEST_CASE(maintenance_and_operator_inactive_are_never_overridden) {
  auto a = add("in-maintenance", 5s, 1, 1);
  auto b = add("switched-off", 5s, 1, 1);
  start();
  registry->set_status(a->service_id, ServiceStatus::maintenance).value();
  registry->set_status(b->service_id, ServiceStatus::inactive).value();
  up[host(a)] = false;
  up[host(b)] = false;
  run_for(30s);
  BOOST_TEST((status(a) == ServiceStatus::maintenance));
  BOOST_TEST((status(b) == ServiceStatus::inactive));
  // Checks keep running and keep healthStatus current.
  BOOST_TEST(registry->get(a->service_id).value()->health_status.consecutive_failures >= 5u);
  BOOST_TEST(alerts.empty());
}

BOOST_AUTO_TEST_CASE(an_outage_is_detected_within_failure_threshold_intervals_plus_timeout_every_time) {
  std::mt19937 random(42);
  constexpr int kOutages = 40;
  for (int i = 0; i < kOutages; ++i) {
    const Duration interval{std::uniform_int_distribution<long long>(1000, 30000)(random)};
    // With retries: the bound must hold with the retry attempts included.
    add("o-" + std::to_string(i), interval, std::uniform_int_distribution<std::uint32_t>(1, 5)(random), 1, 3);
  }
  start();
  run_for(40s);  // every service checked and passing
  std::vector<RecordPtr> records;
  for (int i = 0; i < kOutages; ++i) records.push_back(registry->find("acme", "o-" + std::to_string(i)).value());
  std::map<std::string, TimePoint> outage_at;
  // Outages start at random moments, a few at a time (never a mass failure).
  std::size_t next = 0;
  std::map<std::string, Duration> detected_after;
  for (int step = 0; step < 40000 && detected_after.size() < records.size(); ++step) {
    const auto undetected = outage_at.size() - detected_after.size();
    if (next < records.size() && undetected < 5 && random() % 20 == 0) {
      up[host(records[next])] = false;
      outage_at[records[next]->service_id] = clock.now();
      ++next;
    }
    clock.advance(50ms);
    checker->run_due();
    for (const auto& r : records) {
      if (!outage_at.contains(r->service_id) || detected_after.contains(r->service_id)) continue;
      if (status(r) == ServiceStatus::unhealthy) {
        detected_after[r->service_id] = clock.now() - outage_at[r->service_id];
        up[host(r)] = true;  // back up, so the failing share stays under the safeguard
      }
    }
  }
  BOOST_REQUIRE(detected_after.size() == records.size());
  for (const auto& r : records) {
    const auto& c = registry->get(r->service_id).value()->health_check_config;
    const Duration bound = c.failure_threshold * c.interval + c.timeout;
    BOOST_TEST(detected_after[r->service_id] <= bound, r->instance_id << " took "
               << detected_after[r->service_id].count() << " ms, bound " << bound.count() << " ms");
  }
}

BOOST_AUTO_TEST_CASE(a_fault_free_hour_has_no_false_transition) {
  for (int i = 0; i < 50; ++i) add("quiet-" + std::to_string(i), 5s, 1, 1);
  start();
  const auto index_before = registry->index();
  run_for(1h, 1s);
  BOOST_TEST(registry->index() == index_before);
  BOOST_TEST(alerts.empty());
  BOOST_TEST(checker->stats().checks_failed == 0u);
  BOOST_TEST(checker->stats().checks_started >= 50u * 700u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(safeguard_and_escalation, Fixture)

BOOST_AUTO_TEST_CASE(a_mass_failure_holds_status_changes_and_raises_one_emergency_until_it_passes) {
  std::vector<RecordPtr> records;
  for (int i = 0; i < 20; ++i) records.push_back(add("m-" + std::to_string(i), 5s, 2, 1));
  HealthCheckerOptions options;
  options.mass_failure_threshold = 0.5;
  options.mass_failure_min_services = 10;
  start(std::move(options));
  run_for(10s);
  for (const auto& r : records) up[host(r)] = false;  // the checker's own network is cut
  run_for(60s);
  for (const auto& r : records) BOOST_TEST((status(r) == ServiceStatus::active));
  BOOST_TEST(checker->stats().safeguard_engaged);
  auto emergencies = std::count_if(alerts.begin(), alerts.end(), [](const Alert& a) {
    return a.level == AlertLevel::emergency && a.kind == AlertKind::raised && a.service_id.empty();
  });
  BOOST_TEST(emergencies == 1);
  // healthStatus stays current meanwhile.
  BOOST_TEST(registry->get(records[0]->service_id).value()->health_status.consecutive_failures >= 5u);
  for (const auto& r : records) up[host(r)] = true;
  run_for(20s);
  BOOST_TEST(!checker->stats().safeguard_engaged);
  BOOST_TEST((alerts.back().kind == AlertKind::resolved));
  BOOST_TEST(alerts.back().service_id.empty());
  for (const auto& r : records) BOOST_TEST((status(r) == ServiceStatus::active));
}

BOOST_AUTO_TEST_CASE(a_minority_failing_still_transitions) {
  std::vector<RecordPtr> records;
  for (int i = 0; i < 20; ++i) records.push_back(add("f-" + std::to_string(i), 5s, 2, 1));
  start();
  run_for(10s);
  for (int i = 0; i < 5; ++i) up[host(records[static_cast<std::size_t>(i)])] = false;
  run_for(20s);
  for (int i = 0; i < 20; ++i)
    BOOST_TEST((status(records[static_cast<std::size_t>(i)]) == (i < 5 ? ServiceStatus::unhealthy : ServiceStatus::active)));
  BOOST_TEST(!checker->stats().safeguard_engaged);
}

BOOST_AUTO_TEST_CASE(escalation_goes_warning_critical_emergency_by_failures_and_time_one_alert_per_level) {
  auto record = add("esc", 10s, 2, 1);
  HealthCheckerOptions options;
  options.unhealthy_interval = 10s;
  options.critical_after_failures = 6;
  options.critical_after = 1h;
  options.emergency_after = 5min;
  start(std::move(options));
  up[host(record)] = false;
  run_for(25s);
  BOOST_REQUIRE((status(record) == ServiceStatus::unhealthy));
  BOOST_REQUIRE(alerts.size() == 1u);
  BOOST_TEST((alerts[0].level == AlertLevel::warning));
  run_for(45s);  // 6 failures by now
  BOOST_REQUIRE(alerts.size() == 2u);
  BOOST_TEST((alerts[1].level == AlertLevel::critical));
  BOOST_TEST((alerts[1].kind == AlertKind::escalated));
  run_for(5min);
  BOOST_REQUIRE(alerts.size() == 3u);
  BOOST_TEST((alerts[2].level == AlertLevel::emergency));
  run_for(10min, 1s);
  BOOST_TEST(alerts.size() == 3u);  // no storm
  up[host(record)] = true;
  run_for(15s);
  BOOST_REQUIRE(alerts.size() == 4u);
  BOOST_TEST((alerts[3].kind == AlertKind::resolved));
  BOOST_TEST((alerts[3].level == AlertLevel::emergency));
  // The checker keeps them for the API, newest first.
  auto recent = checker->recent_alerts(record->service_id, 10);
  BOOST_REQUIRE(recent.size() == 4u);
  BOOST_TEST((recent[0].kind == AlertKind::resolved));
}

BOOST_AUTO_TEST_CASE(alerting_config_selects_levels_and_channels_and_disabled_alerting_delivers_nothing) {
  auto quiet = make_record("acme", "quiet");
  quiet.service_info.endpoints.primary = "https://quiet.example.com";
  quiet.health_check_config.interval = 5s;
  quiet.health_check_config.timeout = 2s;
  quiet.health_check_config.failure_threshold = 1;
  quiet.health_check_config.alerting.enabled = false;
  auto q = registry->register_service(quiet).value().record;
  auto picky = quiet;
  picky.instance_id = "picky";
  picky.service_info.endpoints.primary = "https://picky.example.com";
  picky.health_check_config.alerting = AlertingConfig{true, {"log"}, {"critical"}};
  auto p = registry->register_service(picky).value().record;
  std::vector<Alert> logged;
  HealthCheckerOptions options;
  options.critical_after_failures = 3;
  options.alert_sinks.push_back(std::make_unique<CollectingSink>(logged, "log"));
  start(std::move(options));
  up[host(q)] = false;
  up[host(p)] = false;
  run_for(60s);
  BOOST_TEST(alerts.empty());  // the webhook channel: neither record selects it
  BOOST_REQUIRE(logged.size() == 1u);  // picky: critical only, to the log channel
  BOOST_TEST(logged[0].service_id == p->service_id);
  BOOST_TEST((logged[0].level == AlertLevel::critical));
  // Both incidents are still on record for the dashboard.
  BOOST_TEST(checker->recent_alerts(q->service_id).size() >= 1u);
}

BOOST_AUTO_TEST_CASE(recovery_is_attempted_with_backoff_up_to_the_cap_then_escalates_to_emergency) {
  auto record = add("rec", 5s, 1, 1);
  HealthCheckerOptions options;
  options.unhealthy_interval = 5s;
  options.recovery_max_attempts = 3;
  options.recovery_backoff = 20s;
  options.emergency_after = 24h;
  options.critical_after = 24h;
  options.critical_after_failures = 1000;
  start(std::move(options), true);
  up[host(record)] = false;
  run_for(10s);
  BOOST_REQUIRE(recoveries.size() == 1u);
  BOOST_TEST(recoveries[0].service_id == record->service_id);
  BOOST_TEST(recoveries[0].last_error == "connect: connection refused");
  run_for(200s);
  BOOST_REQUIRE(recoveries.size() == 3u);  // the cap
  BOOST_TEST(recoveries[2].attempt == 3u);
  // Backoff doubles from 20 s; attempts come with the next check after it.
  const auto first_gap = recovery_times[1] - recovery_times[0];
  const auto second_gap = recovery_times[2] - recovery_times[1];
  BOOST_TEST((first_gap >= 20s && first_gap <= 25s));
  BOOST_TEST((second_gap >= 40s && second_gap <= 45s));
  BOOST_TEST(recoveries.size() == 3u);
  BOOST_REQUIRE(!alerts.empty());
  BOOST_TEST((alerts.back().level == AlertLevel::emergency));
  BOOST_TEST(alerts.back().message.find("recovery failed after 3 attempts") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(mcp_introspection, Fixture)

BOOST_AUTO_TEST_CASE(the_first_passing_check_introspects_and_a_new_tool_list_is_a_watched_change) {
  auto r = make_record("acme", "mcp-server");
  r.service_info.capabilities = {"search"};
  r.health_check_config.interval = 5s;
  r.health_check_config.timeout = 2s;
  r.health_check_config.mcp = true;
  r.health_check_config.endpoints.clear();
  auto record = registry->register_service(r).value().record;
  std::vector<std::string> tools = {"search"};
  bool changed = false;
  std::vector<bool> introspect_flags;
  HealthCheckerOptions options;
  options.introspect_interval = 10min;
  start(std::move(options));
  prober->respond = [&](const health::ProbeRequest& request) {
    introspect_flags.push_back(request.introspect);
    health::ProbeResult result;
    result.ok = true;
    result.transport = "streamable-http";
    if (request.introspect) {
      McpInfo info;
      info.protocol_version = "2025-06-18";
      info.transport = "streamable-http";
      info.server_name = "acme-tools";
      info.server_version = "1.0.0";
      info.capabilities["tools"] = boost::json::object{{"listChanged", true}};
      info.capabilities["prompts"] = boost::json::object{};
      for (const auto& t : tools) info.tools.push_back({t, "", ""});
      result.mcp = info;
    }
    result.tools_list_changed = std::exchange(changed, false);
    return result;
  };
  std::vector<ChangeEvent> events;
  auto subscription = registry->subscribe([&](const ChangeEvent& e) { events.push_back(e); });
  run_for(6s);
  auto now = registry->get(record->service_id).value();
  BOOST_REQUIRE(now->mcp.has_value());
  BOOST_TEST(now->mcp->server_name == "acme-tools");
  BOOST_TEST(now->mcp->tools.size() == 1u);
  BOOST_TEST(now->mcp->introspected_at.has_value());
  const auto& caps = now->service_info.capabilities;
  BOOST_TEST((std::set<std::string>(caps.begin(), caps.end()) == std::set<std::string>{"search", "tools", "prompts"}));
  BOOST_REQUIRE(events.size() == 1u);
  BOOST_TEST((events[0].type == ChangeType::upsert));
  // Later checks do not introspect again until asked.
  run_for(20s);
  BOOST_TEST(events.size() == 1u);
  BOOST_TEST(std::count(introspect_flags.begin(), introspect_flags.end(), true) == 1);
  // The server adds a tool and says so: the next check lists tools again.
  tools.push_back("fetch");
  changed = true;
  run_for(11s);
  now = registry->get(record->service_id).value();
  BOOST_TEST(now->mcp->tools.size() == 2u);
  BOOST_TEST(events.size() == 2u);
  // The tools filter of discover finds it.
  QueryEngine engine(*registry);
  DiscoverQuery query;
  query.tools = {"fetch"};
  BOOST_TEST(engine.discover(query).value().services.size() == 1u);
  // And every introspect_interval anyway.
  const auto before = std::count(introspect_flags.begin(), introspect_flags.end(), true);
  run_for(10min, 1s);
  BOOST_TEST(std::count(introspect_flags.begin(), introspect_flags.end(), true) == before + 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(targets)

BOOST_AUTO_TEST_CASE(address_literals_the_policy_denies_are_refused_naming_the_field) {
  auto policy = AddressPolicy::default_deny();
  auto r = make_record("acme", "x");
  r.service_info.endpoints.primary = "http://127.0.0.1:8080";
  auto refused = HealthChecker::check_targets(r, policy);
  BOOST_REQUIRE(!refused);
  BOOST_TEST(refused.error().field == "serviceInfo.endpoints.primary");
  BOOST_TEST(refused.error().message.starts_with("127.0.0.1 is loopback"));
  r.service_info.endpoints.primary = "http://169.254.169.254/latest";
  BOOST_TEST(HealthChecker::check_targets(r, policy).error().message.starts_with("169.254.169.254 is link-local"));
  r.service_info.endpoints.primary = "http://[::1]:80";
  BOOST_TEST(!HealthChecker::check_targets(r, policy));
  r.service_info.endpoints.primary = "http://localhost:8080";
  BOOST_TEST(!HealthChecker::check_targets(r, policy));
  r.service_info.endpoints.primary = "https://mcp.acme.2100.cool";
  r.health_check_config.endpoints = {"/health", "http://[::ffff:127.0.0.1]/x"};
  auto absolute = HealthChecker::check_targets(r, policy);
  BOOST_REQUIRE(!absolute);
  BOOST_TEST(absolute.error().field == "healthCheckConfig.endpoints[1]");
  r.health_check_config.endpoints = {"/health"};
  BOOST_TEST(HealthChecker::check_targets(r, policy).has_value());
  r.service_info.endpoints.primary = "http://127.0.0.1:8080";
  policy.allow(parse_cidr("127.0.0.0/8").value());
  BOOST_TEST(HealthChecker::check_targets(r, policy).has_value());
}

BOOST_AUTO_TEST_CASE(the_registry_applies_the_admission_rule_and_changes_nothing_on_refusal) {
  ManualClock clock;
  auto storage = make_memory_storage();
  auto options = test_options(clock);
  const auto policy = AddressPolicy::default_deny();
  options.admission = [&policy](const ServiceRecord& r) { return HealthChecker::check_targets(r, policy); };
  auto registry = Registry::open(*storage, options).value();
  auto r = make_record("acme", "meta");
  r.service_info.endpoints.primary = "http://169.254.169.254";
  auto refused = registry->register_service(r);
  BOOST_REQUIRE(!refused);
  BOOST_TEST((refused.error().code == ErrorCode::invalid_argument));
  BOOST_TEST(registry->size() == 0u);
  r.service_info.endpoints.primary = "https://ok.example.com";
  auto ok = registry->register_service(r).value().record;
  auto patched = registry->update(ok->service_id, boost::json::parse(R"({"serviceInfo": {"endpoints": {"mcp": "http://0.0.0.0/mcp"}}})"));
  BOOST_REQUIRE(!patched);
  BOOST_TEST(patched.error().field == "serviceInfo.endpoints.mcp");
  BOOST_TEST(registry->index() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
