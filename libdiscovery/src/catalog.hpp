// Catalog: the in-memory records and their secondary indexes (internal).
//
// Each record gets a dense slot; each filterable value (company, region,
// environment, status, saoLevel, capability, tag, tool) a posting list of the
// slots that carry it, sorted by serviceId. A query walks the shortest
// posting list of its terms from the cursor and checks the other terms on the
// slot's interned values, so its cost follows the shortest list, never the
// number of records.
//
// Thread safety: const methods take a shared lock, mutating ones an exclusive
// lock; all may be called concurrently.
#pragma once

#include <discovery/query_engine.hpp>
#include <discovery/service_record.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace discovery::detail {

// A serviceId as a 128-bit number: its order is the order of the canonical
// lowercase text, so posting lists sorted by it are sorted by serviceId.
struct ServiceKey {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  auto operator<=>(const ServiceKey&) const = default;
};
std::optional<ServiceKey> parse_service_key(std::string_view service_id) noexcept;

struct ServiceKeyHash {
  std::size_t operator()(const ServiceKey& key) const noexcept {
    return static_cast<std::size_t>(key.high ^ (key.low * 0x9E3779B97F4A7C15ULL));
  }
};

struct Posting {
  ServiceKey key;
  std::uint32_t slot = 0;
};

// A sorted set of postings kept in chunks of bounded size (a one-level
// B+-tree): inserts and erases move at most one chunk, lookups are two binary
// searches, and iteration is sequential in memory.
class PostingList {
 public:
  void insert(const Posting& posting);
  // Appends a posting whose key is above every key held (bulk loading).
  void append(const Posting& posting);
  void erase(const ServiceKey& key);
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Postings the chunks have room for without allocating (memory tests).
  std::size_t capacity() const;

  // Calls visit(posting) for each posting with key > after (or from the
  // start), in order, until it returns false.
  template <class Visit>
  void scan_after(const std::optional<ServiceKey>& after, Visit&& visit) const;

 private:
  static constexpr std::size_t kChunk = 256;
  std::vector<std::vector<Posting>> chunks_;
  std::size_t size_ = 0;
  std::size_t chunk_for(const ServiceKey& key) const;
};

class Catalog {
 public:
  Catalog();

  // Loads many records into an empty catalog at once: posting lists are
  // sorted and chunked once instead of inserted into one by one.
  // Returns the serviceId of a record it could not index (not a UUID), if any.
  std::optional<std::string> bulk_load(std::vector<RecordPtr> records);

  // Inserts or replaces the record with the same serviceId.
  void upsert(RecordPtr record);
  void remove(std::string_view service_id);
  // Makes `index` the index reported with query answers.
  void set_index(std::uint64_t index);

  RecordPtr get(std::string_view service_id) const;
  RecordPtr find(std::string_view company, std::string_view instance_id) const;
  std::size_t size() const;
  std::uint64_t index() const;
  std::array<std::size_t, 4> count_by_status() const;
  // Every record, for tests and bulk export; unordered.
  std::vector<RecordPtr> all() const;

  Result<DiscoverPage> discover(const DiscoverQuery& query) const;
  // The version of `query`'s answer now (lock-free; see DiscoverVersion).
  DiscoverVersion version(const DiscoverQuery& query) const;

 private:
  enum Field : std::uint8_t { kAll, kCompany, kRegion, kEnvironment, kStatus, kSao, kCapability, kTag, kTool };
  static constexpr std::uint32_t kNone = 0xFFFFFFFF;

  struct Slot {
    RecordPtr record;
    ServiceKey key;
    std::uint32_t company = kNone, region = kNone, environment = kNone;
    std::uint8_t status = 0, sao = 0;
    // Interned ids of capabilities, tags and tools, each run sorted, in one
    // allocation.
    std::vector<std::uint32_t> values;
    std::uint16_t capability_count = 0, tag_count = 0;
    std::span<const std::uint32_t> capabilities() const { return {values.data(), capability_count}; }
    std::span<const std::uint32_t> tags() const { return {values.data() + capability_count, tag_count}; }
    std::span<const std::uint32_t> tools() const {
      return {values.data() + capability_count + tag_count, values.size() - capability_count - tag_count};
    }
  };

  // Interned values of one field: the same string always gets the same id.
  // Hashes std::string and std::string_view alike, so lookups by a view
  // allocate nothing.
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Dictionary {
    std::unordered_map<std::string, std::uint32_t, StringHash, std::equal_to<>> ids;
    std::uint32_t intern(const std::string& value);
    std::uint32_t lookup(std::string_view value) const;  // kNone when unknown
  };

  static std::uint64_t posting_id(Field field, std::uint32_t value) {
    return (static_cast<std::uint64_t>(field) << 32) | value;
  }
  void index_slot(std::uint32_t slot_id);
  void unindex_slot(std::uint32_t slot_id);
  void fill_slot(Slot& slot, const RecordPtr& record);
  // (companyName, instanceId) as views into the slot's own record, which
  // lives as long as the entry: no copy of the strings is kept.
  struct Identity {
    std::string_view company, instance;
    bool operator==(const Identity&) const = default;
  };
  struct IdentityHash {
    std::size_t operator()(const Identity& id) const noexcept {
      const std::size_t h = std::hash<std::string_view>{}(id.company);
      return h ^ (std::hash<std::string_view>{}(id.instance) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2));
    }
  };

  mutable std::shared_mutex mutex_;
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::unordered_map<ServiceKey, std::uint32_t, ServiceKeyHash> by_key_;
  std::unordered_map<Identity, std::uint32_t, IdentityHash> by_identity_;
  Dictionary companies_, regions_, environments_, capabilities_, tags_, tools_;
  std::unordered_map<std::uint64_t, PostingList> postings_;

  // Versions of answers (DiscoverVersion). Written only under the exclusive
  // lock, before the change is visible to readers under the shared lock;
  // read without a lock by version(). Every counter only grows.
  static constexpr std::size_t kCompanyStamps = 1024;
  static std::size_t company_stamp(std::string_view company) noexcept;
  // A record of `company` is about to change (added, replaced, removed).
  void touch_company(std::string_view company) noexcept;
  DiscoverVersion version_now(const DiscoverQuery& query) const noexcept;
  std::atomic<std::uint64_t> index_{0};
  std::atomic<std::uint64_t> generation_{0};  // any change at all
  std::array<std::atomic<std::uint64_t>, kCompanyStamps> company_generation_{};
};

}  // namespace discovery::detail
