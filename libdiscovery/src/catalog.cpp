#include "catalog.hpp"

#include <algorithm>
#include <array>
#include <ranges>
#include <mutex>

namespace discovery::detail {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<ServiceKey> parse_service_key(std::string_view id) noexcept {
  if (id.size() != 36) return std::nullopt;
  ServiceKey key;
  int digits = 0;
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (id[i] != '-') return std::nullopt;
      continue;
    }
    const int v = hex_value(id[i]);
    if (v < 0) return std::nullopt;
    std::uint64_t& word = digits < 16 ? key.high : key.low;
    word = (word << 4) | static_cast<std::uint64_t>(v);
    ++digits;
  }
  return key;
}

// ---- PostingList -----------------------------------------------------------

std::size_t PostingList::chunk_for(const ServiceKey& key) const {
  // The first chunk whose last key is >= key; the last chunk if none is.
  auto it = std::partition_point(chunks_.begin(), chunks_.end(),
                                 [&](const std::vector<Posting>& c) { return c.back().key < key; });
  if (it == chunks_.end()) return chunks_.size() - 1;
  return static_cast<std::size_t>(it - chunks_.begin());
}

std::size_t PostingList::capacity() const {
  std::size_t total = 0;
  for (const auto& chunk : chunks_) total += chunk.capacity();
  return total;
}

void PostingList::insert(const Posting& posting) {
  if (chunks_.empty()) {
    chunks_.emplace_back().push_back(posting);  // grows as it fills, as in append()
    size_ = 1;
    return;
  }
  const std::size_t c = chunk_for(posting.key);
  auto& chunk = chunks_[c];
  auto pos = std::lower_bound(chunk.begin(), chunk.end(), posting.key,
                              [](const Posting& p, const ServiceKey& k) { return p.key < k; });
  if (pos != chunk.end() && pos->key == posting.key) {
    pos->slot = posting.slot;
    return;
  }
  chunk.insert(pos, posting);
  ++size_;
  if (chunk.size() >= 2 * kChunk) {
    // Split in halves so both keep room to grow.
    std::vector<Posting> upper(chunk.begin() + static_cast<std::ptrdiff_t>(kChunk), chunk.end());
    upper.reserve(2 * kChunk);
    chunk.resize(kChunk);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(c) + 1, std::move(upper));
  }
}

void PostingList::append(const Posting& posting) {
  // Chunks are filled to kChunk, leaving room for later inserts to grow
  // them to 2 x kChunk before a split. The first chunk grows as it fills:
  // most lists are small (a company's instances) and a full chunk reserved
  // for each would be most of the index's memory at a million records.
  if (chunks_.empty()) {
    chunks_.emplace_back();
  } else if (chunks_.back().size() >= kChunk) {
    chunks_.emplace_back().reserve(kChunk);
  }
  chunks_.back().push_back(posting);
  ++size_;
}

void PostingList::erase(const ServiceKey& key) {
  if (chunks_.empty()) return;
  const std::size_t c = chunk_for(key);
  auto& chunk = chunks_[c];
  auto pos = std::lower_bound(chunk.begin(), chunk.end(), key,
                              [](const Posting& p, const ServiceKey& k) { return p.key < k; });
  if (pos == chunk.end() || pos->key != key) return;
  chunk.erase(pos);
  --size_;
  if (chunk.empty()) chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(c));
}

template <class Visit>
void PostingList::scan_after(const std::optional<ServiceKey>& after, Visit&& visit) const {
  if (chunks_.empty()) return;
  std::size_t c = 0;
  std::size_t i = 0;
  if (after) {
    c = chunk_for(*after);
    const auto& chunk = chunks_[c];
    i = static_cast<std::size_t>(
        std::upper_bound(chunk.begin(), chunk.end(), *after,
                         [](const ServiceKey& k, const Posting& p) { return k < p.key; }) -
        chunk.begin());
  }
  for (; c < chunks_.size(); ++c, i = 0) {
    const auto& chunk = chunks_[c];
    for (; i < chunk.size(); ++i)
      if (!visit(chunk[i])) return;
  }
}

// ---- Catalog ---------------------------------------------------------------

Catalog::Catalog() { postings_[posting_id(kAll, 0)]; }

std::uint32_t Catalog::Dictionary::intern(const std::string& value) {
  auto [it, inserted] = ids.try_emplace(value, static_cast<std::uint32_t>(ids.size()));
  return it->second;
}

std::uint32_t Catalog::Dictionary::lookup(std::string_view value) const {
  auto it = ids.find(value);
  return it == ids.end() ? kNone : it->second;
}


