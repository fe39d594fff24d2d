// Serialized JSON of records, rendered once per record version and view and
// shared by every answer that includes it. Entries are keyed by the record's
// address and hold a weak_ptr to it: records come from make_shared, so the
// weak_ptr keeps their memory block allocated and the address cannot be
// reused by another record while the entry exists. A found entry is therefore
// always the record asked for. The price is that a dead record's block stays
// allocated until its entry goes; it is counted in the byte budget. Every
// change makes a new record (a routine health check too), so dead entries
// keep coming: each insert also looks at the two oldest entries of its shard,
// dropping a dead one and moving a live one to the back. Dead entries thus
// go within about one pass over the shard, instead of piling up to the
// budget (256 MiB by default, which a soak took for a leak).
//
// Thread safety: all methods may be called concurrently. The cache is split
// in shards, each with its own mutex held only for a lookup or an insert.
#pragma once

#include <discovery/record_json.hpp>

#include <array>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <boost/unordered/unordered_flat_map.hpp>

namespace discovery::server {

class JsonCache {
 public:
  // `max_bytes` bounds the serialized text held; the oldest entries of a
  // shard go first.
  explicit JsonCache(std::size_t max_bytes = 256u << 20) : shard_bytes_(max_bytes / kShards) {}

  // The record serialized in `view` (JsonView::full or JsonView::redacted).
  std::shared_ptr<const std::string> get(const RecordPtr& record, JsonView view);

  // Entries held and the bytes counted against the budget (tests, metrics).
  std::size_t entries() const;
  std::size_t bytes() const;

 private:
  static constexpr std::size_t kShards = 64;
  // What an entry holds beyond its text: a record's pinned block and the
  // map slot (an estimate).
  static constexpr std::size_t kEntryOverhead = sizeof(ServiceRecord) + 64;
  struct Entry {
    std::weak_ptr<const ServiceRecord> record;
    std::shared_ptr<const std::string> full, redacted;
  };
  static std::size_t entry_bytes(const Entry& entry);
  struct Shard {
    mutable std::mutex mutex;
    // Open addressing: one probe in a flat array instead of a chase through
    // list nodes on every record of every answer.
    boost::unordered_flat_map<const ServiceRecord*, Entry> entries;
    std::deque<const ServiceRecord*> order;  // insertion order, for eviction
    std::size_t bytes = 0;
  };
  std::size_t shard_bytes_;
  std::array<Shard, kShards> shards_;
};

}  // namespace discovery::server
