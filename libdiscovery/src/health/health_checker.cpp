#include <discovery/health_checker.hpp>
#include <discovery/query_engine.hpp>

#include "health/probe.hpp"
#include "health/url.hpp"
#include "logfmt.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <pthread.h>
#include <unordered_map>

namespace discovery {

namespace asio = boost::asio;
using health::ProbeKind;
using health::ProbeRequest;
using health::ProbeResult;

namespace health {
// Defined with the network prober.
std::unique_ptr<Prober> make_default_prober(asio::any_io_executor executor,
                                            const HealthCheckerOptions& options);
}  // namespace health

namespace {

bool is_absolute_url(std::string_view text) {
  return text.starts_with("http://") || text.starts_with("https://") || text.starts_with("tcp://");
}

std::string quote(std::string_view text) { return detail::logfmt_quote(text); }

// A stable per-service phase, so checks of many services spread over the
// interval and a service keeps its slot across restarts.
std::uint64_t phase_hash(std::string_view id) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ull;
  return h;
}

bool level_enabled(const AlertingConfig& alerting, AlertLevel level) {
  if (alerting.escalation_levels.empty()) return true;
  const auto name = to_string(level);
  return std::find(alerting.escalation_levels.begin(), alerting.escalation_levels.end(), name) !=
         alerting.escalation_levels.end();
}

}  // namespace

std::string_view to_string(AlertLevel level) noexcept {
  switch (level) {
    case AlertLevel::warning: return "warning";
    case AlertLevel::critical: return "critical";
    case AlertLevel::emergency: return "emergency";
  }
  return "warning";
}

std::optional<AlertLevel> parse_alert_level(std::string_view text) noexcept {
  if (text == "warning") return AlertLevel::warning;
  if (text == "critical") return AlertLevel::critical;
  if (text == "emergency") return AlertLevel::emergency;
  return std::nullopt;
}

std::string_view to_string(AlertKind kind) noexcept {
  switch (kind) {
    case AlertKind::raised: return "raised";
    case AlertKind::escalated: return "escalated";
    case AlertKind::resolved: return "resolved";
  }
  return "raised";
}

boost::json::object to_json(const Alert& alert) {
  boost::json::object out;
  out["id"] = alert.id;
  out["at"] = format_time(alert.at);
  out["serviceId"] = alert.service_id.empty() ? boost::json::value(nullptr) : boost::json::value(alert.service_id);
  out["companyName"] = alert.company_name.empty() ? boost::json::value(nullptr) : boost::json::value(alert.company_name);
  out["instanceId"] = alert.instance_id.empty() ? boost::json::value(nullptr) : boost::json::value(alert.instance_id);
  out["level"] = to_string(alert.level);
  out["kind"] = to_string(alert.kind);
  out["message"] = alert.message;
  out["consecutiveFailures"] = alert.consecutive_failures;
  out["unhealthySince"] = alert.unhealthy_since ? boost::json::value(format_time(*alert.unhealthy_since))
                                                : boost::json::value(nullptr);
  return out;
}

Result<void> HealthChecker::check_targets(const ServiceRecord& record, const AddressPolicy& policy) {
  auto check = [&](std::string_view url, std::string field) -> Result<void> {
    if (url.empty()) return {};
    auto target = health::parse_url(url);
    if (!target) return {};  // record validation owns the URL's shape
    boost::system::error_code ec;
    auto address = asio::ip::make_address(target->host, ec);
    if (target->host == "localhost" || target->host.ends_with(".localhost"))
      address = asio::ip::make_address("127.0.0.1"), ec = {};
    if (ec) return {};  // a name: checked after resolution, at probe time
    const std::string refusal = policy.refusal(address);
    if (refusal.empty()) return {};
    return Error{ErrorCode::invalid_argument,
                 refusal + ": the health checker may not call this address (the daemon's --probe-allow "
                           "makes exceptions)",
                 std::move(field)};
  };
  const auto& endpoints = record.service_info.endpoints;
  if (auto r = check(endpoints.primary, "serviceInfo.endpoints.primary"); !r) return r;
  if (auto r = check(endpoints.mcp, "serviceInfo.endpoints.mcp"); !r) return r;
  const auto& checks = record.health_check_config.endpoints;
  for (std::size_t i = 0; i < checks.size(); ++i)
    if (is_absolute_url(checks[i]))
      if (auto r = check(checks[i], "healthCheckConfig.endpoints[" + std::to_string(i) + "]"); !r) return r;
  return {};
}

