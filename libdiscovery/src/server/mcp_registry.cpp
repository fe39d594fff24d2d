#include "mcp_registry.hpp"

#include <discovery/record_json.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cctype>

namespace discovery::server {

namespace json = boost::json;

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Keeps the characters `allowed` accepts, others become '-'.
template <class Allowed>
std::string sanitize(std::string_view text, Allowed allowed) {
  std::string out(text);
  for (char& c : out)
    if (!allowed(static_cast<unsigned char>(c))) c = '-';
  return out;
}

bool namespace_char(unsigned char c) { return std::isalnum(c) || c == '.' || c == '-'; }
bool service_char(unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; }

// At most `max` bytes, never cutting a UTF-8 sequence.
// Records keep URLs as registered, and a scheme may be any case ("HTTPS://");
// the registry schema's remote URL pattern wants it lowercase, as RFC 3986
// calls canonical (schemathesis found an uppercase one failing the schema).
std::string lowercase_scheme(std::string_view url) {
  std::string out(url);
  const auto colon = out.find("://");
  if (colon == std::string::npos) return out;
  for (std::size_t i = 0; i < colon; ++i)
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

bool is_ip_literal(std::string_view domain) {
  if (domain.find(':') != std::string_view::npos) return true;  // IPv6
  const auto labels = split(domain, '.');
  return std::all_of(labels.begin(), labels.end(), all_digits);
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + i + 2, value, 16);
    if (ec != std::errc{} || end != text.data() + i + 2) return std::nullopt;
    out.push_back(static_cast<char>(value));
  }
  return out;
}

// MAJOR.MINOR.PATCH[-pre][+build] into numeric core and pre-release parts.
struct SemVer {
  std::vector<std::uint64_t> core;
  std::vector<std::string_view> pre;
};

std::optional<SemVer> parse_semver(std::string_view v) {
  v = v.substr(0, v.find('+'));
  SemVer out;
  const auto dash = v.find('-');
  if (dash != std::string_view::npos) {
    for (auto p : split(v.substr(dash + 1), '.')) {
      if (p.empty()) return std::nullopt;
      out.pre.push_back(p);
    }
    v = v.substr(0, dash);
  }
  for (auto part : split(v, '.')) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size()) return std::nullopt;
    out.core.push_back(n);
  }
  return out;
}

int three_way(auto a, auto b) { return a < b ? -1 : a > b ? 1 : 0; }

}  // namespace

// ---- the mapping -----------------------------------------------------------

std::string server_name(const ServiceRecord& record) {
  const std::string_view domain = record.domain;
  const auto& company = record.company_name;
  if (!domain.empty() && !is_ip_literal(domain)) {
    const auto labels = split(domain, '.');
    const auto at = std::find_if(labels.begin(), labels.end(), [&](std::string_view l) { return iequals(l, company); });
    if (at != labels.end()) {
      std::string ns;
      for (auto it = labels.end(); it != at;) {
        --it;
        if (!ns.empty()) ns += '.';
        ns += *it;
      }
      std::string service;
      for (auto it = labels.begin(); it != at; ++it) {
        if (!service.empty()) service += '-';
        service += *it;
      }
      if (service.empty()) service = "mcp";
      ns = sanitize(ns, namespace_char);
      service = sanitize(service, service_char);
      return ns + "/" + truncate_utf8(service, 200 - std::min<std::size_t>(ns.size() + 1, 199));
    }
  }
  const std::string ns = "local.mcp-discovery." + company;
  std::string service = domain.empty() ? std::string("mcp") : sanitize(domain, service_char);
  return ns + "/" + truncate_utf8(service, 200 - ns.size() - 1);
}

std::string server_version(const ServiceRecord& record) {
  std::string_view v = record.service_info.version;
  if (v.empty() && record.mcp) v = record.mcp->server_version;
  if (v.empty()) v = "0.0.0";
  return truncate_utf8(v, 255);
}

