#include <discovery/record_json.hpp>

#include <arpa/inet.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace discovery {

namespace json = boost::json;

namespace {

// ---------------------------------------------------------------------------
// Field paths

// The dotted path of a field ("serviceInfo.endpoints.primary", "tags[3]").
// A path is a chain of stack frames, turned into text only when an error
// names it, so parsing a valid record builds no strings. Each step must be
// taken from a named path (an lvalue): stepping from a temporary would leave
// a dangling parent, so the rvalue overloads are deleted.
class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string_view root) : key_(root) {}

  FieldPath operator/(std::string_view key) const& { return FieldPath(this, key, kNoIndex); }
  FieldPath operator[](std::size_t index) const& { return FieldPath(this, {}, index); }
  FieldPath operator/(std::string_view key) const&& = delete;
  FieldPath operator[](std::size_t index) const&& = delete;

  std::string str() const {
    std::string text = parent_ != nullptr ? parent_->str() : std::string{};
    if (index_ != kNoIndex) {
      text.append("[").append(std::to_string(index_)).append("]");
    } else if (!key_.empty()) {
      if (!text.empty()) text.push_back('.');
      text.append(key_);
    }
    return text;
  }

 private:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);
  FieldPath(const FieldPath* parent, std::string_view key, std::size_t index)
      : parent_(parent), key_(key), index_(index) {}

  const FieldPath* parent_ = nullptr;
  std::string_view key_;
  std::size_t index_ = kNoIndex;
};

// Keeps the first error. Every check returns false once something failed, so
// checks chain with && and stop at the first offending field.
class Checker {
 public:
  Error error() const { return error_.value_or(internal_error("no error recorded")); }

 protected:
  bool fail(const FieldPath& path, std::string message) {
    if (!error_) error_ = invalid_argument(path.str(), std::move(message));
    return false;
  }
  bool fail(Error error) {
    if (!error_) error_ = std::move(error);
    return false;
  }

 private:
  std::optional<Error> error_;
};

// ---------------------------------------------------------------------------
// The rules' vocabulary: messages and the character-level patterns.

constexpr std::string_view kRequired = "is required";
constexpr std::string_view kUnknownField = "unknown field";
constexpr std::string_view kReadOnly = "is read-only";
constexpr std::string_view kCompanyPattern = "must match [a-z0-9][a-z0-9-]{0,62}";
constexpr std::string_view kInstancePattern = "must match [A-Za-z0-9._-]{1,128}";
constexpr std::string_view kSlugPattern = "must match [a-z0-9-]+";
constexpr std::string_view kTokenPattern = "must match [A-Za-z0-9._:-]+";
constexpr std::string_view kDnsName =
    "must be a DNS name: lowercase letters, digits, '-' and '.', labels of 1 to 63 characters";
constexpr std::string_view kHttpUrl = "must be an absolute http or https URL with a host";
constexpr std::string_view kHealthEndpoint =
    "must be a path starting with /, an absolute http or https URL, or tcp://host:port";
constexpr std::string_view kExpectedStatus =
    "must be an HTTP status from 100 to 599 or a range such as \"200-299\"";
constexpr std::string_view kSaoLevels = "must be one of diamond, emerald, sapphire, opal, onyx";
constexpr std::string_view kStatuses = "must be one of active, inactive, maintenance, unhealthy";
constexpr std::string_view kStatusCauses = "must be one of registration, operator, health, ttl";
constexpr std::string_view kEscalationLevels = "must be one of warning, critical, emergency";

// parse_duration accepts at most 30 days, so a valid record never holds more
// (its text form must parse back).
constexpr Duration kMaxDuration = std::chrono::hours{24 * 30};
constexpr std::size_t kMaxHealthEndpoints = 16;
constexpr std::size_t kMaxAlertChannels = 8;
constexpr std::uint32_t kMaxRetries = 10;
constexpr std::uint32_t kMaxThreshold = 100;
constexpr int kMinHttpStatus = 100;
constexpr int kMaxHttpStatus = 599;

std::string at_most_characters(std::size_t max) {
  return "must be at most " + std::to_string(max) + " characters";
}
std::string at_most_items(std::size_t max) {
  return "must be at most " + std::to_string(max) + " items";
}
std::string integer_range(std::uint64_t min, std::uint64_t max) {
  return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || is_digit(c); }
