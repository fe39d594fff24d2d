// Time: an injectable clock so that TTLs, uptime and health logic are tested
// by moving time, never by sleeping; RFC 3339 and duration text conversions.
#pragma once

#include <discovery/error.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace discovery {

// Wall-clock time at millisecond precision, the precision of the API.
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using Duration = std::chrono::milliseconds;

// Thread-safe: now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

// The real clock. A process-wide instance is returned by system_clock().
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};
Clock& system_clock();

// A clock that moves only when told; for tests. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{std::chrono::milliseconds{1767225600000}})
      : now_ms_(start.time_since_epoch().count()) {}
  TimePoint now() const override { return TimePoint{Duration{now_ms_.load()}}; }
  void advance(Duration by) { now_ms_ += by.count(); }
  void set(TimePoint to) { now_ms_ = to.time_since_epoch().count(); }

 private:
  std::atomic<long long> now_ms_;
};

// "2026-01-31T12:00:00.123Z". Always UTC with milliseconds.
std::string format_time(TimePoint t);
// Accepts RFC 3339 with any fractional digits and a Z or +hh:mm offset.
Result<TimePoint> parse_time(std::string_view text);

// "500ms", "30s", "5m", "1h"; also combinations such as "1m30s". Negative and
// empty durations are rejected. Values up to 30 days.
Result<Duration> parse_duration(std::string_view text);
// The shortest exact spelling: 30000ms -> "30s", 90000ms -> "90s", 1500ms -> "1500ms".
std::string format_duration(Duration d);

}  // namespace discovery
