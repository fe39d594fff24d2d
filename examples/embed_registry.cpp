// Embedding the registry in a host program: open a SQLite store, register a
// few MCP instances, report health, discover, and watch changes.
//
//   embed_registry [DB_PATH]      (default ./example.db)
#include <discovery/discovery.hpp>

#include <iostream>

int main(int argc, char** argv) {
  using namespace discovery;
  const char* path = argc > 1 ? argv[1] : "example.db";

  auto storage = open_sqlite_storage(path);
  if (!storage) {
    std::cerr << "cannot open " << path << ": " << storage.error() << "\n";
    return 1;
  }
  auto registry = Registry::open(**storage);
  if (!registry) {
    std::cerr << registry.error() << "\n";
    return 1;
  }
  Registry& reg = **registry;

  // Print every change as it happens (the daemon's watch builds on this).
  auto subscription = reg.subscribe([](const ChangeEvent& event) {
    std::cout << "change " << event.index << ": " << to_string(event.type) << " "
              << event.record->company_name << "/" << event.record->instance_id << " is "
              << to_string(event.record->status) << "\n";
  });

  for (const char* region : {"us-west1", "eu-west1"}) {
    ServiceRecord record;
    record.company_name = "acme";
    record.instance_id = std::string("acme-") + region;
    record.service_info.region = region;
    record.service_info.capabilities = {"tools", "search"};
    record.service_info.endpoints.primary = std::string("https://") + region + ".mcp.acme.2100.cool";
    if (auto r = reg.register_service(record); !r) {
      std::cerr << "register failed: " << r.error() << "\n";
      return 1;
    }
  }

  // An invalid registration is refused with the field at fault; nothing changes.
  ServiceRecord bad;
  bad.company_name = "Acme Corp";
  bad.service_info.endpoints.primary = "ftp://example.com";
  if (auto r = reg.register_service(bad); !r) std::cout << "refused: " << r.error().to_string() << "\n";

  // Three failed checks make a service unhealthy.
  auto west = reg.find("acme", "acme-us-west1").value();
  for (int i = 0; i < 3; ++i) reg.report_health(west->service_id, {false, 250.0, "timeout", "/health"}).value();

  QueryEngine engine(reg);
  DiscoverQuery query;
  query.company = "acme";
  query.status = ServiceStatus::active;
  for (const auto& service : engine.discover(query).value().services)
    std::cout << "active: " << service->instance_id << " at " << service->service_info.endpoints.primary << "\n";
  return 0;
}
