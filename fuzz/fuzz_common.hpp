// Helpers shared by the fuzz targets.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace discovery::fuzz {

// An invariant the code under test promised and broke: report and abort, so
// libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz invariant violated: %s %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}
#define FUZZ_CHECK(cond, detail) \
  do {                           \
    if (!(cond)) ::discovery::fuzz::fail(#cond, (detail)); \
  } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// JSON as the daemon parses request bodies (api.cpp: depth 64).
inline std::optional<boost::json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse_options options;
  options.max_depth = 64;
  auto value = boost::json::parse(text, ec, {}, options);
  if (ec) return std::nullopt;
  return value;
}

}  // namespace discovery::fuzz
