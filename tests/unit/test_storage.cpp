// Storage: the memory and SQLite implementations run the same behavioural
// suite; SQLite then gets its own: durability across reopen, group commit,
// exclusive ownership, foreign files, full disks, schema versions.
#define BOOST_TEST_MODULE test_storage
#include <boost/test/unit_test.hpp>

#include <discovery/storage.hpp>

#include "sqlite_storage_internal.hpp"
#include "test_support.hpp"

#include <sqlite3.h>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <numeric>
#include <mutex>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace discovery {
namespace {

using namespace std::chrono_literals;
using testing::TempDir;

const TimePoint kT0{std::chrono::milliseconds{1767225600000}};  // 2026-01-01T00:00:00Z

std::string service_id(int n) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%08x-0000-4000-8000-%012x", static_cast<unsigned>(n),
                static_cast<unsigned>(n));
  return buffer;
}

// A record with every field set, as the registry would hold it after checks
// and an introspection: whatever a storage drops shows up as a mismatch.
// Numbers are exactly representable so the comparison tests the storage, not
// decimal rounding.
ServiceRecord full_record(int n, const std::string& company = "acme") {
  ServiceRecord r;
  r.service_id = service_id(n);
  r.company_name = company;
  r.domain = "mcp." + company + ".2100.cool";
  r.instance_id = company + "-1767225600000-" + std::to_string(100000 + n);
  r.status = kAllStatuses[static_cast<std::size_t>(n) % std::size(kAllStatuses)];
  r.health_status.last_check = kT0 + std::chrono::seconds{n};
  r.health_status.response_time_ms = 12.5;
  r.health_status.uptime = 99.75;
  r.health_status.consecutive_failures = 3;
  r.health_status.consecutive_successes = 0;
  r.health_status.last_failure = kT0 + 123ms;
  r.health_status.last_error = "connection refused";
  r.service_info.version = "1.4.2";
  r.service_info.capabilities = {"tools", "resources", "search"};
  r.service_info.region = "us-west1";
  r.service_info.environment = "production";
  r.service_info.endpoints.primary = "https://" + r.domain;
  r.service_info.endpoints.health = "https://" + r.domain + "/health";
  r.service_info.endpoints.metrics = "https://" + r.domain + "/metrics";
  r.service_info.endpoints.mcp = "https://" + r.domain + "/mcp";
  McpInfo mcp;
  mcp.protocol_version = "2025-06-18";
  mcp.transport = "streamable-http";
  mcp.server_name = company + "-tools";
  mcp.server_version = "1.4.2";
  mcp.capabilities = {{"tools", {{"listChanged", true}}}};
  mcp.tools = {{"search", "Search", "Full-text search"}, {"fetch", "Fetch", "Fetches a URL"}};
  mcp.introspected_at = kT0 + 1s;
  r.mcp = mcp;
  r.health_check_config.interval = 15s;
  r.health_check_config.timeout = 5s;
  r.health_check_config.retries = 2;
  r.health_check_config.failure_threshold = 4;
  r.health_check_config.success_threshold = 1;
  r.health_check_config.endpoints = {"/health", "/ready"};
  r.health_check_config.mcp = true;
  r.health_check_config.ttl = 30s;
  r.health_check_config.alerting = {true, {"webhook"}, {"warning", "critical"}};
  r.personal_config = {{"apiKeyRef", "vault:acme/key"}, {"limits", {{"rps", 100}}}};
  r.demo_config = {{"enabled", true}};
  r.sao_level = SaoLevel::emerald;
  r.registered_at = kT0;
  r.last_updated = kT0 + 1h + 123ms;
  r.tags = {"beta", "gpu"};
  r.metadata = {{"owner", "team-a"}, {"n", n}, {"nested", {{"list", {1, 2, 3}}}}};
  r.status_cause = StatusCause::health_check;
  r.create_index = static_cast<std::uint64_t>(n) + 1;
  r.modify_index = static_cast<std::uint64_t>(n) + 10;
  return r;
}

std::vector<ServiceRecord> sorted(const std::vector<RecordPtr>& loaded) {
  std::vector<ServiceRecord> records;
  for (const auto& r : loaded) records.push_back(*r);
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.service_id < b.service_id; });
  return records;
}

std::vector<ServiceRecord> sorted(std::vector<ServiceRecord> records) {
  std::sort(records.begin(), records.end(),
            [](const auto& a, const auto& b) { return a.service_id < b.service_id; });
  return records;
}

AuditEntry audit_entry(TimePoint at, const std::string& action, const std::string& id) {
  return AuditEntry{at, "req-" + id, "alice", "diamond", "acme", action, id, "ok"};
}

void require_written(Storage& storage, const WriteBatch& batch) {
  auto written = storage.write(batch);
  BOOST_REQUIRE_MESSAGE(written, "write failed: " << (written ? Error{} : written.error()));
}

