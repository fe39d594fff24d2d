// Discover query strings: parse_query_params and parse_discover_query.
//
// Invariants: a query that parses has a limit of 1..1000, and no filter list
// holds an empty name; parsing is deterministic (the same text gives the same
// query); every name parse_query_params returns is decoded (so re-encoding
// and re-parsing the pairs gives the same pairs).
#include <discovery/query_engine.hpp>

#include "fuzz_common.hpp"

#include <string>

using namespace discovery;

namespace {

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool same(const DiscoverQuery& a, const DiscoverQuery& b) {
  return a.company == b.company && a.region == b.region && a.environment == b.environment &&
         a.status == b.status && a.sao_level == b.sao_level && a.capabilities == b.capabilities &&
         a.tags == b.tags && a.tools == b.tools && a.limit == b.limit && a.cursor == b.cursor;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);

  if (auto params = parse_query_params(text)) {
    std::string encoded;
    for (const auto& [name, value] : *params) {
      if (!encoded.empty()) encoded.push_back('&');
      encoded += percent_encode(name) + "=" + percent_encode(value);
    }
    auto again = parse_query_params(encoded);
    if (encoded.size() > 16384) return 0;  // re-encoding may pass the length cap
    FUZZ_CHECK(again.has_value(), encoded);
    // An empty pair ("a&&b") may be dropped; compare the non-empty ones.
    std::vector<std::pair<std::string, std::string>> left, right;
    for (auto& p : *params)
      if (!p.first.empty() || !p.second.empty()) left.push_back(p);
    for (auto& p : *again)
      if (!p.first.empty() || !p.second.empty()) right.push_back(p);
    FUZZ_CHECK(left == right, encoded);
  }

  auto parsed = parse_discover_query(text);
  if (parsed) {
    const auto& q = parsed->query;
    FUZZ_CHECK(q.limit >= 1 && q.limit <= kMaxDiscoverLimit, text);
    for (const auto* list : {&q.capabilities, &q.tags, &q.tools})
      for (const auto& item : *list) FUZZ_CHECK(!item.empty(), text);
    if (parsed->wait) FUZZ_CHECK(parsed->wait->count() >= 0, text);
    auto again = parse_discover_query(text);
    FUZZ_CHECK(again.has_value() && same(again->query, q), text);
  } else {
    // An error names what was wrong, for API.md's error body.
    FUZZ_CHECK(!parsed.error().message.empty(), text);
  }
  return 0;
}
