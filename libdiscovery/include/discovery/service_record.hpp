// The service record of API.md as plain value types. No logic hides here:
// JSON conversion and validation live in record_json.hpp.
#pragma once

#include <discovery/clock.hpp>

#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discovery {

enum class ServiceStatus : std::uint8_t { active, inactive, maintenance, unhealthy };
inline constexpr ServiceStatus kAllStatuses[] = {ServiceStatus::active, ServiceStatus::inactive,
                                                 ServiceStatus::maintenance,
                                                 ServiceStatus::unhealthy};

// The five access levels, highest first. A lower enumerator is a higher level.
enum class SaoLevel : std::uint8_t { diamond, emerald, sapphire, opal, onyx };
inline constexpr SaoLevel kAllSaoLevels[] = {SaoLevel::diamond, SaoLevel::emerald,
                                             SaoLevel::sapphire, SaoLevel::opal, SaoLevel::onyx};
// True when `level` grants at least what `other` grants.
constexpr bool at_least(SaoLevel level, SaoLevel other) {
  return static_cast<int>(level) <= static_cast<int>(other);
}

// Why the record has its current status: decides what may change it next
// (a heartbeat revives only a TTL-inactive service; checks never override an
// operator's maintenance or inactive). Persisted, not part of the API.
enum class StatusCause : std::uint8_t { registration, operator_set, health_check, heartbeat_ttl };

std::string_view to_string(ServiceStatus status) noexcept;
std::string_view to_string(SaoLevel level) noexcept;
std::string_view to_string(StatusCause cause) noexcept;
std::optional<ServiceStatus> parse_status(std::string_view text) noexcept;
std::optional<SaoLevel> parse_sao_level(std::string_view text) noexcept;
std::optional<StatusCause> parse_status_cause(std::string_view text) noexcept;

struct HealthStatus {
  std::optional<TimePoint> last_check;
  std::optional<double> response_time_ms;  // "responseTime", milliseconds
  std::optional<double> uptime;            // percent over the uptime window; null until checked
  std::uint32_t consecutive_failures = 0;
  std::uint32_t consecutive_successes = 0;
  std::optional<TimePoint> last_failure;
  std::optional<std::string> last_error;
  friend bool operator==(const HealthStatus&, const HealthStatus&) = default;
};

// Empty strings are absent endpoints; only `primary` is required.
struct Endpoints {
  std::string primary;
  std::string health;
  std::string metrics;
  std::string mcp;
  friend bool operator==(const Endpoints&, const Endpoints&) = default;
};

struct ServiceInfo {
  std::string version;
  std::vector<std::string> capabilities;
  std::string region;
  std::string environment;
  Endpoints endpoints;
  friend bool operator==(const ServiceInfo&, const ServiceInfo&) = default;
};

struct McpTool {
  std::string name;
  std::string title;
  std::string description;
  friend bool operator==(const McpTool&, const McpTool&) = default;
};

// What the MCP server said about itself (written by the health checker).
struct McpInfo {
  std::string protocol_version;  // "2025-06-18"
  std::string transport;         // "streamable-http" | "sse"
  std::string server_name;       // serverInfo.name
  std::string server_version;    // serverInfo.version
  boost::json::object capabilities;
  std::vector<McpTool> tools;
  std::optional<TimePoint> introspected_at;
  friend bool operator==(const McpInfo&, const McpInfo&) = default;
};

struct AlertingConfig {
  bool enabled = false;
  std::vector<std::string> channels;
  std::vector<std::string> escalation_levels;  // each of warning, critical, emergency
  friend bool operator==(const AlertingConfig&, const AlertingConfig&) = default;
};

// An accepted HTTP status range; a single status has low == high.
struct StatusRange {
  int low = 200;
  int high = 200;
  bool contains(int status) const { return status >= low && status <= high; }
  friend bool operator==(const StatusRange&, const StatusRange&) = default;
};

// Defaults are API.md's: a record always carries the effective config.
struct HealthCheckConfig {
  Duration interval = std::chrono::seconds{30};
  Duration timeout = std::chrono::seconds{10};
  std::uint32_t retries = 3;
  std::uint32_t failure_threshold = 3;
  std::uint32_t success_threshold = 2;
  std::vector<std::string> endpoints{"/health"};
  StatusRange expected_status;
  bool mcp = false;
  std::optional<Duration> ttl;  // heartbeat TTL; null = no heartbeat required
  AlertingConfig alerting;
  friend bool operator==(const HealthCheckConfig&, const HealthCheckConfig&) = default;
};

struct ServiceRecord {
  std::string service_id;  // UUID, lowercase canonical form; assigned by the registry
  std::string company_name;
  std::string domain;
  std::string instance_id;
  ServiceStatus status = ServiceStatus::active;
  HealthStatus health_status;
  ServiceInfo service_info;
  std::optional<McpInfo> mcp;
  HealthCheckConfig health_check_config;
  boost::json::object personal_config;
  boost::json::object demo_config;
  SaoLevel sao_level = SaoLevel::sapphire;
  TimePoint registered_at{};
  TimePoint last_updated{};
  std::vector<std::string> tags;
  boost::json::object metadata;

  // Bookkeeping that is persisted but not part of the API.
  StatusCause status_cause = StatusCause::registration;
  std::uint64_t create_index = 0;  // change index of the registration
  std::uint64_t modify_index = 0;  // change index of the last indexed change

  friend bool operator==(const ServiceRecord&, const ServiceRecord&) = default;
};

// Records are shared immutably between the registry, queries and watchers.
using RecordPtr = std::shared_ptr<const ServiceRecord>;

// Bounds on every string and array of a record, so one client cannot make the
// registry hold unbounded data. Defaults suit every known use.
struct RecordLimits {
  std::size_t max_string = 256;            // version, region, environment, tag, capability
  std::size_t max_url = 2048;              // each endpoint URL
  std::size_t max_domain = 253;            // DNS limit
  std::size_t max_list = 64;               // capabilities, tags, health endpoints, channels
  std::size_t max_tools = 1024;            // mcp.tools
  std::size_t max_tool_text = 4096;        // a tool's title or description
  std::size_t max_object_bytes = 65536;    // personalConfig, demoConfig, metadata (serialized)
  std::size_t max_object_depth = 16;       // nesting in those objects
  std::size_t max_record_bytes = 524288;   // the whole record, serialized
};

// Seed conventions (spec): "{company}-{unix-ms}-{6 hex}" and "mcp.{company}.{base}".
std::string generate_instance_id(std::string_view company, TimePoint at);
std::string make_domain(std::string_view company, std::string_view base = "2100.cool");
// A random (version 4) UUID in lowercase canonical form.
std::string generate_uuid();

}  // namespace discovery