int compare_versions(std::string_view a, std::string_view b) {
  const auto sa = parse_semver(a), sb = parse_semver(b);
  if (!sa || !sb) return three_way(a, b);
  const std::size_t n = std::max(sa->core.size(), sb->core.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = i < sa->core.size() ? sa->core[i] : 0, y = i < sb->core.size() ? sb->core[i] : 0;
    if (x != y) return three_way(x, y);
  }
  // A release ranks above its pre-releases.
  if (sa->pre.empty() != sb->pre.empty()) return sa->pre.empty() ? 1 : -1;
  for (std::size_t i = 0; i < std::min(sa->pre.size(), sb->pre.size()); ++i) {
    const auto x = sa->pre[i], y = sb->pre[i];
    const bool nx = all_digits(x), ny = all_digits(y);
    if (nx && ny) {
      if (x.size() != y.size()) return three_way(x.size(), y.size());
      if (x != y) return three_way(x, y);
    } else if (nx != ny) {
      return nx ? -1 : 1;  // numeric identifiers rank below alphanumeric ones
    } else if (x != y) {
      return three_way(x, y);
    }
  }
  if (sa->pre.size() != sb->pre.size()) return three_way(sa->pre.size(), sb->pre.size());
  return three_way(a, b);  // equal precedence (build metadata aside): a stable order
}

// ---- parameters ------------------------------------------------------------

namespace {

Result<bool> parse_bool(std::string_view name, std::string_view value) {
  if (value == "true" || value == "1") return true;
  if (value == "false" || value == "0") return false;
  return invalid_argument(std::string(name), "must be true or false");
}

}  // namespace

Result<RegistryListQuery> parse_registry_list_query(std::string_view query_string) {
  auto params = parse_query_params(query_string);
  if (!params) return params.error();
  RegistryListQuery q;
  for (const auto& [name, value] : *params) {
    if (name == "cursor") {
      q.cursor = value;
    } else if (name == "limit") {
      std::size_t limit = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc{} || end != value.data() + value.size() || limit < 1 || limit > kRegistryMaxLimit)
        return invalid_argument("limit", "must be an integer from 1 to " + std::to_string(kRegistryMaxLimit));
      q.limit = limit;
    } else if (name == "search") {
      if (value.size() > 200) return invalid_argument("search", "must be at most 200 characters");
      q.search = value;
    } else if (name == "updated_since") {
      auto t = parse_time(value);
      if (!t) return invalid_argument("updated_since", "must be an RFC 3339 time (" + t.error().message + ")");
      q.updated_since = *t;
    } else if (name == "version") {
      if (value.empty() || value.size() > 255) return invalid_argument("version", "must be 'latest' or a version of 1 to 255 characters");
      q.version = value;
    } else if (name == "include_deleted") {
      auto b = parse_bool(name, value);
      if (!b) return b.error();
      q.include_deleted = *b;
    } else {
      return invalid_argument(name, "is not a parameter of this list (cursor, limit, search, updated_since, version, include_deleted)");
    }
  }
  // The registry API: "always true when updated_since is provided", so a
  // mirror learns of deletions.
  if (q.updated_since) q.include_deleted = true;
  return q;
}

Result<bool> parse_include_deleted(std::string_view query_string) {
  auto params = parse_query_params(query_string);
  if (!params) return params.error();
  bool include = false;
  for (const auto& [name, value] : *params) {
    if (name != "include_deleted") return invalid_argument(name, "is not a parameter of this endpoint (include_deleted)");
    auto b = parse_bool(name, value);
    if (!b) return b.error();
    include = *b;
  }
  return include;
}

Result<std::string> percent_decode_path(std::string_view text, std::string_view field) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return invalid_argument(std::string(field), "has a malformed percent-escape");
    unsigned value = 0;
    const char* first = text.data() + i + 1;
    const auto [end, ec] = std::from_chars(first, first + 2, value, 16);
    if (ec != std::errc{} || end != first + 2) return invalid_argument(std::string(field), "has a malformed percent-escape");
    out.push_back(static_cast<char>(value));
    i += 2;
  }
  return out;
}

bool RegistryScope::sees(std::string_view company) const {
  return all_companies || std::binary_search(companies.begin(), companies.end(), company);
}

// ---- McpRegistry -----------------------------------------------------------

struct McpRegistry::Entry {
  std::string company;
  std::vector<RecordPtr> instances;  // ordered by serviceId
  std::optional<TimePoint> departed_at;
  std::optional<TimePoint> departed_published_at;
  RecordPtr last;  // a departed instance's last state, when none is left
  bool latest = false;

  bool deleted() const { return instances.empty(); }
  TimePoint published_at() const {
    TimePoint t = departed_published_at.value_or(TimePoint::max());
    for (const auto& r : instances) t = std::min(t, r->registered_at);
    return t;
  }
  TimePoint updated_at() const {
    TimePoint t = departed_at.value_or(TimePoint::min());
    for (const auto& r : instances) t = std::max(t, r->last_updated);
    return t;
  }
  // The instance whose details describe the version: the most recently
  // changed one.
  const ServiceRecord& representative() const {
    if (instances.empty()) return *last;
    return **std::max_element(instances.begin(), instances.end(),
                              [](const RecordPtr& a, const RecordPtr& b) { return a->last_updated < b->last_updated; });
  }
};

