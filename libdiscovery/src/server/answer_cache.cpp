#include "answer_cache.hpp"

#include <algorithm>
#include <vector>

namespace discovery::server {

namespace {

// Each part length-prefixed: values are free text after percent-decoding, so
// no separator could be trusted to stay out of them.
void append_part(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out += part;
}

void append_set(std::string& out, const std::vector<std::string>& values) {
  std::vector<std::string_view> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  out += std::to_string(sorted.size());
  out += '[';
  for (auto v : sorted) append_part(out, v);
}

}  // namespace

AnswerCache::AnswerCache(std::size_t max_bytes) : max_bytes_(max_bytes), shard_bytes_(max_bytes / kShards) {}

std::string AnswerCache::key(const DiscoverQuery& query, const Principal& caller) {
  std::string out;
  out.reserve(96);
  // The view: the level and company decide the scope and, per record,
  // whether personalConfig and demoConfig are shown.
  out += static_cast<char>('0' + static_cast<int>(caller.level));
  append_part(out, caller.company);
  append_part(out, query.company);
  append_part(out, query.region);
  append_part(out, query.environment);
  out += query.status ? static_cast<char>('0' + static_cast<int>(*query.status)) : '-';
  out += query.sao_level ? static_cast<char>('0' + static_cast<int>(*query.sao_level)) : '-';
  append_set(out, query.capabilities);
  append_set(out, query.tags);
  append_set(out, query.tools);
  out += std::to_string(query.limit);
  out += ';';
  append_part(out, query.cursor);
  return out;
}

AnswerCache::AnswerPtr AnswerCache::find(std::string_view key, const DiscoverVersion& version) {
  if (!enabled()) return nullptr;
  Shard& shard = shard_for(key);
  {
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(key);
    if (it != shard.entries.end() && it->second.answer->version == version) {
      it->second.referenced = true;
      hits_.fetch_add(1, std::memory_order_relaxed);
      return it->second.answer;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

void AnswerCache::insert(std::string key, AnswerPtr answer) {
  if (!enabled() || !answer) return;
  const std::size_t cost = answer->body.size() + answer->index.size() + 2 * key.size() + kEntryOverhead;
  if (cost > shard_bytes_) return;
  Shard& shard = shard_for(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) {
    // Two threads that missed at once: keep the newer answer. Versions only
    // grow, so the larger one is the newer.
    const auto& held = it->second.answer->version;
    if (held.records > answer->version.records || held.index > answer->version.index) return;
    shard.bytes -= it->second.cost;
    it->second.answer = std::move(answer);
    it->second.cost = cost;
    shard.bytes += cost;
  } else {
    shard.order.push_back(key);
    shard.entries.emplace(std::move(key), Entry{std::move(answer), cost, false});
    shard.bytes += cost;
  }
  // Every key in `order` is in `entries` and the other way round, so the
  // loop ends: each entry is passed over at most once before it can go.
  while (shard.bytes > shard_bytes_ && !shard.order.empty()) {
    auto victim = shard.entries.find(shard.order.front());
    if (victim->second.referenced) {
      victim->second.referenced = false;
      shard.order.push_back(std::move(shard.order.front()));
      shard.order.pop_front();
      continue;
    }
    shard.bytes -= victim->second.cost;
    shard.entries.erase(victim);
    shard.order.pop_front();
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::size_t AnswerCache::bytes() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.bytes;
  }
  return total;
}

std::size_t AnswerCache::entries() const {
  std::size_t total = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    total += shard.entries.size();
  }
  return total;
}

}  // namespace discovery::server