void Catalog::fill_slot(Slot& slot, const RecordPtr& record) {
  // Appends the interned ids of the items' names to slot.values as a sorted
  // run. (A projection, not std::views::transform: Clang 14 cannot compile
  // libstdc++ 12's views.)
  const auto append_run = [&](Dictionary& dict, const auto& items, auto name_of) -> std::uint16_t {
    const auto start = slot.values.size();
    for (const auto& item : items) slot.values.push_back(dict.intern(name_of(item)));
    const auto begin = slot.values.begin() + static_cast<std::ptrdiff_t>(start);
    std::sort(begin, slot.values.end());
    slot.values.erase(std::unique(begin, slot.values.end()), slot.values.end());
    return static_cast<std::uint16_t>(slot.values.size() - start);
  };
  slot.record = record;
  slot.company = companies_.intern(record->company_name);
  slot.region = record->service_info.region.empty() ? kNone : regions_.intern(record->service_info.region);
  slot.environment = record->service_info.environment.empty()
                         ? kNone
                         : environments_.intern(record->service_info.environment);
  slot.status = static_cast<std::uint8_t>(record->status);
  slot.sao = static_cast<std::uint8_t>(record->sao_level);
  slot.values.clear();
  slot.values.reserve(record->service_info.capabilities.size() + record->tags.size() +
                      (record->mcp ? record->mcp->tools.size() : 0));
  const auto same = [](const std::string& name) -> const std::string& { return name; };
  slot.capability_count = append_run(capabilities_, record->service_info.capabilities, same);
  slot.tag_count = append_run(tags_, record->tags, same);
  static const std::vector<McpTool> kNoTools;
  const auto& tools = record->mcp ? record->mcp->tools : kNoTools;
  append_run(tools_, tools, [](const McpTool& t) -> const std::string& { return t.name; });
}

void Catalog::index_slot(std::uint32_t slot_id) {
  const Slot& s = slots_[slot_id];
  const Posting p{s.key, slot_id};
  postings_[posting_id(kAll, 0)].insert(p);
  postings_[posting_id(kCompany, s.company)].insert(p);
  if (s.region != kNone) postings_[posting_id(kRegion, s.region)].insert(p);
  if (s.environment != kNone) postings_[posting_id(kEnvironment, s.environment)].insert(p);
  postings_[posting_id(kStatus, s.status)].insert(p);
  postings_[posting_id(kSao, s.sao)].insert(p);
  for (auto id : s.capabilities()) postings_[posting_id(kCapability, id)].insert(p);
  for (auto id : s.tags()) postings_[posting_id(kTag, id)].insert(p);
  for (auto id : s.tools()) postings_[posting_id(kTool, id)].insert(p);
}

void Catalog::unindex_slot(std::uint32_t slot_id) {
  const Slot& s = slots_[slot_id];
  const auto drop = [&](Field field, std::uint32_t value) {
    auto it = postings_.find(posting_id(field, value));
    if (it == postings_.end()) return;
    it->second.erase(s.key);
    if (it->second.empty() && field != kAll) postings_.erase(it);
  };
  drop(kAll, 0);
  drop(kCompany, s.company);
  if (s.region != kNone) drop(kRegion, s.region);
  if (s.environment != kNone) drop(kEnvironment, s.environment);
  drop(kStatus, s.status);
  drop(kSao, s.sao);
  for (auto id : s.capabilities()) drop(kCapability, id);
  for (auto id : s.tags()) drop(kTag, id);
  for (auto id : s.tools()) drop(kTool, id);
}

std::size_t Catalog::company_stamp(std::string_view company) noexcept {
  return std::hash<std::string_view>{}(company) % kCompanyStamps;
}

void Catalog::touch_company(std::string_view company) noexcept {
  company_generation_[company_stamp(company)].fetch_add(1);
  generation_.fetch_add(1);
}

DiscoverVersion Catalog::version_now(const DiscoverQuery& query) const noexcept {
  // The index is part of every answer; records of other companies are not
  // part of a company-filtered one.
  if (!query.company.empty())
    return {company_generation_[company_stamp(query.company)].load(), index_.load()};
  return {generation_.load(), index_.load()};
}

DiscoverVersion Catalog::version(const DiscoverQuery& query) const { return version_now(query); }