struct HealthChecker::Impl : std::enable_shared_from_this<Impl> {
  Impl(Registry& r, HealthCheckerOptions o)
      : registry(r), clock(r.clock()), options(std::move(o)), timer(io) {}

  // One check in flight: its probes run in parallel; each may be retried
  // within the check's deadline.
  struct Check {
    std::string service_id;
    std::uint64_t generation = 0;
    TimePoint due{};
    TimePoint deadline{};
    std::uint32_t retries = 0;
    std::vector<ProbeRequest> probes;
    std::vector<std::uint32_t> attempts;
    std::vector<std::optional<ProbeResult>> results;
    std::size_t outstanding = 0;
  };

  struct Incident {
    bool open = false;
    AlertLevel level = AlertLevel::warning;
    TimePoint since{};
    std::uint32_t recovery_attempts = 0;
    std::optional<TimePoint> next_recovery;
    bool recovery_gave_up = false;
  };

  struct Entry {
    RecordPtr record;
    std::uint64_t generation = 0;  // bumps when the schedule must restart
    std::optional<TimePoint> next_due;
    bool in_flight = false;
    std::optional<bool> last_ok;
    std::string transport_hint;
    std::optional<TimePoint> introspected_at;
    bool introspect_requested = false;
    Incident incident;
  };

  enum class TaskKind { check, retry };
  struct Task {
    TaskKind kind = TaskKind::check;
    std::string service_id;
    std::uint64_t generation = 0;
    std::shared_ptr<Check> check;  // retry
    std::size_t probe = 0;         // retry
  };

  Registry& registry;
  Clock& clock;
  HealthCheckerOptions options;
  asio::io_context io;
  asio::steady_timer timer;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  std::unique_ptr<health::Prober> prober;
  Subscription subscription;
  std::once_flag stop_once;

  // Changes from the registry's threads, applied on the checker's thread.
  std::mutex pending_mutex;
  std::vector<std::string> pending_ids;
  bool pending_posted = false;

  // Checker thread only.
  std::unordered_map<std::string, Entry> entries;
  std::multimap<TimePoint, Task> schedule;
  std::deque<std::shared_ptr<Check>> waiting;  // due, over the concurrency cap
  std::size_t in_flight = 0;
  std::size_t monitored = 0;  // entries with a schedule
  std::size_t known = 0;    // entries with a result
  std::size_t failing = 0;  // of those, failing now
  bool safeguard = false;
  std::optional<TimePoint> armed_for;
  bool stopped = false;

  mutable std::mutex stats_mutex;
  HealthCheckerStats counters;
  std::vector<double> lateness;  // ring of recent samples, ms
  std::size_t lateness_next = 0;

  mutable std::mutex alerts_mutex;
  std::deque<Alert> alerts;
  std::uint64_t next_alert_id = 1;

  void log(std::string_view level, std::string_view message, std::string_view fields = {}) {
    std::string line = "at=" + format_time(clock.now()) + " level=" + std::string(level) +
                       " component=healthcheck msg=" + quote(message);
    if (!fields.empty()) line += " " + std::string(fields);
    if (options.log_sink)
      options.log_sink(line);
    else
      std::fprintf(stderr, "%s\n", line.c_str());
  }

  // ---- records in and out ----

  void on_change(const ChangeEvent& event) {
    bool post = false;
    {
      std::lock_guard lock(pending_mutex);
      pending_ids.push_back(event.record->service_id);
      if (!pending_posted && !options.manual_drive) post = pending_posted = true;
    }
    if (post) asio::post(io, [self = shared_from_this()] { self->apply_pending(); });
  }