McpRegistry::McpRegistry(Registry& registry, const Authorizer& authorizer, Options options)
    : registry_(registry), authorizer_(authorizer), options_(std::move(options)), engine_(registry) {
  std::sort(options_.public_companies.begin(), options_.public_companies.end());
  options_.public_companies.erase(std::unique(options_.public_companies.begin(), options_.public_companies.end()),
                                  options_.public_companies.end());
  subscription_ = registry_.subscribe([this](const ChangeEvent& event) { on_change(event); });
}

McpRegistry::~McpRegistry() { subscription_.reset(); }

void McpRegistry::on_change(const ChangeEvent& event) {
  if (event.type == ChangeType::remove) {
    if (event.record) record_departure(*event.record);
    return;
  }
  // An instance that moved to another server name or version leaves its old one.
  if (event.previous && event.record &&
      (server_name(*event.previous) != server_name(*event.record) ||
       server_version(*event.previous) != server_version(*event.record)))
    record_departure(*event.previous);
}

void McpRegistry::record_departure(const ServiceRecord& record) {
  const auto now = registry_.clock().now();
  Key key{server_name(record), server_version(record)};
  std::lock_guard lock(mutex_);
  auto [it, inserted] = departures_.try_emplace(std::move(key));
  Departure& d = it->second;
  d.published_at = inserted ? record.registered_at : std::min(d.published_at, record.registered_at);
  d.company = record.company_name;
  d.at = now;
  d.last = std::make_shared<const ServiceRecord>(record);
  if (departures_.size() > options_.max_departures) {
    // Forget the oldest tenth in one pass, so the bound costs O(n) rarely.
    std::vector<TimePoint> times;
    times.reserve(departures_.size());
    for (const auto& [k, v] : departures_) times.push_back(v.at);
    const auto drop = std::max<std::size_t>(1, departures_.size() / 10);
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(drop - 1), times.end());
    const TimePoint cutoff = times[drop - 1];
    for (auto i = departures_.begin(); i != departures_.end();)
      i = i->second.at <= cutoff ? departures_.erase(i) : std::next(i);
  }
}

std::size_t McpRegistry::departures() const {
  std::lock_guard lock(mutex_);
  return departures_.size();
}

RegistryScope McpRegistry::scope(const Principal* principal) const {
  RegistryScope s;
  s.companies = options_.public_companies;
  if (principal) {
    const auto own = authorizer_.discover_scope(*principal);
    if (own.empty()) {
      s.all_companies = true;
    } else if (own != Authorizer::kNoCompany &&
               authorizer_.decide(*principal, Authorizer::Action::discover, own) == Authorizer::Decision::allow) {
      s.companies.emplace_back(own);
      std::sort(s.companies.begin(), s.companies.end());
      s.companies.erase(std::unique(s.companies.begin(), s.companies.end()), s.companies.end());
    }
  }
  return s;
}

McpRegistry::Catalog McpRegistry::collect(const RegistryScope& scope, std::string_view only_name,
                                          bool include_deleted) const {
  Catalog catalog;
  // Every server name's namespace ends with its company's label: a lookup by
  // name reads that one company's records through the company index.
  std::vector<std::string> companies;
  if (!only_name.empty()) {
    const auto ns = only_name.substr(0, only_name.find('/'));
    const auto company = std::string(ns.substr(ns.rfind('.') + 1));
    if (!scope.sees(company)) return catalog;
    companies.push_back(company);
  } else if (scope.all_companies) {
    companies.emplace_back();  // no company filter
  } else {
    companies = scope.companies;
  }
  for (const auto& company : companies) {
    DiscoverQuery query;
    query.company = company;
    query.limit = kMaxDiscoverLimit;
    for (;;) {
      auto page = engine_.discover(query);
      if (!page) break;
      for (const auto& r : page->services) {
        Key key{server_name(*r), server_version(*r)};
        if (!only_name.empty() && key.name != only_name) continue;
        Entry& e = catalog[std::move(key)];
        e.company = r->company_name;
        e.instances.push_back(r);
      }
      if (!page->next_cursor) break;
      query.cursor = *page->next_cursor;
    }
  }
  std::lock_guard lock(mutex_);
  for (const auto& [key, d] : departures_) {
    if (!scope.sees(d.company) || (!only_name.empty() && key.name != only_name)) continue;
    auto it = catalog.find(key);
    if (it == catalog.end()) {
      if (!include_deleted) continue;
      it = catalog.emplace(key, Entry{}).first;
      it->second.company = d.company;
      it->second.last = d.last;
    }
    it->second.departed_at = d.at;
    it->second.departed_published_at = d.published_at;
  }
  return catalog;
}