bool is_alnum(char c) { return is_lower_or_digit(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// Printable ASCII without space: what may appear unescaped in a URL.
bool is_url_char(char c) { return c > ' ' && c < '\x7f'; }

template <class Predicate>
bool all_of(std::string_view text, Predicate predicate) {
  return std::all_of(text.begin(), text.end(), predicate);
}

// [a-z0-9][a-z0-9-]{0,62}
bool is_company_name(std::string_view text) {
  return !text.empty() && text.size() <= 63 && is_lower_or_digit(text.front()) &&
         all_of(text, [](char c) { return is_lower_or_digit(c) || c == '-'; });
}

// [A-Za-z0-9._-]{1,128}
bool is_instance_id(std::string_view text) {
  return !text.empty() && text.size() <= 128 &&
         all_of(text, [](char c) { return is_alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// [a-z0-9-]+: regions, environments, alert channels.
bool is_slug(std::string_view text) {
  return !text.empty() && all_of(text, [](char c) { return is_lower_or_digit(c) || c == '-'; });
}

// [A-Za-z0-9._:-]+: tags and capabilities. ':' admits namespaced names
// ("mcp:tools"); no spaces or commas, which discover uses as separators.
bool is_token(std::string_view text) {
  return !text.empty() && all_of(text, [](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

// Labels of 1..63 of [a-z0-9-], separated by single dots. Hyphens at a
// label's edge are allowed: make_domain() builds "mcp.{company}.{base}" and a
// company name may end in '-'.
bool is_dns_name(std::string_view text) {
  if (text.empty()) return false;
  std::size_t label = 0;
  for (const char c : text) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (is_lower_or_digit(c) || c == '-') {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label != 0;
}

// 8-4-4-4-12 lowercase hex, the form generate_uuid() writes.
bool is_lowercase_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    const char c = text[i];
    if (dash ? c != '-' : !(is_digit(c) || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; };
           return lower(x) == lower(y);
         });
}

// An absolute http(s) URL with a host and an optional port. Userinfo is
// refused: records are readable by every level of the company, so
// credentials must not live in them.
bool is_http_url(std::string_view url) {
  if (!all_of(url, is_url_char)) return false;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  const std::string_view scheme = url.substr(0, scheme_end);
  if (!equals_ignoring_case(scheme, "http") && !equals_ignoring_case(scheme, "https")) return false;
  const std::string_view rest = url.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) return false;

  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = authority.substr(1, close - 1);
    // A real IPv6 address: "[782:]" passed a character check, and clients
    // choke on such URLs (schemathesis's own URL parser did).
    if (!all_of(host, [](char c) { return is_hex(c) || c == ':' || c == '.'; })) return false;
    in6_addr address{};
    if (::inet_pton(AF_INET6, std::string(host).c_str(), &address) != 1) return false;
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty() || !all_of(host, [](char c) {
          return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '%';
        }))
      return false;
  }
  if (!port.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || end != port.data() + port.size() || value == 0 || value > 65535)
      return false;
  }
  return true;
}

bool is_health_endpoint(std::string_view text) {
  if (!text.empty() && text.front() == '/') return all_of(text, is_url_char);
  if (text.starts_with("tcp://")) {
    // tcp://host:port: a connect check; a port and nothing after it.
    const std::string_view authority = text.substr(6);
    if (authority.find_first_of("/?#@") != std::string_view::npos) return false;
    const auto colon = authority.rfind(':');
    if (colon == std::string_view::npos || (authority.back() == ']')) return false;
    return is_http_url("http://" + std::string(authority));
  }
  return is_http_url(text);
}

bool has_control_characters(std::string_view text) {
  return std::any_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == '\x7f'; });
}

// True when containers nest more than `max` levels below `value` (an object
// or array itself is one level). Stops descending past the limit.
bool nested_deeper_than(const json::value& value, std::size_t max);

// Whether a number in `value` is not finite. Boost.JSON parses 1e400 as
// Infinity and 0e400 as NaN, and writes them back as `Infinity` and `NaN`,
// which no JSON parser reads: such a record made answers invalid JSON and
// the daemon unable to load its store after a restart (fuzz_merge_patch).
bool holds_non_finite(const json::value& value) {
  if (const double* d = value.if_double()) return !std::isfinite(*d);
  if (const json::object* object = value.if_object())
    return std::any_of(object->begin(), object->end(),
                       [](const json::key_value_pair& member) { return holds_non_finite(member.value()); });
  if (const json::array* array = value.if_array())
    return std::any_of(array->begin(), array->end(), [](const json::value& item) { return holds_non_finite(item); });
  return false;
}

bool nested_deeper_than(const json::object& object, std::size_t max) {
  if (max == 0) return true;
  return std::any_of(object.begin(), object.end(), [max](const json::key_value_pair& member) {
    return nested_deeper_than(member.value(), max - 1);
  });
}

bool nested_deeper_than(const json::value& value, std::size_t max) {
  if (const json::object* object = value.if_object()) return nested_deeper_than(*object, max);
  if (const json::array* array = value.if_array()) {
    if (max == 0) return true;
    return std::any_of(array->begin(), array->end(), [max](const json::value& item) {
      return nested_deeper_than(item, max - 1);
    });
  }
  return false;
}

// Integers arrive as int64, uint64 or (from some clients) an integral double
// such as 3.0; anything else, negatives included, is not one.
std::optional<std::uint64_t> non_negative_integer(const json::value& value) {
  if (const std::uint64_t* u = value.if_uint64()) return *u;
  if (const std::int64_t* i = value.if_int64()) {
    if (*i >= 0) return static_cast<std::uint64_t>(*i);
  } else if (const double* d = value.if_double()) {
    // 2^64 as a double; below it every integral double converts exactly.
    constexpr double kTwoTo64 = 18446744073709551616.0;
    if (*d >= 0 && *d < kTwoTo64 && std::trunc(*d) == *d) return static_cast<std::uint64_t>(*d);
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// JSON -> record: types and shapes only. Rules on values live in Validator,
// so that validate() and the parsers apply exactly the same ones.

enum class Mode {
  registration,  // a client's body: read-only fields are refused
  stored,        // JsonView::storage: everything, plus the bookkeeping fields
};

bool is_read_only_field(std::string_view key) {
  return key == "serviceId" || key == "status" || key == "healthStatus" || key == "mcp" ||
         key == "registeredAt" || key == "lastUpdated";
}

// Null is read as "absent" everywhere (the leaves return true and leave the
// target at its default), as in a merge patch; whether something absent was
// required is Validator's business.
class Reader : public Checker {
 public:
  explicit Reader(Mode mode) : mode_(mode) {}

  bool read_record(const json::value& value, ServiceRecord& out);
  bool read_health_check_config(const json::value& value, const FieldPath& path,
                                HealthCheckConfig& out);
  bool read_mcp_info(const json::value& value, const FieldPath& path, McpInfo& out);

 private:
  bool read_health_status(const json::value& value, const FieldPath& path, HealthStatus& out);
  bool read_service_info(const json::value& value, const FieldPath& path, ServiceInfo& out);
  bool read_endpoints(const json::value& value, const FieldPath& path, Endpoints& out);
  bool read_alerting(const json::value& value, const FieldPath& path, AlertingConfig& out);
  bool read_server_info(const json::value& value, const FieldPath& path, McpInfo& out);
  bool read_tools(const json::value& value, const FieldPath& path, std::vector<McpTool>& out);

  // Null (absent) or an object whose members `read_member(key, value, path)`
  // reads one by one, in document order; it returns false on a failure,
  // unknown() included.
  template <class ReadMember>
  bool read_members(const json::value& value, const FieldPath& path, ReadMember read_member);
  bool unknown(const FieldPath& path) { return fail(path, std::string(kUnknownField)); }

  bool read_string(const json::value& value, const FieldPath& path, std::string& out);
  bool read_string(const json::value& value, const FieldPath& path,
                   std::optional<std::string>& out);
  bool read_strings(const json::value& value, const FieldPath& path, std::vector<std::string>& out);
  bool read_free_object(const json::value& value, const FieldPath& path, json::object& out);
  bool read_bool(const json::value& value, const FieldPath& path, bool& out);
  bool read_number(const json::value& value, const FieldPath& path, std::optional<double>& out);
  bool read_integer(const json::value& value, const FieldPath& path, std::uint64_t min,
                    std::uint64_t max, std::uint64_t& out);
  bool read_count(const json::value& value, const FieldPath& path, std::uint32_t min,
                  std::uint32_t max, std::uint32_t& out);
  bool read_time(const json::value& value, const FieldPath& path, TimePoint& out);
  bool read_time(const json::value& value, const FieldPath& path, std::optional<TimePoint>& out);
  bool read_duration(const json::value& value, const FieldPath& path, Duration& out);
  bool read_duration(const json::value& value, const FieldPath& path, std::optional<Duration>& out);
  bool read_expected_status(const json::value& value, const FieldPath& path, StatusRange& out);
  template <class Enum>
  bool read_enum(const json::value& value, const FieldPath& path,
                 std::optional<Enum> (*parse)(std::string_view) noexcept, std::string_view choices,
                 Enum& out);

  Mode mode_;
};

template <class ReadMember>
bool Reader::read_members(const json::value& value, const FieldPath& path, ReadMember read_member) {
  if (value.is_null()) return true;
  const json::object* object = value.if_object();
  if (object == nullptr) return fail(path, "must be an object");
  for (const json::key_value_pair& member : *object) {
    const FieldPath field = path / member.key();
    if (!read_member(std::string_view(member.key()), member.value(), field)) return false;
  }
  return true;
}

bool Reader::read_record(const json::value& value, ServiceRecord& out) {
  const FieldPath root;
  if (!value.is_object()) return fail(root, "the record must be a JSON object");
  const bool stored = mode_ == Mode::stored;
  const bool ok = read_members(
      value, root, [&](std::string_view key, const json::value& item, const FieldPath& field) {
        if (!stored && is_read_only_field(key)) return fail(field, std::string(kReadOnly));
        if (key == "serviceId") return read_string(item, field, out.service_id);
        if (key == "companyName") return read_string(item, field, out.company_name);
        // "" is not a DNS name; null (or no domain) derives it from the
        // primary endpoint. ("" was read as absent, against the document.)
        // (API input only: a stored record is read back as it was written.)
        if (!stored && key == "domain" && item.is_string() && item.as_string().empty())
          return fail(field, std::string(kDnsName) + " (null derives it from serviceInfo.endpoints.primary)");
        if (key == "domain") return read_string(item, field, out.domain);
        // Likewise "" is not an instance id (schemathesis); null or no
        // instanceId has one generated.
        if (!stored && key == "instanceId" && item.is_string() && item.as_string().empty())
          return fail(field, std::string(kInstancePattern) + " (null, or no instanceId, has one generated)");
        if (key == "instanceId") return read_string(item, field, out.instance_id);
        if (key == "status") return read_enum(item, field, &parse_status, kStatuses, out.status);
        if (key == "healthStatus") return read_health_status(item, field, out.health_status);
        if (key == "serviceInfo") return read_service_info(item, field, out.service_info);
        if (key == "mcp") {
          if (item.is_null()) {
            out.mcp.reset();
            return true;
          }
          return read_mcp_info(item, field, out.mcp.emplace());
        }
        if (key == "healthCheckConfig") {
          return read_health_check_config(item, field, out.health_check_config);
        }
        if (key == "personalConfig") return read_free_object(item, field, out.personal_config);
        if (key == "demoConfig") return read_free_object(item, field, out.demo_config);
        if (key == "saoLevel")
          return read_enum(item, field, &parse_sao_level, kSaoLevels, out.sao_level);
        if (key == "registeredAt") return read_time(item, field, out.registered_at);
        if (key == "lastUpdated") return read_time(item, field, out.last_updated);
        if (key == "tags") return read_strings(item, field, out.tags);
        if (key == "metadata") return read_free_object(item, field, out.metadata);
        if (stored && key == "statusCause") {
          return read_enum(item, field, &parse_status_cause, kStatusCauses, out.status_cause);
        }
        constexpr std::uint64_t kMaxIndex = std::numeric_limits<std::uint64_t>::max();
        if (stored && key == "createIndex")
          return read_integer(item, field, 0, kMaxIndex, out.create_index);
        if (stored && key == "modifyIndex")
          return read_integer(item, field, 0, kMaxIndex, out.modify_index);
        return unknown(field);
      });
  if (!ok) return false;
  if (stored) {
    // A stored record without its identity is corrupt, whatever else it has.
    if (out.service_id.empty()) return fail(root / "serviceId", std::string(kRequired));
    if (out.company_name.empty()) return fail(root / "companyName", std::string(kRequired));
  }
  return true;
}

bool Reader::read_health_status(const json::value& value, const FieldPath& path,
                                HealthStatus& out) {
  constexpr std::uint32_t kMaxCount = std::numeric_limits<std::uint32_t>::max();
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "lastCheck") return read_time(item, field, out.last_check);
                        if (key == "responseTime")
                          return read_number(item, field, out.response_time_ms);
                        if (key == "uptime") return read_number(item, field, out.uptime);
                        if (key == "consecutiveFailures") {
                          return read_count(item, field, 0, kMaxCount, out.consecutive_failures);
                        }
                        if (key == "consecutiveSuccesses") {
                          return read_count(item, field, 0, kMaxCount, out.consecutive_successes);
                        }
                        if (key == "lastFailure") return read_time(item, field, out.last_failure);
                        if (key == "lastError") return read_string(item, field, out.last_error);
                        return unknown(field);
                      });
}