std::optional<std::string> Catalog::bulk_load(std::vector<RecordPtr> records) {
  // Each serviceId is parsed once: at a million records, every pass over
  // them is a pass of cache misses.
  std::vector<std::pair<ServiceKey, RecordPtr>> keyed;
  keyed.reserve(records.size());
  for (auto& record : records) {
    auto key = parse_service_key(record->service_id);
    if (!key) return record->service_id;
    keyed.emplace_back(*key, std::move(record));
  }
  records = {};
  std::unique_lock lock(mutex_);
  if (!by_key_.empty()) {
    // Not the start-up case: index one by one.
    lock.unlock();
    for (auto& entry : keyed) upsert(std::move(entry.second));
    return std::nullopt;
  }
  // Visiting the records in serviceId order appends to every posting list in
  // order: no list is sorted or copied, each is built once in its chunks.
  for (auto& stamp : company_generation_) stamp.fetch_add(1);
  generation_.fetch_add(1);
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

  slots_.reserve(keyed.size());
  by_key_.reserve(keyed.size());
  by_identity_.reserve(keyed.size());
  PostingList& all = postings_[posting_id(kAll, 0)];
  // Each list is looked up once, not once per record: unordered_map nodes
  // never move, so the pointers stay valid while lists are added.
  std::array<std::vector<PostingList*>, kTool + 1> lists;
  const auto add = [&](Field field, std::uint32_t value, const Posting& p) {
    auto& cache = lists[field];
    if (value >= cache.size()) cache.resize(value + 1, nullptr);
    if (!cache[value]) cache[value] = &postings_[posting_id(field, value)];
    cache[value]->append(p);
  };
  for (auto& [key, record] : keyed) {
    if (!by_key_.emplace(key, static_cast<std::uint32_t>(slots_.size())).second) continue;
    const auto slot_id = static_cast<std::uint32_t>(slots_.size());
    Slot& slot = slots_.emplace_back();
    slot.key = key;
    fill_slot(slot, record);
    by_identity_.emplace(Identity{record->company_name, record->instance_id}, slot_id);
    const Posting p{slot.key, slot_id};
    all.append(p);
    add(kCompany, slot.company, p);
    if (slot.region != kNone) add(kRegion, slot.region, p);
    if (slot.environment != kNone) add(kEnvironment, slot.environment, p);
    add(kStatus, slot.status, p);
    add(kSao, slot.sao, p);
    for (auto id : slot.capabilities()) add(kCapability, id, p);
    for (auto id : slot.tags()) add(kTag, id, p);
    for (auto id : slot.tools()) add(kTool, id, p);
  }
  return std::nullopt;
}

