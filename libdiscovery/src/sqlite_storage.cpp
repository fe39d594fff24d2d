// The SQLite Storage: WAL, one writer thread doing group commit, one read
// connection, forward schema migrations, and an exclusive lock file.
//
// Why a writer thread: SQLite admits one writer at a time, and with
// synchronous=FULL every commit costs an fsync. Funnelling every write() into
// one thread that commits whatever has queued up meanwhile turns N concurrent
// fsyncs into one, while each caller still returns only once its own batch is
// durable. Each batch runs in its own SAVEPOINT so a batch that fails (say, a
// (company, instance) conflict) is undone alone and the rest of its group
// still commits.

#include "sqlite_storage_internal.hpp"

#include <discovery/record_json.hpp>
#include <discovery/storage.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <memory>
#include <exception>
#include <functional>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace discovery {
namespace {

// ---------------------------------------------------------------------------
// Error mapping

// The symbolic name of a result code, so that messages say which failure it
// was ("SQLITE_IOERR_FSYNC"), not just SQLite's English text.
std::string code_name(int rc) {
  switch (rc) {
    case SQLITE_IOERR_READ: return "SQLITE_IOERR_READ";
    case SQLITE_IOERR_SHORT_READ: return "SQLITE_IOERR_SHORT_READ";
    case SQLITE_IOERR_WRITE: return "SQLITE_IOERR_WRITE";
    case SQLITE_IOERR_FSYNC: return "SQLITE_IOERR_FSYNC";
    case SQLITE_IOERR_TRUNCATE: return "SQLITE_IOERR_TRUNCATE";
    case SQLITE_IOERR_LOCK: return "SQLITE_IOERR_LOCK";
    case SQLITE_IOERR_SHMOPEN: return "SQLITE_IOERR_SHMOPEN";
    case SQLITE_IOERR_SHMSIZE: return "SQLITE_IOERR_SHMSIZE";
    case SQLITE_CONSTRAINT_UNIQUE: return "SQLITE_CONSTRAINT_UNIQUE";
    case SQLITE_CONSTRAINT_PRIMARYKEY: return "SQLITE_CONSTRAINT_PRIMARYKEY";
    case SQLITE_CONSTRAINT_NOTNULL: return "SQLITE_CONSTRAINT_NOTNULL";
    case SQLITE_BUSY_SNAPSHOT: return "SQLITE_BUSY_SNAPSHOT";
    case SQLITE_READONLY_DBMOVED: return "SQLITE_READONLY_DBMOVED";
    case SQLITE_CANTOPEN_ISDIR: return "SQLITE_CANTOPEN_ISDIR";
    default: break;
  }
  switch (rc & 0xff) {
    case SQLITE_ERROR: return "SQLITE_ERROR";
    case SQLITE_INTERNAL: return "SQLITE_INTERNAL";
    case SQLITE_PERM: return "SQLITE_PERM";
    case SQLITE_ABORT: return "SQLITE_ABORT";
    case SQLITE_BUSY: return "SQLITE_BUSY";
    case SQLITE_LOCKED: return "SQLITE_LOCKED";
    case SQLITE_NOMEM: return "SQLITE_NOMEM";
    case SQLITE_READONLY: return "SQLITE_READONLY";
    case SQLITE_INTERRUPT: return "SQLITE_INTERRUPT";
    case SQLITE_IOERR: return "SQLITE_IOERR";
    case SQLITE_CORRUPT: return "SQLITE_CORRUPT";
    case SQLITE_FULL: return "SQLITE_FULL";
    case SQLITE_CANTOPEN: return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL: return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA: return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG: return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT: return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH: return "SQLITE_MISMATCH";
    case SQLITE_MISUSE: return "SQLITE_MISUSE";
    case SQLITE_NOTADB: return "SQLITE_NOTADB";
    default: return "SQLite code " + std::to_string(rc);
  }
}

// A SQLite failure as an Error. Locks, full disks and I/O failures are
// `unavailable` (the store may work again later); a corrupt or foreign file is
// `internal`; a uniqueness violation is `conflict`. `context` names what was
// being done or which file, and prefixes the message when not empty.
Error sqlite_error(int rc, sqlite3* db, std::string_view context = {}) {
  std::string reason;
  ErrorCode code = ErrorCode::internal;
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = ErrorCode::unavailable;
      reason = "database is locked";
      break;
    case SQLITE_FULL:
      code = ErrorCode::unavailable;
      reason = "disk full";
      break;
    case SQLITE_IOERR:
      code = ErrorCode::unavailable;
      reason = "disk I/O error";
      break;
    case SQLITE_NOMEM:
      code = ErrorCode::unavailable;
      reason = "out of memory";
      break;
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      code = ErrorCode::unavailable;
      break;
    case SQLITE_CONSTRAINT:
      code = ErrorCode::conflict;
      break;
    default:  // NOTADB, CORRUPT, MISUSE, ERROR, ...: corruption or a bug
      code = ErrorCode::internal;
      break;
  }
  if (reason.empty()) {
    // The connection's message is more specific than the generic text for
    // the code ("UNIQUE constraint failed: services.company, ..."), but only
    // when it belongs to this failure.
    if (db != nullptr && sqlite3_extended_errcode(db) == rc) {
      reason = sqlite3_errmsg(db);
    } else {
      reason = sqlite3_errstr(rc);
    }
  }
  std::string message;
  if (!context.empty()) {
    message.append(context);
    message.append(": ");
  }
  message += "sqlite: " + reason + " (" + code_name(rc) + ")";
  return Error{code, std::move(message), {}};
}

