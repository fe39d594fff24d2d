// The crash test's child (see test_crash.cpp): registers services from four
// threads until it is killed, and prints "ack <serviceId> <instanceId>" for
// each registration the registry acknowledged. Every acknowledged line is a
// promise that the registration is durable; the parent kills this process
// with SIGKILL at a random moment and checks the promises.
//
// Usage: crash_writer <db-path>

#include <discovery/registry.hpp>
#include <discovery/storage.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

std::mutex stdout_mutex;

// One write(2) per line, under a mutex, straight to the pipe: no stdio
// buffer can hold back an acknowledged line when the process dies.
void print_line(std::string_view line) {
  std::lock_guard lock(stdout_mutex);
  while (!line.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, line.data(), line.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      std::_Exit(3);  // the parent stopped reading; nothing left to do
    }
    line.remove_prefix(static_cast<std::size_t>(written));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: crash_writer <db-path>\n";
    return 2;
  }
  auto storage = discovery::open_sqlite_storage(argv[1]);
  if (!storage) {
    std::cerr << "crash_writer: " << storage.error() << "\n";
    return 1;
  }
  discovery::RegistryOptions options;
  options.ttl_sweep_interval = discovery::Duration{0};
  auto registry = discovery::Registry::open(**storage, options);
  if (!registry) {
    std::cerr << "crash_writer: " << registry.error() << "\n";
    return 1;
  }

  // The pid keeps instance ids unique across the rounds that share a database.
  const std::string prefix = "crash-" + std::to_string(::getpid()) + "-";
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (long n = 0;; ++n) {
        discovery::ServiceRecord candidate;
        candidate.company_name = "crash";
        candidate.instance_id = prefix + std::to_string(t) + "-" + std::to_string(n);
        candidate.service_info.version = "1.0.0";
        candidate.service_info.region = "us-west1";
        candidate.service_info.environment = "test";
        candidate.service_info.endpoints.primary = "https://mcp.crash.2100.cool";
        auto registered = (*registry)->register_service(std::move(candidate));
        if (!registered) {
          std::cerr << "crash_writer: " << registered.error() << "\n";
          std::_Exit(1);
        }
        const auto& record = *registered->record;
        print_line("ack " + record.service_id + " " + record.instance_id + "\n");
      }
    });
  }
  for (auto& thread : threads) thread.join();  // never: the parent kills us
  return 0;
}