bool Reader::read_service_info(const json::value& value, const FieldPath& path, ServiceInfo& out) {
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "version") return read_string(item, field, out.version);
                        if (key == "capabilities")
                          return read_strings(item, field, out.capabilities);
                        if (key == "region") return read_string(item, field, out.region);
                        if (key == "environment") return read_string(item, field, out.environment);
                        if (key == "endpoints") return read_endpoints(item, field, out.endpoints);
                        return unknown(field);
                      });
}

bool Reader::read_endpoints(const json::value& value, const FieldPath& path, Endpoints& out) {
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "primary") return read_string(item, field, out.primary);
                        // An optional endpoint is a URL or absent (null); "" is
                        // neither, and would silently read as absent.
                        const auto optional_url = [&](std::string& target) {
                          if (item.is_string() && item.as_string().empty())
                            return fail(field, std::string(kHttpUrl) + " (null removes it)");
                          return read_string(item, field, target);
                        };
                        if (key == "health") return optional_url(out.health);
                        if (key == "metrics") return optional_url(out.metrics);
                        if (key == "mcp") return optional_url(out.mcp);
                        return unknown(field);
                      });
}

bool Reader::read_health_check_config(const json::value& value, const FieldPath& path,
                                      HealthCheckConfig& out) {
  bool timeout_given = false;
  const bool ok = read_members(
      value, path, [&](std::string_view key, const json::value& item, const FieldPath& field) {
        if (key == "interval") return read_duration(item, field, out.interval);
        if (key == "timeout") {
          timeout_given = !item.is_null();
          return read_duration(item, field, out.timeout);
        }
        if (key == "retries") return read_count(item, field, 0, kMaxRetries, out.retries);
        if (key == "failureThreshold") {
          return read_count(item, field, 1, kMaxThreshold, out.failure_threshold);
        }
        if (key == "successThreshold") {
          return read_count(item, field, 1, kMaxThreshold, out.success_threshold);
        }
        if (key == "endpoints") return read_strings(item, field, out.endpoints);
        if (key == "expectedStatus") return read_expected_status(item, field, out.expected_status);
        if (key == "mcp") return read_bool(item, field, out.mcp);
        if (key == "ttl") return read_duration(item, field, out.ttl);
        if (key == "alerting") return read_alerting(item, field, out.alerting);
        return unknown(field);
      });
  // The default timeout (10s) would make a short interval such as "5s"
  // invalid on its own; a timeout the client did not choose follows the
  // interval down instead.
  if (ok && !timeout_given && out.timeout > out.interval && out.interval.count() > 0)
    out.timeout = out.interval;
  return ok;
}