LoadedState require_load(Storage& storage, TimePoint since = TimePoint{}) {
  auto loaded = storage.load(since);
  BOOST_REQUIRE_MESSAGE(loaded, "load failed: " << (loaded ? Error{} : loaded.error()));
  return std::move(*loaded);
}

std::unique_ptr<Storage> require_sqlite(const std::filesystem::path& path,
                                        const SqliteOptions& options = {}) {
  auto opened = open_sqlite_storage(path, options);
  BOOST_REQUIRE_MESSAGE(opened, "open failed: " << (opened ? Error{} : opened.error()));
  return std::move(*opened);
}

// The first column of the first row of `sql`, read with a connection of our
// own (the storage must be closed, or the query must only read).
std::string query_text(const std::filesystem::path& path, const std::string& sql,
                       int flags = SQLITE_OPEN_READONLY) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  std::string result = "<error>";
  sqlite3_stmt* stmt = nullptr;
  if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr);
  if (rc == SQLITE_OK) rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    result = text == nullptr ? "" : reinterpret_cast<const char*>(text);
  } else if (rc == SQLITE_DONE) {
    result = "";
  } else {
    result = std::string("<error: ") + sqlite3_errmsg(db) + ">";
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return result;
}

unsigned file_mode(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return 0;
  return info.st_mode & 0777;
}

// Runs `batches` concurrently. For SQLite they are made to land in one
// group: the writer thread is held until every batch is queued. Returns each
// batch's result and the number of commits they took.
std::pair<std::vector<Result<void>>, std::uint64_t> write_in_one_group(
    Storage& storage, const std::vector<WriteBatch>& batches) {
  std::vector<Result<void>> results(batches.size());
  const auto before = detail::sqlite_storage_stats(storage);
  std::promise<void> held;
  std::promise<void> release;
  std::thread holder;
  bool held_ok = true;
  if (before) {
    holder = std::thread([&] {
      auto shared_release = release.get_future();
      held_ok = static_cast<bool>(
          detail::run_on_sqlite_writer(storage, [&](sqlite3*) -> Result<void> {
            held.set_value();
            shared_release.wait();
            return {};
          }));
    });
    held.get_future().wait();
  }
  std::vector<std::thread> writers;
  for (std::size_t i = 0; i < batches.size(); ++i) {
    writers.emplace_back([&, i] { results[i] = storage.write(batches[i]); });
  }
  if (before) {
    while (detail::sqlite_storage_stats(storage)->queued < batches.size()) {
      std::this_thread::sleep_for(1ms);
    }
    release.set_value();
    holder.join();
  }
  for (auto& writer : writers) writer.join();
  BOOST_TEST(held_ok);  // asserted here: Boost.Test is not thread-safe
  const std::uint64_t commits =
      before ? detail::sqlite_storage_stats(storage)->commits - before->commits : 0;
  return {std::move(results), commits};
}

// The implementations under test.
struct MemoryBackend {
  std::unique_ptr<Storage> storage = make_memory_storage();
};
struct SqliteBackend {
  TempDir dir;
  std::unique_ptr<Storage> storage = require_sqlite(dir.path() / "discovery.db");
};
using Backends = std::tuple<MemoryBackend, SqliteBackend>;

}  // namespace

// ---------------------------------------------------------------------------
// Behaviour both implementations share

