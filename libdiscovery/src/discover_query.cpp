// Parsing of the discover query string (API.md, "Discover").
#include <discovery/query_engine.hpp>

#include <cctype>
#include <charconv>

namespace discovery {

namespace {

constexpr std::size_t kMaxQueryString = 16384;
constexpr std::size_t kMaxListValues = 64;

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding: '+' is a space, %XX a byte.
Result<std::string> percent_decode(std::string_view in, std::string_view name) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%') {
      if (i + 2 >= in.size() || hex_digit(in[i + 1]) < 0 || hex_digit(in[i + 2]) < 0)
        return invalid_argument(std::string(name), "has a malformed percent-escape");
      out.push_back(static_cast<char>(hex_digit(in[i + 1]) * 16 + hex_digit(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

// The patterns a record's values must match (record_json.cpp): a filter
// value outside them cannot match anything and is a mistake worth naming.
using Check = bool (*)(std::string_view);
bool is_company(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0))) return false;
  }
  return true;
}
bool is_label(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  for (char c : v)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}
bool is_tag(std::string_view v) {
  if (v.empty() || v.size() > 256) return false;
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  return true;
}
// 1 to 128 characters (code points, as the OpenAPI document counts them,
// not bytes) without control characters.
bool is_tool(std::string_view v) {
  std::size_t characters = 0;
  for (char c : v) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++characters;
  }
  return characters >= 1 && characters <= 128;
}
constexpr std::string_view kCompanyRule = "must match [a-z0-9][a-z0-9-]{0,62}";
constexpr std::string_view kLabelRule = "must match [a-z0-9-]+";
constexpr std::string_view kTagRule = "must match [A-Za-z0-9._:-]+";
constexpr std::string_view kToolRule = "must be 1 to 128 printable characters";

Result<void> add_list(std::vector<std::string>& list, const std::string& value,
                      const std::string& name, Check check, std::string_view rule) {
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t comma = value.find(',', start);
    const std::size_t end = comma == std::string::npos ? value.size() : comma;
    // An empty name ("tags=", "tags=a,,b") is a mistake, not "any".
    if (end == start) return invalid_argument(name, "must not name an empty value");
    if (!check(std::string_view(value).substr(start, end - start)))
      return invalid_argument(name, std::string(rule));
    if (list.size() == kMaxListValues)
      return invalid_argument(name, "may name at most " + std::to_string(kMaxListValues) + " values");
    list.emplace_back(value.substr(start, end - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return {};
}

Result<void> set_once(std::string& target, const std::string& value, const std::string& name,
                      Check check, std::string_view rule) {
  if (!target.empty()) return invalid_argument(name, "may be given only once");
  if (value.empty()) return invalid_argument(name, "must not be empty");
  if (!check(value)) return invalid_argument(name, std::string(rule));
  target = value;
  return {};
}

}  // namespace

Result<std::vector<std::pair<std::string, std::string>>> parse_query_params(std::string_view qs) {
  if (qs.size() > kMaxQueryString)
    return invalid_argument("", "query string longer than " + std::to_string(kMaxQueryString) + " bytes");
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < qs.size()) {
    std::size_t amp = qs.find('&', pos);
    if (amp == std::string_view::npos) amp = qs.size();
    const std::string_view pair = qs.substr(pos, amp - pos);
    pos = amp + 1;
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), "query");
    if (!name) return name.error();
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), *name);
    if (!value) return value.error();
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

Result<ParsedDiscoverRequest> parse_discover_query(std::string_view qs) {
  auto params = parse_query_params(qs);
  if (!params) return params.error();
  ParsedDiscoverRequest out;
  bool limit_seen = false;
  for (const auto& [name, value] : *params) {

    Result<void> r;
    if (name == "company") {
      r = set_once(out.query.company, value, name, is_company, kCompanyRule);
    } else if (name == "region") {
      r = set_once(out.query.region, value, name, is_label, kLabelRule);
    } else if (name == "environment") {
      r = set_once(out.query.environment, value, name, is_label, kLabelRule);
    } else if (name == "status") {
      if (out.query.status) return invalid_argument(name, "may be given only once");
      out.query.status = parse_status(value);
      if (!out.query.status)
        return invalid_argument(name, "must be one of active, inactive, maintenance, unhealthy");
    } else if (name == "saoLevel") {
      if (out.query.sao_level) return invalid_argument(name, "may be given only once");
      out.query.sao_level = parse_sao_level(value);
      if (!out.query.sao_level)
        return invalid_argument(name, "must be one of diamond, emerald, sapphire, opal, onyx");
    } else if (name == "capabilities") {
      r = add_list(out.query.capabilities, value, name, is_tag, kTagRule);
    } else if (name == "tags") {
      r = add_list(out.query.tags, value, name, is_tag, kTagRule);
    } else if (name == "tools") {
      r = add_list(out.query.tools, value, name, is_tool, kToolRule);
    } else if (name == "limit") {
      if (limit_seen) return invalid_argument(name, "may be given only once");
      limit_seen = true;
      std::size_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc{} || end != value.data() + value.size() || limit < 1 ||
          limit > kMaxDiscoverLimit)
        return invalid_argument(name, "must be an integer from 1 to " + std::to_string(kMaxDiscoverLimit));
      out.query.limit = limit;
    } else if (name == "cursor") {
      r = set_once(out.query.cursor, value, name, [](std::string_view v) { return v.size() <= 64; },
                   "is not a cursor returned by discover");
    } else if (name == "index") {
      if (out.wait_index) return invalid_argument(name, "may be given only once");
      std::uint64_t index = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), index);
      if (ec != std::errc{} || end != value.data() + value.size() || value.empty())
        return invalid_argument(name, "must be a non-negative integer");
      out.wait_index = index;
    } else if (name == "wait") {
      if (out.wait) return invalid_argument(name, "may be given only once");
      auto d = parse_duration(value);
      if (!d) return invalid_argument(name, d.error().message);
      out.wait = *d;
    } else {
      return invalid_argument(name, "is not a discover parameter");
    }
    if (!r) return r.error();
  }
  return out;
}

}  // namespace discovery
