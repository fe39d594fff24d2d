// Discover over a 1,000,000-record registry, in process; also measures how
// long reopening that SQLite database takes and the memory per record.
//
//   bench_query [--records N] [--db PATH] [google-benchmark flags]
//
// The database is generated on first use (with progress on stderr) and reused
// by later runs while it holds N records.
#include "fleet.hpp"

#include <benchmark/benchmark.h>

#include <chrono>
#include <filesystem>
#include <iostream>

namespace {

using namespace discovery;

std::unique_ptr<Storage> g_storage;
std::unique_ptr<Registry> g_registry;
std::unique_ptr<QueryEngine> g_engine;
int g_records = 1'000'000;

void generate(const std::filesystem::path& db, int records) {
  std::filesystem::remove(db);
  std::filesystem::remove(db.string() + "-wal");
  SqliteOptions options;
  options.sync = false;  // generation only; the registry reopens it with sync on
  auto storage = open_sqlite_storage(db, options).value();
  constexpr int kBatch = 5000;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < records; i += kBatch) {
    WriteBatch batch;
    for (int j = i; j < std::min(records, i + kBatch); ++j) batch.upserts.push_back(bench::fleet_record(j));
    batch.index = static_cast<std::uint64_t>(std::min(records, i + kBatch));
    storage->write(batch).value();
    if ((i / kBatch) % 20 == 0 || i + kBatch >= records) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cerr << "\rgenerating " << db.filename().string() << ": " << std::min(records, i + kBatch) << "/"
                << records << " records (" << static_cast<int>(s) << " s)" << std::flush;
    }
  }
  std::cerr << "\n";
}

DiscoverQuery selective() {
  // One company (50 instances), one region, active: about 16 hits.
  DiscoverQuery q;
  q.company = bench::company_of(g_records / 2 + 6);
  q.region = "us-west1";
  q.status = ServiceStatus::active;
  return q;
}

// Times discover for `q`, reporting the page size as the "hits" counter.
void run_discover(benchmark::State& state, const DiscoverQuery& q) {
  std::size_t hits = 0;
  for (auto _ : state) {
    auto page = g_engine->discover(q);
    hits = page->services.size();
    benchmark::DoNotOptimize(page);
  }
  state.counters["hits"] = static_cast<double>(hits);
}

void BM_DiscoverSelective(benchmark::State& state) {
  const DiscoverQuery q = selective();
  run_discover(state, q);
}
BENCHMARK(BM_DiscoverSelective);

void BM_DiscoverSelectiveTool(benchmark::State& state) {
  // A region, a capability and an MCP tool within one company.
  DiscoverQuery q;
  q.company = bench::company_of(g_records * 7 / 9);
  q.capabilities = {"tools"};
  q.tools = {"search"};
  run_discover(state, q);
}
BENCHMARK(BM_DiscoverSelectiveTool);

void BM_DiscoverBroadFirstPage(benchmark::State& state) {
  // 10,000 records carry the tag; the first page of 100.
  DiscoverQuery q;
  q.tags = {"gpu"};
  q.limit = 100;
  run_discover(state, q);
}
BENCHMARK(BM_DiscoverBroadFirstPage);

void BM_DiscoverBroadTwoFilters(benchmark::State& state) {
  // A region (333,333 records) and an environment (500,000): first page of 100.
  DiscoverQuery q;
  q.region = "eu-west1";
  q.environment = "staging";
  q.limit = 100;
  for (auto _ : state) benchmark::DoNotOptimize(g_engine->discover(q));
}
BENCHMARK(BM_DiscoverBroadTwoFilters);

void BM_DiscoverUnfilteredPage1000(benchmark::State& state) {
  DiscoverQuery q;
  q.limit = 1000;
  for (auto _ : state) benchmark::DoNotOptimize(g_engine->discover(q));
}
BENCHMARK(BM_DiscoverUnfilteredPage1000);

void BM_Get(benchmark::State& state) {
  DiscoverQuery q;
  q.limit = 1000;
  auto page = g_engine->discover(q).value();
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(g_registry->get(page.services[i++ % page.services.size()]->service_id));
  }
}
BENCHMARK(BM_Get);

void BM_DiscoverSelectiveConcurrent(benchmark::State& state) {
  const DiscoverQuery q = selective();
  for (auto _ : state) benchmark::DoNotOptimize(g_engine->discover(q));
}
BENCHMARK(BM_DiscoverSelectiveConcurrent)->Threads(2)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int& records = g_records;
  std::filesystem::path db = "bench-1m.db";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--records" && i + 1 < argc) records = std::stoi(argv[++i]);
    else if (arg == "--db" && i + 1 < argc) db = argv[++i];
    else rest.push_back(argv[i]);
  }

  // Reuse a database of the right size from an earlier run; else generate it.
  bool reuse = false;
  if (std::filesystem::exists(db)) {
    auto storage = open_sqlite_storage(db);
    if (storage) {
      const auto start = std::chrono::steady_clock::now();
      auto state = (*storage)->load(TimePoint{});
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      reuse = state && state->records.size() == static_cast<std::size_t>(records);
      if (reuse) std::printf("storage_load_seconds: %.3f\n", s);
    }
  }
  if (!reuse) generate(db, records);

  // Reopen as the daemon does after a restart: load, index, ready to query.
  const long rss_before = bench::resident_bytes();
  const auto start = std::chrono::steady_clock::now();
  g_storage = open_sqlite_storage(db).value();
  RegistryOptions options;
  options.ttl_sweep_interval = Duration{0};
  g_registry = Registry::open(*g_storage, options).value();
  const double reopen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const long rss_after = bench::resident_bytes();
  g_engine = std::make_unique<QueryEngine>(*g_registry);

  std::printf("records: %zu\nreopen_ready_seconds: %.3f\nresident_bytes_per_record: %.0f\n",
              g_registry->size(), reopen_s,
              static_cast<double>(rss_after - rss_before) / static_cast<double>(g_registry->size()));
  std::fflush(stdout);

  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
