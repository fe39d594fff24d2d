// Storage: the seam for persistence (as leveldb's Env is for the OS).
//
// The registry keeps every record in memory and writes each change through a
// Storage before acknowledging it. Implementations: memory (tests, fixtures),
// SQLite (the default; WAL, group commit), and StorageWrapper, a forwarding
// base that tests subclass to make writes fail or stall.
#pragma once

#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/service_record.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace discovery {

// A change of a service's check outcome (passing <-> failing). Uptime is the
// share of checked time spent passing, computed from these.
struct HealthTransition {
  std::string service_id;
  TimePoint at{};
  bool passing = false;
  friend bool operator==(const HealthTransition&, const HealthTransition&) = default;
};

// One mutating request, for the audit log.
struct AuditEntry {
  TimePoint at{};
  std::string request_id;
  std::string subject;
  std::string sao;
  std::string company;
  std::string action;      // "register", "update", "status", "deregister", ...
  std::string service_id;
  std::string result;      // "ok" or an error code
  friend bool operator==(const AuditEntry&, const AuditEntry&) = default;
};

// Everything one registry change writes, applied atomically: all of it is
// durable when write() returns success, none of it when it returns an error.
struct WriteBatch {
  // The registry change index this batch carries; the store remembers the
  // highest it has seen. 0 for writes that change no index (routine health).
  std::uint64_t index = 0;
  std::vector<ServiceRecord> upserts;     // insert or replace by serviceId
  std::vector<std::string> removals;      // serviceIds
  std::vector<HealthTransition> transitions;
  std::vector<AuditEntry> audit;
};

struct LoadedState {
  // Shared from the start: a million records are loaded once, not copied.
  std::vector<RecordPtr> records;
  std::uint64_t last_index = 0;
  std::vector<HealthTransition> transitions;  // at or after the `since` given to load()
};

// Thread safety: load() must not run concurrently with any other call; every
// other method may be called from many threads at once.
class Storage {
 public:
  virtual ~Storage() = default;

  // Every stored record, the highest index written, and the transitions at or
  // after `transitions_since` (oldest first). Called once, at start.
  virtual Result<LoadedState> load(TimePoint transitions_since) = 0;

  // Applies the batch atomically and returns once it is durable (for SQLite:
  // committed and fsynced). Concurrent callers may share one commit. On an
  // error nothing of the batch is stored.
  virtual Result<void> write(const WriteBatch& batch) = 0;

  // Called once with the outcome of write_async(). It may run on the
  // storage's own writer thread, so it must be quick, must not throw, and
  // must not call write() (which would wait for that very thread).
  using WriteCallback = std::function<void(Result<void>)>;

  // The same as write(), without waiting: `done` gets what write() would have
  // returned once the batch is durable (or has failed). Callbacks of batches
  // that share a commit run one after the other in the order the batches were
  // given. If write_async() throws, `done` is not called and nothing is
  // stored. The default calls write() and then `done`, on the calling thread.
  virtual void write_async(WriteBatch batch, WriteCallback done) { done(write(batch)); }

  // Whether write_async() returns before the batch is durable (true for
  // SQLite). When false, it blocks like write(), and a server should not call
  // it on a thread that must not wait.
  virtual bool writes_asynchronously() const { return false; }

  // Transitions of one service at or after `since`, oldest first.
  virtual Result<std::vector<HealthTransition>> health_transitions(std::string_view service_id,
                                                                   TimePoint since) = 0;

  // Audit entries at or after `since`, oldest first, at most `limit`.
  virtual Result<std::vector<AuditEntry>> audit_entries(TimePoint since, std::size_t limit) = 0;

  // Drops transitions and audit entries older than the given times.
  virtual Result<void> prune(TimePoint transitions_before, TimePoint audit_before) = 0;

  // "sqlite:/path/to/discovery.db", "memory": for logs and errors.
  virtual std::string describe() const = 0;
};

// Keeps everything in memory; nothing survives the process. Thread-safe.
std::unique_ptr<Storage> make_memory_storage();

struct SqliteOptions {
  // How long a statement waits on a lock held by another connection before
  // failing with `unavailable` ("database is locked"). Default 5 s.
  std::chrono::milliseconds busy_timeout{5000};
  // Most batches one commit carries; concurrent writers beyond this wait for
  // the next commit. Default 1024.
  std::size_t max_group_size = 1024;
  // fsync on every commit (PRAGMA synchronous=FULL). Turning it off trades
  // durability on power loss for speed; a process crash still loses nothing.
  bool sync = true;
};

// Opens (creating if missing) the SQLite database at `path`, applies forward
// schema migrations, and takes an exclusive lock on it for this process: a
// second open of the same file, in this process or another, fails with
// `unavailable`. A file that is not a database fails with `internal`.
Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::filesystem::path& path,
                                                     const SqliteOptions& options = {});

// The schema version this build writes; older databases are migrated forward
// on open, newer ones are refused.
inline constexpr int kSqliteSchemaVersion = 1;

// Forwards every call to another Storage. Subclass it and override what a
// test needs to break. Thread safety is the wrapped storage's.
class StorageWrapper : public Storage {
 public:
  explicit StorageWrapper(Storage& target) : target_(target) {}
  Result<LoadedState> load(TimePoint since) override { return target_.load(since); }
  Result<void> write(const WriteBatch& batch) override { return target_.write(batch); }
  // write_async() is deliberately not forwarded: the default calls write(),
  // so a subclass that overrides write() to fail or stall covers both.
  Result<std::vector<HealthTransition>> health_transitions(std::string_view id,
                                                           TimePoint since) override {
    return target_.health_transitions(id, since);
  }
  Result<std::vector<AuditEntry>> audit_entries(TimePoint since, std::size_t limit) override {
    return target_.audit_entries(since, limit);
  }
  Result<void> prune(TimePoint transitions_before, TimePoint audit_before) override {
    return target_.prune(transitions_before, audit_before);
  }
  std::string describe() const override { return target_.describe(); }

 protected:
  Storage& target() { return target_; }

 private:
  Storage& target_;
};

}  // namespace discovery