std::string errno_text(int error) { return std::generic_category().message(error); }

// ---------------------------------------------------------------------------
// RAII wrappers

class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct ConnectionCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// A prepared statement, prepared once and reused for every call.
class Statement {
 public:
  Statement() = default;

  // `context` prefixes an error message (see sqlite_error).
  static Result<Statement> prepare(sqlite3* db, std::string_view sql, std::string_view context) {
    sqlite3_stmt* raw = nullptr;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    Statement statement;
    statement.stmt_.reset(raw);
    if (rc != SQLITE_OK) return sqlite_error(rc, db, context);
    return statement;
  }

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
};

// One execution of a cached statement. Resets it when done, which ends the
// read snapshot a SELECT holds (an open one would stall WAL checkpoints) and
// unbinds parameters that point at the caller's strings.
class Use {
 public:
  explicit Use(const Statement& statement) : stmt_(statement.get()) {}
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  ~Use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  // Text parameters are bound without a copy: they must outlive the Use.
  Use& bind(int index, std::string_view text) {
    bind_rc(sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                              SQLITE_STATIC));
    return *this;
  }
  Use& bind(int index, std::int64_t value) {
    bind_rc(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code.
  int step() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(stmt_);
  }
  // Runs a statement that returns no rows; SQLITE_OK when it completed.
  int run() {
    int rc = step();
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
  }

  std::int64_t column_int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string_view column_text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    if (text == nullptr) return {};
    return {reinterpret_cast<const char*>(text),
            static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
  }

 private:
  void bind_rc(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }
  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Runs one or more statements with no parameters and no results wanted.
int exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }

std::int64_t to_ms(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint from_ms(std::int64_t ms) { return TimePoint{Duration{ms}}; }

// ---------------------------------------------------------------------------
// Schema

// kMigrations[v] takes a database from schema version v to v + 1; each runs in
// its own transaction together with the version bump. Never edit a released
// step: append a new one and raise kSqliteSchemaVersion.
constexpr std::array<const char*, 1> kMigrations = {
    // v0 -> v1: the initial schema.
    R"sql(
      CREATE TABLE services (
        service_id   TEXT PRIMARY KEY,
        company      TEXT NOT NULL,
        instance_id  TEXT NOT NULL,
        modify_index INTEGER NOT NULL,
        record       TEXT NOT NULL,  -- to_json(record, JsonView::storage)
        UNIQUE (company, instance_id)
      );
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value INTEGER
      );
      INSERT INTO meta (key, value) VALUES ('last_index', 0);
      CREATE TABLE health_transitions (
        id         INTEGER PRIMARY KEY,
        service_id TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        passing    INTEGER NOT NULL
      );
      CREATE INDEX health_transitions_by_service ON health_transitions (service_id, at_ms);
      CREATE INDEX health_transitions_by_time ON health_transitions (at_ms);
      CREATE TABLE audit (
        id         INTEGER PRIMARY KEY,
        at_ms      INTEGER NOT NULL,
        request_id TEXT NOT NULL,
        subject    TEXT NOT NULL,
        sao        TEXT NOT NULL,
        company    TEXT NOT NULL,
        action     TEXT NOT NULL,
        service_id TEXT NOT NULL,
        result     TEXT NOT NULL
      );
      CREATE INDEX audit_by_time ON audit (at_ms);
    )sql",
};
static_assert(kMigrations.size() == kSqliteSchemaVersion,
              "one migration step per schema version");

// Brings the database to kSqliteSchemaVersion. `where` names the file.
Result<void> migrate(sqlite3* db, const std::string& where) {
  // The version row is created in its own transaction so that reading it
  // needs no special case for a brand-new file.
  int rc = exec(db,
                "BEGIN IMMEDIATE;"
                "CREATE TABLE IF NOT EXISTS schema_version ("
                "  id INTEGER PRIMARY KEY CHECK (id = 1),"
                "  version INTEGER NOT NULL);"
                "INSERT OR IGNORE INTO schema_version (id, version) VALUES (1, 0);"
                "COMMIT;");
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(rc, db, where);
    exec(db, "ROLLBACK");
    return error;
  }

  int version = 0;
  {
    auto statement =
        Statement::prepare(db, "SELECT version FROM schema_version WHERE id = 1", where);
    if (!statement) return statement.error();
    Use use(*statement);
    rc = use.step();
    if (rc != SQLITE_ROW) return sqlite_error(rc, db, where + ": reading the schema version");
    version = static_cast<int>(use.column_int(0));
  }
  if (version > kSqliteSchemaVersion) {
    return unavailable(where + ": database schema version " + std::to_string(version) +
                       " is newer than the version this build supports (" +
                       std::to_string(kSqliteSchemaVersion) + "); use a newer build");
  }
  if (version < 0) {
    return internal_error(where + ": invalid schema version " + std::to_string(version));
  }

  for (int from = version; from < kSqliteSchemaVersion; ++from) {
    std::string step = std::string("BEGIN IMMEDIATE;") + kMigrations[static_cast<std::size_t>(from)] +
                       "UPDATE schema_version SET version = " + std::to_string(from + 1) +
                       " WHERE id = 1; COMMIT;";
    rc = exec(db, step.c_str());
    if (rc != SQLITE_OK) {
      Error error = sqlite_error(rc, db,
                                 where + ": migrating the schema from version " +
                                     std::to_string(from) + " to " + std::to_string(from + 1));
      exec(db, "ROLLBACK");
      return error;
    }
  }
  return {};
}