  void apply_pending() {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(pending_mutex);
      ids.swap(pending_ids);
      pending_posted = false;
    }
    // The registry is the truth: re-read rather than trust event order.
    for (const auto& id : ids) {
      auto record = registry.get(id);
      if (record)
        upsert(*record);
      else
        remove(id);
    }
    publish_sizes();
    arm_timer();
  }

  static bool probed(const ServiceRecord& record) {
    const auto& config = record.health_check_config;
    if (config.mcp) return true;
    return !config.ttl && !config.endpoints.empty();
  }

  Duration effective_interval(const Entry& entry) const {
    Duration interval = entry.record->health_check_config.interval;
    if (entry.record->status == ServiceStatus::unhealthy)
      interval = std::min(interval, options.unhealthy_interval);
    return std::max(interval, Duration{1});
  }

  // The first slot of the service's phase grid at or after `from`.
  TimePoint next_slot(const Entry& entry, TimePoint from) const {
    const long long interval = effective_interval(entry).count();
    const long long phase = static_cast<long long>(phase_hash(entry.record->service_id) %
                                                   static_cast<std::uint64_t>(interval));
    const long long t = from.time_since_epoch().count();
    long long offset = (phase - t) % interval;
    if (offset < 0) offset += interval;
    return TimePoint{Duration{t + offset}};
  }

  void schedule_check(Entry& entry, TimePoint at) {
    entry.next_due = at;
    schedule.emplace(at, Task{TaskKind::check, entry.record->service_id, entry.generation, nullptr, 0});
  }

  void upsert(const RecordPtr& record) {
    auto [it, created] = entries.try_emplace(record->service_id);
    Entry& entry = it->second;
    const RecordPtr before = entry.record;
    entry.record = record;
    const bool was_probed = before && probed(*before);
    if (was_probed != probed(*record)) was_probed ? --monitored : ++monitored;
    if (created && record->mcp && record->mcp->introspected_at)
      entry.introspected_at = record->mcp->introspected_at;
    if (!probed(*record)) {
      if (!created) forget_result(entry);
      ++entry.generation;
      entry.next_due.reset();
      close_incident(entry, "no longer checked");
      return;
    }
    if (before && before->status != record->status) on_status_change(entry, before->status);
    const bool reschedule = created || !before ||
                            before->health_check_config != record->health_check_config ||
                            before->service_info.endpoints != record->service_info.endpoints ||
                            (before->status == ServiceStatus::unhealthy) != (record->status == ServiceStatus::unhealthy) ||
                            !entry.next_due;
    if (reschedule) {
      ++entry.generation;
      if (!entry.in_flight) schedule_check(entry, next_slot(entry, clock.now()));
      else entry.next_due.reset();  // scheduled when the running check ends
    }
  }

  void remove(const std::string& id) {
    auto it = entries.find(id);
    if (it == entries.end()) return;
    if (probed(*it->second.record)) --monitored;
    forget_result(it->second);
    close_incident(it->second, "deregistered");
    entries.erase(it);  // queued tasks find no entry and are dropped
    evaluate_safeguard();
  }

  void forget_result(Entry& entry) {
    if (!entry.last_ok) return;
    --known;
    if (!*entry.last_ok) --failing;
    entry.last_ok.reset();
  }

  void record_result(Entry& entry, bool ok) {
    if (!entry.last_ok) {
      ++known;
    } else if (!*entry.last_ok) {
      --failing;
    }
    if (!ok) ++failing;
    entry.last_ok = ok;
  }

  // ---- scheduling ----

  std::size_t dispatch_due() {
    const TimePoint now = clock.now();
    std::size_t started = 0;
    while (!schedule.empty() && schedule.begin()->first <= now) {
      auto node = schedule.extract(schedule.begin());
      const TimePoint due = node.key();
      Task& task = node.mapped();
      auto it = entries.find(task.service_id);
      const bool current = it != entries.end() && it->second.generation == task.generation;
      if (task.kind == TaskKind::retry) {
        // A stale retry still ends its probe, so the check completes.
        if (current) {
          start_probe(task.check, task.probe);
        } else {
          ProbeResult cancelled;
          cancelled.error = "cancelled";
          complete_probe(task.check, task.probe, std::move(cancelled));
        }
        continue;
      }
      if (!current) continue;
      Entry& entry = it->second;
      if (entry.in_flight) continue;  // never two checks of one service at once
      entry.next_due.reset();
      auto check = make_check(entry, due, now);
      if (!check) continue;
      if (in_flight >= options.max_concurrent_checks) {
        waiting.push_back(std::move(check));
        entry.in_flight = true;
        continue;
      }
      entry.in_flight = true;
      run_check(std::move(check));
      ++started;
    }
    return started;
  }

  std::shared_ptr<Check> make_check(Entry& entry, TimePoint due, TimePoint now) {
    const ServiceRecord& record = *entry.record;
    const auto& config = record.health_check_config;
    auto check = std::make_shared<Check>();
    check->service_id = record.service_id;
    check->generation = entry.generation;
    check->due = due;
    check->retries = config.retries;
    std::string base = record.service_info.endpoints.primary;
    while (!base.empty() && base.back() == '/') base.pop_back();
    if (!config.ttl) {
      for (const auto& endpoint : config.endpoints) {
        ProbeRequest probe;
        probe.service_id = record.service_id;
        if (endpoint.starts_with("tcp://")) {
          probe.kind = ProbeKind::tcp;
          probe.url = endpoint;
        } else {
          probe.kind = ProbeKind::http;
          probe.url = is_absolute_url(endpoint) ? endpoint : base + endpoint;
        }
        probe.expected_status = config.expected_status;
        check->probes.push_back(std::move(probe));
      }
    }
    if (config.mcp) {
      ProbeRequest probe;
      probe.service_id = record.service_id;
      probe.kind = ProbeKind::mcp;
      probe.url = record.service_info.endpoints.mcp.empty() ? record.service_info.endpoints.primary
                                                            : record.service_info.endpoints.mcp;
      probe.transport_hint = entry.transport_hint;
      probe.introspect = entry.introspect_requested || !entry.introspected_at ||
                         now - *entry.introspected_at >= options.introspect_interval;
      check->probes.push_back(std::move(probe));
    }
    if (check->probes.empty()) return nullptr;
    check->attempts.assign(check->probes.size(), 0);
    check->results.resize(check->probes.size());
    return check;
  }

  void run_check(std::shared_ptr<Check> check) {
    const TimePoint now = clock.now();
    auto it = entries.find(check->service_id);
    if (it == entries.end()) return;  // deregistered while waiting for a slot
    if (it->second.generation != check->generation) {
      it->second.in_flight = false;
      if (!it->second.next_due) schedule_check(it->second, next_slot(it->second, now + Duration{1}));
      return;
    }
    const Duration timeout = it->second.record->health_check_config.timeout;
    check->deadline = now + timeout;
    check->outstanding = check->probes.size();
    ++in_flight;
    publish_sizes();
    sample_lateness(static_cast<double>((now - check->due).count()));
    {
      std::lock_guard lock(stats_mutex);
      ++counters.checks_started;
    }
    for (std::size_t i = 0; i < check->probes.size(); ++i) start_probe(check, i);
  }

  void start_probe(const std::shared_ptr<Check>& check, std::size_t index) {
    const TimePoint now = clock.now();
    ProbeRequest request = check->probes[index];
    request.timeout = std::max(Duration{1}, check->deadline - now);
    ++check->attempts[index];
    prober->probe(std::move(request), [self = shared_from_this(), check, index](ProbeResult result) {
      // The prober calls back on the checker's executor.
      self->on_probe_done(check, index, std::move(result));
    });
  }

  void on_probe_done(const std::shared_ptr<Check>& check, std::size_t index, ProbeResult result) {
    if (stopped) return;
    const TimePoint now = clock.now();
    if (!result.ok && result.error != "cancelled" && check->attempts[index] <= check->retries) {
      // Retry a quick failure within the check's deadline, after a short
      // backoff, so a refused connection during a restart is not a failure.
      const Duration backoff{100LL << std::min<std::uint32_t>(check->attempts[index] - 1, 4)};
      const Duration left = check->deadline - now;
      if (left > backoff + backoff) {
        schedule.emplace(now + backoff, Task{TaskKind::retry, check->service_id, check->generation, check, index});
        arm_timer();
        return;
      }
    }
    complete_probe(check, index, std::move(result));
  }

  void complete_probe(const std::shared_ptr<Check>& check, std::size_t index, ProbeResult result) {
    check->results[index] = std::move(result);
    if (--check->outstanding > 0) return;
    finish_check(check);
  }

  void finish_check(const std::shared_ptr<Check>& check) {
    --in_flight;
    publish_sizes();
    start_waiting();
    auto it = entries.find(check->service_id);
    if (it == entries.end()) return;  // deregistered meanwhile
    Entry& entry = it->second;
    entry.in_flight = false;
    const TimePoint now = clock.now();

    HealthReport report;
    report.ok = true;
    double slowest = 0;
    std::optional<McpInfo> mcp;
    bool list_changed = false;
    for (std::size_t i = 0; i < check->probes.size(); ++i) {
      const ProbeResult& r = *check->results[i];
      slowest = std::max(slowest, r.response_time_ms);
      if (check->probes[i].kind == ProbeKind::mcp) {
        if (r.ok && !r.transport.empty()) entry.transport_hint = r.transport;
        if (r.mcp) mcp = r.mcp;
        list_changed = list_changed || r.tools_list_changed;
      }
      if (!r.ok && report.ok) {
        report.ok = false;
        report.message = r.error.empty() ? "check failed" : r.error;
        report.endpoint = check->probes[i].url;
      }
    }
    if (report.ok) report.endpoint = check->probes.front().url;
    report.response_time_ms = slowest;

    if (check->generation == entry.generation) {
      record_result(entry, report.ok);
      evaluate_safeguard();
      report.hold_transition = safeguard;
      {
        std::lock_guard lock(stats_mutex);
        ++(report.ok ? counters.checks_passed : counters.checks_failed);
      }
      const ServiceStatus before = entry.record->status;
      if (auto reported = registry.report_health(check->service_id, report); !reported) {
        log("warn", "cannot record a check", "service=" + check->service_id + " error=" + quote(reported.error().to_string()));
      }
      if (mcp) {
        mcp->introspected_at = now;
        entry.introspected_at = now;
        entry.introspect_requested = false;
        {
          std::lock_guard lock(stats_mutex);
          ++counters.introspections;
        }
        if (auto set = registry.set_mcp_info(check->service_id, std::move(*mcp)); !set)
          log("warn", "cannot record MCP introspection", "service=" + check->service_id);
      }
      if (list_changed) entry.introspect_requested = true;
      if (auto latest = registry.get(check->service_id); latest) {
        entry.record = *latest;
        if (before != entry.record->status) on_status_change(entry, before);
      }
      update_incident(entry, now);
    }

    // Strictly periodic on the service's grid: the next slot after this due
    // time that is still ahead (a slot missed while running is skipped).
    if (!entry.next_due) {
      TimePoint next = check->due + effective_interval(entry);
      if (next <= now || check->generation != entry.generation) next = next_slot(entry, now + Duration{1});
      schedule_check(entry, next);
    }
    arm_timer();
  }

  void start_waiting() {
    while (!waiting.empty() && in_flight < options.max_concurrent_checks) {
      auto check = std::move(waiting.front());
      waiting.pop_front();
      run_check(std::move(check));
    }
  }

  void publish_sizes() {
    std::lock_guard lock(stats_mutex);
    counters.monitored = monitored;
    counters.in_flight = in_flight;
  }

  void sample_lateness(double ms) {
    std::lock_guard lock(stats_mutex);
    constexpr std::size_t kSamples = 16384;
    if (lateness.size() < kSamples)
      lateness.push_back(ms);
    else
      lateness[lateness_next++ % kSamples] = ms;
  }

  // ---- the mass-failure safeguard ----

  void evaluate_safeguard() {
    const double share = known == 0 ? 0.0 : static_cast<double>(failing) / static_cast<double>(known);
    const bool engage = known >= options.mass_failure_min_services && share > options.mass_failure_threshold;
    {
      std::lock_guard lock(stats_mutex);
      counters.failing_share = share;
      counters.safeguard_engaged = engage;
    }
    if (engage == safeguard) return;
    safeguard = engage;
    Alert alert;
    alert.level = AlertLevel::emergency;
    char text[200];
    if (engage) {
      std::snprintf(text, sizeof text,
                    "%zu of %zu checked services (%.0f%%) are failing: the checker assumes its own network "
                    "is at fault and holds every status change",
                    failing, known, share * 100);
      alert.kind = AlertKind::raised;
      log("error", "mass-failure safeguard engaged", "failing=" + std::to_string(failing) + " checked=" + std::to_string(known));
    } else {
      std::snprintf(text, sizeof text, "%zu of %zu checked services are failing: status changes resume", failing, known);
      alert.kind = AlertKind::resolved;
      log("info", "mass-failure safeguard released", "failing=" + std::to_string(failing) + " checked=" + std::to_string(known));
    }
    alert.message = text;
    emit(std::move(alert), nullptr);
  }

  // ---- incidents: alerts and recovery ----

  void on_status_change(Entry& entry, ServiceStatus before) {
    const ServiceRecord& record = *entry.record;
    if (record.status == ServiceStatus::unhealthy && before != ServiceStatus::unhealthy) {
      if (entry.incident.open) return;
      entry.incident = Incident{};
      entry.incident.open = true;
      entry.incident.since = clock.now();
      entry.incident.level = AlertLevel::warning;
      const auto& hs = record.health_status;
      log("warn", "service unhealthy",
          "service=" + record.service_id + " company=" + record.company_name +
              " error=" + quote(hs.last_error.value_or("")));
      raise(entry, AlertKind::raised, AlertLevel::warning,
            "unhealthy after " + std::to_string(hs.consecutive_failures) +
                " consecutive failed checks: " + hs.last_error.value_or("check failed"));
      if (options.recovery_action) {
        entry.incident.next_recovery = clock.now();
        try_recovery(entry, clock.now());
      }
    } else if (record.status == ServiceStatus::active && before == ServiceStatus::unhealthy) {
      log("info", "service recovered", "service=" + record.service_id + " company=" + record.company_name);
      close_incident(entry, "recovered: passing its checks again");
    } else if (record.status != ServiceStatus::unhealthy) {
      close_incident(entry, std::string("status is now ") + std::string(to_string(record.status)));
    }
  }

  void update_incident(Entry& entry, TimePoint now) {
    Incident& incident = entry.incident;
    if (!incident.open) return;
    if (options.recovery_action) try_recovery(entry, now);
    const auto& hs = entry.record->health_status;
    const Duration unhealthy_for = now - incident.since;
    AlertLevel target = incident.level;
    std::string why;
    if (unhealthy_for >= options.emergency_after) {
      target = AlertLevel::emergency;
      why = "unhealthy for " + format_duration(unhealthy_for);
    } else if (incident.recovery_gave_up) {
      target = AlertLevel::emergency;
      why = "recovery failed after " + std::to_string(incident.recovery_attempts) + " attempts";
    } else if (hs.consecutive_failures >= options.critical_after_failures || unhealthy_for >= options.critical_after) {
      target = std::max(target, AlertLevel::critical);
      why = std::to_string(hs.consecutive_failures) + " consecutive failed checks, unhealthy for " +
            format_duration(unhealthy_for);
    }
    if (target <= incident.level) return;
    incident.level = target;
    raise(entry, AlertKind::escalated, target, why + ": " + hs.last_error.value_or("check failed"));
  }

  void try_recovery(Entry& entry, TimePoint now) {
    Incident& incident = entry.incident;
    if (!incident.next_recovery || now < *incident.next_recovery || incident.recovery_gave_up) return;
    if (incident.recovery_attempts >= options.recovery_max_attempts) {
      incident.recovery_gave_up = true;
      incident.next_recovery.reset();
      return;
    }
    ++incident.recovery_attempts;
    const Duration backoff = options.recovery_backoff * (1LL << std::min<std::uint32_t>(incident.recovery_attempts - 1, 16));
    incident.next_recovery = now + backoff;
    RecoveryRequest request;
    request.service_id = entry.record->service_id;
    request.company_name = entry.record->company_name;
    request.instance_id = entry.record->instance_id;
    request.primary = entry.record->service_info.endpoints.primary;
    request.last_error = entry.record->health_status.last_error.value_or("");
    request.attempt = incident.recovery_attempts;
    {
      std::lock_guard lock(stats_mutex);
      ++counters.recovery_calls;
    }
    log("info", "recovery action", "service=" + request.service_id + " attempt=" + std::to_string(request.attempt));
    options.recovery_action->recover(request, [self = shared_from_this(), id = request.service_id,
                                               attempt = request.attempt](bool ok, std::string error) {
      asio::post(self->io, [self, id, attempt, ok, error = std::move(error)] {
        self->log(ok ? "info" : "warn", ok ? "recovery action accepted" : "recovery action failed",
                  "service=" + id + " attempt=" + std::to_string(attempt) + (ok ? "" : " error=" + quote(error)));
      });
    });
  }

  void close_incident(Entry& entry, const std::string& why) {
    if (!entry.incident.open) return;
    const AlertLevel level = entry.incident.level;
    raise(entry, AlertKind::resolved, level, why);
    entry.incident = Incident{};
  }

  void raise(const Entry& entry, AlertKind kind, AlertLevel level, std::string message) {
    const ServiceRecord& record = *entry.record;
    Alert alert;
    alert.service_id = record.service_id;
    alert.company_name = record.company_name;
    alert.instance_id = record.instance_id;
    alert.level = level;
    alert.kind = kind;
    alert.message = std::move(message);
    alert.consecutive_failures = record.health_status.consecutive_failures;
    alert.unhealthy_since = entry.incident.since;
    emit(std::move(alert), &record.health_check_config.alerting);
  }

  // Keeps every alert for recent_alerts(); delivers it to the sinks the
  // record's alerting config selects (fleet-wide alerts go to every sink).
  void emit(Alert alert, const AlertingConfig* alerting) {
    alert.at = clock.now();
    {
      std::lock_guard lock(alerts_mutex);
      alert.id = next_alert_id++;
      alerts.push_front(alert);
      while (alerts.size() > options.retained_alerts) alerts.pop_back();
    }
    if (alerting) {
      if (!alerting->enabled || !level_enabled(*alerting, alert.level)) return;
    }
    for (const auto& sink : options.alert_sinks) {
      if (alerting && !alerting->channels.empty() &&
          std::find(alerting->channels.begin(), alerting->channels.end(), sink->channel()) ==
              alerting->channels.end())
        continue;
      sink->deliver(alert);
      std::lock_guard lock(stats_mutex);
      ++counters.alerts_sent;
    }
  }

  // ---- driving ----

  void arm_timer() {
    if (options.manual_drive || stopped) return;
    if (schedule.empty()) {
      armed_for.reset();
      timer.cancel();
      return;
    }
    const TimePoint first = schedule.begin()->first;
    if (armed_for && *armed_for == first) return;
    armed_for = first;
    const auto delay = std::max(Duration{0}, first - clock.now());
    timer.expires_after(delay);
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec || self->stopped) return;
      self->armed_for.reset();
      self->dispatch_due();
      self->arm_timer();
    });
  }

  void load_all() {
    QueryEngine engine(registry);
    DiscoverQuery query;
    query.limit = kMaxDiscoverLimit;
    while (true) {
      auto page = engine.discover(query);
      if (!page) break;
      for (const auto& record : page->services) upsert(record);
      if (!page->next_cursor) break;
      query.cursor = *page->next_cursor;
    }
    publish_sizes();
  }
};