bool Reader::read_alerting(const json::value& value, const FieldPath& path, AlertingConfig& out) {
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "enabled") return read_bool(item, field, out.enabled);
                        if (key == "channels") return read_strings(item, field, out.channels);
                        if (key == "escalationLevels")
                          return read_strings(item, field, out.escalation_levels);
                        return unknown(field);
                      });
}

bool Reader::read_mcp_info(const json::value& value, const FieldPath& path, McpInfo& out) {
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "protocolVersion")
                          return read_string(item, field, out.protocol_version);
                        if (key == "transport") return read_string(item, field, out.transport);
                        if (key == "serverInfo") return read_server_info(item, field, out);
                        if (key == "capabilities")
                          return read_free_object(item, field, out.capabilities);
                        if (key == "tools") return read_tools(item, field, out.tools);
                        if (key == "introspectedAt")
                          return read_time(item, field, out.introspected_at);
                        return unknown(field);
                      });
}

bool Reader::read_server_info(const json::value& value, const FieldPath& path, McpInfo& out) {
  return read_members(value, path,
                      [&](std::string_view key, const json::value& item, const FieldPath& field) {
                        if (key == "name") return read_string(item, field, out.server_name);
                        if (key == "version") return read_string(item, field, out.server_version);
                        return unknown(field);
                      });
}

bool Reader::read_tools(const json::value& value, const FieldPath& path,
                        std::vector<McpTool>& out) {
  if (value.is_null()) return true;
  const json::array* tools = value.if_array();
  if (tools == nullptr) return fail(path, "must be an array");
  out.assign(tools->size(), McpTool{});
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const FieldPath tool_path = path[i];
    const json::value& tool = (*tools)[i];
    // A tool is an element, not an optional member: null is not absent here.
    if (!tool.is_object()) return fail(tool_path, "must be an object");
    McpTool& entry = out[i];
    const bool ok =
        read_members(tool, tool_path,
                     [&](std::string_view key, const json::value& item, const FieldPath& field) {
                       if (key == "name") return read_string(item, field, entry.name);
                       if (key == "title") return read_string(item, field, entry.title);
                       if (key == "description") return read_string(item, field, entry.description);
                       return unknown(field);
                     });
    if (!ok) return false;
  }
  return true;
}

bool Reader::read_string(const json::value& value, const FieldPath& path, std::string& out) {
  if (value.is_null()) return true;
  const json::string* text = value.if_string();
  if (text == nullptr) return fail(path, "must be a string");
  out.assign(text->data(), text->size());
  return true;
}

bool Reader::read_string(const json::value& value, const FieldPath& path,
                         std::optional<std::string>& out) {
  if (value.is_null()) {
    out.reset();
    return true;
  }
  return read_string(value, path, out.emplace());
}

bool Reader::read_strings(const json::value& value, const FieldPath& path,
                          std::vector<std::string>& out) {
  if (value.is_null()) return true;
  const json::array* array = value.if_array();
  if (array == nullptr) return fail(path, "must be an array of strings");
  out.clear();
  out.reserve(array->size());
  for (std::size_t i = 0; i < array->size(); ++i) {
    const json::string* text = (*array)[i].if_string();
    if (text == nullptr) return fail(path[i], "must be a string");
    out.emplace_back(text->data(), text->size());
  }
  return true;
}

bool Reader::read_free_object(const json::value& value, const FieldPath& path, json::object& out) {
  if (value.is_null()) return true;
  const json::object* object = value.if_object();
  if (object == nullptr) return fail(path, "must be an object");
  out = *object;
  return true;
}

bool Reader::read_bool(const json::value& value, const FieldPath& path, bool& out) {
  if (value.is_null()) return true;
  const bool* flag = value.if_bool();
  if (flag == nullptr) return fail(path, "must be true or false");
  out = *flag;
  return true;
}

bool Reader::read_number(const json::value& value, const FieldPath& path,
                         std::optional<double>& out) {
  if (value.is_null()) {
    out.reset();
    return true;
  }
  if (!value.is_number()) return fail(path, "must be a number");
  out = value.to_number<double>();
  // 1e400 parses as Infinity, which would be written back as `Infinity`:
  // not JSON (fuzz_record_json, a stored healthStatus.uptime).
  if (!std::isfinite(*out)) return fail(path, "must be a finite number");
  return true;
}

