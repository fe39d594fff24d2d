// Whole discover answers, kept as the bytes sent. The same query, asked with
// the same view (what of the caller changes the answer: its level and
// company decide the company scope and which records show personalConfig and
// demoConfig), at the same DiscoverVersion gives the same bytes; so an answer
// is kept under (normalised query, view) with the version it was made at, and
// served again, without a copy, while the query's version has not moved.
// Callers never share an entry between views: the view is part of the key.
//
// Memory: the bytes held (answers, keys and a per-entry estimate) stay within
// `max_bytes`; on overflow entries go in insertion order, those hit since the
// last pass getting a second chance (CLOCK). An answer larger than a shard's
// share is not kept. Answers being sent stay alive through their shared_ptr
// after eviction, outside the bound, for as long as the write takes.
//
// Thread safety: all methods may be called concurrently. Entries live in
// shards, each behind its own mutex, held only for a lookup or an insert.
#pragma once

#include <discovery/auth.hpp>
#include <discovery/query_engine.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace discovery::server {

class AnswerCache {
 public:
  struct Answer {
    DiscoverVersion version;  // of the query, when the answer was made
    std::string body;         // the whole JSON answer
    std::string index;        // the X-Discovery-Index header's value
  };
  using AnswerPtr = std::shared_ptr<const Answer>;

  // What an entry costs beyond its answer's text and key: the map and queue
  // nodes and the Answer itself (an estimate).
  static constexpr std::size_t kEntryOverhead = 192;
  static constexpr std::size_t kShards = 16;

  // `max_bytes` 0 disables the cache: find() always misses, insert() keeps nothing.
  explicit AnswerCache(std::size_t max_bytes);

  bool enabled() const { return max_bytes_ > 0; }

  // The key of `query` (already scoped to what the caller may see) for
  // `caller`: every filter, normalised (lists sorted, duplicates dropped,
  // since they combine with AND), plus limit, cursor and the view.
  static std::string key(const DiscoverQuery& query, const Principal& caller);

  // The answer kept for `key` if it was made at `version`; else null (a
  // miss, counted).
  AnswerPtr find(std::string_view key, const DiscoverVersion& version);

  // Keeps `answer` for `key`, replacing what was there.
  void insert(std::string key, AnswerPtr answer);

  std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }
  std::uint64_t misses() const noexcept { return misses_.load(std::memory_order_relaxed); }
  std::uint64_t evictions() const noexcept { return evictions_.load(std::memory_order_relaxed); }
  // Bytes held now, as counted against max_bytes, and entries held.
  std::size_t bytes() const;
  std::size_t entries() const;
  std::size_t max_bytes() const { return max_bytes_; }

 private:
  struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Entry {
    AnswerPtr answer;
    std::size_t cost = 0;
    bool referenced = false;  // hit since the eviction hand last passed
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries;
    std::deque<std::string> order;  // insertion order, for eviction
    std::size_t bytes = 0;
  };
  Shard& shard_for(std::string_view key) { return shards_[StringHash{}(key) % kShards]; }

  std::size_t max_bytes_;
  std::size_t shard_bytes_;
  std::array<Shard, kShards> shards_;
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, evictions_{0};
};

}  // namespace discovery::server