// Opens a connection with the settings both connections share.
Result<Connection> open_connection(const std::string& path, const SqliteOptions& options) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
                           nullptr);
  Connection db(raw);
  if (rc != SQLITE_OK) return sqlite_error(rc, db.get(), path);
  sqlite3_extended_result_codes(db.get(), 1);
  auto timeout = std::clamp<std::chrono::milliseconds::rep>(
      options.busy_timeout.count(), 0, std::numeric_limits<int>::max());
  sqlite3_busy_timeout(db.get(), static_cast<int>(timeout));
  return db;
}

// ---------------------------------------------------------------------------
// The storage

// What write_async() hands to the writer thread: it owns its batch, and its
// callback is the answer. The writer thread frees it after the callback.
struct OwnedWrite {
  WriteBatch batch;
  std::vector<std::string> records_json;
  Storage::WriteCallback done;
};

// A write() call waiting for the writer thread (on the caller's stack), or a
// write_async() call (on the heap, owned by the queue until answered).
struct Request {
  // Either a batch (with its serialized records) or a task.
  const WriteBatch* batch = nullptr;
  const std::vector<std::string>* records_json = nullptr;  // batch->upserts, serialized
  const std::function<Result<void>(sqlite3*)>* task = nullptr;
  std::unique_ptr<OwnedWrite> owned;  // set for write_async(): answered by its callback

  Result<void> result;
  bool done = false;  // guarded by SqliteStorage::queue_mutex_
  // Each caller is woken alone: waking every waiter on each commit costs
  // more context switches than the commit itself with many writers.
  // (Unused by write_async() requests, which nobody waits for.)
  std::condition_variable done_cv;
};

// Thread safety: write(), prune(), health_transitions(), audit_entries() and
// describe() may be called from any number of threads; writes are executed by
// the writer thread, reads share one read connection under read_mutex_.
// load() must not run concurrently with other calls (Storage's contract).
class SqliteStorage final : public Storage {
 public:
  static Result<std::unique_ptr<SqliteStorage>> open(const std::filesystem::path& path,
                                                     const SqliteOptions& options);
  // Use open(): a storage is usable only once open() has set it up.
  SqliteStorage(std::string path, const SqliteOptions& options)
      : path_(std::move(path)), options_(options) {}
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  Result<LoadedState> load(TimePoint transitions_since) override;
  Result<void> write(const WriteBatch& batch) override;
  void write_async(WriteBatch batch, WriteCallback done) override;
  bool writes_asynchronously() const override { return true; }
  Result<std::vector<HealthTransition>> health_transitions(std::string_view service_id,
                                                           TimePoint since) override;
  Result<std::vector<AuditEntry>> audit_entries(TimePoint since, std::size_t limit) override;
  Result<void> prune(TimePoint transitions_before, TimePoint audit_before) override;
  std::string describe() const override { return "sqlite:" + path_; }

  detail::SqliteStorageStats stats() const {
    std::size_t queued = 0;
    {
      std::lock_guard lock(queue_mutex_);
      queued = queue_.size();
    }
    return {commits_.load(), batches_.load(), failed_batches_.load(), queued};
  }
  Result<void> run_on_writer(std::function<Result<void>(sqlite3*)> task);

 private:
  struct WriterStatements {
    Statement begin, commit, rollback, savepoint, release, rollback_to;
    Statement upsert_service, delete_service, delete_transitions_of, insert_transition,
        insert_audit, raise_last_index, prune_transitions, prune_audit;
  };
  struct ReaderStatements {
    Statement begin, commit, last_index, count_services, services, transitions_since,
        transitions_of, audit;
  };

  Result<void> prepare_statements();
  Result<void> enqueue_and_wait(Request& request);
  void writer_loop();
  void commit_group(const std::vector<Request*>& group);
  Result<void> apply(const Request& request);
  Result<void> run_prune(TimePoint transitions_before, TimePoint audit_before);
  Result<std::vector<RecordPtr>> load_records();

  const std::string path_;
  const SqliteOptions options_;

  // Members are destroyed in reverse order of declaration: statements are
  // finalized before their connection closes, the read connection closes
  // before the write connection (the last close checkpoints and removes the
  // WAL), and the lock is released only after both are closed.
  FileDescriptor lock_file_;
  Connection write_db_;     // used only by the writer thread (and open())
  WriterStatements writer_;
  Connection read_db_;      // guarded by read_mutex_
  ReaderStatements reader_;

