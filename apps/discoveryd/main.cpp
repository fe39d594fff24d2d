// discoveryd: opens the registry's store and keeps it open until SIGTERM.
//
// The HTTP API (API.md) is served from the `discovery::server` target, which
// lands with the daemon issue; until then discoveryd opens and checks the
// store, expires heartbeat TTLs, and reports what it holds.
#include <discovery/discovery.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace {

constexpr std::string_view kUsage = R"(usage: discoveryd [options]

Service discovery for MCP servers. Options (each also from the environment as
DISCOVERY_<NAME>, e.g. DISCOVERY_DATA_DIR; a flag wins over the environment):

  --data-dir DIR          where the SQLite database lives (default ./data)
  --storage sqlite|memory sqlite keeps every acknowledged change across
                          restarts; memory keeps nothing (default sqlite)
  --listen HOST:PORT      address of the HTTP API (default 127.0.0.1:8080)
  --help                  this text
  --version               the version
)";

struct Settings {
  std::string data_dir = "./data";
  std::string storage = "sqlite";
  std::string listen = "127.0.0.1:8080";
};

std::optional<std::string> env(const char* name) {
  if (const char* v = std::getenv(name); v && *v) return std::string(v);
  return std::nullopt;
}

int fail(const std::string& message) {
  std::cerr << "discoveryd: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  if (auto v = env("DISCOVERY_DATA_DIR")) settings.data_dir = *v;
  if (auto v = env("DISCOVERY_STORAGE")) settings.storage = *v;
  if (auto v = env("DISCOVERY_LISTEN")) settings.listen = *v;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const auto value = [&](std::string& out) -> bool {
      if (i + 1 >= argc) return false;
      out = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "discoveryd " << discovery::kVersion << "\n";
      return 0;
    } else if (arg == "--data-dir") {
      if (!value(settings.data_dir)) return fail("--data-dir needs a directory");
    } else if (arg == "--storage") {
      if (!value(settings.storage)) return fail("--storage needs sqlite or memory");
    } else if (arg == "--listen") {
      if (!value(settings.listen)) return fail("--listen needs HOST:PORT");
    } else {
      return fail("unknown option " + std::string(arg) + " (see --help)");
    }
  }
  if (settings.storage != "sqlite" && settings.storage != "memory")
    return fail("--storage must be sqlite or memory, not '" + settings.storage + "'");

  // Block the stop signals before any thread starts, so that sigwait below
  // receives them and no other thread is interrupted.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<discovery::Storage> storage;
  if (settings.storage == "memory") {
    storage = discovery::make_memory_storage();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(settings.data_dir, ec);
    if (ec) return fail("cannot create data directory " + settings.data_dir + ": " + ec.message());
    std::filesystem::permissions(settings.data_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    auto opened = discovery::open_sqlite_storage(std::filesystem::path(settings.data_dir) / "discovery.db");
    if (!opened) return fail(opened.error().to_string());
    storage = std::move(*opened);
  }
  auto registry = discovery::Registry::open(*storage);
  if (!registry) return fail(registry.error().to_string());

  std::cout << "discoveryd " << discovery::kVersion << ": opened " << storage->describe() << " ("
            << (*registry)->size() << " services, index " << (*registry)->index() << ")\n"
            << "discoveryd: the HTTP API on " << settings.listen
            << " is not served by this build yet; stop with Ctrl-C or SIGTERM\n"
            << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "discoveryd: stopping on signal " << signal_number << "\n";
  registry->reset();
  return 0;
}
