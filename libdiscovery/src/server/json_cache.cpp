#include "json_cache.hpp"

#include <boost/json/serialize.hpp>

#include <cstdint>
#include <functional>

namespace discovery::server {

std::shared_ptr<const std::string> JsonCache::get(const RecordPtr& record, JsonView view) {
  const bool full = view != JsonView::redacted;
  // Allocations are 16-byte aligned and std::hash of a pointer is its value:
  // mix the bits, or a handful of shards would take every record.
  const auto address = reinterpret_cast<std::uintptr_t>(record.get());
  Shard& shard = shards_[((address >> 4) * 0x9E3779B97F4A7C15ULL >> 58) % kShards];
  {
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(record.get());
    if (it != shard.entries.end()) {
      auto& text = full ? it->second.full : it->second.redacted;
      if (text) return text;
    }
  }
  // Render outside the lock; two threads may both render once, harmlessly.
  auto text = std::make_shared<const std::string>(boost::json::serialize(to_json(*record, view)));
  std::lock_guard lock(shard.mutex);
  auto [it, inserted] = shard.entries.try_emplace(record.get());
  if (inserted) {
    it->second.record = record;
    shard.order.push_back(record.get());
    shard.bytes += kEntryOverhead;
  }
  auto& slot = full ? it->second.full : it->second.redacted;
  if (!slot) {
    slot = text;
    shard.bytes += text->size();
  }
  if (inserted) {
    // Sweep: the two oldest entries, a dead one dropped, a live one to the
    // back. Two per insert outpace the one insert that may add a dead entry.
    for (int swept = 0; swept < 2 && shard.order.size() > 1; ++swept) {
      const ServiceRecord* oldest = shard.order.front();
      shard.order.pop_front();
      auto victim = shard.entries.find(oldest);
      if (victim == shard.entries.end()) continue;
      if (victim->second.record.expired()) {
        shard.bytes -= entry_bytes(victim->second);
        shard.entries.erase(victim);
      } else {
        shard.order.push_back(oldest);
      }
    }
  }
  while (shard.bytes > shard_bytes_ && !shard.order.empty()) {
    auto victim = shard.entries.find(shard.order.front());
    shard.order.pop_front();
    if (victim == shard.entries.end()) continue;
    if (victim->first == record.get()) {
      // Never evict what is being returned; it goes to the back instead.
      shard.order.push_back(victim->first);
      if (shard.order.size() == 1) break;
      continue;
    }
    shard.bytes -= entry_bytes(victim->second);
    shard.entries.erase(victim);
  }
  return slot;
}

std::size_t JsonCache::entry_bytes(const Entry& entry) {
  return kEntryOverhead + (entry.full ? entry.full->size() : 0) + (entry.redacted ? entry.redacted->size() : 0);
}

std::size_t JsonCache::entries() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

std::size_t JsonCache::bytes() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.bytes;
  }
  return total;
}

}  // namespace discovery::server