bool Reader::read_integer(const json::value& value, const FieldPath& path, std::uint64_t min,
                          std::uint64_t max, std::uint64_t& out) {
  if (value.is_null()) return true;
  const std::optional<std::uint64_t> number = non_negative_integer(value);
  if (!number || *number < min || *number > max) return fail(path, integer_range(min, max));
  out = *number;
  return true;
}

bool Reader::read_count(const json::value& value, const FieldPath& path, std::uint32_t min,
                        std::uint32_t max, std::uint32_t& out) {
  std::uint64_t number = out;
  if (!read_integer(value, path, min, max, number)) return false;
  out = static_cast<std::uint32_t>(number);
  return true;
}

bool Reader::read_time(const json::value& value, const FieldPath& path, TimePoint& out) {
  if (value.is_null()) return true;
  const json::string* text = value.if_string();
  if (text == nullptr) return fail(path, "must be an RFC 3339 time string");
  auto parsed = parse_time(*text);
  if (!parsed) return fail(path, parsed.error().message);
  out = *parsed;
  return true;
}

bool Reader::read_time(const json::value& value, const FieldPath& path,
                       std::optional<TimePoint>& out) {
  if (value.is_null()) {
    out.reset();
    return true;
  }
  return read_time(value, path, out.emplace());
}

bool Reader::read_duration(const json::value& value, const FieldPath& path, Duration& out) {
  if (value.is_null()) return true;
  const json::string* text = value.if_string();
  if (text == nullptr) return fail(path, "must be a duration string such as \"30s\"");
  auto parsed = parse_duration(*text);
  if (!parsed) return fail(path, parsed.error().message);
  out = *parsed;
  return true;
}

bool Reader::read_duration(const json::value& value, const FieldPath& path,
                           std::optional<Duration>& out) {
  if (value.is_null()) {
    out.reset();
    return true;
  }
  return read_duration(value, path, out.emplace());
}

// 200, or "200-299". The bounds are checked here as well as in Validator:
// the text form has nowhere else to be checked from.
bool Reader::read_expected_status(const json::value& value, const FieldPath& path,
                                  StatusRange& out) {
  if (value.is_null()) return true;
  const auto status_code = [](std::uint64_t number) -> std::optional<int> {
    if (number < kMinHttpStatus || number > kMaxHttpStatus) return std::nullopt;
    return static_cast<int>(number);
  };
  const auto parse_status_code = [&](std::string_view digits) -> std::optional<int> {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
      return std::nullopt;
    return status_code(number);
  };
  std::optional<int> low;
  std::optional<int> high;
  if (value.is_number()) {
    if (const auto number = non_negative_integer(value)) low = high = status_code(*number);
  } else if (const json::string* text = value.if_string()) {
    const std::string_view range = *text;
    const std::size_t dash = range.find('-');
    if (dash != std::string_view::npos) {
      low = parse_status_code(range.substr(0, dash));
      high = parse_status_code(range.substr(dash + 1));
    }
  }
  if (!low || !high || *low > *high) return fail(path, std::string(kExpectedStatus));
  out.low = *low;
  out.high = *high;
  return true;
}

template <class Enum>
bool Reader::read_enum(const json::value& value, const FieldPath& path,
                       std::optional<Enum> (*parse)(std::string_view) noexcept,
                       std::string_view choices, Enum& out) {
  if (value.is_null()) return true;
  const json::string* text = value.if_string();
  if (text == nullptr) return fail(path, "must be a string");
  const std::optional<Enum> parsed = parse(*text);
  if (!parsed) return fail(path, std::string(choices));
  out = *parsed;
  return true;
}

// ---------------------------------------------------------------------------
// The rules of API.md on a typed record, in the order of the API's fields.

class Validator : public Checker {
 public:
  // `complete`: a record as the registry holds it (serviceId, instanceId and
  // domain filled); otherwise a registration, where the registry fills them.
  Validator(const RecordLimits& limits, bool complete) : limits_(limits), complete_(complete) {}

  bool check_record(const ServiceRecord& record);
  bool check_health_check_config(const HealthCheckConfig& config, const FieldPath& path);
  bool check_mcp_info(const McpInfo& mcp, const FieldPath& path);

 private:
  bool check_identity(const ServiceRecord& record, const FieldPath& root);
  bool check_health_status(const HealthStatus& health, const FieldPath& path);
  bool check_service_info(const ServiceInfo& info, const FieldPath& path);
  bool check_endpoints(const Endpoints& endpoints, const FieldPath& path);
  bool check_alerting(const AlertingConfig& alerting, const FieldPath& path);
  bool check_tool(const McpTool& tool, const FieldPath& path);

  bool check_text(std::string_view text, const FieldPath& path, std::size_t max,
                  bool allow_control = false);
  bool check_slug(std::string_view text, const FieldPath& path);
  bool check_url(std::string_view url, const FieldPath& path);
  // A list of names: at most `max_items`, each 1..max_string characters,
  // satisfying `valid` (else `pattern_message`), no duplicates.
  template <class Predicate>
  bool check_names(const std::vector<std::string>& names, const FieldPath& path,
                   std::size_t max_items, Predicate valid, std::string_view pattern_message);
  bool check_free_object(const json::object& object, const FieldPath& path);
  bool check_duration(Duration duration, const FieldPath& path);
  bool check_time(TimePoint time, const FieldPath& path);
  bool check_time(const std::optional<TimePoint>& time, const FieldPath& path);

  const RecordLimits& limits_;
  bool complete_;
};

bool Validator::check_record(const ServiceRecord& record) {
  const FieldPath root;
  if (!check_identity(record, root) ||
      !check_health_status(record.health_status, root / "healthStatus") ||
      !check_service_info(record.service_info, root / "serviceInfo") ||
      (record.mcp && !check_mcp_info(*record.mcp, root / "mcp")) ||
      !check_health_check_config(record.health_check_config, root / "healthCheckConfig") ||
      !check_free_object(record.personal_config, root / "personalConfig") ||
      !check_free_object(record.demo_config, root / "demoConfig") ||
      !check_time(record.registered_at, root / "registeredAt") ||
      !check_time(record.last_updated, root / "lastUpdated") ||
      !check_names(record.tags, root / "tags", limits_.max_list, is_token, kTokenPattern) ||
      !check_free_object(record.metadata, root / "metadata"))
    return false;
  const std::size_t size = json::serialize(to_json(record, JsonView::full)).size();
  if (size > limits_.max_record_bytes) {
    return fail(Error{ErrorCode::payload_too_large,
                      "the record must be at most " + std::to_string(limits_.max_record_bytes) +
                          " bytes when serialized (it is " + std::to_string(size) + ")",
                      {}});
  }
  return true;
}