BOOST_AUTO_TEST_SUITE(both)

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_store_loads_nothing, Backend, Backends) {
  Backend backend;
  LoadedState state = require_load(*backend.storage);
  BOOST_TEST(state.records.empty());
  BOOST_TEST(state.last_index == 0u);
  BOOST_TEST(state.transitions.empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(records_round_trip, Backend, Backends) {
  Backend backend;
  std::vector<ServiceRecord> written;
  for (int n = 0; n < 20; ++n) written.push_back(full_record(n));
  // A record with only the required parts, too: absent optionals stay absent.
  ServiceRecord sparse;
  sparse.service_id = service_id(1000);
  sparse.company_name = "beta";
  sparse.domain = "mcp.beta.2100.cool";
  sparse.instance_id = "beta-1";
  sparse.service_info.endpoints.primary = "http://10.0.0.1:8080";
  sparse.registered_at = kT0;
  sparse.last_updated = kT0;
  written.push_back(sparse);

  WriteBatch first;
  first.index = 7;
  first.upserts.assign(written.begin(), written.begin() + 10);
  require_written(*backend.storage, first);
  WriteBatch second;
  second.index = 8;
  second.upserts.assign(written.begin() + 10, written.end());
  require_written(*backend.storage, second);

  LoadedState state = require_load(*backend.storage);
  BOOST_TEST(state.last_index == 8u);
  BOOST_REQUIRE_EQUAL(state.records.size(), written.size());
  auto loaded = sorted(state.records);
  auto expected = sorted(written);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    BOOST_TEST_CONTEXT("record " << expected[i].service_id) {
      BOOST_TEST((loaded[i] == expected[i]));
    }
  }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(upsert_replaces_by_service_id, Backend, Backends) {
  Backend backend;
  ServiceRecord record = full_record(1);
  require_written(*backend.storage, WriteBatch{1, {record}, {}, {}, {}});
  record.status = ServiceStatus::maintenance;
  record.tags = {"changed"};
  record.modify_index = 2;
  require_written(*backend.storage, WriteBatch{2, {record}, {}, {}, {}});
  LoadedState state = require_load(*backend.storage);
  BOOST_REQUIRE_EQUAL(state.records.size(), 1u);
  BOOST_TEST((*state.records[0] == record));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(removal_drops_the_record_and_its_transitions, Backend, Backends) {
  Backend backend;
  WriteBatch batch;
  batch.index = 1;
  batch.upserts = {full_record(1), full_record(2)};
  batch.transitions = {{service_id(1), kT0, false}, {service_id(2), kT0, false}};
  require_written(*backend.storage, batch);

  WriteBatch removal;
  removal.index = 2;
  removal.removals = {service_id(1), service_id(999)};  // an unknown id is not an error
  require_written(*backend.storage, removal);

  LoadedState state = require_load(*backend.storage);
  BOOST_REQUIRE_EQUAL(state.records.size(), 1u);
  BOOST_TEST(state.records[0]->service_id == service_id(2));
  BOOST_REQUIRE_EQUAL(state.transitions.size(), 1u);
  BOOST_TEST(state.transitions[0].service_id == service_id(2));
  auto gone = backend.storage->health_transitions(service_id(1), TimePoint{});
  BOOST_REQUIRE(gone);
  BOOST_TEST(gone->empty());

  // Its (company, instance) is free again.
  ServiceRecord successor = full_record(1);
  successor.service_id = service_id(3);
  require_written(*backend.storage, WriteBatch{3, {successor}, {}, {}, {}});
}

BOOST_AUTO_TEST_CASE_TEMPLATE(last_index_is_the_highest_written, Backend, Backends) {
  Backend backend;
  require_written(*backend.storage, WriteBatch{5, {}, {}, {}, {}});
  require_written(*backend.storage, WriteBatch{3, {}, {}, {}, {}});
  require_written(*backend.storage, WriteBatch{0, {}, {}, {}, {}});
  BOOST_TEST(require_load(*backend.storage).last_index == 5u);
  require_written(*backend.storage, WriteBatch{9, {}, {}, {}, {}});
  BOOST_TEST(require_load(*backend.storage).last_index == 9u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(transitions_are_filtered_and_oldest_first, Backend, Backends) {
  Backend backend;
  const std::string a = service_id(1);
  const std::string b = service_id(2);
  // Written out of time order, across batches.
  WriteBatch first;
  first.transitions = {{a, kT0 + 30s, true}, {b, kT0 + 5s, false}, {a, kT0 + 10s, false}};
  require_written(*backend.storage, first);
  WriteBatch second;
  second.transitions = {{a, kT0 + 20s, true}, {a, kT0 + 1s, true}, {b, kT0 + 40s, true}};
  require_written(*backend.storage, second);

  auto of_a = backend.storage->health_transitions(a, kT0 + 10s);
  BOOST_REQUIRE(of_a);
  std::vector<HealthTransition> expected_a = {
      {a, kT0 + 10s, false}, {a, kT0 + 20s, true}, {a, kT0 + 30s, true}};
  BOOST_TEST((*of_a == expected_a));

  auto none = backend.storage->health_transitions("no-such-service", TimePoint{});
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());

  LoadedState state = require_load(*backend.storage, kT0 + 10s);
  std::vector<HealthTransition> expected_all = {{a, kT0 + 10s, false},
                                                {a, kT0 + 20s, true},
                                                {a, kT0 + 30s, true},
                                                {b, kT0 + 40s, true}};
  BOOST_TEST((state.transitions == expected_all));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(audit_since_and_limit, Backend, Backends) {
  Backend backend;
  std::vector<AuditEntry> entries;
  for (int i = 0; i < 10; ++i) {
    entries.push_back(audit_entry(kT0 + std::chrono::seconds{i}, "register", service_id(i)));
  }
  WriteBatch first;
  first.audit.assign(entries.begin(), entries.begin() + 5);
  require_written(*backend.storage, first);
  WriteBatch second;
  second.audit.assign(entries.begin() + 5, entries.end());
  require_written(*backend.storage, second);

  auto all = backend.storage->audit_entries(TimePoint{}, 100);
  BOOST_REQUIRE(all);
  BOOST_TEST((*all == entries));

  auto some = backend.storage->audit_entries(kT0 + 4s, 3);
  BOOST_REQUIRE(some);
  std::vector<AuditEntry> expected(entries.begin() + 4, entries.begin() + 7);
  BOOST_TEST((*some == expected));

  auto none = backend.storage->audit_entries(kT0 + 1h, 100);
  BOOST_REQUIRE(none);
  BOOST_TEST(none->empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(prune_drops_older_history_only, Backend, Backends) {
  Backend backend;
  const std::string a = service_id(1);
  WriteBatch batch;
  batch.upserts = {full_record(1)};
  batch.transitions = {{a, kT0, false}, {a, kT0 + 10s, true}, {a, kT0 + 20s, false}};
  batch.audit = {audit_entry(kT0, "register", a), audit_entry(kT0 + 10s, "update", a),
                 audit_entry(kT0 + 20s, "status", a)};
  require_written(*backend.storage, batch);

  BOOST_REQUIRE(backend.storage->prune(kT0 + 10s, kT0 + 20s));

  auto transitions = backend.storage->health_transitions(a, TimePoint{});
  BOOST_REQUIRE(transitions);
  std::vector<HealthTransition> expected = {{a, kT0 + 10s, true}, {a, kT0 + 20s, false}};
  BOOST_TEST((*transitions == expected));
  auto audit = backend.storage->audit_entries(TimePoint{}, 100);
  BOOST_REQUIRE(audit);
  BOOST_REQUIRE_EQUAL(audit->size(), 1u);
  BOOST_TEST(audit->front().action == "status");
  BOOST_TEST(require_load(*backend.storage).records.size() == 1u);  // records are untouched
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_conflicting_batch_stores_nothing, Backend, Backends) {
  Backend backend;
  require_written(*backend.storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});

  // Same (company, instance) as record 1 under another serviceId, together
  // with parts that would succeed on their own.
  ServiceRecord clash = full_record(1);
  clash.service_id = service_id(2);
  WriteBatch bad;
  bad.index = 50;
  bad.upserts = {full_record(3), clash};
  bad.removals = {};
  bad.transitions = {{service_id(3), kT0, true}};
  bad.audit = {audit_entry(kT0, "register", service_id(3))};
  auto written = backend.storage->write(bad);
  BOOST_REQUIRE(!written);
  BOOST_TEST(written.error().code == ErrorCode::conflict);
  BOOST_TEST(written.error().message.find(clash.instance_id) != std::string::npos,
             written.error().message);

  LoadedState state = require_load(*backend.storage);
  BOOST_TEST(state.last_index == 1u);
  BOOST_REQUIRE_EQUAL(state.records.size(), 1u);
  BOOST_TEST((*state.records[0] == full_record(1)));
  BOOST_TEST(state.transitions.empty());
  auto audit = backend.storage->audit_entries(TimePoint{}, 100);
  BOOST_REQUIRE(audit);
  BOOST_TEST(audit->empty());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_failing_batch_does_not_fail_its_group, Backend, Backends) {
  Backend backend;
  require_written(*backend.storage, WriteBatch{1, {full_record(0)}, {}, {}, {}});

  std::vector<WriteBatch> batches;
  for (int n = 1; n <= 8; ++n) {
    WriteBatch good;
    good.index = static_cast<std::uint64_t>(n) + 1;
    good.upserts = {full_record(n)};
    good.audit = {audit_entry(kT0, "register", service_id(n))};
    batches.push_back(good);
  }
  ServiceRecord clash = full_record(0);
  clash.service_id = service_id(100);
  WriteBatch bad;
  bad.index = 100;
  bad.upserts = {full_record(101), clash};
  bad.audit = {audit_entry(kT0, "register", service_id(100))};
  batches.insert(batches.begin() + 4, bad);

  auto [results, commits] = write_in_one_group(*backend.storage, batches);
  for (std::size_t i = 0; i < batches.size(); ++i) {
    if (i == 4) {
      BOOST_TEST(!results[i]);
      if (!results[i]) BOOST_TEST(results[i].error().code == ErrorCode::conflict);
    } else {
      BOOST_TEST(static_cast<bool>(results[i]), "batch " << i);
    }
  }
  if (detail::sqlite_storage_stats(*backend.storage)) {
    BOOST_TEST(commits == 1u);  // the eight good batches shared one commit
  }

  LoadedState state = require_load(*backend.storage);
  BOOST_TEST(state.last_index == 9u);
  BOOST_TEST(state.records.size() == 9u);
  for (const auto& record : state.records) {
    BOOST_TEST(record->service_id != service_id(101));
    BOOST_TEST(record->service_id != service_id(100));
  }
  auto audit = backend.storage->audit_entries(TimePoint{}, 100);
  BOOST_REQUIRE(audit);
  BOOST_TEST(audit->size() == 8u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(a_batch_may_hand_an_instance_to_another_service, Backend,
                              Backends) {
  Backend backend;
  require_written(*backend.storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});
  ServiceRecord successor = full_record(1);
  successor.service_id = service_id(2);
  WriteBatch batch;
  batch.index = 2;
  batch.removals = {service_id(1)};
  batch.upserts = {successor};
  require_written(*backend.storage, batch);
  LoadedState state = require_load(*backend.storage);
  BOOST_REQUIRE_EQUAL(state.records.size(), 1u);
  BOOST_TEST((*state.records[0] == successor));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(concurrent_writers_all_land, Backend, Backends) {
  Backend backend;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int n = t * kPerThread + i;
        WriteBatch batch;
        batch.index = static_cast<std::uint64_t>(n) + 1;
        batch.upserts = {full_record(n)};
        batch.transitions = {{service_id(n), kT0 + std::chrono::seconds{n}, true}};
        if (!backend.storage->write(batch)) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failures.load() == 0);
  LoadedState state = require_load(*backend.storage);
  BOOST_TEST(state.records.size() == static_cast<std::size_t>(kThreads * kPerThread));
  BOOST_TEST(state.last_index == static_cast<std::uint64_t>(kThreads * kPerThread));
  BOOST_TEST(state.transitions.size() == static_cast<std::size_t>(kThreads * kPerThread));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// SQLite only

BOOST_AUTO_TEST_SUITE(sqlite)

BOOST_AUTO_TEST_CASE(describe_names_the_file) {
  TempDir dir;
  auto storage = require_sqlite(dir.path() / "discovery.db");
  BOOST_TEST(storage->describe() == "sqlite:" + (dir.path() / "discovery.db").string());
  BOOST_TEST(make_memory_storage()->describe() == "memory");
}

BOOST_AUTO_TEST_CASE(everything_survives_close_and_reopen) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  std::vector<ServiceRecord> records;
  std::vector<HealthTransition> transitions;
  std::vector<AuditEntry> audit;
  {
    auto storage = require_sqlite(path);
    for (int n = 0; n < 50; ++n) {
      WriteBatch batch;
      batch.index = static_cast<std::uint64_t>(n) * 2 + 1;
      batch.upserts = {full_record(n)};
      batch.transitions = {{service_id(n), kT0 + std::chrono::seconds{n}, n % 2 == 0}};
      batch.audit = {audit_entry(kT0 + std::chrono::seconds{n}, "register", service_id(n))};
      require_written(*storage, batch);
      records.push_back(batch.upserts[0]);
      transitions.push_back(batch.transitions[0]);
      audit.push_back(batch.audit[0]);
    }
    require_written(*storage, WriteBatch{0, {}, {service_id(7)}, {}, {}});
    records.erase(records.begin() + 7);
    transitions.erase(transitions.begin() + 7);
  }
  auto storage = require_sqlite(path);
  LoadedState state = require_load(*storage);
  BOOST_TEST(state.last_index == 99u);
  BOOST_TEST((sorted(state.records) == sorted(records)));
  BOOST_TEST((state.transitions == transitions));
  auto of_three = storage->health_transitions(service_id(3), TimePoint{});
  BOOST_REQUIRE(of_three);
  BOOST_TEST((*of_three == std::vector<HealthTransition>{transitions[3]}));
  auto stored_audit = storage->audit_entries(TimePoint{}, 1000);
  BOOST_REQUIRE(stored_audit);
  BOOST_TEST((*stored_audit == audit));
}

BOOST_AUTO_TEST_CASE(group_commit_shares_commits_between_writers) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  constexpr int kThreads = 16;
  constexpr int kPerThread = 100;
  constexpr int kWrites = kThreads * kPerThread;
  {
    auto storage = require_sqlite(path);  // sync = true: an fsync per commit
    const auto before = *detail::sqlite_storage_stats(*storage);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    const auto start = std::chrono::steady_clock::now();
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int n = t * kPerThread + i;
          WriteBatch batch;
          batch.index = static_cast<std::uint64_t>(n) + 1;
          batch.upserts = {full_record(n)};
          batch.audit = {audit_entry(kT0, "register", service_id(n))};
          if (!storage->write(batch)) ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto after = *detail::sqlite_storage_stats(*storage);
    const auto commits = after.commits - before.commits;
    BOOST_TEST_MESSAGE(kWrites << " writes from " << kThreads << " threads in " << seconds
                               << " s (" << kWrites / seconds << " writes/s), " << commits
                               << " commits");
    BOOST_TEST(failures.load() == 0);
    BOOST_TEST(after.batches - before.batches == static_cast<std::uint64_t>(kWrites));
    BOOST_TEST(commits * 4 <= static_cast<std::uint64_t>(kWrites));
    BOOST_TEST(require_load(*storage).records.size() == static_cast<std::size_t>(kWrites));
  }
  BOOST_TEST(query_text(path, "PRAGMA integrity_check") == "ok");
  BOOST_TEST(query_text(path, "SELECT count(*) FROM services") == std::to_string(kWrites));
}

BOOST_AUTO_TEST_CASE(a_second_open_is_refused) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  auto storage = require_sqlite(path);
  auto second = open_sqlite_storage(path);
  BOOST_REQUIRE(!second);
  BOOST_TEST(second.error().code == ErrorCode::unavailable);
  BOOST_TEST(second.error().message.find("in use by another process") != std::string::npos,
             second.error().message);
  BOOST_TEST(second.error().message.find(path.string() + ".lock") != std::string::npos);
  // The refused open must not have disturbed the first.
  require_written(*storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});
  storage.reset();
  auto reopened = require_sqlite(path);  // free again once closed
  BOOST_TEST(require_load(*reopened).records.size() == 1u);
}

BOOST_AUTO_TEST_CASE(files_are_private) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  auto storage = require_sqlite(path);
  require_written(*storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});
  BOOST_TEST(file_mode(path) == 0600u);
  BOOST_TEST(file_mode(path.string() + ".lock") == 0600u);
  BOOST_TEST(file_mode(path.string() + "-wal") == 0600u);
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_database_is_internal) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  {
    std::ofstream garbage(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) garbage << "this is not a database, just some text. ";
  }
  auto opened = open_sqlite_storage(path);
  BOOST_REQUIRE(!opened);
  BOOST_TEST(opened.error().code == ErrorCode::internal);
  BOOST_TEST(opened.error().message.find("not a database") != std::string::npos,
             opened.error().message);
  BOOST_TEST(opened.error().message.find(path.string()) != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_not_created) {
  TempDir dir;
  const auto missing = dir.path() / "no-such-dir";
  auto opened = open_sqlite_storage(missing / "discovery.db");
  BOOST_REQUIRE(!opened);
  BOOST_TEST(opened.error().code == ErrorCode::unavailable);
  BOOST_TEST(opened.error().message.find(missing.string()) != std::string::npos,
             opened.error().message);
  BOOST_TEST(!std::filesystem::exists(missing));
}

BOOST_AUTO_TEST_CASE(a_read_only_directory_is_unavailable) {
  if (::geteuid() == 0) {
    BOOST_TEST_MESSAGE("skipped: root ignores directory permissions");
    return;
  }
  TempDir dir;
  const auto read_only = dir.path() / "read-only";
  std::filesystem::create_directory(read_only);
  std::filesystem::permissions(read_only, std::filesystem::perms::owner_read |
                                              std::filesystem::perms::owner_exec);
  auto opened = open_sqlite_storage(read_only / "discovery.db");
  std::filesystem::permissions(read_only, std::filesystem::perms::owner_all);
  BOOST_REQUIRE(!opened);
  BOOST_TEST(opened.error().code == ErrorCode::unavailable);
  BOOST_TEST(opened.error().message.find("Permission denied") != std::string::npos,
             opened.error().message);
}

BOOST_AUTO_TEST_CASE(the_schema_version_is_recorded) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  require_sqlite(path).reset();
  BOOST_TEST(query_text(path, "SELECT version FROM schema_version") ==
             std::to_string(kSqliteSchemaVersion));
  BOOST_TEST(query_text(path, "SELECT count(*) FROM schema_version") == "1");
  BOOST_TEST(query_text(path, "PRAGMA journal_mode") == "wal");
  // Reopening an up-to-date database changes nothing.
  require_sqlite(path).reset();
  BOOST_TEST(query_text(path, "SELECT version FROM schema_version") ==
             std::to_string(kSqliteSchemaVersion));
}

BOOST_AUTO_TEST_CASE(a_newer_schema_is_refused) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  require_sqlite(path).reset();
  const int newer = kSqliteSchemaVersion + 1;
  query_text(path, "UPDATE schema_version SET version = " + std::to_string(newer),
             SQLITE_OPEN_READWRITE);
  BOOST_REQUIRE(query_text(path, "SELECT version FROM schema_version") == std::to_string(newer));
  auto opened = open_sqlite_storage(path);
  BOOST_REQUIRE(!opened);
  BOOST_TEST((opened.error().code == ErrorCode::unavailable ||
              opened.error().code == ErrorCode::internal));
  const std::string& message = opened.error().message;
  BOOST_TEST(message.find("version " + std::to_string(newer)) != std::string::npos, message);
  BOOST_TEST(message.find("(" + std::to_string(kSqliteSchemaVersion) + ")") != std::string::npos,
             message);
  // Refusing it left it alone.
  BOOST_TEST(query_text(path, "SELECT version FROM schema_version") == std::to_string(newer));
}