HealthChecker::HealthChecker(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HealthChecker>> HealthChecker::start(Registry& registry, HealthCheckerOptions options) {
  if (!(options.mass_failure_threshold > 0 && options.mass_failure_threshold <= 1))
    return Error{ErrorCode::invalid_argument, "must be in (0, 1]", "mass_failure_threshold"};
  if (options.max_concurrent_checks == 0)
    return Error{ErrorCode::invalid_argument, "must be at least 1", "max_concurrent_checks"};
  auto impl = std::make_shared<Impl>(registry, std::move(options));
  Impl& im = *impl;
  try {
    im.prober = im.options.prober_factory ? im.options.prober_factory(im.io.get_executor())
                                          : health::make_default_prober(im.io.get_executor(), im.options);
  } catch (const std::invalid_argument& e) {  // an unreadable CA file
    return Error{ErrorCode::invalid_argument, e.what(), "ca_file"};
  }
  if (!im.prober) return Error{ErrorCode::internal, "no network prober in this build", "prober"};
  std::weak_ptr<Impl> weak = impl;
  im.subscription = registry.subscribe([weak](const ChangeEvent& event) {
    if (auto self = weak.lock()) self->on_change(event);
  });
  im.load_all();
  if (!im.options.manual_drive) {
    im.work.emplace(im.io.get_executor());
    im.arm_timer();
    im.thread = std::thread([&im] {
      pthread_setname_np(pthread_self(), "discovery-hc");  // for top -H and benchmarks
      im.io.run();
    });
  }
  return std::unique_ptr<HealthChecker>(new HealthChecker(std::move(impl)));
}

HealthChecker::~HealthChecker() { stop(); }

void HealthChecker::stop() {
  if (!impl_) return;
  Impl& im = *impl_;
  std::call_once(im.stop_once, [&im] {
    im.subscription.reset();
    if (im.options.manual_drive) {
      im.stopped = true;
      im.prober->shutdown();
      im.io.restart();
      im.io.poll();
      return;
    }
    asio::post(im.io, [&im] {
      im.stopped = true;
      im.timer.cancel();
      im.prober->shutdown();
      im.work.reset();
    });
    if (im.thread.joinable()) im.thread.join();
    // Run what the cancelled probes left queued: handlers hold the Impl.
    im.io.restart();
    im.io.poll();
  });
}

std::size_t HealthChecker::run_due() {
  Impl& im = *impl_;
  if (!im.options.manual_drive || im.stopped) return 0;
  std::size_t started = 0;
  for (int round = 0; round < 1000; ++round) {
    im.io.restart();
    const std::size_t handled = im.io.poll();
    im.apply_pending();
    const std::size_t now_started = im.dispatch_due();
    started += now_started;
    if (handled == 0 && now_started == 0) break;
  }
  return started;
}

std::vector<Alert> HealthChecker::recent_alerts(std::string_view service_id, std::size_t limit) const {
  std::lock_guard lock(impl_->alerts_mutex);
  std::vector<Alert> out;
  for (const auto& alert : impl_->alerts) {
    if (out.size() >= limit) break;
    if (!service_id.empty() && alert.service_id != service_id) continue;
    out.push_back(alert);
  }
  return out;
}

HealthCheckerStats HealthChecker::stats() const {
  Impl& im = *impl_;
  HealthCheckerStats out;
  std::vector<double> samples;
  {
    // Copy under the lock (the checker's thread samples into it); select the
    // quantiles outside it, in linear time: a /metrics scrape must not hold
    // up the checker, nor sort 16,384 samples.
    std::lock_guard lock(im.stats_mutex);
    out = im.counters;
    samples = im.lateness;
  }
  if (!samples.empty()) {
    auto at = [&](double q) {
      const auto nth = samples.begin() + static_cast<std::ptrdiff_t>(
          std::min(samples.size() - 1, static_cast<std::size_t>(q * static_cast<double>(samples.size()))));
      std::nth_element(samples.begin(), nth, samples.end());
      return *nth;
    };
    out.lateness_max_ms = *std::max_element(samples.begin(), samples.end());
    out.lateness_p99_ms = at(0.99);
    out.lateness_p50_ms = at(0.50);
  }
  return out;
}

}  // namespace discovery
