// Registry: owns the service records and every change to them.
//
// Every accepted change is written through Storage and acknowledged only once
// durable; it then gets the next change index, becomes visible to queries, and
// is published to subscribers, in index order.
//
// Thread safety: every method may be called from many threads at once.
// Changes to one service are serialized; changes to different services run
// concurrently and share storage commits.
#pragma once

#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/service_record.hpp>
#include <discovery/storage.hpp>

#include <boost/json/value.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discovery {

class QueryEngine;
namespace detail {
class Catalog;
}

struct RegistryOptions {
  // The source of time for TTLs, timestamps and uptime. Must outlive the
  // registry. Default: the system clock.
  Clock* clock = nullptr;
  RecordLimits limits;
  // Shortest healthCheckConfig.interval a record may ask for (400 below it).
  Duration min_check_interval = std::chrono::seconds{1};
  // Window over which healthStatus.uptime is computed. Default 24 h.
  Duration uptime_window = std::chrono::hours{24};
  // Recent check results kept per service for health detail. Default 20.
  std::size_t recent_checks = 20;
  // Changes kept for watch resumption (events_since). Default 10,000.
  std::size_t retained_events = 10000;
  // A background thread expires missed heartbeat TTLs this often, on the
  // real clock. Zero disables it (tests call expire_heartbeats() instead).
  Duration ttl_sweep_interval = std::chrono::seconds{1};
  // Audit entries older than this are dropped by prune_history(). 90 days.
  Duration audit_retention = std::chrono::hours{24 * 90};
  // The background thread calls prune_history() this often. One hour.
  Duration prune_interval = std::chrono::hours{1};
  // An extra rule for registrations and updates, after validation: the
  // daemon refuses health-check targets its address policy denies
  // (HealthChecker::check_targets). Empty: none.
  std::function<Result<void>(const ServiceRecord&)> admission;
};

enum class ChangeType : std::uint8_t { upsert, status, remove };
std::string_view to_string(ChangeType type) noexcept;  // "upsert", "status", "delete"

// One published change. For a removal, `record` is the last state.
// `previous` is the state before the change (null for a new registration), so
// a filtered watcher also learns of a record that stopped matching.
struct ChangeEvent {
  std::uint64_t index = 0;
  ChangeType type = ChangeType::upsert;
  RecordPtr record;
  RecordPtr previous;
};

struct RegisterResult {
  RecordPtr record;
  bool created = false;  // false: re-registration of the same (company, instance)
};

// A check outcome, from the health checker or an external report.
struct HealthReport {
  bool ok = false;
  std::optional<double> response_time_ms;
  std::string message;   // becomes lastError on failure
  std::string endpoint;  // what was checked, for recent checks
  // Update healthStatus but change no status: the health checker's
  // mass-failure safeguard, when it suspects its own network.
  bool hold_transition = false;
};

struct CheckResult {
  TimePoint at{};
  bool ok = false;
  std::optional<double> response_time_ms;
  std::string endpoint;
  std::string error;
};

struct HealthDetail {
  std::string service_id;
  ServiceStatus status = ServiceStatus::active;
  HealthStatus health_status;
  std::vector<CheckResult> recent_checks;  // newest first
};

struct HeartbeatResult {
  std::string service_id;
  ServiceStatus status = ServiceStatus::active;
  std::optional<TimePoint> expires_at;  // null when the service has no TTL
};

// Who asked. Optional on every mutating call: a default context is a trusted
// in-process caller (diamond) and writes no audit entry. Company scoping is the
// Authorizer's job, before the registry is called; the registry uses `level`
// only for the rule that a record's saoLevel may not exceed its registrant's.
struct RequestContext {
  std::string request_id;
  std::string subject;
  SaoLevel level = SaoLevel::diamond;
  std::string company;
  // Whether mutations made with this context are written to the audit log.
  bool audited() const { return !request_id.empty() || !subject.empty(); }
};

class Subscription;

class Registry {
 public:
  // Loads every record from `storage` (which must outlive the registry) and
  // rebuilds the indexes. Fails when the store cannot be read.
  static Result<std::unique_ptr<Registry>> open(Storage& storage, RegistryOptions options = {});
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a record, or re-registers the same (companyName, instanceId),
  // which keeps serviceId, registeredAt and the health state and replaces the
  // writable fields. Fills instanceId and domain when empty. The record is
  // validated; read-only fields of `candidate` are ignored.
  Result<RegisterResult> register_service(ServiceRecord candidate, const RequestContext& context = {});

  // The same from a JSON registration body (API.md), with the saoLevel rules.
  // saoLevel absent -> context.level; above it -> invalid_argument.
  Result<RegisterResult> register_json(const boost::json::value& body,
                                       const RequestContext& context = {});

  // Receives the outcome of an asynchronous registration, exactly once.
  using RegisterCallback = std::function<void(Result<RegisterResult>)>;

  // register_service() without waiting: validation runs on the calling
  // thread, the durable write is queued to storage, and `done` gets the
  // answer once the change is durable and applied in index order (or at
  // once, on the calling thread, for a request refused before any write).
  // With a storage that writes asynchronously (SQLite), no thread waits
  // meanwhile; otherwise the write blocks the calling thread as
  // register_service() does. `done` may run on the storage's writer thread:
  // it must be quick, must not throw, and must not call the registry's
  // mutating methods (post the answer elsewhere instead). The registry's
  // destructor waits for every pending `done` to have been called.
  void register_service_async(ServiceRecord candidate, const RequestContext& context,
                              RegisterCallback done);
  void register_json_async(const boost::json::value& body, const RequestContext& context,
                           RegisterCallback done);