BOOST_AUTO_TEST_CASE(a_full_disk_fails_the_batch_and_the_store_recovers) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  auto storage = require_sqlite(path);
  require_written(*storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});

  // Cap the database at its current size: any batch that needs a new page
  // finds the "disk" full.
  auto capped = detail::run_on_sqlite_writer(*storage, [](sqlite3* db) -> Result<void> {
    sqlite3_exec(db, "PRAGMA max_page_count = 1", nullptr, nullptr, nullptr);
    return {};
  });
  BOOST_REQUIRE(capped);
  ServiceRecord big = full_record(2);
  big.metadata["blob"] = std::string(200000, 'x');
  auto written = storage->write(WriteBatch{2, {big}, {}, {}, {}});
  BOOST_REQUIRE(!written);
  BOOST_TEST(written.error().code == ErrorCode::unavailable);
  BOOST_TEST(written.error().message.find("disk full") != std::string::npos,
             written.error().message);
  BOOST_TEST_MESSAGE("full disk: " << written.error());

  auto uncapped = detail::run_on_sqlite_writer(*storage, [](sqlite3* db) -> Result<void> {
    sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", nullptr, nullptr, nullptr);
    return {};
  });
  BOOST_REQUIRE(uncapped);
  LoadedState state = require_load(*storage);
  BOOST_TEST(state.records.size() == 1u);
  BOOST_TEST(state.last_index == 1u);
  require_written(*storage, WriteBatch{3, {big}, {}, {}, {}});
  BOOST_TEST(require_load(*storage).records.size() == 2u);
}

