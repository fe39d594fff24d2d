#include <discovery/clock.hpp>

#include <charconv>
#include <cstdio>

namespace discovery {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
}

Clock& system_clock() {
  static SystemClock clock;
  return clock;
}

std::string format_time(TimePoint t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss<milliseconds> hms{t - day};
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02ld:%02ld:%02ld.%03ldZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<long>(hms.hours().count()),
                static_cast<long>(hms.minutes().count()), static_cast<long>(hms.seconds().count()),
                static_cast<long>(hms.subseconds().count()));
  return buffer;
}

namespace {

bool read_digits(std::string_view text, std::size_t pos, std::size_t count, int& out) {
  if (pos + count > text.size()) return false;
  out = 0;
  for (std::size_t i = pos; i < pos + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

Error bad_time(std::string_view text) {
  return invalid_argument("", "'" + std::string(text.substr(0, 64)) +
                                  "' is not an RFC 3339 time (2026-01-31T12:00:00Z)");
}

}  // namespace

Result<TimePoint> parse_time(std::string_view text) {
  using namespace std::chrono;
  int y, mo, d, h, mi, s;
  if (text.size() < 20 || !read_digits(text, 0, 4, y) || text[4] != '-' ||
      !read_digits(text, 5, 2, mo) || text[7] != '-' || !read_digits(text, 8, 2, d) ||
      (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !read_digits(text, 11, 2, h) ||
      text[13] != ':' || !read_digits(text, 14, 2, mi) || text[16] != ':' ||
      !read_digits(text, 17, 2, s))
    return bad_time(text);
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad_time(text);
  std::size_t pos = 19;
  long long millis = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    std::size_t digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return bad_time(text);
    for (std::size_t i = digits; i < 3; ++i) millis *= 10;
  }
  long long offset_minutes = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int oh, om;
    if (!read_digits(text, pos + 1, 2, oh) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
        !read_digits(text, pos + 4, 2, om) || oh > 23 || om > 59)
      return bad_time(text);
    offset_minutes = (oh * 60 + om) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return bad_time(text);
  }
  if (pos != text.size()) return bad_time(text);
  const auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + milliseconds{millis} -
                 minutes{offset_minutes};
  return TimePoint{duration_cast<milliseconds>(t.time_since_epoch())};
}

Result<Duration> parse_duration(std::string_view text) {
  const auto bad = [&](std::string why) {
    return invalid_argument("", "'" + std::string(text.substr(0, 64)) + "' is not a duration (" +
                                    why + "; e.g. 500ms, 30s, 5m, 1h)");
  };
  if (text.empty()) return bad("empty");
  long long total_ms = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), value);
    if (ec != std::errc{} || end == text.data() + pos) return bad("expected a number");
    pos = static_cast<std::size_t>(end - text.data());
    if (value < 0) return bad("negative");
    long long unit_ms = 0;
    if (text.substr(pos, 2) == "ms") {
      unit_ms = 1;
      pos += 2;
    } else if (pos < text.size() && text[pos] == 's') {
      unit_ms = 1000;
      ++pos;
    } else if (pos < text.size() && text[pos] == 'm') {
      unit_ms = 60'000;
      ++pos;
    } else if (pos < text.size() && text[pos] == 'h') {
      unit_ms = 3'600'000;
      ++pos;
    } else {
      return bad("a unit of ms, s, m or h is required");
    }
    constexpr long long kMaxMs = 30LL * 24 * 3'600'000;
    if (value > kMaxMs / unit_ms || total_ms + value * unit_ms > kMaxMs)
      return bad("longer than 30 days");
    total_ms += value * unit_ms;
  }
  return Duration{total_ms};
}

std::string format_duration(Duration d) {
  const long long ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace discovery
