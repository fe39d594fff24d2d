// A host program as a user writes it: open a SQLite-backed registry,
// register a service, discover it. Exits non-zero when anything fails.
#include <discovery/discovery.hpp>

#include <iostream>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer DB_PATH\n";
    return 2;
  }
  auto storage = discovery::open_sqlite_storage(argv[1]);
  if (!storage) {
    std::cerr << storage.error() << "\n";
    return 1;
  }
  auto registry = discovery::Registry::open(**storage);
  if (!registry) {
    std::cerr << registry.error() << "\n";
    return 1;
  }
  discovery::ServiceRecord record;
  record.company_name = "acme";
  record.instance_id = "acme-consumer-1";
  record.service_info.region = "us-west1";
  record.service_info.endpoints.primary = "https://mcp.acme.2100.cool";
  if (auto r = (*registry)->register_service(record); !r) {
    std::cerr << r.error() << "\n";
    return 1;
  }
  discovery::QueryEngine engine(**registry);
  discovery::DiscoverQuery query;
  query.company = "acme";
  query.region = "us-west1";
  auto page = engine.discover(query);
  if (!page || page->services.size() != 1) {
    std::cerr << "discover did not find the registered service\n";
    return 1;
  }
  std::cout << "consumer found " << page->services.front()->service_id << " (discovery "
            << discovery::kVersion << ")\n";
  return 0;
}