bool Validator::check_identity(const ServiceRecord& record, const FieldPath& root) {
  if (complete_) {
    const FieldPath field = root / "serviceId";
    if (record.service_id.empty()) return fail(field, std::string(kRequired));
    if (!is_lowercase_uuid(record.service_id)) return fail(field, "must be a lowercase UUID");
  }
  {
    const FieldPath field = root / "companyName";
    if (record.company_name.empty()) return fail(field, std::string(kRequired));
    if (!is_company_name(record.company_name)) return fail(field, std::string(kCompanyPattern));
  }
  {
    const FieldPath field = root / "domain";
    if (record.domain.empty()) {
      if (complete_) return fail(field, std::string(kRequired));
    } else if (record.domain.size() > limits_.max_domain) {
      return fail(field, at_most_characters(limits_.max_domain));
    } else if (!is_dns_name(record.domain)) {
      return fail(field, std::string(kDnsName));
    }
  }
  {
    const FieldPath field = root / "instanceId";
    if (record.instance_id.empty()) {
      if (complete_) return fail(field, std::string(kRequired));
    } else if (!is_instance_id(record.instance_id)) {
      return fail(field, std::string(kInstancePattern));
    }
  }
  return true;
}

bool Validator::check_health_status(const HealthStatus& health, const FieldPath& path) {
  // Non-finite numbers have no JSON form; they would not survive storage.
  if (health.response_time_ms &&
      !(std::isfinite(*health.response_time_ms) && *health.response_time_ms >= 0))
    return fail(path / "responseTime", "must be a non-negative number");
  if (health.uptime && !(*health.uptime >= 0 && *health.uptime <= 100))
    return fail(path / "uptime", "must be a percentage from 0 to 100");
  return check_time(health.last_check, path / "lastCheck") &&
         check_time(health.last_failure, path / "lastFailure");
}

bool Validator::check_service_info(const ServiceInfo& info, const FieldPath& path) {
  const FieldPath version = path / "version";
  const FieldPath region = path / "region";
  const FieldPath environment = path / "environment";
  return check_text(info.version, version, limits_.max_string) &&
         check_names(info.capabilities, path / "capabilities", limits_.max_list, is_token,
                     kTokenPattern) &&
         (info.region.empty() || check_slug(info.region, region)) &&
         (info.environment.empty() || check_slug(info.environment, environment)) &&
         check_endpoints(info.endpoints, path / "endpoints");
}

bool Validator::check_endpoints(const Endpoints& endpoints, const FieldPath& path) {
  const FieldPath primary = path / "primary";
  if (endpoints.primary.empty()) return fail(primary, std::string(kRequired));
  const FieldPath health = path / "health";
  const FieldPath metrics = path / "metrics";
  const FieldPath mcp = path / "mcp";
  return check_url(endpoints.primary, primary) &&
         (endpoints.health.empty() || check_url(endpoints.health, health)) &&
         (endpoints.metrics.empty() || check_url(endpoints.metrics, metrics)) &&
         (endpoints.mcp.empty() || check_url(endpoints.mcp, mcp));
}

bool Validator::check_health_check_config(const HealthCheckConfig& config, const FieldPath& path) {
  if (!check_duration(config.interval, path / "interval") ||
      !check_duration(config.timeout, path / "timeout"))
    return false;
  if (config.timeout > config.interval) return fail(path / "timeout", "must not exceed interval");
  if (config.retries > kMaxRetries) return fail(path / "retries", integer_range(0, kMaxRetries));
  if (config.failure_threshold < 1 || config.failure_threshold > kMaxThreshold)
    return fail(path / "failureThreshold", integer_range(1, kMaxThreshold));
  if (config.success_threshold < 1 || config.success_threshold > kMaxThreshold)
    return fail(path / "successThreshold", integer_range(1, kMaxThreshold));

  const FieldPath endpoints = path / "endpoints";
  const std::size_t max_endpoints = std::min(kMaxHealthEndpoints, limits_.max_list);
  if (config.endpoints.size() > max_endpoints) return fail(endpoints, at_most_items(max_endpoints));
  for (std::size_t i = 0; i < config.endpoints.size(); ++i) {
    const FieldPath endpoint = endpoints[i];
    if (config.endpoints[i].size() > limits_.max_url)
      return fail(endpoint, at_most_characters(limits_.max_url));
    if (!is_health_endpoint(config.endpoints[i]))
      return fail(endpoint, std::string(kHealthEndpoint));
  }

  const StatusRange& expected = config.expected_status;
  if (expected.low < kMinHttpStatus || expected.high > kMaxHttpStatus ||
      expected.low > expected.high)
    return fail(path / "expectedStatus", std::string(kExpectedStatus));

  if (config.ttl) {
    const FieldPath ttl = path / "ttl";
    if (*config.ttl < std::chrono::seconds{1}) return fail(ttl, "must be at least 1s");
    if (*config.ttl > kMaxDuration) return fail(ttl, "must be at most 30 days");
  }
  return check_alerting(config.alerting, path / "alerting");
}

bool Validator::check_alerting(const AlertingConfig& alerting, const FieldPath& path) {
  const auto is_escalation_level = [](std::string_view level) {
    return level == "warning" || level == "critical" || level == "emergency";
  };
  return check_names(alerting.channels, path / "channels",
                     std::min(kMaxAlertChannels, limits_.max_list), is_slug, kSlugPattern) &&
         check_names(alerting.escalation_levels, path / "escalationLevels", limits_.max_list,
                     is_escalation_level, kEscalationLevels);
}

