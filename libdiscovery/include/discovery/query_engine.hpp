// QueryEngine: answers discover queries from in-memory secondary indexes.
//
// Results are ordered by serviceId. A cursor is the position after the last
// record returned, so a cursor walk visits every record that matches
// throughout the walk exactly once, even while records change.
//
// Thread safety: every method may be called from many threads at once, and
// concurrently with Registry changes.
#pragma once

#include <discovery/error.hpp>
#include <discovery/registry.hpp>
#include <discovery/service_record.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace discovery {

// The discover filters of API.md, all combined with AND. Empty means "any".
struct DiscoverQuery {
  std::string company;
  std::string region;
  std::string environment;
  std::optional<ServiceStatus> status;
  std::optional<SaoLevel> sao_level;
  std::vector<std::string> capabilities;  // all of them
  std::vector<std::string> tags;          // all of them
  std::vector<std::string> tools;         // all of them (MCP tool names)
  std::size_t limit = 100;                // 1..1000
  std::string cursor;                     // nextCursor of the previous page
};

inline constexpr std::size_t kDefaultDiscoverLimit = 100;
inline constexpr std::size_t kMaxDiscoverLimit = 1000;

// What a discover answer depends on, as two counters that only grow: the
// same query answered twice at equal versions gives the same page (records,
// cursor and index). The version moves on every change of a record the query
// could return, indexed or not (a routine health update changes a record in
// place without an index bump), and on every index change. A query with a
// company filter is versioned by that company's records alone (companies
// share counters by hash, so a change elsewhere may move it too: a version
// can move without the answer changing, never the other way round).
struct DiscoverVersion {
  std::uint64_t records = 0;
  std::uint64_t index = 0;
  friend bool operator==(const DiscoverVersion&, const DiscoverVersion&) = default;
};

struct DiscoverPage {
  std::vector<RecordPtr> services;
  std::optional<std::string> next_cursor;  // absent on the last page
  std::uint64_t index = 0;                 // the registry index the page reflects
  DiscoverVersion version;                 // the version of this query the page reflects
};

// A URL query string ("company=acme&tags=a,b&limit=10", without '?') into a
// query: percent-decoding, repeated and comma-separated lists, unknown
// parameters and bad values rejected naming the parameter. `index` and
// `wait` (long-poll) are returned separately.
struct ParsedDiscoverRequest {
  DiscoverQuery query;
  std::optional<std::uint64_t> wait_index;
  std::optional<Duration> wait;
};
Result<ParsedDiscoverRequest> parse_discover_query(std::string_view query_string);

// A URL query string as decoded (name, value) pairs in order; an error names
// a parameter with a malformed percent-escape.
Result<std::vector<std::pair<std::string, std::string>>> parse_query_params(std::string_view query_string);

class QueryEngine {
 public:
  // Borrows the registry, which must outlive the engine.
  explicit QueryEngine(const Registry& registry) : registry_(registry) {}

  // invalid_argument for a bad limit or cursor.
  Result<DiscoverPage> discover(const DiscoverQuery& query) const;

  // The current version of `query`'s answer (see DiscoverVersion), without
  // a lock: compare with a page's `version` to know whether it is still the
  // answer.
  DiscoverVersion version(const DiscoverQuery& query) const;

  // Long-poll: waits until the registry index passes `index` (or `timeout`),
  // then answers the query.
  Result<DiscoverPage> discover_after(const DiscoverQuery& query, std::uint64_t index,
                                      Duration timeout) const;

  // Whether `record` satisfies every filter (cursor and limit aside). Used by
  // watchers to filter change events.
  static bool matches(const DiscoverQuery& query, const ServiceRecord& record);

 private:
  const Registry& registry_;
};

}  // namespace discovery