// A commit that cannot be written fails every batch of its group, and none
// of them is stored. The file size limit makes the WAL append fail the way a
// full disk does, without needing a small filesystem.
BOOST_AUTO_TEST_CASE(a_failed_commit_fails_the_whole_group) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  auto storage = require_sqlite(path);
  require_written(*storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});

  std::vector<WriteBatch> batches;
  for (int n = 2; n < 6; ++n) batches.push_back(WriteBatch{static_cast<std::uint64_t>(n),
                                                           {full_record(n)}, {}, {}, {}});
  ServiceRecord big = full_record(6);
  big.metadata["blob"] = std::string(400000, 'x');
  batches.push_back(WriteBatch{6, {big}, {}, {}, {}});

  const auto wal = std::filesystem::path(path.string() + "-wal");
  const auto limit = std::max(std::filesystem::file_size(path), std::filesystem::file_size(wal)) +
                     64 * 1024;
  rlimit saved{};
  ::getrlimit(RLIMIT_FSIZE, &saved);
  auto previous_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit capped = saved;
  capped.rlim_cur = static_cast<rlim_t>(limit);
  ::setrlimit(RLIMIT_FSIZE, &capped);
  auto [results, commits] = write_in_one_group(*storage, batches);
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous_handler);

  BOOST_TEST(commits == 0u);
  if (!results.front()) BOOST_TEST_MESSAGE("failed commit: " << results.front().error());
  for (std::size_t i = 0; i < results.size(); ++i) {
    BOOST_TEST_CONTEXT("batch " << i) {
      BOOST_REQUIRE(!results[i]);
      BOOST_TEST(results[i].error().code == ErrorCode::unavailable);
      BOOST_TEST(results[i].error().message.find("sqlite: ") != std::string::npos,
                 results[i].error().message);
    }
  }
  LoadedState state = require_load(*storage);
  BOOST_TEST(state.records.size() == 1u);
  BOOST_TEST(state.last_index == 1u);

  // With room again the store carries on, and a reopen sees the same.
  require_written(*storage, batches.front());
  storage.reset();
  BOOST_TEST(query_text(path, "PRAGMA integrity_check") == "ok");
  storage = require_sqlite(path);
  state = require_load(*storage);
  BOOST_TEST(state.records.size() == 2u);
  BOOST_TEST(state.last_index == 2u);
}

