// Internals of the SQLite Storage that tests and diagnostics reach for: the
// group-commit counters and a way to run code on the writer's connection.
// Not part of the public API.
#pragma once

#include <discovery/error.hpp>
#include <discovery/storage.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

struct sqlite3;

namespace discovery::detail {

struct SqliteStorageStats {
  std::uint64_t commits = 0;         // transactions committed by the writer thread
  std::uint64_t batches = 0;         // write() calls that succeeded
  std::uint64_t failed_batches = 0;  // write() calls that returned an error
  std::size_t queued = 0;            // requests waiting for the writer thread right now
};

// The counters of a storage made by open_sqlite_storage(); std::nullopt for
// any other Storage. Thread-safe.
std::optional<SqliteStorageStats> sqlite_storage_stats(const Storage& storage);

// Runs `task` on the writer thread with the write connection, between two
// group commits, and returns its result. For tests that need to bend the
// connection (e.g. PRAGMA max_page_count to make the disk look full).
// `storage` must come from open_sqlite_storage(); otherwise `internal`.
Result<void> run_on_sqlite_writer(Storage& storage, std::function<Result<void>(sqlite3*)> task);

}  // namespace discovery::detail
