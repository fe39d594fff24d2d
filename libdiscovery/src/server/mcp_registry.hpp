// The read side of the MCP Registry API (a sub-registry, see
// docs/mcp-registry.md) over the registry's live records: service records are
// grouped into `server.json` entries, one per (server name, version), with
// the registry's health and the tools the servers reported in `_meta`.
//
// Everything about the mapping and the access scope lives here, so the route
// handler only parses the path and serializes what comes back.
//
// Thread safety: every const method may run on many threads at once; the
// departures the subscription records are guarded by a mutex.
#pragma once

#include <discovery/auth.hpp>
#include <discovery/error.hpp>
#include <discovery/query_engine.hpp>
#include <discovery/registry.hpp>

#include <boost/json/object.hpp>

#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace discovery::server {

// The `_meta` namespaces this registry writes (MCP `_meta` key rules: dot
// separated labels that start with a letter, then '/', then a name).
inline constexpr std::string_view kMetaOfficial = "io.modelcontextprotocol.registry/official";
inline constexpr std::string_view kMetaHealth = "io.mcp-discovery/health";
inline constexpr std::string_view kMetaMcp = "io.mcp-discovery/mcp";
inline constexpr std::string_view kServerSchemaUri =
    "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json";

inline constexpr std::size_t kRegistryDefaultLimit = 30;
inline constexpr std::size_t kRegistryMaxLimit = 100;

// A record's server name: reverse-DNS of the company's domain, '/', the
// service name. "mcp.acme.2100.cool" of company "acme" -> "cool.2100.acme/mcp":
// the company's domain starts at the first label equal to the company name,
// and the labels before it (joined by '-') name the service ("mcp" when there
// are none). A domain without the company label, or an IP address, maps to
// "local.mcp-discovery.{company}/{domain with '.' and ':' kept as '.'}". The
// namespace always ends with the company's label, so two companies never
// share a server name.
std::string server_name(const ServiceRecord& record);

// serviceInfo.version, else the MCP server's own serverInfo.version, else
// "0.0.0"; at most 255 characters (the schema's bound).
std::string server_version(const ServiceRecord& record);

// Semantic-version order where both parse as MAJOR.MINOR.PATCH[-pre][+build]
// (numeric dot parts compared as numbers, a pre-release below its release),
// else plain string order. <0, 0, >0.
int compare_versions(std::string_view a, std::string_view b);

// GET /v0.1/servers parameters.
struct RegistryListQuery {
  std::string cursor;
  std::size_t limit = kRegistryDefaultLimit;  // 1..kRegistryMaxLimit
  std::string search;                         // case-insensitive substring of the name
  std::optional<TimePoint> updated_since;     // updatedAt > this; implies include_deleted
  std::string version;                        // "latest" or an exact version; empty = all
  bool include_deleted = false;
};
Result<RegistryListQuery> parse_registry_list_query(std::string_view query_string);
// include_deleted, the only parameter of the per-server routes.
Result<bool> parse_include_deleted(std::string_view query_string);

// A URL path segment decoded: %XX is a byte, '+' stays '+' (RFC 3986, not a
// form). invalid_argument naming `field` for a malformed escape.
Result<std::string> percent_decode_path(std::string_view text, std::string_view field);

// Which companies a reader sees.
struct RegistryScope {
  bool all_companies = false;
  std::vector<std::string> companies;  // sorted, unique; used when !all_companies
  bool sees(std::string_view company) const;
};

class McpRegistry {
 public:
  struct Options {
    // Companies whose servers anonymous readers may list (empty: anonymous
    // reads are refused, 401).
    std::vector<std::string> public_companies;
    // Departed (server name, version) pairs remembered for include_deleted and
    // updated_since; the oldest are forgotten beyond this many.
    std::size_t max_departures = 10000;
  };

  // Subscribes to `registry`'s changes to remember departures. The registry
  // and the authorizer must outlive this object.
  McpRegistry(Registry& registry, const Authorizer& authorizer, Options options);
  ~McpRegistry();
  McpRegistry(const McpRegistry&) = delete;
  McpRegistry& operator=(const McpRegistry&) = delete;

  bool anonymous_allowed() const { return !options_.public_companies.empty(); }

  // The scope of a verified principal (its discover scope, plus the public
  // companies), or of an anonymous reader (principal null: the public
  // companies only).
  RegistryScope scope(const Principal* principal) const;

  // The ServerList of GET /v0.1/servers. invalid_argument for a bad cursor.
  Result<boost::json::object> list(const RegistryScope& scope, const RegistryListQuery& query) const;
  // The ServerList of GET .../{name}/versions, newest publication first.
  // not_found when the name has no version the scope may see.
  Result<boost::json::object> versions(const RegistryScope& scope, std::string_view name,
                                       bool include_deleted) const;
  // The ServerResponse of GET .../{name}/versions/{version}; "latest" names
  // the latest live version.
  Result<boost::json::object> version(const RegistryScope& scope, std::string_view name,
                                      std::string_view version, bool include_deleted) const;

  // Departures remembered (tests and metrics).
  std::size_t departures() const;

 private:
  struct Key {
    std::string name;
    std::string version;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  // An instance that left a (name, version): deregistered, or moved to
  // another version or name. With no instance left, the version is deleted.
  struct Departure {
    std::string company;
    TimePoint at{};
    TimePoint published_at{};
    RecordPtr last;  // the instance's last state, for the description
  };
  struct Entry;
  using Catalog = std::map<Key, Entry>;

  void on_change(const ChangeEvent& event);
  void record_departure(const ServiceRecord& record);
  Catalog collect(const RegistryScope& scope, std::string_view only_name, bool include_deleted) const;
  void mark_latest(Catalog& catalog) const;
  boost::json::object render(const Key& key, const Entry& entry) const;

  Registry& registry_;
  const Authorizer& authorizer_;
  Options options_;
  QueryEngine engine_;
  mutable std::mutex mutex_;
  std::map<Key, Departure> departures_;  // guarded by mutex_
  Subscription subscription_;            // last: unsubscribes before the rest goes
};

}  // namespace discovery::server
