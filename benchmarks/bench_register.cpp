// Durable registrations per second on SQLite (fsync on every commit), with
// 1 and 16 concurrent writers sharing commits; heartbeats per second.
#include "fleet.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace {

using namespace discovery;

struct Shared {
  std::filesystem::path dir;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<Registry> registry;
  std::vector<std::string> heartbeat_ids;
};
Shared* g = nullptr;
std::atomic<int> g_next{0};

void setup(const benchmark::State& state) {
  if (state.thread_index() != 0) return;
  g = new Shared;
  g->dir = std::filesystem::temp_directory_path() / ("bench-register-" + std::to_string(::getpid()));
  std::filesystem::create_directories(g->dir);
  g->storage = open_sqlite_storage(g->dir / "discovery.db").value();
  RegistryOptions options;
  options.ttl_sweep_interval = Duration{0};
  g->registry = Registry::open(*g->storage, options).value();
}

void teardown(const benchmark::State& state) {
  if (state.thread_index() != 0) return;
  const auto dir = g->dir;
  delete g;
  g = nullptr;
  std::filesystem::remove_all(dir);
}

void BM_RegisterDurable(benchmark::State& state) {
  for (auto _ : state) {
    ServiceRecord r = bench::fleet_record(g_next++);
    r.service_id.clear();
    r.mcp.reset();
    auto result = g->registry->register_service(std::move(r));
    if (!result) state.SkipWithError(result.error().to_string().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RegisterDurable)->Setup(setup)->Teardown(teardown)->Threads(1)->Threads(16)->UseRealTime()->MinTime(3.0);

// 1,024 services with a TTL, registered by 16 threads so their commits group.
void setup_heartbeats(const benchmark::State& state) {
  setup(state);
  if (state.thread_index() != 0) return;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 64; ++i) {
        ServiceRecord r = bench::fleet_record(g_next++);
        r.service_id.clear();
        r.mcp.reset();
        r.health_check_config.ttl = std::chrono::seconds{30};
        auto id = g->registry->register_service(std::move(r)).value().record->service_id;
        std::lock_guard lock(mutex);
        g->heartbeat_ids.push_back(std::move(id));
      }
    });
  }
  for (auto& t : threads) t.join();
}

void BM_Heartbeat(benchmark::State& state) {
  const auto& ids = g->heartbeat_ids;
  std::size_t i = static_cast<std::size_t>(state.thread_index()) * 61;
  for (auto _ : state) {
    auto beat = g->registry->heartbeat(ids[i++ % ids.size()]);
    if (!beat) state.SkipWithError(beat.error().to_string().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Heartbeat)->Setup(setup_heartbeats)->Teardown(teardown)->Threads(1)->Threads(16)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
