// Fills a SQLite store with a synthetic fleet (benchmarks/fleet.hpp) for the
// scale benchmark (benchmarks/scale/run.sh), through the library's own
// Storage, in large batches: one transaction per batch, as discoveryd would
// write them, only many records at a time. Benchmark-only: the product has no
// bulk import.
//
//   load_store DB_PATH COUNT [BATCH]     (BATCH default 20000)
//
// Prints progress to standard error and, at the end, one line
// "loaded COUNT records in SECONDS s" to standard output.
#include "fleet.hpp"

#include <discovery/discovery.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: load_store DB_PATH COUNT [BATCH]\n";
    return 2;
  }
  const std::string path = argv[1];
  const long count = std::atol(argv[2]);
  const long batch_size = argc == 4 ? std::atol(argv[3]) : 20000;
  if (count <= 0 || batch_size <= 0) {
    std::cerr << "load_store: COUNT and BATCH must be positive\n";
    return 2;
  }
  discovery::SqliteOptions options;
  options.sync = false;  // a crash of the loader just means loading again
  auto storage = discovery::open_sqlite_storage(path, options);
  if (!storage) {
    std::cerr << "load_store: " << storage.error().to_string() << "\n";
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  for (long first = 0; first < count; first += batch_size) {
    discovery::WriteBatch batch;
    const long end = std::min(count, first + batch_size);
    batch.upserts.reserve(static_cast<std::size_t>(end - first));
    for (long i = first; i < end; ++i) batch.upserts.push_back(bench::fleet_record(static_cast<int>(i)));
    batch.index = static_cast<std::uint64_t>(end);  // fleet_record(i) carries index i + 1
    if (auto written = (*storage)->write(batch); !written) {
      std::cerr << "load_store: " << written.error().to_string() << "\n";
      return 1;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds{2} || end == count) {
      const double seconds = std::chrono::duration<double>(now - start).count();
      std::cerr << "  loaded " << end << " / " << count << " (" << static_cast<long>(end / seconds)
                << " records/s)\n";
      last_report = now;
    }
  }
  storage->reset();  // closes the database: checkpoints the WAL
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::cout << "loaded " << count << " records in " << seconds << " s\n";
  return 0;
}
