#include "metrics.hpp"
#include "answer_cache.hpp"

#include <discovery/health_checker.hpp>

#include <cstdio>

namespace discovery::server {

std::string_view route_name(Route route) noexcept {
  switch (route) {
    case Route::register_service: return "register";
    case Route::discover: return "discover";
    case Route::watch: return "watch";
    case Route::get: return "get";
    case Route::update: return "update";
    case Route::deregister: return "deregister";
    case Route::set_status: return "status";
    case Route::get_health: return "health_get";
    case Route::report_health: return "health_report";
    case Route::heartbeat: return "heartbeat";
    case Route::audit: return "audit";
    case Route::alerts: return "alerts";
    case Route::health: return "health";
    case Route::ready: return "ready";
    case Route::metrics: return "metrics";
    case Route::openapi: return "openapi";
    case Route::mcp_registry: return "mcp_registry";
    case Route::ui: return "ui";
    case Route::unknown:
    case Route::kCount: break;
  }
  return "unknown";
}

void Histogram::observe(double seconds) noexcept {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  char number[64];
  std::uint64_t cumulative = 0;
  const std::string sep = labels.empty() ? "" : ",";
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size()) std::snprintf(number, sizeof number, "%g", kBounds[i]);
    out += std::string(name) + "_bucket{" + std::string(labels) + sep + "le=\"" +
           (i < kBounds.size() ? std::string(number) : std::string("+Inf")) + "\"} " +
           std::to_string(cumulative) + "\n";
  }
  std::snprintf(number, sizeof number, "%.6f",
                static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6);
  const std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";
  out += std::string(name) + "_sum" + braces + " " + number + "\n";
  out += std::string(name) + "_count" + braces + " " +
         std::to_string(count_.load(std::memory_order_relaxed)) + "\n";
}

std::size_t Metrics::status_slot(unsigned status) noexcept {
  for (std::size_t i = 0; i + 1 < kStatuses.size(); ++i)
    if (kStatuses[i] == status) return i;
  return kStatuses.size() - 1;
}

void Metrics::observe_request(Route route, unsigned status, double seconds) noexcept {
  const auto r = static_cast<std::size_t>(route);
  requests_[r][status_slot(status)].fetch_add(1, std::memory_order_relaxed);
  latency_[r].observe(seconds);
}

std::string Metrics::render(const Registry& registry, const HealthChecker* checker,
                            const AnswerCache* answers) const {
  std::string out;
  out.reserve(16384);
  out += "# HELP discovery_http_requests_total HTTP requests by route and status.\n"
         "# TYPE discovery_http_requests_total counter\n";
  for (std::size_t r = 0; r < kRoutes; ++r) {
    for (std::size_t s = 0; s < kStatuses.size(); ++s) {
      const auto n = requests_[r][s].load(std::memory_order_relaxed);
      if (n == 0) continue;
      out += "discovery_http_requests_total{route=\"" + std::string(route_name(static_cast<Route>(r))) +
             "\",status=\"" + (kStatuses[s] ? std::to_string(kStatuses[s]) : std::string("other")) +
             "\"} " + std::to_string(n) + "\n";
    }
  }
  out += "# HELP discovery_http_request_duration_seconds Time from a request's arrival to its response.\n"
         "# TYPE discovery_http_request_duration_seconds histogram\n";
  for (std::size_t r = 0; r < kRoutes; ++r)
    latency_[r].render(out, "discovery_http_request_duration_seconds",
                       "route=\"" + std::string(route_name(static_cast<Route>(r))) + "\"");
  out += "# HELP discovery_durable_write_duration_seconds Time for a mutating request to be durable (storage commit included).\n"
         "# TYPE discovery_durable_write_duration_seconds histogram\n";
  storage_write_.render(out, "discovery_durable_write_duration_seconds", "");

  const auto counts = registry.count_by_status();
  out += "# HELP discovery_services Registered services by status.\n"
         "# TYPE discovery_services gauge\n";
  for (auto status : kAllStatuses)
    out += "discovery_services{status=\"" + std::string(to_string(status)) + "\"} " +
           std::to_string(counts[static_cast<std::size_t>(status)]) + "\n";
  const auto gauge = [&](std::string_view name, std::string_view help, std::string_view type,
                         long long value) {
    out += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " +
           std::string(name) + " " + std::string(type) + "\n" + std::string(name) + " " +
           std::to_string(value) + "\n";
  };
  gauge("discovery_index", "The registry's change index.", "gauge",
        static_cast<long long>(registry.index()));
  gauge("discovery_connections", "Open HTTP connections.", "gauge", connections.load());
  gauge("discovery_watchers", "Open SSE watch streams.", "gauge", watchers.load());
  gauge("discovery_long_polls", "Discover requests waiting for a change.", "gauge", long_polls.load());
  gauge("discovery_watchers_dropped_total", "Watch streams closed for falling behind.", "counter",
        static_cast<long long>(watchers_dropped.load()));
  gauge("discovery_connections_refused_total", "Connections refused over --max-connections.",
        "counter", static_cast<long long>(connections_refused.load()));
  gauge("discovery_rate_limited_total", "Requests answered 429.", "counter",
        static_cast<long long>(rate_limited.load()));
  if (answers) {
    gauge("discovery_answer_cache_hits_total", "Discover answers sent again from the answer cache.", "counter",
          static_cast<long long>(answers->hits()));
    gauge("discovery_answer_cache_misses_total", "Discover answers made afresh (not kept, or changed since).",
          "counter", static_cast<long long>(answers->misses()));
    gauge("discovery_answer_cache_evictions_total", "Answers dropped to stay within --answer-cache-bytes.",
          "counter", static_cast<long long>(answers->evictions()));
    gauge("discovery_answer_cache_bytes", "Bytes the answer cache holds (counted against its bound).", "gauge",
          static_cast<long long>(answers->bytes()));
  }
  if (checker) {
    const auto s = checker->stats();
    const auto as_ll = [](auto v) { return static_cast<long long>(v); };
    gauge("discovery_health_monitored", "Services with a health-check schedule.", "gauge", as_ll(s.monitored));
    gauge("discovery_health_checks_in_flight", "Health checks running.", "gauge", as_ll(s.in_flight));
    gauge("discovery_health_checks_passed_total", "Health checks that passed.", "counter", as_ll(s.checks_passed));
    gauge("discovery_health_checks_failed_total", "Health checks that failed.", "counter", as_ll(s.checks_failed));
    gauge("discovery_health_introspections_total", "MCP tools/list introspections.", "counter", as_ll(s.introspections));
    gauge("discovery_health_alerts_total", "Alerts delivered to sinks.", "counter", as_ll(s.alerts_sent));
    gauge("discovery_health_recovery_calls_total", "Recovery actions called.", "counter", as_ll(s.recovery_calls));
    gauge("discovery_health_safeguard_engaged", "1 while the mass-failure safeguard holds status changes.", "gauge",
          s.safeguard_engaged ? 1 : 0);
    out += "# HELP discovery_health_schedule_lateness_seconds Lateness of check starts behind schedule (recent checks).\n"
           "# TYPE discovery_health_schedule_lateness_seconds gauge\n";
    out += "discovery_health_schedule_lateness_seconds{quantile=\"0.5\"} " + std::to_string(s.lateness_p50_ms / 1000) + "\n";
    out += "discovery_health_schedule_lateness_seconds{quantile=\"0.99\"} " + std::to_string(s.lateness_p99_ms / 1000) + "\n";
  }
  return out;
}

}  // namespace discovery::server
