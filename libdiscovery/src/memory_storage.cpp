// The in-memory Storage: the reference behaviour the SQLite store matches
// (tests run the same suite over both), without durability.

#include <discovery/storage.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace discovery {
namespace {

// Thread-safe: one mutex guards all state; every call holds it throughout, so
// each batch is applied atomically with respect to every reader.
class MemoryStorage final : public Storage {
 public:
  Result<LoadedState> load(TimePoint transitions_since) override {
    std::lock_guard lock(mutex_);
    LoadedState state;
    state.records.reserve(records_.size());
    for (const auto& [id, record] : records_) state.records.push_back(std::make_shared<const ServiceRecord>(record));
    state.last_index = last_index_;
    for (const auto& transition : transitions_) {
      if (transition.at >= transitions_since) state.transitions.push_back(transition);
    }
    sort_by_time(state.transitions);
    return state;
  }

  Result<void> write(const WriteBatch& batch) override {
    std::lock_guard lock(mutex_);
    // Records and their (company, instance) keys are the only part that can
    // fail, so they are applied first with an undo log; transitions and audit
    // entries are appended only once the records are in.
    std::vector<std::pair<std::string, std::optional<ServiceRecord>>> undo;
    auto rollback = [&] {
      for (auto it = undo.rbegin(); it != undo.rend(); ++it) {
        erase_record(it->first);
        if (it->second) insert_record(std::move(*it->second));
      }
    };
    // Removals go first, as in the SQLite store, so that one batch may retire
    // a service and hand its (company, instance) to another.
    for (const auto& id : batch.removals) {
      auto found = records_.find(id);
      if (found == records_.end()) continue;
      undo.emplace_back(id, found->second);
      erase_record(id);
    }
    for (const auto& record : batch.upserts) {
      auto found = records_.find(record.service_id);
      undo.emplace_back(record.service_id, found == records_.end()
                                               ? std::nullopt
                                               : std::optional<ServiceRecord>(found->second));
      erase_record(record.service_id);
      auto key = std::make_pair(record.company_name, record.instance_id);
      if (keys_.contains(key)) {
        rollback();
        return conflict("a service with companyName '" + record.company_name +
                        "' and instanceId '" + record.instance_id + "' already exists");
      }
      insert_record(record);
    }

    if (!batch.removals.empty()) {
      std::unordered_set<std::string> removed(batch.removals.begin(), batch.removals.end());
      std::erase_if(transitions_,
                    [&](const HealthTransition& t) { return removed.contains(t.service_id); });
    }
    transitions_.insert(transitions_.end(), batch.transitions.begin(), batch.transitions.end());
    audit_.insert(audit_.end(), batch.audit.begin(), batch.audit.end());
    last_index_ = std::max(last_index_, batch.index);
    return {};
  }

  Result<std::vector<HealthTransition>> health_transitions(std::string_view service_id,
                                                           TimePoint since) override {
    std::lock_guard lock(mutex_);
    std::vector<HealthTransition> result;
    for (const auto& transition : transitions_) {
      if (transition.service_id == service_id && transition.at >= since) {
        result.push_back(transition);
      }
    }
    sort_by_time(result);
    return result;
  }

  Result<std::vector<AuditEntry>> audit_entries(TimePoint since, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<AuditEntry> result;
    for (const auto& entry : audit_) {
      if (entry.at >= since) result.push_back(entry);
    }
    // Stable: entries with the same time keep the order they were written in.
    std::stable_sort(result.begin(), result.end(),
                     [](const AuditEntry& a, const AuditEntry& b) { return a.at < b.at; });
    if (result.size() > limit) result.resize(limit);
    return result;
  }

  Result<void> prune(TimePoint transitions_before, TimePoint audit_before) override {
    std::lock_guard lock(mutex_);
    std::erase_if(transitions_,
                  [&](const HealthTransition& t) { return t.at < transitions_before; });
    std::erase_if(audit_, [&](const AuditEntry& e) { return e.at < audit_before; });
    return {};
  }

  std::string describe() const override { return "memory"; }

 private:
  // Oldest first; transitions with the same time keep their write order, as
  // the SQLite store orders by (time, row id).
  static void sort_by_time(std::vector<HealthTransition>& transitions) {
    std::stable_sort(transitions.begin(), transitions.end(),
                     [](const HealthTransition& a, const HealthTransition& b) { return a.at < b.at; });
  }

  void erase_record(const std::string& id) {
    auto found = records_.find(id);
    if (found == records_.end()) return;
    keys_.erase(std::make_pair(found->second.company_name, found->second.instance_id));
    records_.erase(found);
  }

  void insert_record(ServiceRecord record) {
    keys_.emplace(std::make_pair(record.company_name, record.instance_id), record.service_id);
    std::string id = record.service_id;
    records_.insert_or_assign(std::move(id), std::move(record));
  }

  std::mutex mutex_;
  std::unordered_map<std::string, ServiceRecord> records_;
  // (company, instance) -> serviceId: the uniqueness the SQLite schema enforces.
  std::map<std::pair<std::string, std::string>, std::string> keys_;
  std::uint64_t last_index_ = 0;
  std::vector<HealthTransition> transitions_;  // in write order
  std::vector<AuditEntry> audit_;              // in write order
};

}  // namespace

std::unique_ptr<Storage> make_memory_storage() { return std::make_unique<MemoryStorage>(); }

}  // namespace discovery