  std::mutex read_mutex_;

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;  // the writer waits for work
  std::deque<Request*> queue_;        // guarded by queue_mutex_
  bool stopping_ = false;             // guarded by queue_mutex_
  std::thread writer_thread_;

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> failed_batches_{0};
};

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const std::filesystem::path& path,
                                                           const SqliteOptions& options) {
  const std::string db_path = path.string();
  if (db_path.empty()) return invalid_argument("path", "the database path is empty");

  // The daemon creates the data directory; creating it here would hide a
  // mistyped path behind a fresh, empty database.
  std::filesystem::path directory = path.parent_path();
  if (directory.empty()) directory = ".";
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec)) {
    if (ec && ec != std::errc::no_such_file_or_directory) {
      return unavailable("cannot open " + db_path + ": cannot access directory " +
                         directory.string() + ": " + ec.message());
    }
    return unavailable("cannot open " + db_path + ": directory " + directory.string() +
                       " does not exist");
  }

  auto storage = std::make_unique<SqliteStorage>(db_path, options);

  // The lock comes first so that nothing, not even a migration, touches a
  // database another process is using. flock() locks belong to the open file
  // description, so a second open in this same process is refused too.
  const std::string lock_path = db_path + ".lock";
  storage->lock_file_ =
      FileDescriptor(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (storage->lock_file_.get() < 0) {
    return unavailable("cannot open " + db_path + ": cannot create lock file " + lock_path +
                       ": " + errno_text(errno));
  }
  if (::flock(storage->lock_file_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return unavailable(db_path + " is in use by another process (lock file " + lock_path + ")");
    }
    return unavailable("cannot lock " + lock_path + ": " + errno_text(errno));
  }

  // SQLite would create the file 0644; the records hold configuration that
  // is nobody else's business. Its -wal and -shm files copy this mode.
  {
    FileDescriptor db_file(::open(db_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (db_file.get() < 0) {
      return unavailable("cannot open " + db_path + ": " + errno_text(errno));
    }
  }

  auto write_db = open_connection(db_path, options);
  if (!write_db) return write_db.error();
  storage->write_db_ = std::move(*write_db);
  sqlite3* db = storage->write_db_.get();

  // The first statement reads the header: a foreign file fails here.
  {
    auto journal = Statement::prepare(db, "PRAGMA journal_mode=WAL", db_path);
    if (!journal) return journal.error();
    Use use(*journal);
    int rc = use.step();
    if (rc != SQLITE_ROW) return sqlite_error(rc, db, db_path);
    if (use.column_text(0) != "wal") {
      return unavailable(db_path + ": cannot switch to WAL mode (journal mode is " +
                         std::string(use.column_text(0)) + ")");
    }
  }
  int rc = exec(db, options.sync ? "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
                                 : "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
  if (rc != SQLITE_OK) return sqlite_error(rc, db, db_path);

  if (auto migrated = migrate(db, db_path); !migrated) return migrated.error();

  auto read_db = open_connection(db_path, options);
  if (!read_db) return read_db.error();
  storage->read_db_ = std::move(*read_db);
  // The read connection never writes; saying so turns a stray write into an
  // error instead of a lock fight with the writer thread.
  rc = exec(storage->read_db_.get(), "PRAGMA query_only=ON");
  if (rc != SQLITE_OK) return sqlite_error(rc, storage->read_db_.get(), db_path);

  if (auto prepared = storage->prepare_statements(); !prepared) return prepared.error();

  storage->writer_thread_ = std::thread([raw = storage.get()] { raw->writer_loop(); });
  return storage;
}

Result<void> SqliteStorage::prepare_statements() {
  struct Entry {
    Statement* statement;
    sqlite3* db;
    const char* sql;
  };
  sqlite3* w = write_db_.get();
  sqlite3* r = read_db_.get();
  const Entry entries[] = {
      {&writer_.begin, w, "BEGIN IMMEDIATE"},
      {&writer_.commit, w, "COMMIT"},
      {&writer_.rollback, w, "ROLLBACK"},
      {&writer_.savepoint, w, "SAVEPOINT batch"},
      {&writer_.release, w, "RELEASE batch"},
      {&writer_.rollback_to, w, "ROLLBACK TO batch"},
      {&writer_.upsert_service, w,
       "INSERT INTO services (service_id, company, instance_id, modify_index, record) "
       "VALUES (?1, ?2, ?3, ?4, ?5) "
       "ON CONFLICT (service_id) DO UPDATE SET company = excluded.company, "
       "instance_id = excluded.instance_id, modify_index = excluded.modify_index, "
       "record = excluded.record"},
      {&writer_.delete_service, w, "DELETE FROM services WHERE service_id = ?1"},
      {&writer_.delete_transitions_of, w, "DELETE FROM health_transitions WHERE service_id = ?1"},
      {&writer_.insert_transition, w,
       "INSERT INTO health_transitions (service_id, at_ms, passing) VALUES (?1, ?2, ?3)"},
      {&writer_.insert_audit, w,
       "INSERT INTO audit (at_ms, request_id, subject, sao, company, action, service_id, result) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&writer_.raise_last_index, w,
       "UPDATE meta SET value = max(value, ?1) WHERE key = 'last_index'"},
      {&writer_.prune_transitions, w, "DELETE FROM health_transitions WHERE at_ms < ?1"},
      {&writer_.prune_audit, w, "DELETE FROM audit WHERE at_ms < ?1"},
      {&reader_.begin, r, "BEGIN"},
      {&reader_.commit, r, "COMMIT"},
      {&reader_.last_index, r, "SELECT value FROM meta WHERE key = 'last_index'"},
      {&reader_.count_services, r, "SELECT count(*) FROM services"},
      {&reader_.services, r, "SELECT service_id, record FROM services"},
      {&reader_.transitions_since, r,
       "SELECT service_id, at_ms, passing FROM health_transitions WHERE at_ms >= ?1 "
       "ORDER BY at_ms, id"},
      {&reader_.transitions_of, r,
       "SELECT at_ms, passing FROM health_transitions WHERE service_id = ?1 AND at_ms >= ?2 "
       "ORDER BY at_ms, id"},
      {&reader_.audit, r,
       "SELECT at_ms, request_id, subject, sao, company, action, service_id, result FROM audit "
       "WHERE at_ms >= ?1 ORDER BY at_ms, id LIMIT ?2"},
  };
  for (const auto& entry : entries) {
    auto statement = Statement::prepare(entry.db, entry.sql, path_);
    if (!statement) return statement.error();
    *entry.statement = std::move(*statement);
  }
  return {};
}

SqliteStorage::~SqliteStorage() {
  if (writer_thread_.joinable()) {
    {
      std::lock_guard lock(queue_mutex_);
      stopping_ = true;
    }
    queue_cv_.notify_one();
    writer_thread_.join();  // the writer drains the queue before it returns
  }
}

// ---------------------------------------------------------------------------
// Writing

Result<void> SqliteStorage::write(const WriteBatch& batch) {
  // Serializing here, on the callers' threads, keeps the single writer
  // thread busy only with SQLite.
  std::vector<std::string> records_json;
  records_json.reserve(batch.upserts.size());
  for (const auto& record : batch.upserts) {
    records_json.push_back(boost::json::serialize(to_json(record, JsonView::storage)));
  }
  Request request;
  request.batch = &batch;
  request.records_json = &records_json;
  return enqueue_and_wait(request);
}

void SqliteStorage::write_async(WriteBatch batch, WriteCallback done) {
  auto request = std::make_unique<Request>();
  request->owned = std::make_unique<OwnedWrite>();
  OwnedWrite& owned = *request->owned;
  owned.batch = std::move(batch);
  owned.records_json.reserve(owned.batch.upserts.size());
  for (const auto& record : owned.batch.upserts) {
    owned.records_json.push_back(boost::json::serialize(to_json(record, JsonView::storage)));
  }
  owned.done = std::move(done);
  request->batch = &owned.batch;
  request->records_json = &owned.records_json;
  {
    std::lock_guard lock(queue_mutex_);
    if (!stopping_) {
      queue_.push_back(request.release());
      // The writer is usually busy committing the previous group and will
      // find this one without being woken; notify_one costs little when
      // nobody waits.
      queue_cv_.notify_one();
      return;
    }
  }
  owned.done(unavailable("sqlite: " + path_ + " is closed"));
}

Result<void> SqliteStorage::prune(TimePoint transitions_before, TimePoint audit_before) {
  // A write like any other: it runs on the writer thread, so it never fights
  // the writer for the database lock.
  return run_on_writer([this, transitions_before, audit_before](sqlite3*) {
    return run_prune(transitions_before, audit_before);
  });
}

Result<void> SqliteStorage::run_on_writer(std::function<Result<void>(sqlite3*)> task) {
  Request request;
  request.task = &task;
  return enqueue_and_wait(request);
}

Result<void> SqliteStorage::enqueue_and_wait(Request& request) {
  std::unique_lock lock(queue_mutex_);
  if (stopping_) return unavailable("sqlite: " + path_ + " is closed");
  queue_.push_back(&request);
  queue_cv_.notify_one();
  request.done_cv.wait(lock, [&] { return request.done; });
  return std::move(request.result);
}

void SqliteStorage::writer_loop() {
  std::vector<Request*> group;
  for (;;) {
    group.clear();
    {
      std::unique_lock lock(queue_mutex_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything is drained
      // A task runs alone; batches are taken in arrival order up to the
      // group limit. Whatever arrives meanwhile waits for the next commit,
      // which is what makes concurrent writers share one.
      if (queue_.front()->task != nullptr) {
        group.push_back(queue_.front());
        queue_.pop_front();
      } else {
        const std::size_t limit = std::max<std::size_t>(options_.max_group_size, 1);
        while (!queue_.empty() && queue_.front()->task == nullptr && group.size() < limit) {
          group.push_back(queue_.front());
          queue_.pop_front();
        }
      }
    }

    if (group.front()->task != nullptr) {
      try {
        group.front()->result = (*group.front()->task)(write_db_.get());
      } catch (const std::exception& e) {
        group.front()->result = internal_error(std::string("sqlite writer task: ") + e.what());
      }
      // A task must not leave a transaction open behind the next group.
      if (sqlite3_get_autocommit(write_db_.get()) == 0) Use(writer_.rollback).run();
    } else {
      commit_group(group);
      for (const Request* request : group) {
        ++(request->result ? batches_ : failed_batches_);
      }
    }

    // Asynchronous requests are answered after the waiting callers are
    // woken (they may run on the other core meanwhile), in queue order, and
    // without the queue lock, so that a callback may queue the next write.
    std::vector<std::unique_ptr<Request>> answered;
    {
      std::lock_guard lock(queue_mutex_);
      for (Request* request : group) {
        if (request->owned) {
          answered.emplace_back(request);
          continue;
        }
        request->done = true;
        request->done_cv.notify_one();
      }
    }
    for (auto& request : answered) {
      try {
        request->owned->done(std::move(request->result));
      } catch (...) {
        // A callback must not throw (Storage's contract); if one does, the
        // writer thread must still live on for the others.
      }
    }
  }
}

void SqliteStorage::commit_group(const std::vector<Request*>& group) {
  sqlite3* db = write_db_.get();
  // Fails every batch of the group that has not failed on its own, and
  // drops the transaction: nothing of the group is stored.
  auto fail_group = [&](const Error& error) {
    if (sqlite3_get_autocommit(db) == 0) Use(writer_.rollback).run();
    for (Request* request : group) {
      if (request->result) request->result = error;
    }
  };

  if (int rc = Use(writer_.begin).run(); rc != SQLITE_OK) {
    return fail_group(sqlite_error(rc, db, "beginning a transaction"));
  }
  std::size_t applied = 0;
  for (Request* request : group) {
    if (int rc = Use(writer_.savepoint).run(); rc != SQLITE_OK) {
      return fail_group(sqlite_error(rc, db, "opening a savepoint"));
    }
    Result<void> result = apply(*request);
    if (result) {
      if (int rc = Use(writer_.release).run(); rc != SQLITE_OK) {
        return fail_group(sqlite_error(rc, db, "releasing a savepoint"));
      }
      ++applied;
      continue;
    }
    // Some errors (a full disk, I/O) make SQLite roll back the whole
    // transaction; then the batches applied so far are gone too.
    if (sqlite3_get_autocommit(db) != 0) return fail_group(result.error());
    request->result = std::move(result);
    int rc = Use(writer_.rollback_to).run();
    if (rc == SQLITE_OK) rc = Use(writer_.release).run();
    if (rc != SQLITE_OK) return fail_group(sqlite_error(rc, db, "undoing a failed batch"));
  }

  if (applied == 0) {
    Use(writer_.rollback).run();
    return;
  }
  if (int rc = Use(writer_.commit).run(); rc != SQLITE_OK) {
    // With WAL, a commit that failed to write or sync its commit frame is
    // not visible, and ROLLBACK discards the frames written so far.
    return fail_group(sqlite_error(rc, db, "committing"));
  }
  ++commits_;
}

Result<void> SqliteStorage::apply(const Request& request) {
  sqlite3* db = write_db_.get();
  const WriteBatch& batch = *request.batch;
  if (batch.index > 0) {
    Use use(writer_.raise_last_index);
    use.bind(1, static_cast<std::int64_t>(batch.index));
    if (int rc = use.run(); rc != SQLITE_OK) return sqlite_error(rc, db, "updating last_index");
  }
  // Removals first, so that one batch may retire a service and give its
  // (company, instance) to another.
  for (const auto& id : batch.removals) {
    {
      Use use(writer_.delete_service);
      use.bind(1, id);
      if (int rc = use.run(); rc != SQLITE_OK) {
        return sqlite_error(rc, db, "removing service " + id);
      }
    }
    Use use(writer_.delete_transitions_of);
    use.bind(1, id);
    if (int rc = use.run(); rc != SQLITE_OK) {
      return sqlite_error(rc, db, "removing the transitions of service " + id);
    }
  }
  for (std::size_t i = 0; i < batch.upserts.size(); ++i) {
    const ServiceRecord& record = batch.upserts[i];
    Use use(writer_.upsert_service);
    use.bind(1, record.service_id)
        .bind(2, record.company_name)
        .bind(3, record.instance_id)
        .bind(4, static_cast<std::int64_t>(record.modify_index))
        .bind(5, (*request.records_json)[i]);
    if (int rc = use.run(); rc != SQLITE_OK) {
      if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        return conflict("a service with companyName '" + record.company_name +
                        "' and instanceId '" + record.instance_id + "' already exists");
      }
      return sqlite_error(rc, db, "storing service " + record.service_id);
    }
  }
  for (const auto& transition : batch.transitions) {
    Use use(writer_.insert_transition);
    use.bind(1, transition.service_id)
        .bind(2, to_ms(transition.at))
        .bind(3, std::int64_t{transition.passing ? 1 : 0});
    if (int rc = use.run(); rc != SQLITE_OK) {
      return sqlite_error(rc, db, "storing a health transition");
    }
  }
  for (const auto& entry : batch.audit) {
    Use use(writer_.insert_audit);
    use.bind(1, to_ms(entry.at))
        .bind(2, entry.request_id)
        .bind(3, entry.subject)
        .bind(4, entry.sao)
        .bind(5, entry.company)
        .bind(6, entry.action)
        .bind(7, entry.service_id)
        .bind(8, entry.result);
    if (int rc = use.run(); rc != SQLITE_OK) return sqlite_error(rc, db, "storing an audit entry");
  }
  return {};
}

Result<void> SqliteStorage::run_prune(TimePoint transitions_before, TimePoint audit_before) {
  sqlite3* db = write_db_.get();
  if (int rc = Use(writer_.begin).run(); rc != SQLITE_OK) {
    return sqlite_error(rc, db, "beginning a transaction");
  }
  int rc = Use(writer_.prune_transitions).bind(1, to_ms(transitions_before)).run();
  if (rc == SQLITE_OK) rc = Use(writer_.prune_audit).bind(1, to_ms(audit_before)).run();
  if (rc == SQLITE_OK) rc = Use(writer_.commit).run();
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(rc, db, "pruning");
    if (sqlite3_get_autocommit(db) == 0) Use(writer_.rollback).run();
    return error;
  }
  ++commits_;
  return {};
}

// ---------------------------------------------------------------------------
// Reading

// Parses stored rows into records. Parsing the JSON is most of the cost of a
// load (about 4 us a record, against under 1 us to read the row), so rows are
// handed in chunks to worker threads while the reading thread keeps stepping
// through the table.
//
// Thread safety: add() and finish() are called by one thread; the workers
// touch only the queue (under mutex_) and `out_` (under out_mutex_).
class RecordParser {
 public:
  // Parsed records are appended to `out`, which should have room reserved
  // for all of them: growing a vector of a million records costs more than
  // parsing them.
  RecordParser(std::string path, std::vector<RecordPtr>& out)
      : path_(std::move(path)), out_(out) {}
  RecordParser(const RecordParser&) = delete;
  RecordParser& operator=(const RecordParser&) = delete;
  ~RecordParser() { stop(); }

  void add(std::string_view service_id, std::string_view json) {
    pending_.add(service_id, json);
    if (pending_.size() >= kChunkRows) hand_off();
  }

  Result<void> finish() {
    if (workers_.empty()) {
      // A small table never starts a thread.
      return parse_chunk(pending_, out_);
    }
    if (pending_.size() > 0) hand_off();
    stop();
    if (error_) return *error_;
    return {};
  }

 private:
  static constexpr std::size_t kChunkRows = 4096;
  static constexpr std::size_t kMaxQueuedChunks = 8;  // bounds the raw text held
  static constexpr std::size_t kWorkers = 2;

  // Rows as one text buffer with offsets: two allocations a chunk instead of
  // two a row.
  struct Chunk {
    std::string text;
    std::vector<std::array<std::size_t, 3>> rows;  // id start, json start, json end

    void add(std::string_view service_id, std::string_view json) {
      const std::size_t id_start = text.size();
      text.append(service_id);
      const std::size_t json_start = text.size();
      text.append(json);
      rows.push_back({id_start, json_start, text.size()});
    }
    std::size_t size() const { return rows.size(); }
    std::string_view id(std::size_t i) const {
      return std::string_view(text).substr(rows[i][0], rows[i][1] - rows[i][0]);
    }
    std::string_view json(std::size_t i) const {
      return std::string_view(text).substr(rows[i][1], rows[i][2] - rows[i][1]);
    }
  };

  void hand_off() {
    if (workers_.empty()) start();
    std::unique_lock lock(mutex_);
    space_cv_.wait(lock, [&] { return queue_.size() < kMaxQueuedChunks; });
    queue_.push_back(std::move(pending_));
    pending_ = Chunk{};
    pending_.text.reserve(queue_.back().text.capacity());
    pending_.rows.reserve(kChunkRows);
    work_cv_.notify_one();
  }

  void start() {
    for (std::size_t i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { run(); });
  }

  void stop() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    work_cv_.notify_all();
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

  void run() {
    std::vector<RecordPtr> parsed;
    parsed.reserve(kChunkRows);
    for (;;) {
      Chunk chunk;
      {
        std::unique_lock lock(mutex_);
        work_cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (queue_.empty()) return;
        chunk = std::move(queue_.front());
        queue_.pop_front();
      }
      space_cv_.notify_one();
      parsed.clear();
      auto result = parse_chunk(chunk, parsed);
      std::lock_guard lock(out_mutex_);
      if (!result) {
        if (!error_) error_ = result.error();
        continue;  // keep draining so the reading thread is never stuck
      }
      std::move(parsed.begin(), parsed.end(), std::back_inserter(out_));
    }
  }

  Result<void> parse_chunk(const Chunk& chunk, std::vector<RecordPtr>& into) const {
    try {
      boost::json::parser parser;  // reused: its stack is allocated once
      // Each parsed document lives in this buffer and is dropped at once,
      // instead of one malloc and free per JSON node.
      std::vector<unsigned char> arena(64 * 1024);
      for (std::size_t i = 0; i < chunk.size(); ++i) {
        boost::json::error_code ec;
        boost::json::monotonic_resource resource(arena.data(), arena.size());
        parser.reset(boost::json::storage_ptr(&resource));
        parser.write(chunk.json(i), ec);  // the whole text: incomplete is an error
        if (ec) {
          return internal_error(path_ + ": stored record of service " + std::string(chunk.id(i)) +
                                " is not valid JSON: " + ec.message());
        }
        auto record = parse_stored_record(parser.release());
        if (!record) {
          return internal_error(path_ + ": stored record of service " + std::string(chunk.id(i)) +
                                " is corrupt: " + record.error().to_string());
        }
        into.push_back(std::make_shared<const ServiceRecord>(std::move(*record)));
      }
    } catch (const std::exception& e) {  // allocation failure, on a worker thread
      return internal_error(path_ + ": loading records: " + e.what());
    }
    return {};
  }

  const std::string path_;
  Chunk pending_;  // filled by the reading thread only

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable space_cv_;
  std::deque<Chunk> queue_;  // guarded by mutex_
  bool closed_ = false;      // guarded by mutex_

  std::mutex out_mutex_;
  std::vector<RecordPtr>& out_;  // guarded by out_mutex_ while workers run
  std::optional<Error> error_;       // guarded by out_mutex_ while workers run
  std::vector<std::thread> workers_;
};

Result<std::vector<RecordPtr>> SqliteStorage::load_records() {
  std::vector<RecordPtr> records;
  {
    Use use(reader_.count_services);
    int rc = use.step();
    if (rc != SQLITE_ROW) return sqlite_error(rc, read_db_.get(), path_ + ": counting services");
    records.reserve(static_cast<std::size_t>(use.column_int(0)));
  }
  RecordParser parser(path_, records);
  Use use(reader_.services);
  int rc;
  while ((rc = use.step()) == SQLITE_ROW) parser.add(use.column_text(0), use.column_text(1));
  if (rc != SQLITE_DONE) return sqlite_error(rc, read_db_.get(), path_ + ": reading services");
  if (auto parsed = parser.finish(); !parsed) return parsed.error();
  return records;
}

Result<LoadedState> SqliteStorage::load(TimePoint transitions_since) {
  std::lock_guard lock(read_mutex_);
  sqlite3* db = read_db_.get();
  // One read transaction: the records, the index and the transitions come
  // from the same snapshot.
  if (int rc = Use(reader_.begin).run(); rc != SQLITE_OK) {
    return sqlite_error(rc, db, path_ + ": beginning a read");
  }
  struct EndRead {
    SqliteStorage* self;
    ~EndRead() { Use(self->reader_.commit).run(); }
  } end_read{this};

  LoadedState state;
  {
    Use use(reader_.last_index);
    int rc = use.step();
    if (rc == SQLITE_ROW) {
      state.last_index = static_cast<std::uint64_t>(use.column_int(0));
    } else if (rc != SQLITE_DONE) {
      return sqlite_error(rc, db, path_ + ": reading last_index");
    }
  }
  auto records = load_records();
  if (!records) return records.error();
  state.records = std::move(*records);
  {
    Use use(reader_.transitions_since);
    use.bind(1, to_ms(transitions_since));
    int rc;
    while ((rc = use.step()) == SQLITE_ROW) {
      state.transitions.push_back(HealthTransition{std::string(use.column_text(0)),
                                                   from_ms(use.column_int(1)),
                                                   use.column_int(2) != 0});
    }
    if (rc != SQLITE_DONE) return sqlite_error(rc, db, path_ + ": reading health transitions");
  }
  return state;
}

Result<std::vector<HealthTransition>> SqliteStorage::health_transitions(std::string_view service_id,
                                                                        TimePoint since) {
  std::lock_guard lock(read_mutex_);
  std::vector<HealthTransition> result;
  Use use(reader_.transitions_of);
  use.bind(1, service_id).bind(2, to_ms(since));
  int rc;
  while ((rc = use.step()) == SQLITE_ROW) {
    result.push_back(HealthTransition{std::string(service_id), from_ms(use.column_int(0)),
                                      use.column_int(1) != 0});
  }
  if (rc != SQLITE_DONE) return sqlite_error(rc, read_db_.get(), "reading health transitions");
  return result;
}

Result<std::vector<AuditEntry>> SqliteStorage::audit_entries(TimePoint since, std::size_t limit) {
  std::lock_guard lock(read_mutex_);
  std::vector<AuditEntry> result;
  Use use(reader_.audit);
  const auto max_limit = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
  use.bind(1, to_ms(since)).bind(2, static_cast<std::int64_t>(std::min(limit, max_limit)));
  int rc;
  while ((rc = use.step()) == SQLITE_ROW) {
    AuditEntry entry;
    entry.at = from_ms(use.column_int(0));
    entry.request_id = use.column_text(1);
    entry.subject = use.column_text(2);
    entry.sao = use.column_text(3);
    entry.company = use.column_text(4);
    entry.action = use.column_text(5);
    entry.service_id = use.column_text(6);
    entry.result = use.column_text(7);
    result.push_back(std::move(entry));
  }
  if (rc != SQLITE_DONE) return sqlite_error(rc, read_db_.get(), "reading the audit log");
  return result;
}

}  // namespace

Result<std::unique_ptr<Storage>> open_sqlite_storage(const std::filesystem::path& path,
                                                     const SqliteOptions& options) {
  auto storage = SqliteStorage::open(path, options);
  if (!storage) return storage.error();
  return std::unique_ptr<Storage>(std::move(*storage));
}

namespace detail {

std::optional<SqliteStorageStats> sqlite_storage_stats(const Storage& storage) {
  const auto* sqlite = dynamic_cast<const SqliteStorage*>(&storage);
  if (sqlite == nullptr) return std::nullopt;
  return sqlite->stats();
}

Result<void> run_on_sqlite_writer(Storage& storage, std::function<Result<void>(sqlite3*)> task) {
  auto* sqlite = dynamic_cast<SqliteStorage*>(&storage);
  if (sqlite == nullptr) return internal_error("run_on_sqlite_writer: not a SQLite storage");
  return sqlite->run_on_writer(std::move(task));
}

}  // namespace detail
}  // namespace discovery