// Small groups and sync off change performance, not what is stored.
BOOST_AUTO_TEST_CASE(small_groups_without_sync_store_everything) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  {
    auto storage = require_sqlite(path, SqliteOptions{5000ms, 4, false});
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        // Boost.Test assertions are not thread-safe: count, check later.
        if (!storage->write(WriteBatch{static_cast<std::uint64_t>(t) + 1,
                                       {full_record(t)}, {}, {}, {}})) {
          ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    BOOST_TEST(failures.load() == 0);
  }
  auto storage = require_sqlite(path);
  BOOST_TEST(require_load(*storage).records.size() == 8u);
}

// write_async(): the writer thread answers each batch after its group's
// commit, in the order the batches were queued, without a waiting thread.
BOOST_AUTO_TEST_CASE(write_async_answers_in_queue_order_after_the_commit) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  constexpr int kWrites = 50;
  {
    auto storage = require_sqlite(path);
    BOOST_TEST(storage->writes_asynchronously());
    const auto before = *detail::sqlite_storage_stats(*storage);
    // Hold the writer thread so that every batch lands in one group.
    std::promise<void> held;
    std::promise<void> release;
    std::thread holder([&] {
      auto go = release.get_future();
      (void)detail::run_on_sqlite_writer(*storage, [&](sqlite3*) -> Result<void> {
        held.set_value();
        go.wait();
        return {};
      });
    });
    held.get_future().wait();
    std::mutex mutex;
    std::vector<int> answered;
    std::vector<bool> ok;
    std::promise<void> all_answered;
    const auto caller = std::this_thread::get_id();
    std::atomic<bool> on_caller_thread{false};
    for (int n = 0; n < kWrites; ++n) {
      WriteBatch batch;
      batch.index = static_cast<std::uint64_t>(n) + 1;
      batch.upserts = {full_record(n)};
      storage->write_async(std::move(batch), [&, n](Result<void> written) {
        if (std::this_thread::get_id() == caller) on_caller_thread = true;
        std::lock_guard lock(mutex);
        answered.push_back(n);
        ok.push_back(static_cast<bool>(written));
        if (answered.size() == kWrites) all_answered.set_value();
      });
    }
    {
      std::lock_guard lock(mutex);
      BOOST_TEST(answered.empty());  // nothing is answered before its commit
    }
    release.set_value();
    holder.join();
    all_answered.get_future().wait();
    std::vector<int> expected(kWrites);
    std::iota(expected.begin(), expected.end(), 0);
    BOOST_TEST(answered == expected);
    BOOST_TEST(std::all_of(ok.begin(), ok.end(), [](bool b) { return b; }));
    BOOST_TEST(!on_caller_thread.load());
    const auto after = *detail::sqlite_storage_stats(*storage);
    BOOST_TEST(after.commits - before.commits == 1u);
    BOOST_TEST(after.batches - before.batches == static_cast<std::uint64_t>(kWrites));
  }
  auto storage = require_sqlite(path);
  LoadedState state = require_load(*storage);
  BOOST_TEST(state.records.size() == static_cast<std::size_t>(kWrites));
  BOOST_TEST(state.last_index == static_cast<std::uint64_t>(kWrites));
}