  // Whether register_*_async() returns before the write is durable (the
  // storage's writes_asynchronously()).
  bool writes_asynchronously() const;

  // Applies a JSON merge patch (RFC 7396) to the writable fields. A patch that
  // names a read-only field is invalid_argument; an empty change is accepted
  // and changes nothing (no index bump).
  Result<RecordPtr> update(std::string_view service_id, const boost::json::value& merge_patch,
                           const RequestContext& context = {});

  // Operator status: any of the four statuses. maintenance and inactive set
  // here are never overridden by health checks or TTLs.
  Result<RecordPtr> set_status(std::string_view service_id, ServiceStatus status,
                               const RequestContext& context = {});

  // Refreshes the heartbeat TTL; revives a service that the TTL made inactive.
  Result<HeartbeatResult> heartbeat(std::string_view service_id, const RequestContext& context = {});

  // heartbeat() for the common case that needs no durable write, without
  // waiting. `seen` is the service as get() returned it (so the caller can
  // authorize first without a second lookup). When the service still
  // exists, its stripe is free at once, and the heartbeat revives nothing
  // (no TTL, or the service is not inactive by its TTL), it refreshes the
  // TTL in memory and returns what heartbeat() would have. Otherwise it changes nothing and returns std::nullopt: call
  // heartbeat(), which may write (and wait for storage). For callers on
  // threads that must not block, such as the HTTP io threads. A routine
  // heartbeat is not audited by either (heartbeat() audits a revival only).
  std::optional<HeartbeatResult> heartbeat_in_memory(const RecordPtr& seen);

  // Counts a check outcome: updates healthStatus and, past the thresholds,
  // moves active <-> unhealthy (never out of maintenance or inactive).
  Result<HealthStatus> report_health(std::string_view service_id, const HealthReport& report,
                                     const RequestContext& context = {});

  // Replaces what the MCP server said about itself; a new tool list is an
  // indexed change (watchers see it), anything else is updated in place.
  // serviceInfo.capabilities gains "tools", "resources" and "prompts" when the
  // server declares them (never loses what the registrant gave); a gained
  // capability is an indexed change too.
  Result<RecordPtr> set_mcp_info(std::string_view service_id, McpInfo info);

  Result<void> deregister(std::string_view service_id, const RequestContext& context = {});

  // Lookups. not_found when absent.
  Result<RecordPtr> get(std::string_view service_id) const;
  Result<RecordPtr> find(std::string_view company, std::string_view instance_id) const;
  Result<HealthDetail> health_detail(std::string_view service_id) const;

  // Marks inactive every service whose heartbeat TTL has passed. Returns how
  // many changed. The background sweeper calls it; tests call it directly.
  std::size_t expire_heartbeats();

  // Drops what no answer needs any more, so the store does not grow without
  // bound: health transitions older than the uptime window (the last one
  // before it is kept for each service by the registry's own state) and audit
  // entries older than audit_retention. The background thread calls it every
  // prune_interval.
  Result<void> prune_history();

  // The highest change index applied (visible to queries).
  std::uint64_t index() const;
  std::size_t size() const;
  // Records per status, indexed by ServiceStatus (from the indexes, O(1)).
  std::array<std::size_t, 4> count_by_status() const;

  // Blocks until index() > `index` or `timeout` passes; returns index().
  std::uint64_t wait_for_index(std::uint64_t index, Duration timeout) const;

  // Calls `callback` for every change, in index order, on the thread that
  // applied it. It must be quick and must not call back into the registry's
  // mutating methods. The subscription ends when the handle is destroyed.
  [[nodiscard]] Subscription subscribe(std::function<void(const ChangeEvent&)> callback);

  // Retained changes after `index`, oldest first; std::nullopt when `index`
  // is older than what is retained (the caller must resynchronise).
  std::optional<std::vector<ChangeEvent>> events_since(std::uint64_t index) const;

  // Appends an entry for a request the registry did not carry out (denied,
  // invalid), so the audit log covers every mutating request.
  Result<void> append_audit(AuditEntry entry);

  // Audit log (what Storage kept), oldest first.
  Result<std::vector<AuditEntry>> audit_entries(TimePoint since, std::size_t limit) const;

  Clock& clock() const;
  const RegistryOptions& options() const;

 private:
  friend class QueryEngine;
  friend class Subscription;
  struct Impl;
  explicit Registry(std::unique_ptr<Impl> impl);
  const detail::Catalog& catalog() const;
  std::unique_ptr<Impl> impl_;
};

// RAII handle of a subscription. Movable; destruction unsubscribes, and
// waits for a callback running on another thread to return.
class Subscription {
 public:
  Subscription() = default;
  Subscription(Subscription&& other) noexcept;
  Subscription& operator=(Subscription&& other) noexcept;
  ~Subscription();
  void reset();
  explicit operator bool() const { return registry_ != nullptr; }

 private:
  friend class Registry;
  Subscription(Registry* registry, std::uint64_t id) : registry_(registry), id_(id) {}
  Registry* registry_ = nullptr;
  std::uint64_t id_ = 0;
};

}  // namespace discovery