void Catalog::upsert(RecordPtr record) {
  const auto key = parse_service_key(record->service_id);
  if (!key) return;  // the registry only stores canonical UUIDs
  std::unique_lock lock(mutex_);
  touch_company(record->company_name);
  auto existing = by_key_.find(*key);
  std::uint32_t slot_id;
  if (existing != by_key_.end()) {
    slot_id = existing->second;
    if (slots_[slot_id].record->company_name != record->company_name)
      touch_company(slots_[slot_id].record->company_name);
    unindex_slot(slot_id);
    // The entry's views point into the record being replaced.
    by_identity_.erase(Identity{slots_[slot_id].record->company_name, slots_[slot_id].record->instance_id});
    by_identity_.emplace(Identity{record->company_name, record->instance_id}, slot_id);
  } else {
    if (!free_slots_.empty()) {
      slot_id = free_slots_.back();
      free_slots_.pop_back();
    } else {
      slot_id = static_cast<std::uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    by_key_.emplace(*key, slot_id);
    by_identity_.emplace(Identity{record->company_name, record->instance_id}, slot_id);
  }
  Slot& slot = slots_[slot_id];
  slot.key = *key;
  fill_slot(slot, record);
  index_slot(slot_id);
}

void Catalog::remove(std::string_view service_id) {
  const auto key = parse_service_key(service_id);
  if (!key) return;
  std::unique_lock lock(mutex_);
  auto it = by_key_.find(*key);
  if (it == by_key_.end()) return;
  const std::uint32_t slot_id = it->second;
  touch_company(slots_[slot_id].record->company_name);
  unindex_slot(slot_id);
  by_identity_.erase(Identity{slots_[slot_id].record->company_name, slots_[slot_id].record->instance_id});
  by_key_.erase(it);
  slots_[slot_id] = Slot{};
  free_slots_.push_back(slot_id);
}

void Catalog::set_index(std::uint64_t index) {
  std::unique_lock lock(mutex_);
  if (index_.load() == index) return;
  generation_.fetch_add(1);
  index_.store(index);
}

RecordPtr Catalog::get(std::string_view service_id) const {
  const auto key = parse_service_key(service_id);
  if (!key) return nullptr;
  std::shared_lock lock(mutex_);
  auto it = by_key_.find(*key);
  return it == by_key_.end() ? nullptr : slots_[it->second].record;
}

RecordPtr Catalog::find(std::string_view company, std::string_view instance_id) const {
  std::shared_lock lock(mutex_);
  auto it = by_identity_.find(Identity{company, instance_id});
  return it == by_identity_.end() ? nullptr : slots_[it->second].record;
}

std::size_t Catalog::size() const {
  std::shared_lock lock(mutex_);
  return by_key_.size();
}

std::uint64_t Catalog::index() const { return index_.load(); }

std::array<std::size_t, 4> Catalog::count_by_status() const {
  std::shared_lock lock(mutex_);
  std::array<std::size_t, 4> counts{};
  for (std::size_t i = 0; i < counts.size(); ++i) {
    auto it = postings_.find(posting_id(kStatus, static_cast<std::uint32_t>(i)));
    counts[i] = it == postings_.end() ? 0 : it->second.size();
  }
  return counts;
}

std::vector<RecordPtr> Catalog::all() const {
  std::shared_lock lock(mutex_);
  std::vector<RecordPtr> out;
  out.reserve(by_key_.size());
  for (const auto& [key, slot] : by_key_) out.push_back(slots_[slot].record);
  return out;
}

Result<DiscoverPage> Catalog::discover(const DiscoverQuery& query) const {
  if (query.limit < 1 || query.limit > kMaxDiscoverLimit)
    return invalid_argument("limit", "must be between 1 and " + std::to_string(kMaxDiscoverLimit));
  std::optional<ServiceKey> after;
  if (!query.cursor.empty()) {
    after = parse_service_key(query.cursor);
    if (!after) return invalid_argument("cursor", "is not a cursor returned by discover");
  }

  std::shared_lock lock(mutex_);
  DiscoverPage page;
  page.index = index_.load();
  page.version = version_now(query);

  // Translate the filters into interned ids; a value no record carries means
  // no record can match.
  std::uint32_t company = kNone, region = kNone, environment = kNone;
  std::vector<std::uint32_t> capabilities, tags, tools;
  std::vector<const PostingList*> terms;
  bool impossible = false;
  const auto term = [&](Field field, std::uint32_t value) {
    if (value == kNone) {
      impossible = true;
      return;
    }
    auto it = postings_.find(posting_id(field, value));
    if (it == postings_.end()) impossible = true;
    else terms.push_back(&it->second);
  };
  const auto all_of = [&](Field field, const Dictionary& dict, const std::vector<std::string>& values,
                          std::vector<std::uint32_t>& ids) {
    for (const auto& v : values) {
      const auto id = dict.lookup(v);
      term(field, id);
      ids.push_back(id);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  };
  if (!query.company.empty()) term(kCompany, company = companies_.lookup(query.company));
  if (!query.region.empty()) term(kRegion, region = regions_.lookup(query.region));
  if (!query.environment.empty())
    term(kEnvironment, environment = environments_.lookup(query.environment));
  if (query.status) term(kStatus, static_cast<std::uint8_t>(*query.status));
  if (query.sao_level) term(kSao, static_cast<std::uint8_t>(*query.sao_level));
  all_of(kCapability, capabilities_, query.capabilities, capabilities);
  all_of(kTag, tags_, query.tags, tags);
  all_of(kTool, tools_, query.tools, tools);
  if (impossible) return page;

  const PostingList* driver = &postings_.at(posting_id(kAll, 0));
  for (const PostingList* t : terms)
    if (t->size() < driver->size()) driver = t;

  const auto matches = [&](const Slot& s) {
    return (company == kNone || s.company == company) && (region == kNone || s.region == region) &&
           (environment == kNone || s.environment == environment) &&
           (!query.status || s.status == static_cast<std::uint8_t>(*query.status)) &&
           (!query.sao_level || s.sao == static_cast<std::uint8_t>(*query.sao_level)) &&
           std::ranges::includes(s.capabilities(), capabilities) && std::ranges::includes(s.tags(), tags) &&
           std::ranges::includes(s.tools(), tools);
  };

  page.services.reserve(std::min(query.limit, driver->size()));
  bool more = false;
  driver->scan_after(after, [&](const Posting& p) {
    const Slot& s = slots_[p.slot];
    if (!matches(s)) return true;
    if (page.services.size() == query.limit) {
      more = true;
      return false;
    }
    page.services.push_back(s.record);
    return true;
  });
  // The cursor is the last serviceId returned: the walk resumes after it.
  if (more) page.next_cursor = page.services.back()->service_id;
  return page;
}

}  // namespace discovery::detail
