// Prometheus metrics of the HTTP server: lock-free counters and histograms
// indexed by route and status, rendered as text exposition on demand.
// Thread-safe.
#pragma once

#include <discovery/registry.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

namespace discovery {
class HealthChecker;
}

namespace discovery::server {

class AnswerCache;

enum class Route : std::uint8_t {
  register_service, discover, watch, get, update, deregister, set_status, get_health,
  report_health, heartbeat, audit, alerts, health, ready, metrics, openapi, mcp_registry, ui, unknown, kCount
};
std::string_view route_name(Route route) noexcept;

class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                  1,      2.5,     5,      10};
  void observe(double seconds) noexcept;
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_micros_{0};
};

class Metrics {
 public:
  void observe_request(Route route, unsigned status, double seconds) noexcept;
  void observe_storage_write(double seconds) noexcept { storage_write_.observe(seconds); }
  // `answers`, when given, adds the whole-answer cache's counters.
  std::string render(const Registry& registry, const HealthChecker* checker,
                     const AnswerCache* answers = nullptr) const;

  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> watchers{0};
  std::atomic<std::int64_t> long_polls{0};
  std::atomic<std::uint64_t> watchers_dropped{0};
  std::atomic<std::uint64_t> connections_refused{0};
  std::atomic<std::uint64_t> rate_limited{0};

 private:
  static constexpr std::array<unsigned, 16> kStatuses{200, 201, 204, 400, 401, 403, 404, 405,
                                                      409, 413, 415, 429, 431, 500, 503, 0};
  static std::size_t status_slot(unsigned status) noexcept;
  static constexpr std::size_t kRoutes = static_cast<std::size_t>(Route::kCount);
  std::array<std::array<std::atomic<std::uint64_t>, kStatuses.size()>, kRoutes> requests_{};
  std::array<Histogram, kRoutes> latency_{};
  Histogram storage_write_;
};

}  // namespace discovery::server
