// The health checker under load: N services checked every INTERVAL against
// real HTTP (or MCP) targets on loopback, for DURATION. Reports what issue 4
// asks for: probes per second sustained, the checker thread's CPU (a share of
// one core), schedule lateness p50/p99/max, and checker memory per monitored
// service (resident memory with the checker running minus without it).
//
//   bench_checker --targets 127.0.0.1:PORT --services 10000 --interval 1s --duration 30s
//
// Each service gets its own host name in 127.0.0.0/8 (127.0.x.y) so that, as
// in a real fleet, every service has its own keep-alive connection; the
// target must listen on 0.0.0.0 or on each address (discoveryd --listen
// 0.0.0.0:PORT --health-checks off is a good target: its /health is cheap).
#include <discovery/discovery.hpp>

#include <boost/json/parse.hpp>

#include <malloc.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

using namespace discovery;
using namespace std::chrono_literals;

namespace {

// Bytes the allocator has handed out and not had back: unlike RSS, not
// inflated by freed-but-kept pages.
double heap_bytes() { return static_cast<double>(mallinfo2().uordblks); }

long rss_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

// CPU seconds of the thread named `name` (the checker names its thread).
double thread_cpu_seconds(const std::string& name) {
  double total = 0;
  DIR* dir = opendir("/proc/self/task");
  if (!dir) return 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    const std::string base = std::string("/proc/self/task/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string c;
    std::getline(comm, c);
    if (c != name) continue;
    std::ifstream stat(base + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), {});
    const auto close = text.rfind(')');
    std::istringstream fields(text.substr(close + 2));
    std::string skip;
    for (int i = 0; i < 11; ++i) fields >> skip;  // state .. cmajflt
    long utime = 0, stime = 0;
    fields >> utime >> stime;
    total += static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  closedir(dir);
  return total;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string target = arg(argc, argv, "targets", "");
  const std::size_t services = std::stoul(arg(argc, argv, "services", "10000"));
  const Duration interval = parse_duration(arg(argc, argv, "interval", "1s")).value();
  const Duration duration = parse_duration(arg(argc, argv, "duration", "30s")).value();
  const Duration warmup = parse_duration(arg(argc, argv, "warmup", "5s")).value();
  const std::string kind = arg(argc, argv, "kind", "http");  // http | mcp
  const std::string path = arg(argc, argv, "path", kind == "mcp" ? "/mcp" : "/health");
  if (target.empty()) {
    std::cerr << "usage: bench_checker --targets HOST:PORT [--services N] [--interval 1s] [--duration 30s]\n"
                 "                     [--kind http|mcp] [--path /health] [--keepalive IDLE_CONNECTIONS]\n";
    return 2;
  }
  const auto port = target.substr(target.rfind(':') + 1);

  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  auto storage = make_memory_storage();
  RegistryOptions registry_options;
  registry_options.min_check_interval = 100ms;
  registry_options.recent_checks = std::stoul(arg(argc, argv, "recent-checks", "20"));
  auto registry = Registry::open(*storage, registry_options).value();
  std::cerr << "registering " << services << " services...\n";
  for (std::size_t i = 0; i < services; ++i) {
    ServiceRecord r;
    r.company_name = "bench";
    r.instance_id = "svc-" + std::to_string(i);
    r.domain = "bench.example.com";
    const std::string host = "127.0." + std::to_string(1 + i / 250) + "." + std::to_string(1 + i % 250);
    r.service_info.endpoints.primary = "http://" + host + ":" + port;
    r.health_check_config.interval = interval;
    r.health_check_config.timeout = std::min<Duration>(interval, 5s);
    r.health_check_config.retries = 0;
    if (kind == "mcp") {
      r.health_check_config.mcp = true;
      r.health_check_config.endpoints.clear();
      r.service_info.endpoints.mcp = r.service_info.endpoints.primary + path;
    } else {
      r.health_check_config.endpoints = {path};
    }
    if (auto added = registry->register_service(r); !added) {
      std::cerr << "register: " << added.error().to_string() << "\n";
      return 1;
    }
  }
  const long rss_before = rss_kib();
  const double heap_before = heap_bytes();

  HealthCheckerOptions options;
  options.address_policy.allow(parse_cidr("127.0.0.0/8").value());
  options.max_idle_connections = std::stoul(arg(argc, argv, "keepalive", std::to_string(services + 64)));
  options.log_sink = [](std::string_view) {};
  auto checker = HealthChecker::start(*registry, std::move(options));
  if (!checker) {
    std::cerr << "checker: " << checker.error().to_string() << "\n";
    return 1;
  }
  std::cerr << "warming up " << format_duration(warmup) << "...\n";
  std::this_thread::sleep_for(warmup);
  const auto s0 = (*checker)->stats();
  const double cpu0 = thread_cpu_seconds("discovery-hc");
  const auto t0 = std::chrono::steady_clock::now();
  for (Duration waited{0}; waited < duration; waited += 5s) {
    std::this_thread::sleep_for(std::min<Duration>(5s, duration - waited));
    const auto s = (*checker)->stats();
    std::cerr << "  " << format_duration(waited + std::min<Duration>(5s, duration - waited)) << ": "
              << (s.checks_started - s0.checks_started) << " checks, failed " << (s.checks_failed - s0.checks_failed)
              << ", lateness p99 " << s.lateness_p99_ms << " ms, heap "
              << static_cast<long>((heap_bytes() - heap_before) / static_cast<double>(services)) << " B/service\n";
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto s1 = (*checker)->stats();
  const double cpu = thread_cpu_seconds("discovery-hc") - cpu0;
  const long rss_after = rss_kib();
  const double heap_after = heap_bytes();
  const auto checks = s1.checks_started - s0.checks_started;
  const auto failed = s1.checks_failed - s0.checks_failed;

  std::printf("kind=%s services=%zu interval=%s duration=%.1fs\n", kind.c_str(), services,
              format_duration(interval).c_str(), seconds);
  std::printf("checks_per_second=%.0f (expected %.0f) failed=%llu\n", static_cast<double>(checks) / seconds,
              static_cast<double>(services) * 1000.0 / static_cast<double>(interval.count()),
              static_cast<unsigned long long>(failed));
  std::printf("checker_cpu_share_of_one_core=%.3f\n", cpu / seconds);
  std::printf("lateness_ms p50=%.1f p99=%.1f max=%.1f\n", s1.lateness_p50_ms, s1.lateness_p99_ms,
              s1.lateness_max_ms);
  // Heap growth counts the checker's state, its pooled connections, and the
  // registry's per-service health history (recentChecks, uptime transitions).
  std::printf("memory_per_service_bytes heap=%.0f rss=%.0f (rss %ld KiB -> %ld KiB)\n",
              (heap_after - heap_before) / static_cast<double>(services),
              static_cast<double>(rss_after - rss_before) * 1024.0 / static_cast<double>(services), rss_before,
              rss_after);
  (*checker)->stop();
  return 0;
}
