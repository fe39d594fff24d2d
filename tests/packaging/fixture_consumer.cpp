// A test suite as a user writes it with discovery::testing: an in-process
// server on an ephemeral port, seeded through its registry. Exits non-zero
// when anything fails.
#include <discovery/testing/server_fixture.hpp>

#include <iostream>

int main() {
  discovery::testing::ServerFixture fixture;
  discovery::ServiceRecord record;
  record.company_name = "acme";
  record.service_info.endpoints.primary = "https://mcp.acme.2100.cool";
  if (auto r = fixture.registry().register_service(record); !r) {
    std::cerr << r.error() << "\n";
    return 1;
  }
  const auto token = fixture.token(discovery::SaoLevel::sapphire, "acme");
  if (fixture.port() == 0 || fixture.url().find("http://127.0.0.1:") != 0 || token.empty()) {
    std::cerr << "fixture did not start: " << fixture.url() << "\n";
    return 1;
  }
  std::cout << "fixture_consumer served " << fixture.registry().size() << " service at " << fixture.url() << "\n";
  return 0;
}