void McpRegistry::mark_latest(Catalog& catalog) const {
  // Keys are ordered by name: each name's versions are adjacent.
  for (auto it = catalog.begin(); it != catalog.end();) {
    auto end = it;
    Entry* best = nullptr;
    std::string_view best_version;
    for (; end != catalog.end() && end->first.name == it->first.name; ++end) {
      if (end->second.deleted()) continue;
      if (!best || compare_versions(end->first.version, best_version) > 0) {
        best = &end->second;
        best_version = end->first.version;
      }
    }
    if (best) best->latest = true;
    it = end;
  }
}

json::object McpRegistry::render(const Key& key, const Entry& entry) const {
  const ServiceRecord& rep = entry.representative();
  const auto service = std::string_view(key.name).substr(key.name.find('/') + 1);

  json::object server;
  server["$schema"] = kServerSchemaUri;
  server["name"] = key.name;
  std::string description;
  if (const auto* d = rep.metadata.if_contains("description"); d && d->is_string() && !d->as_string().empty())
    description = truncate_utf8(d->as_string(), 100);
  else
    description = truncate_utf8("MCP server " + std::string(service) + " of " + entry.company, 100);
  server["description"] = description;
  if (rep.mcp && !rep.mcp->server_name.empty()) server["title"] = truncate_utf8(rep.mcp->server_name, 100);
  server["version"] = key.version;

  // Remotes: the instances that serve now (status active), one per distinct URL.
  json::array remotes;
  std::vector<std::pair<std::string, std::string>> seen;
  for (const auto& r : entry.instances) {
    if (r->status != ServiceStatus::active) continue;
    const auto& eps = r->service_info.endpoints;
    std::pair<std::string, std::string> remote{r->mcp && r->mcp->transport == "sse" ? "sse" : "streamable-http",
                                               lowercase_scheme(eps.mcp.empty() ? eps.primary : eps.mcp)};
    if (std::find(seen.begin(), seen.end(), remote) != seen.end()) continue;
    remotes.push_back(json::object{{"type", remote.first}, {"url", remote.second}});
    seen.push_back(std::move(remote));
  }
  if (!remotes.empty()) server["remotes"] = std::move(remotes);

  json::object official{{"status", entry.deleted() ? "deleted" : "active"},
                        {"publishedAt", format_time(entry.published_at())},
                        {"updatedAt", format_time(entry.updated_at())},
                        {"isLatest", entry.latest}};
  if (entry.deleted() && entry.departed_at) official["statusChangedAt"] = format_time(*entry.departed_at);

  // Live health: every instance, and a summary over them.
  json::array instances;
  std::size_t serving = 0, with_uptime = 0, with_response = 0;
  double uptime_sum = 0, response_sum = 0;
  std::optional<TimePoint> last_check;
  for (const auto& r : entry.instances) {
    const auto& h = r->health_status;
    if (r->status == ServiceStatus::active) ++serving;
    if (h.uptime) uptime_sum += *h.uptime, ++with_uptime;
    if (h.response_time_ms) response_sum += *h.response_time_ms, ++with_response;
    if (h.last_check && (!last_check || *h.last_check > *last_check)) last_check = h.last_check;
    const auto& eps = r->service_info.endpoints;
    instances.push_back(json::object{
        {"serviceId", r->service_id},
        {"region", r->service_info.region},
        {"environment", r->service_info.environment},
        {"status", to_string(r->status)},
        {"url", eps.mcp.empty() ? eps.primary : eps.mcp},
        {"uptime", h.uptime ? json::value(*h.uptime) : json::value(nullptr)},
        {"lastCheck", h.last_check ? json::value(format_time(*h.last_check)) : json::value(nullptr)},
        {"responseTime", h.response_time_ms ? json::value(*h.response_time_ms) : json::value(nullptr)},
        {"consecutiveFailures", h.consecutive_failures},
        {"lastUpdated", format_time(r->last_updated)}});
  }
  const char* status = entry.deleted() ? "deleted" : serving == entry.instances.size() ? "healthy" : serving > 0 ? "degraded" : "down";
  json::object health{
      {"status", status},
      {"instances", entry.instances.size()},
      {"servingInstances", serving},
      {"uptime", with_uptime ? json::value(uptime_sum / static_cast<double>(with_uptime)) : json::value(nullptr)},
      {"lastCheck", last_check ? json::value(format_time(*last_check)) : json::value(nullptr)},
      {"responseTime", with_response ? json::value(response_sum / static_cast<double>(with_response)) : json::value(nullptr)},
      {"instanceHealth", std::move(instances)}};

  json::object meta{{kMetaOfficial, std::move(official)}, {kMetaHealth, std::move(health)}};
  // What the server itself reported (the newest introspection among instances).
  const McpInfo* reported = nullptr;
  for (const auto& r : entry.instances)
    if (r->mcp && (!reported || r->mcp->introspected_at > reported->introspected_at)) reported = &*r->mcp;
  if (reported) meta[kMetaMcp] = to_json(*reported);

  return json::object{{"server", std::move(server)}, {"_meta", std::move(meta)}};
}