bool Validator::check_mcp_info(const McpInfo& mcp, const FieldPath& path) {
  const FieldPath server_info = path / "serverInfo";
  const FieldPath server_name = server_info / "name";
  const FieldPath server_version = server_info / "version";
  const FieldPath tools = path / "tools";
  if (!check_text(mcp.protocol_version, path / "protocolVersion", limits_.max_string) ||
      !check_text(mcp.transport, path / "transport", limits_.max_string) ||
      !check_text(mcp.server_name, server_name, limits_.max_string) ||
      !check_text(mcp.server_version, server_version, limits_.max_string) ||
      !check_free_object(mcp.capabilities, path / "capabilities"))
    return false;
  if (mcp.tools.size() > limits_.max_tools) return fail(tools, at_most_items(limits_.max_tools));
  for (std::size_t i = 0; i < mcp.tools.size(); ++i) {
    if (!check_tool(mcp.tools[i], tools[i])) return false;
  }
  return check_time(mcp.introspected_at, path / "introspectedAt");
}

bool Validator::check_tool(const McpTool& tool, const FieldPath& path) {
  const FieldPath name = path / "name";
  if (tool.name.empty()) return fail(name, std::string(kRequired));
  // Titles and descriptions are prose from the server: newlines are normal.
  return check_text(tool.name, name, limits_.max_string) &&
         check_text(tool.title, path / "title", limits_.max_tool_text, true) &&
         check_text(tool.description, path / "description", limits_.max_tool_text, true);
}

bool Validator::check_text(std::string_view text, const FieldPath& path, std::size_t max,
                           bool allow_control) {
  if (text.size() > max) return fail(path, at_most_characters(max));
  if (!allow_control && has_control_characters(text))
    return fail(path, "must not contain control characters");
  return true;
}

bool Validator::check_slug(std::string_view text, const FieldPath& path) {
  if (text.size() > limits_.max_string) return fail(path, at_most_characters(limits_.max_string));
  if (!is_slug(text)) return fail(path, std::string(kSlugPattern));
  return true;
}

bool Validator::check_url(std::string_view url, const FieldPath& path) {
  if (url.size() > limits_.max_url) return fail(path, at_most_characters(limits_.max_url));
  if (!is_http_url(url)) return fail(path, std::string(kHttpUrl));
  return true;
}

template <class Predicate>
bool Validator::check_names(const std::vector<std::string>& names, const FieldPath& path,
                            std::size_t max_items, Predicate valid,
                            std::string_view pattern_message) {
  if (names.size() > max_items) return fail(path, at_most_items(max_items));
  for (std::size_t i = 0; i < names.size(); ++i) {
    const FieldPath item = path[i];
    if (names[i].empty()) return fail(item, "must not be empty");
    if (names[i].size() > limits_.max_string)
      return fail(item, at_most_characters(limits_.max_string));
    if (!valid(names[i])) return fail(item, std::string(pattern_message));
    // Quadratic, but bounded by max_items (64 by default).
    for (std::size_t j = 0; j < i; ++j) {
      if (names[j] == names[i]) return fail(item, "is a duplicate of " + path[j].str());
    }
  }
  return true;
}

bool Validator::check_free_object(const json::object& object, const FieldPath& path) {
  if (std::any_of(object.begin(), object.end(),
                  [](const json::key_value_pair& member) { return holds_non_finite(member.value()); }))
    return fail(path, "must not hold a number beyond the range of a double (such as 1e400)");
  if (nested_deeper_than(object, limits_.max_object_depth))
    return fail(path, "must be nested at most " + std::to_string(limits_.max_object_depth) +
                          " levels deep");
  if (json::serialize(object).size() > limits_.max_object_bytes)
    return fail(path, "must be at most " + std::to_string(limits_.max_object_bytes) +
                          " bytes when serialized");
  return true;
}

bool Validator::check_duration(Duration duration, const FieldPath& path) {
  if (duration <= Duration::zero()) return fail(path, "must be a positive duration");
  if (duration > kMaxDuration) return fail(path, "must be at most 30 days");
  return true;
}

// format_time writes four-digit years; anything outside them would not parse
// back from storage.
bool Validator::check_time(TimePoint time, const FieldPath& path) {
  using namespace std::chrono;
  static constexpr sys_days kFirst{year{0} / January / 1};
  static constexpr sys_days kEnd{year{10000} / January / 1};
  if (time < kFirst || time >= kEnd) return fail(path, "must be a time in the years 0000 to 9999");
  return true;
}

bool Validator::check_time(const std::optional<TimePoint>& time, const FieldPath& path) {
  return !time || check_time(*time, path);
}

// ---------------------------------------------------------------------------
// Record -> JSON

json::value text_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return json::string(text);
}

json::value time_or_null(const std::optional<TimePoint>& time) {
  if (!time) return nullptr;
  return json::string(format_time(*time));
}

json::array string_array(const std::vector<std::string>& items) {
  json::array array;
  array.reserve(items.size());
  for (const std::string& item : items) array.emplace_back(json::string(item));
  return array;
}

json::value expected_status_json(const StatusRange& range) {
  if (range.low == range.high) return range.low;
  return json::string(std::to_string(range.low) + "-" + std::to_string(range.high));
}

json::object endpoints_json(const Endpoints& endpoints) {
  json::object out;
  out["primary"] = endpoints.primary;
  // Absent endpoints are left out rather than null: clients test presence.
  if (!endpoints.health.empty()) out["health"] = endpoints.health;
  if (!endpoints.metrics.empty()) out["metrics"] = endpoints.metrics;
  if (!endpoints.mcp.empty()) out["mcp"] = endpoints.mcp;
  return out;
}

json::object service_info_json(const ServiceInfo& info) {
  json::object out;
  out["version"] = text_or_null(info.version);
  out["capabilities"] = string_array(info.capabilities);
  out["region"] = text_or_null(info.region);
  out["environment"] = text_or_null(info.environment);
  out["endpoints"] = endpoints_json(info.endpoints);
  return out;
}

Result<ServiceRecord> parse_record(const json::value& json_value, Mode mode) {
  ServiceRecord record;
  Reader reader(mode);
  if (!reader.read_record(json_value, record)) return reader.error();
  return record;
}

}  // namespace

// ---------------------------------------------------------------------------
// Public API

json::object to_json(const HealthStatus& health) {
  json::object out;
  out["lastCheck"] = time_or_null(health.last_check);
  out["responseTime"] = health.response_time_ms ? json::value(*health.response_time_ms) : nullptr;
  out["uptime"] = health.uptime ? json::value(*health.uptime) : nullptr;
  out["consecutiveFailures"] = health.consecutive_failures;
  out["consecutiveSuccesses"] = health.consecutive_successes;
  out["lastFailure"] = time_or_null(health.last_failure);
  out["lastError"] = health.last_error ? json::value(*health.last_error) : nullptr;
  return out;
}

