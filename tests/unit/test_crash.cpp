// Durability under SIGKILL: a child process (crash_writer) registers services
// and prints each acknowledged one; the test kills it at a random moment and
// checks that every acknowledged registration is in the database, and that
// the database is intact. Several rounds share one database, so recovery
// from a killed writer is itself recovered from.
#define BOOST_TEST_MODULE test_crash
#include <boost/test/unit_test.hpp>

#include <discovery/registry.hpp>
#include <discovery/storage.hpp>

#include "test_support.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#ifndef CRASH_WRITER_PATH
#error "CRASH_WRITER_PATH must name the crash_writer executable"
#endif

namespace discovery {
namespace {

using Clock = std::chrono::steady_clock;

struct ChildRun {
  std::string output;  // everything the child wrote to stdout
  int wait_status = 0;
};

// Starts crash_writer on `db_path`, reads its output for `run_for`, kills it
// with SIGKILL, and reads what it had written before dying: those lines were
// acknowledged too.
ChildRun run_and_kill(const std::filesystem::path& db_path, std::chrono::milliseconds run_for) {
  ChildRun run;
  int fds[2];
  BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
  // Everything the child needs is prepared before fork(): between fork and
  // exec only async-signal-safe calls are allowed.
  const std::string program = CRASH_WRITER_PATH;
  const std::string argument = db_path.string();
  const pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);  // dup2 clears close-on-exec on the copy
    ::execl(program.c_str(), program.c_str(), argument.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);

  char buffer[65536];
  const auto deadline = Clock::now() + run_for;
  for (auto now = Clock::now(); now < deadline; now = Clock::now()) {
    pollfd poll_fd{fds[0], POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(left.count()) + 1);
    if (ready <= 0) continue;
    const ssize_t got = ::read(fds[0], buffer, sizeof buffer);
    if (got <= 0) break;  // the child exited early; waitpid tells why
    run.output.append(buffer, static_cast<std::size_t>(got));
  }
  ::kill(pid, SIGKILL);
  // The write end closes when the child dies: read to end of file.
  for (;;) {
    const ssize_t got = ::read(fds[0], buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    run.output.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fds[0]);
  ::waitpid(pid, &run.wait_status, 0);
  return run;
}

// serviceId -> instanceId of every complete "ack" line. A last line without
// its newline was cut off by the kill and is not an acknowledgement.
std::map<std::string, std::string> parse_acks(const std::string& output) {
  std::map<std::string, std::string> acks;
  std::size_t start = 0;
  for (std::size_t end; (end = output.find('\n', start)) != std::string::npos; start = end + 1) {
    std::istringstream line(output.substr(start, end - start));
    std::string word, service_id, instance_id;
    line >> word >> service_id >> instance_id;
    if (word == "ack" && !service_id.empty() && !instance_id.empty()) {
      acks.emplace(service_id, instance_id);
    } else {
      BOOST_ERROR("unexpected line from crash_writer: " << output.substr(start, end - start));
    }
  }
  return acks;
}

std::string integrity_check(const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  std::string result = "<cannot open>";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      result = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    } else {
      result = sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db);
  return result;
}

}  // namespace

BOOST_AUTO_TEST_CASE(acknowledged_registrations_survive_sigkill) {
  testing::TempDir dir;
  const auto db_path = dir.path() / "discovery.db";
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> run_ms(50, 400);
  std::map<std::string, std::string> all_acks;

  for (int round = 0; round < 5; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      const std::chrono::milliseconds run_for{run_ms(random)};
      ChildRun run = run_and_kill(db_path, run_for);
      BOOST_TEST((WIFSIGNALED(run.wait_status) && WTERMSIG(run.wait_status) == SIGKILL),
                 "crash_writer ended on its own (wait status " << run.wait_status << ")");
      auto acks = parse_acks(run.output);
      BOOST_TEST_MESSAGE("round " << round << ": killed after " << run_for.count() << " ms, "
                                  << acks.size() << " acknowledged registrations");

      {
        auto storage = open_sqlite_storage(db_path);
        BOOST_REQUIRE_MESSAGE(storage, "reopen: " << (storage ? Error{} : storage.error()));
        RegistryOptions options;
        options.ttl_sweep_interval = Duration{0};
        auto registry = Registry::open(**storage, options);
        BOOST_REQUIRE_MESSAGE(registry, "registry: " << (registry ? Error{} : registry.error()));
        all_acks.insert(acks.begin(), acks.end());
        std::size_t missing = 0;
        std::size_t wrong = 0;
        for (const auto& [service_id, instance_id] : all_acks) {
          auto record = (*registry)->get(service_id);
          if (!record) {
            if (missing++ == 0) BOOST_TEST_MESSAGE("first lost: " << service_id);
          } else if ((*record)->instance_id != instance_id || (*record)->company_name != "crash") {
            if (wrong++ == 0) BOOST_TEST_MESSAGE("first wrong: " << service_id);
          }
        }
        BOOST_TEST(missing == 0u, missing << " acknowledged registrations are lost");
        BOOST_TEST(wrong == 0u, wrong << " acknowledged registrations have the wrong identity");
        BOOST_TEST((*registry)->size() >= all_acks.size());
      }
      BOOST_TEST(integrity_check(db_path) == "ok");
    }
  }
  BOOST_TEST(!all_acks.empty(), "the child never acknowledged a registration");
}

}  // namespace discovery
