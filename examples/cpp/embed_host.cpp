// A host program that embeds the registry: it keeps its MCP servers in an
// in-process Registry, answers its own lookups with a QueryEngine, and can
// also serve the REST API to other processes from the same registry.
//
//   embed_host                          register, look up, print, exit
//   embed_host --serve SECRET_FILE      ... then serve on 127.0.0.1:0 until
//                                       SIGINT or SIGTERM (HS256 tokens signed
//                                       with the file's key; discoveryctl token
//                                       --data-dir mints them from a jwt-secret)
#include <discovery/discovery.hpp>
#include <discovery/server.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

namespace {

using namespace discovery;

int fail(const std::string& what, const Error& error) {
  std::cerr << "embed_host: " << what << ": " << error << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  const bool serve = argc == 3 && std::string(argv[1]) == "--serve";
  if (argc != 1 && !serve) {
    std::cerr << "usage: embed_host [--serve SECRET_FILE]\n";
    return 2;
  }

  // Memory storage: the host owns the records for its lifetime. Use
  // open_sqlite_storage(path) to keep them across restarts.
  auto storage = make_memory_storage();
  auto opened = Registry::open(*storage);
  if (!opened) return fail("registry", opened.error());
  Registry& registry = **opened;

  for (const char* region : {"us-west1", "eu-west1", "ap-south1"}) {
    ServiceRecord record;
    record.company_name = "acme";
    record.instance_id = std::string("acme-search-") + region;
    record.service_info.region = region;
    record.service_info.environment = "production";
    record.service_info.capabilities = {"tools", "search"};
    record.service_info.endpoints.primary = std::string("https://") + region + ".search.acme.example.com";
    record.tags = {"search"};
    if (auto r = registry.register_service(record); !r) return fail("register", r.error());
  }

  // The host's own lookups go straight to the query engine: no HTTP, no JSON.
  QueryEngine engine(registry);
  DiscoverQuery query;
  query.company = "acme";
  query.capabilities = {"search"};
  query.status = ServiceStatus::active;
  query.limit = 2;
  std::size_t found = 0;
  for (;;) {
    auto page = engine.discover(query);
    if (!page) return fail("discover", page.error());
    for (const auto& service : page->services) {
      std::cout << "search in " << service->service_info.region << ": " << service->service_info.endpoints.primary
                << "\n";
      ++found;
    }
    if (!page->next_cursor) break;
    query.cursor = *page->next_cursor;
  }
  std::cout << found << " search services\n";
  if (!serve) return found == 3 ? 0 : 1;

  // Serving the same registry over HTTP: other processes see what the host
  // registered, and the host sees what they register.
  std::ifstream file(argv[2], std::ios::binary);
  if (!file) {
    std::cerr << "embed_host: cannot read " << argv[2] << "\n";
    return 1;
  }
  JwtOptions jwt;
  jwt.hs256_secret = trim_secret(std::string(std::istreambuf_iterator<char>(file), {}));
  auto verifier = JwtVerifier::create(jwt, system_clock());
  if (!verifier) return fail("keys", verifier.error());

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);  // before the server's threads start

  ServerOptions options;
  options.port = 0;
  auto server = Server::start(registry, **verifier, options);
  if (!server) return fail("server", server.error());
  std::cout << "listening on " << (*server)->url() << std::endl;
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  (*server)->stop();
  return 0;
}