BOOST_AUTO_TEST_CASE(a_failing_async_batch_is_answered_with_its_error_and_stores_nothing) {
  TempDir dir;
  auto storage = require_sqlite(dir.path() / "discovery.db");
  require_written(*storage, WriteBatch{1, {full_record(1)}, {}, {}, {}});
  // Another serviceId with the same (company, instance): a conflict.
  ServiceRecord clash = full_record(1);
  clash.service_id = service_id(2);
  std::promise<Result<void>> answer;
  storage->write_async(WriteBatch{2, {clash}, {}, {}, {}},
                       [&](Result<void> written) { answer.set_value(std::move(written)); });
  auto written = answer.get_future().get();
  BOOST_REQUIRE(written.has_error());
  BOOST_TEST((written.error().code == ErrorCode::conflict));
  LoadedState state = require_load(*storage);
  BOOST_TEST(state.records.size() == 1u);
  BOOST_TEST(state.last_index == 1u);
}

BOOST_AUTO_TEST_CASE(a_write_async_callback_may_queue_the_next_write) {
  TempDir dir;
  auto storage = require_sqlite(dir.path() / "discovery.db");
  std::promise<int> done;
  std::function<void(int)> chain = [&](int n) {
    storage->write_async(WriteBatch{static_cast<std::uint64_t>(n) + 1, {full_record(n)}, {}, {}, {}},
                         [&, n](Result<void> written) {
                           if (!written || n == 9) return done.set_value(written ? n : -1);
                           chain(n + 1);
                         });
  };
  chain(0);
  BOOST_TEST(done.get_future().get() == 9);
  BOOST_TEST(require_load(*storage).records.size() == 10u);
}

