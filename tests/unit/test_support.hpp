// Helpers shared by the unit suites: realistic records and temporary dirs.
#pragma once

#include <discovery/discovery.hpp>

#include <boost/json/serialize.hpp>

#include <atomic>
#include <ostream>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace discovery {
// Boost.Test prints values of failed comparisons; records print as their JSON.
inline std::ostream& operator<<(std::ostream& os, const ServiceRecord& record) {
  return os << boost::json::serialize(to_json(record, JsonView::storage));
}
}  // namespace discovery

namespace discovery::testing {

// A valid registration candidate with the seed's conventions.
inline ServiceRecord make_record(const std::string& company, const std::string& instance,
                                 const std::string& region = "us-west1",
                                 const std::string& environment = "production") {
  ServiceRecord r;
  r.company_name = company;
  r.instance_id = instance;
  r.domain = "mcp." + company + ".2100.cool";
  r.service_info.version = "1.4.2";
  r.service_info.capabilities = {"tools", "search"};
  r.service_info.region = region;
  r.service_info.environment = environment;
  r.service_info.endpoints.primary = "https://mcp." + company + ".2100.cool";
  r.service_info.endpoints.mcp = "https://mcp." + company + ".2100.cool/mcp";
  r.tags = {"beta"};
  r.sao_level = SaoLevel::sapphire;
  return r;
}

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("discovery-test-" + std::to_string(rd()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Registry options for tests: a manual clock and no background thread.
inline RegistryOptions test_options(ManualClock& clock) {
  RegistryOptions options;
  options.clock = &clock;
  options.ttl_sweep_interval = Duration{0};
  return options;
}

// A storage whose writes fail with a chosen error while `failing` is set:
// the full disk and the I/O error of the bad-input requirements.
class FailingStorage : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Result<void> write(const WriteBatch& batch) override {
    if (failing) return Error{ErrorCode::unavailable, "disk full (simulated)", {}};
    return StorageWrapper::write(batch);
  }
  std::atomic<bool> failing{false};
};

// Boost.Test's assertions are not thread-safe: worker threads record failed
// checks here and the test thread asserts that there were none.
class ThreadChecks {
 public:
  void check(bool ok, const char* what, int line) {
    if (ok) return;
    std::lock_guard lock(mutex_);
    if (failures_.size() < 20) failures_.push_back(std::string(what) + " (line " + std::to_string(line) + ")");
  }
  std::vector<std::string> failures() const {
    std::lock_guard lock(mutex_);
    return failures_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> failures_;
};
#define DISCOVERY_THREAD_CHECK(checks, condition) (checks).check((condition), #condition, __LINE__)

}  // namespace discovery::testing