Result<json::object> McpRegistry::list(const RegistryScope& scope, const RegistryListQuery& query) const {
  std::optional<Key> after;
  if (!query.cursor.empty()) {
    auto decoded = hex_decode(query.cursor);
    const auto nl = decoded ? decoded->find('\n') : std::string::npos;
    if (nl == std::string::npos) return invalid_argument("cursor", "is not a cursor from this registry");
    after = Key{decoded->substr(0, nl), decoded->substr(nl + 1)};
  }
  auto catalog = collect(scope, {}, query.include_deleted);
  mark_latest(catalog);

  std::string search = query.search;
  std::transform(search.begin(), search.end(), search.begin(), [](unsigned char c) { return std::tolower(c); });
  const auto wanted = [&](const Key& key, const Entry& entry) {
    if (entry.deleted() && !query.include_deleted) return false;
    if (!query.version.empty() && (query.version == "latest" ? !entry.latest : key.version != query.version))
      return false;
    if (query.updated_since && entry.updated_at() <= *query.updated_since) return false;
    if (!search.empty()) {
      std::string name = key.name;
      std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
      if (name.find(search) == std::string::npos) return false;
    }
    return true;
  };

  json::array servers;
  std::optional<Key> last;
  bool more = false;
  for (auto it = after ? catalog.upper_bound(*after) : catalog.begin(); it != catalog.end(); ++it) {
    if (!wanted(it->first, it->second)) continue;
    if (servers.size() == query.limit) {
      more = true;
      break;
    }
    servers.push_back(render(it->first, it->second));
    last = it->first;
  }
  json::object metadata{{"count", servers.size()}};
  if (more && last) metadata["nextCursor"] = hex_encode(last->name + "\n" + last->version);
  return json::object{{"servers", std::move(servers)}, {"metadata", std::move(metadata)}};
}

Result<json::object> McpRegistry::versions(const RegistryScope& scope, std::string_view name,
                                           bool include_deleted) const {
  auto catalog = collect(scope, name, include_deleted);
  mark_latest(catalog);
  std::vector<Catalog::const_iterator> order;
  for (auto it = catalog.cbegin(); it != catalog.cend(); ++it)
    if (include_deleted || !it->second.deleted()) order.push_back(it);
  if (order.empty()) return not_found("server not found: " + std::string(name.substr(0, 200)));
  // Newest publication first, as the registry API orders versions.
  std::sort(order.begin(), order.end(), [](auto a, auto b) {
    const auto pa = a->second.published_at(), pb = b->second.published_at();
    if (pa != pb) return pa > pb;
    return compare_versions(a->first.version, b->first.version) > 0;
  });
  json::array servers;
  for (auto it : order) servers.push_back(render(it->first, it->second));
  json::object metadata{{"count", servers.size()}};
  return json::object{{"servers", std::move(servers)}, {"metadata", std::move(metadata)}};
}

Result<json::object> McpRegistry::version(const RegistryScope& scope, std::string_view name,
                                          std::string_view version, bool include_deleted) const {
  auto catalog = collect(scope, name, include_deleted);
  mark_latest(catalog);
  for (const auto& [key, entry] : catalog) {
    const bool match = version == "latest" ? entry.latest : key.version == version;
    if (match && (include_deleted || !entry.deleted())) return render(key, entry);
  }
  return not_found("server version not found: " + std::string(name.substr(0, 200)) + " " +
                   std::string(version.substr(0, 100)));
}

}  // namespace discovery::server
