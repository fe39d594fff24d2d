// HealthChecker: checks every registered service on its own schedule and
// feeds the outcomes to the Registry, which owns the state machine
// (thresholds, transitions, uptime). It also learns what MCP servers say about
// themselves (the record's `mcp` field), raises alerts with escalation, calls
// recovery actions, and protects the fleet against its own network failing
// (the mass-failure safeguard).
//
// Scheduling: each service is checked every `interval` (shorter while it is
// unhealthy), at a phase derived from its id so that checks spread evenly over
// the interval instead of coming in bursts. One check = every endpoint probe
// (and the MCP probe) in parallel; `retries` extra attempts are made within
// the check's `timeout` when an attempt fails early, so a check always ends
// within `timeout` and an outage is marked within
// failureThreshold x interval + timeout.
//
// Time comes from the registry's Clock. With `manual_drive` the checker runs
// no thread and no timer: a test moves a ManualClock and calls run_due(),
// which starts every due check and processes every completion that is ready.
//
// Thread safety: every public method may be called from any thread.
#pragma once

#include <discovery/address_policy.hpp>
#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/registry.hpp>
#include <discovery/service_record.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discovery {

namespace health {
class Prober;
}

enum class AlertLevel : std::uint8_t { warning, critical, emergency };
std::string_view to_string(AlertLevel level) noexcept;
std::optional<AlertLevel> parse_alert_level(std::string_view text) noexcept;

enum class AlertKind : std::uint8_t {
  raised,     // the service became unhealthy (first alert of an incident)
  escalated,  // the incident reached a higher level
  resolved,   // the service recovered (or left the registry)
};
std::string_view to_string(AlertKind kind) noexcept;

struct Alert {
  std::uint64_t id = 0;  // increasing, per checker
  TimePoint at{};
  // Empty for fleet-wide alerts (the mass-failure safeguard).
  std::string service_id;
  std::string company_name;
  std::string instance_id;
  AlertLevel level = AlertLevel::warning;
  AlertKind kind = AlertKind::raised;
  std::string message;
  std::uint32_t consecutive_failures = 0;
  std::optional<TimePoint> unhealthy_since;
};

// The JSON shape of an alert (API: GET /api/v1/alerts, webhook payloads).
boost::json::object to_json(const Alert& alert);

// Where alerts go. deliver() is called on the checker's thread and must not
// block: a sink that does I/O queues the alert (bounded) and sends it from its
// own thread.
class AlertSink {
 public:
  virtual ~AlertSink() = default;
  // The channel name a record's healthCheckConfig.alerting.channels selects
  // ("webhook", "log").
  virtual std::string_view channel() const = 0;
  virtual void deliver(const Alert& alert) = 0;
};

// Writes one logfmt line per alert to `write` (default: standard error).
std::unique_ptr<AlertSink> make_log_alert_sink(std::function<void(std::string_view)> write = {});

struct WebhookOptions {
  std::string url;  // http or https
  // Slack-compatible payload ({"text": ...}) instead of the alert's JSON.
  bool slack_format = false;
  Duration timeout = std::chrono::seconds{5};
  std::uint32_t max_attempts = 5;  // with exponential backoff
  Duration initial_backoff = std::chrono::milliseconds{500};
  std::size_t queue_capacity = 1000;  // beyond: the oldest is dropped (and counted)
  // Extra request header, e.g. an authorization for the receiver; read from a
  // file by the daemon, never from the command line.
  std::string authorization;
  std::string ca_file;  // TLS trust; default the system store
};

struct WebhookStats {
  std::uint64_t delivered = 0;
  std::uint64_t failed = 0;   // gave up after max_attempts
  std::uint64_t dropped = 0;  // queue full
};

// POSTs each alert as JSON. The sink owns a thread; destruction stops it
// after at most one request timeout (queued alerts are dropped).
class WebhookAlertSink : public AlertSink {
 public:
  static Result<std::unique_ptr<WebhookAlertSink>> create(WebhookOptions options);
  ~WebhookAlertSink() override;
  std::string_view channel() const override { return "webhook"; }
  void deliver(const Alert& alert) override;
  WebhookStats stats() const;