BOOST_AUTO_TEST_CASE(closing_answers_every_pending_async_write) {
  TempDir dir;
  const auto path = dir.path() / "discovery.db";
  constexpr int kWrites = 200;
  std::atomic<int> answered{0};
  std::atomic<int> succeeded{0};
  {
    auto storage = require_sqlite(path);
    for (int n = 0; n < kWrites; ++n) {
      storage->write_async(WriteBatch{static_cast<std::uint64_t>(n) + 1, {full_record(n)}, {}, {}, {}},
                           [&](Result<void> written) {
                             ++answered;
                             if (written) ++succeeded;
                           });
    }
  }  // the destructor drains the queue: every batch is committed and answered
  BOOST_TEST(answered.load() == kWrites);
  BOOST_TEST(succeeded.load() == kWrites);
  auto storage = require_sqlite(path);
  BOOST_TEST(require_load(*storage).records.size() == static_cast<std::size_t>(kWrites));
}

BOOST_AUTO_TEST_CASE(memory_storage_answers_write_async_on_the_calling_thread) {
  auto storage = make_memory_storage();
  BOOST_TEST(!storage->writes_asynchronously());
  bool answered = false;
  storage->write_async(WriteBatch{1, {full_record(1)}, {}, {}, {}}, [&](Result<void> written) {
    BOOST_TEST(static_cast<bool>(written));
    answered = true;
  });
  BOOST_TEST(answered);
  BOOST_TEST(require_load(*storage).records.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace discovery