json::object to_json(const HealthCheckConfig& config) {
  json::object out;
  out["interval"] = format_duration(config.interval);
  out["timeout"] = format_duration(config.timeout);
  out["retries"] = config.retries;
  out["failureThreshold"] = config.failure_threshold;
  out["successThreshold"] = config.success_threshold;
  out["endpoints"] = string_array(config.endpoints);
  out["expectedStatus"] = expected_status_json(config.expected_status);
  out["mcp"] = config.mcp;
  out["ttl"] = config.ttl ? json::value(format_duration(*config.ttl)) : nullptr;
  json::object alerting;
  alerting["enabled"] = config.alerting.enabled;
  alerting["channels"] = string_array(config.alerting.channels);
  alerting["escalationLevels"] = string_array(config.alerting.escalation_levels);
  out["alerting"] = std::move(alerting);
  return out;
}

json::object to_json(const McpInfo& mcp) {
  json::object out;
  out["protocolVersion"] = mcp.protocol_version;
  out["transport"] = mcp.transport;
  json::object server_info;
  server_info["name"] = mcp.server_name;
  server_info["version"] = mcp.server_version;
  out["serverInfo"] = std::move(server_info);
  out["capabilities"] = mcp.capabilities;
  json::array tools;
  tools.reserve(mcp.tools.size());
  for (const McpTool& tool : mcp.tools) {
    json::object entry;
    entry["name"] = tool.name;
    entry["title"] = tool.title;
    entry["description"] = tool.description;
    tools.emplace_back(std::move(entry));
  }
  out["tools"] = std::move(tools);
  out["introspectedAt"] = time_or_null(mcp.introspected_at);
  return out;
}

json::object to_json(const ServiceRecord& record, JsonView view) {
  json::object out;
  out.reserve(19);
  out["serviceId"] = record.service_id;
  out["companyName"] = record.company_name;
  out["domain"] = record.domain;
  out["instanceId"] = record.instance_id;
  out["status"] = to_string(record.status);
  out["healthStatus"] = to_json(record.health_status);
  out["serviceInfo"] = service_info_json(record.service_info);
  out["mcp"] = record.mcp ? json::value(to_json(*record.mcp)) : nullptr;
  out["healthCheckConfig"] = to_json(record.health_check_config);
  if (view != JsonView::redacted) {
    out["personalConfig"] = record.personal_config;
    out["demoConfig"] = record.demo_config;
  }
  out["saoLevel"] = to_string(record.sao_level);
  out["registeredAt"] = format_time(record.registered_at);
  out["lastUpdated"] = format_time(record.last_updated);
  out["tags"] = string_array(record.tags);
  out["metadata"] = record.metadata;
  if (view == JsonView::storage) {
    out["statusCause"] = to_string(record.status_cause);
    out["createIndex"] = record.create_index;
    out["modifyIndex"] = record.modify_index;
  }
  return out;
}

json::object writable_json(const ServiceRecord& record) {
  json::object out;
  out["companyName"] = record.company_name;
  // Left out while the registry has not filled them, so that this form of a
  // fresh registration parses back as one.
  if (!record.instance_id.empty()) out["instanceId"] = record.instance_id;
  if (!record.domain.empty()) out["domain"] = record.domain;
  out["serviceInfo"] = service_info_json(record.service_info);
  out["healthCheckConfig"] = to_json(record.health_check_config);
  out["personalConfig"] = record.personal_config;
  out["demoConfig"] = record.demo_config;
  out["saoLevel"] = to_string(record.sao_level);
  out["tags"] = string_array(record.tags);
  out["metadata"] = record.metadata;
  return out;
}

Result<ServiceRecord> parse_registration(const json::value& body, SaoLevel caller_level,
                                         const RecordLimits& limits) {
  ServiceRecord record;
  record.sao_level = caller_level;
  Reader reader(Mode::registration);
  if (!reader.read_record(body, record)) return reader.error();
  if (!at_least(caller_level, record.sao_level)) {
    return invalid_argument("saoLevel", "may not be above the registering token's level (" +
                                            std::string(to_string(caller_level)) + ")");
  }
  Validator validator(limits, /*complete=*/false);
  if (!validator.check_record(record)) return validator.error();
  return record;
}

Result<ServiceRecord> parse_stored_record(const json::value& json_value) {
  return parse_record(json_value, Mode::stored);
}

Result<HealthCheckConfig> parse_health_check_config(const json::value& json_value,
                                                    const RecordLimits& limits) {
  const FieldPath root("healthCheckConfig");
  HealthCheckConfig config;
  Reader reader(Mode::registration);
  if (json_value.is_null()) return config;
  if (!reader.read_health_check_config(json_value, root, config)) return reader.error();
  Validator validator(limits, /*complete=*/false);
  if (!validator.check_health_check_config(config, root)) return validator.error();
  return config;
}

Result<McpInfo> parse_mcp_info(const json::value& json_value, const RecordLimits& limits) {
  const FieldPath root("mcp");
  if (!json_value.is_object()) return invalid_argument("mcp", "must be an object");
  McpInfo mcp;
  Reader reader(Mode::stored);
  if (!reader.read_mcp_info(json_value, root, mcp)) return reader.error();
  Validator validator(limits, /*complete=*/false);
  if (!validator.check_mcp_info(mcp, root)) return validator.error();
  return mcp;
}

Result<void> validate(const ServiceRecord& record, const RecordLimits& limits) {
  Validator validator(limits, /*complete=*/true);
  if (!validator.check_record(record)) return validator.error();
  return {};
}

void tag_invoke(json::value_from_tag, json::value& out, const ServiceRecord& r) {
  out = to_json(r);
}

ServiceRecord tag_invoke(json::value_to_tag<ServiceRecord>, const json::value& v) {
  return parse_stored_record(v).value();
}

void tag_invoke(json::value_from_tag, json::value& out, const HealthCheckConfig& c) {
  out = to_json(c);
}

HealthCheckConfig tag_invoke(json::value_to_tag<HealthCheckConfig>, const json::value& v) {
  return parse_health_check_config(v).value();
}

}  // namespace discovery
