// Time text forms (RFC 3339 times, "30s" durations) and the injectable clocks.
#define BOOST_TEST_MODULE test_clock
#include <boost/test/unit_test.hpp>

#include <discovery/clock.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using discovery::Duration;
using discovery::ErrorCode;
using discovery::format_duration;
using discovery::format_time;
using discovery::parse_duration;
using discovery::parse_time;
using discovery::TimePoint;
using namespace std::chrono_literals;

// Failed comparisons print times as RFC 3339 and durations in milliseconds
// (GCC 12's standard library has no chrono stream operators yet).
template <>
struct boost::test_tools::tt_detail::print_log_value<TimePoint> {
  void operator()(std::ostream& os, const TimePoint& t) { os << format_time(t); }
};
template <>
struct boost::test_tools::tt_detail::print_log_value<Duration> {
  void operator()(std::ostream& os, const Duration& d) { os << d.count() << "ms"; }
};

namespace {

TimePoint at_ms(long long ms) { return TimePoint{Duration{ms}}; }

// 2026-01-01T00:00:00.000Z, the ManualClock's default start.
constexpr long long kNewYear2026 = 1767225600000;

}  // namespace

BOOST_AUTO_TEST_SUITE(time_text)

BOOST_AUTO_TEST_CASE(format_time_is_utc_with_milliseconds) {
  BOOST_TEST(format_time(at_ms(0)) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(format_time(at_ms(kNewYear2026)) == "2026-01-01T00:00:00.000Z");
  BOOST_TEST(format_time(at_ms(kNewYear2026 + 30 * 86'400'000LL + 12 * 3'600'000LL + 123)) ==
             "2026-01-31T12:00:00.123Z");
  BOOST_TEST(format_time(at_ms(1709164800000 + 86'399'999)) == "2024-02-29T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(format_time_before_the_epoch) {
  BOOST_TEST(format_time(at_ms(-1)) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(parse_time_utc) {
  auto parsed = parse_time("2026-01-31T12:00:00.123Z");
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->time_since_epoch().count() ==
             kNewYear2026 + 30 * 86'400'000LL + 12 * 3'600'000LL + 123);
  BOOST_TEST(parse_time("2026-01-01T00:00:00Z").value() == at_ms(kNewYear2026));
  // RFC 3339 allows lowercase t and z.
  BOOST_TEST(parse_time("2026-01-01t00:00:00z").value() == at_ms(kNewYear2026));
}

BOOST_AUTO_TEST_CASE(parse_time_offsets) {
  BOOST_TEST(parse_time("2026-01-01T02:00:00+02:00").value() == at_ms(kNewYear2026));
  BOOST_TEST(parse_time("2025-12-31T18:30:00-05:30").value() == at_ms(kNewYear2026));
  BOOST_TEST(parse_time("2026-01-01T00:00:00+00:00").value() == at_ms(kNewYear2026));
  BOOST_TEST(parse_time("2026-01-01T00:00:00-00:00").value() == at_ms(kNewYear2026));
  BOOST_TEST(parse_time("2026-01-01T05:45:00.250+05:45").value() == at_ms(kNewYear2026 + 250));
}

BOOST_AUTO_TEST_CASE(parse_time_fractional_digits) {
  BOOST_TEST(parse_time("2026-01-01T00:00:00.1Z").value() == at_ms(kNewYear2026 + 100));
  BOOST_TEST(parse_time("2026-01-01T00:00:00.12Z").value() == at_ms(kNewYear2026 + 120));
  BOOST_TEST(parse_time("2026-01-01T00:00:00.123Z").value() == at_ms(kNewYear2026 + 123));
  // Below the API's millisecond precision: truncated, never rounded up.
  BOOST_TEST(parse_time("2026-01-01T00:00:00.123456Z").value() == at_ms(kNewYear2026 + 123));
  BOOST_TEST(parse_time("2026-01-01T00:00:00.999999999Z").value() == at_ms(kNewYear2026 + 999));
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips) {
  for (const long long ms : {0LL, 1LL, 999LL, kNewYear2026, kNewYear2026 + 86'399'999LL,
                             951782400000LL /* 2000-02-29 */, 253402300799999LL, -86'400'000LL}) {
    const auto parsed = parse_time(format_time(at_ms(ms)));
    BOOST_REQUIRE_MESSAGE(parsed.has_value(), format_time(at_ms(ms)));
    BOOST_TEST(parsed->time_since_epoch().count() == ms);
  }
}

BOOST_AUTO_TEST_CASE(parse_time_rejects_bad_text) {
  for (const char* bad : {
           "",
           "2026-01-31",
           "2026-01-31T12:00:00",         // no offset
           "2026-01-31T12:00Z",           // no seconds
           "2026-13-01T00:00:00Z",        // month
           "2026-00-01T00:00:00Z",        // month
           "2026-02-30T00:00:00Z",        // day
           "2025-02-29T00:00:00Z",        // not a leap year
           "2026-01-31T24:00:00Z",        // hour
           "2026-01-31T12:60:00Z",        // minute
           "2026-01-31T12:00:61Z",        // second
           "2026-01-31T12:00:00.Z",       // empty fraction
           "2026-01-31T12:00:00+0200",    // offset without colon
           "2026-01-31T12:00:00+02",      // short offset
           "2026-01-31T12:00:00+24:00",   // offset hour
           "2026-01-31T12:00:00+02:60",   // offset minute
           "2026-01-31T12:00:00Zjunk",    // trailing text
           "2026-01-31X12:00:00Z",        // separator
           "2026/01/31T12:00:00Z",        // separator
           "26-01-31T12:00:00Z",          // two-digit year
           "2026-1-31T12:00:00Z",         // one-digit month
           " 2026-01-31T12:00:00Z",       // leading space
           "yesterday at noon, roughly",  // prose
       }) {
    const auto parsed = parse_time(bad);
    BOOST_TEST_INFO("input: '" << bad << "'");
    BOOST_REQUIRE(!parsed.has_value());
    BOOST_TEST(parsed.error().code == ErrorCode::invalid_argument);
    BOOST_TEST(parsed.error().message.find("RFC 3339") != std::string::npos);
    // The caller names the field; the clock does not know it.
    BOOST_TEST(parsed.error().field.empty());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(duration_text)

BOOST_AUTO_TEST_CASE(parse_duration_units) {
  BOOST_TEST(parse_duration("500ms").value() == 500ms);
  BOOST_TEST(parse_duration("30s").value() == 30s);
  BOOST_TEST(parse_duration("5m").value() == 5min);
  BOOST_TEST(parse_duration("1h").value() == 1h);
  BOOST_TEST(parse_duration("0s").value() == 0ms);
  BOOST_TEST(parse_duration("1ms").value() == 1ms);
}

BOOST_AUTO_TEST_CASE(parse_duration_combinations) {
  BOOST_TEST(parse_duration("1m30s").value() == 90s);
  BOOST_TEST(parse_duration("1h30m").value() == 90min);
  BOOST_TEST(parse_duration("1h2m3s4ms").value() == 1h + 2min + 3s + 4ms);
  BOOST_TEST(parse_duration("2s500ms").value() == 2500ms);
}

BOOST_AUTO_TEST_CASE(parse_duration_up_to_thirty_days) {
  BOOST_TEST(parse_duration("720h").value() == 720h);
  BOOST_TEST(parse_duration("43200m").value() == 720h);
  BOOST_TEST(parse_duration("2592000000ms").value() == 720h);
  BOOST_TEST(parse_duration("719h60m").value() == 720h);
  for (const char* too_long : {"721h", "720h1ms", "2592000001ms", "43201m", "719h61m",
                               "9223372036854775807h", "99999999999999999999999s"}) {
    BOOST_TEST_INFO("input: " << too_long);
    const auto parsed = parse_duration(too_long);
    BOOST_REQUIRE(!parsed.has_value());
    BOOST_TEST(parsed.error().code == ErrorCode::invalid_argument);
  }
  BOOST_TEST(parse_duration("721h").error().message.find("30 days") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(parse_duration_rejects) {
  const auto message_of = [](const char* text) {
    const auto parsed = parse_duration(text);
    BOOST_TEST_INFO("input: '" << text << "'");
    BOOST_REQUIRE(!parsed.has_value());
    BOOST_TEST(parsed.error().code == ErrorCode::invalid_argument);
    BOOST_TEST(parsed.error().field.empty());
    return parsed.error().message;
  };
  BOOST_TEST(message_of("").find("empty") != std::string::npos);
  BOOST_TEST(message_of("-5s").find("negative") != std::string::npos);
  BOOST_TEST(message_of("30").find("unit") != std::string::npos);
  BOOST_TEST(message_of("1m30").find("unit") != std::string::npos);
  BOOST_TEST(message_of("2d").find("unit") != std::string::npos);
  for (const char* bad : {"s", "ms", "1.5s", "5 s", " 5s", "5s ", "+5s", "5S", "5sec", "1h-5m",
                          "5ss", "1w", "thirty seconds"}) {
    message_of(bad);
  }
}

BOOST_AUTO_TEST_CASE(format_duration_shortest_exact_spelling) {
  BOOST_TEST(format_duration(30000ms) == "30s");
  BOOST_TEST(format_duration(90000ms) == "90s");
  BOOST_TEST(format_duration(1500ms) == "1500ms");
  BOOST_TEST(format_duration(500ms) == "500ms");
  BOOST_TEST(format_duration(60s) == "1m");
  BOOST_TEST(format_duration(90min) == "90m");
  BOOST_TEST(format_duration(1h) == "1h");
  BOOST_TEST(format_duration(720h) == "720h");
  BOOST_TEST(format_duration(0ms) == "0s");
}

BOOST_AUTO_TEST_CASE(format_then_parse_round_trips) {
  for (const Duration d :
       {Duration{1}, Duration{999}, Duration{1000}, Duration{1001}, Duration{59'999},
        Duration{60'000}, Duration{61'000}, Duration{3'599'000}, Duration{3'600'000},
        Duration{3'600'001}, Duration{720LL * 3'600'000}}) {
    BOOST_TEST_INFO("ms: " << d.count());
    BOOST_TEST(parse_duration(format_duration(d)).value() == d);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(clocks)

BOOST_AUTO_TEST_CASE(manual_clock_starts_at_2026_by_default) {
  const discovery::ManualClock clock;
  BOOST_TEST(clock.now().time_since_epoch().count() == kNewYear2026);
  BOOST_TEST(format_time(clock.now()) == "2026-01-01T00:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(manual_clock_moves_only_when_told) {
  discovery::ManualClock clock(at_ms(1000));
  const discovery::Clock& as_clock = clock;
  BOOST_TEST(as_clock.now() == at_ms(1000));
  BOOST_TEST(as_clock.now() == at_ms(1000));
  clock.advance(30s);
  BOOST_TEST(as_clock.now() == at_ms(31'000));
  clock.advance(1ms);
  BOOST_TEST(as_clock.now() == at_ms(31'001));
  clock.set(at_ms(5));
  BOOST_TEST(as_clock.now() == at_ms(5));
}

BOOST_AUTO_TEST_CASE(manual_clock_advances_from_many_threads) {
  discovery::ManualClock clock(at_ms(0));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < 10'000; ++i) {
        clock.advance(1ms);
        (void)clock.now();
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  BOOST_TEST(clock.now() == at_ms(40'000));
}

BOOST_AUTO_TEST_CASE(system_clock_is_the_real_time) {
  discovery::Clock& clock = discovery::system_clock();
  BOOST_TEST(&clock == &discovery::system_clock());
  const auto before = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  const TimePoint now = clock.now();
  const auto after = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  BOOST_TEST(now.time_since_epoch().count() >= before.time_since_epoch().count());
  BOOST_TEST(now.time_since_epoch().count() <= after.time_since_epoch().count());
}

BOOST_AUTO_TEST_SUITE_END()