 private:
  struct Impl;
  explicit WebhookAlertSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

struct RecoveryRequest {
  std::string service_id;
  std::string company_name;
  std::string instance_id;
  std::string primary;     // serviceInfo.endpoints.primary
  std::string last_error;
  std::uint32_t attempt = 1;
};

// Something that tries to bring an unhealthy service back (restart a
// container, page a provisioner). Called on the checker's thread; must not
// block; `done(ok, error)` may be called from any thread, exactly once.
class RecoveryAction {
 public:
  virtual ~RecoveryAction() = default;
  virtual void recover(const RecoveryRequest& request,
                       std::function<void(bool ok, std::string error)> done) = 0;
};

// POSTs the request as JSON to `url`; a 2xx answer is success.
Result<std::unique_ptr<RecoveryAction>> make_webhook_recovery_action(WebhookOptions options);

struct HealthCheckerOptions {
  // Checks of one service while it is unhealthy come at most this far apart.
  Duration unhealthy_interval = std::chrono::seconds{10};
  // Probes in flight at once; further due checks wait (and count as late).
  std::size_t max_concurrent_checks = 4096;
  // MCP services: tools/list again this often (and after listChanged).
  Duration introspect_interval = std::chrono::minutes{10};

  // Mass-failure safeguard: when more than this share of checked services
  // is failing, hold every status change and raise an emergency alert until
  // the share drops. Needs at least `mass_failure_min_services` checked.
  double mass_failure_threshold = 0.5;
  std::size_t mass_failure_min_services = 10;

  // Escalation of an incident (a service unhealthy by its checks):
  // warning at the transition, critical after this many consecutive failures
  // or this long unhealthy, emergency after emergency_after or when recovery
  // gave up.
  std::uint32_t critical_after_failures = 10;
  Duration critical_after = std::chrono::minutes{5};
  Duration emergency_after = std::chrono::minutes{30};

  // Recovery: attempts per incident, spaced by recovery_backoff doubling.
  std::uint32_t recovery_max_attempts = 3;
  Duration recovery_backoff = std::chrono::seconds{30};

  // Alerts kept for recent_alerts().
  std::size_t retained_alerts = 1000;

  // The network side, made on the checker's executor. Empty: the network
  // prober with `address_policy`, `ca_file` and the limits below.
  std::function<std::unique_ptr<health::Prober>(boost::asio::any_io_executor)> prober_factory;
  AddressPolicy address_policy = AddressPolicy::default_deny();
  std::string ca_file;
  std::size_t max_response_body_bytes = 64 << 10;

  std::vector<std::unique_ptr<AlertSink>> alert_sinks;
  std::unique_ptr<RecoveryAction> recovery_action;

  // Tests: no thread, no timer; the caller drives with run_due().
  bool manual_drive = false;
  // Where log lines go (one logfmt line each); default standard error.
  std::function<void(std::string_view line)> log_sink;
};

struct HealthCheckerStats {
  std::size_t monitored = 0;        // services with a schedule
  std::size_t in_flight = 0;        // checks running
  std::uint64_t checks_started = 0;
  std::uint64_t checks_passed = 0;
  std::uint64_t checks_failed = 0;
  std::uint64_t introspections = 0;
  std::uint64_t alerts_sent = 0;
  std::uint64_t recovery_calls = 0;
  bool safeguard_engaged = false;
  double failing_share = 0;         // of checked services, now
  // Lateness of check starts behind their schedule, in milliseconds.
  double lateness_p50_ms = 0;
  double lateness_p99_ms = 0;
  double lateness_max_ms = 0;
};

class HealthChecker {
 public:
  // `registry` must outlive the checker. Starts checking at once (or, with
  // manual_drive, when run_due() is called).
  static Result<std::unique_ptr<HealthChecker>> start(Registry& registry,
                                                      HealthCheckerOptions options = {});
  ~HealthChecker();  // stop()
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Stops scheduling, cancels probes in flight, joins the thread. Idempotent.
  void stop();

  // manual_drive only: starts every check due at the clock's now and runs
  // every ready completion until nothing more is ready. Returns the number of
  // checks started.
  std::size_t run_due();

  // Recent alerts, newest first, optionally for one service.
  std::vector<Alert> recent_alerts(std::string_view service_id = {}, std::size_t limit = 100) const;

  HealthCheckerStats stats() const;

  // Refuses URLs whose host is an address literal (or "localhost") that the
  // policy denies: a registration the checker could never be allowed to
  // check. Host names are checked after resolution, at probe time.
  static Result<void> check_targets(const ServiceRecord& record, const AddressPolicy& policy);

 private:
  struct Impl;
  explicit HealthChecker(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace discovery
