// discoveryd: the registry daemon. Reads its settings (flags > DISCOVERY_*
// environment > --config file), opens the store, serves the REST API of
// API.md, and drains gracefully on SIGTERM or SIGINT.
#include <discovery/discovery.hpp>
#include <discovery/server.hpp>

#include "settings.hpp"

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace {

using namespace discovery;
namespace fs = std::filesystem;

constexpr const char* kSecretFile = "jwt-secret";

app::Settings make_settings() {
  return app::Settings({
      {"listen", "HOST:PORT", "127.0.0.1:8080", "address of the HTTP API; port 0 picks a free port"},
      {"data-dir", "DIR", "./data", "SQLite database and generated key"},
      {"storage", "sqlite|memory", "sqlite", "memory keeps nothing across restarts"},
      {"jwt-secret-file", "FILE", "", "HS256 secret (trailing whitespace trimmed); default: DIR/jwt-secret, generated on first start"},
      {"jwt-public-key-file", "FILE", "", "PEM public key accepting RS256 (RSA) or ES256 (P-256) tokens"},
      {"jwt-issuer", "ISS", "", "accept only tokens with this iss"},
      {"jwt-audience", "AUD", "", "accept only tokens whose aud contains this"},
      {"health-checks", "on|off", "on", "run the health checker (probes, MCP introspection, alerts)"},
      {"probe-allow", "CIDR", "", "health-check targets allowed despite the deny list (loopback, link-local, multicast, unspecified)", true},
      {"probe-ca-file", "FILE", "", "CA certificates (PEM) trusted for HTTPS probes and webhooks; default: the system store"},
      {"unhealthy-interval", "DURATION", "10s", "an unhealthy service is checked at least this often"},
      {"max-concurrent-checks", "N", "4096", "health checks in flight at once"},
      {"probe-keepalive-connections", "N", "1024", "idle keep-alive connections the checker keeps for its next checks"},
      {"introspect-interval", "DURATION", "10m", "MCP tools/list again this often (and on listChanged)"},
      {"mass-failure-threshold", "SHARE", "0.5", "over this share of checked services failing, hold status changes (safeguard)"},
      {"mass-failure-min-services", "N", "10", "the safeguard needs at least this many checked services"},
      {"critical-after-failures", "N", "10", "escalate an incident to critical after this many consecutive failures"},
      {"critical-after", "DURATION", "5m", "... or after this long unhealthy"},
      {"emergency-after", "DURATION", "30m", "escalate to emergency after this long unhealthy"},
      {"alert-webhook", "URL", "", "POST alerts as JSON to this URL (channel \"webhook\")"},
      {"alert-webhook-format", "json|slack", "json", "slack: a Slack-compatible {\"text\": ...} payload"},
      {"alert-webhook-auth-file", "FILE", "", "file holding an Authorization header value for the webhooks"},
      {"recovery-webhook", "URL", "", "POST a recovery request here when a service turns unhealthy"},
      {"recovery-max-attempts", "N", "3", "recovery calls per incident before escalating to emergency"},
      {"recovery-backoff", "DURATION", "30s", "first wait between recovery calls, doubling"},
      {"min-check-interval", "DURATION", "1s", "shortest healthCheckConfig.interval a registration may ask for"},
      {"uptime-window", "DURATION", "24h", "window of healthStatus.uptime"},
      {"tls-cert", "FILE", "", "serve HTTPS with this certificate chain (PEM); needs --tls-key"},
      {"tls-key", "FILE", "", "private key of --tls-cert (PEM)"},
      {"config", "FILE", "", "JSON file with any of these settings, keys as the flag names"},
      {"rate-limit", "RPS", "0", "requests per second per token subject, burst 2x; 0 = off (429 over it)"},
      {"max-connections", "N", "20000", "open connections; beyond, 503 (the open-file limit is raised to fit)"},
      {"max-body-bytes", "N", "1048576", "largest request body (413 beyond)"},
      {"max-header-bytes", "N", "16384", "largest request header block (431 beyond)"},
      {"max-watchers", "N", "10000", "open SSE watch streams (503 beyond)"},
      {"max-wait", "DURATION", "5m", "longest long-poll ?wait= honoured"},
      {"watch-queue-bytes", "N", "4194304", "unsent events a watch stream may hold before it is dropped"},
      {"read-timeout", "DURATION", "30s", "time to receive a whole request"},
      {"idle-timeout", "DURATION", "60s", "keep-alive connection idle time"},
      {"io-threads", "N", "0", "HTTP io threads; 0 = one per core"},
      {"answer-cache-bytes", "N", "67108864", "memory for whole discover answers kept to be sent again; 0 = off"},
      {"registry-public-company", "NAME", "", "a company whose servers the MCP Registry API (/v0.1/servers) lists without a token", true},
      {"metrics-auth", "", "", "require an emerald or diamond token for /metrics"},
      {"log-level", "LEVEL", "info", "debug (one line per request), info, warn, error"},
      {"help", "", "", "show this help", false, true},
      {"version", "", "", "show the version", false, true},
  });
}

int fail(const std::string& message) {
  std::cerr << "discoveryd: " << message << "\n";
  return 2;
}

template <class T>
Result<T> number(const app::Settings& s, std::string_view name) {
  const auto text = s.get(name);
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    if (used != text.size() || value < 0) throw std::invalid_argument("");
    return static_cast<T>(value);
  } catch (...) {
    return invalid_argument("--" + std::string(name), "must be a non-negative number, not '" + text + "'");
  }
}

Result<Duration> duration(const app::Settings& s, std::string_view name) {
  auto d = parse_duration(s.get(name));
  if (!d) return invalid_argument("--" + std::string(name), d.error().message);
  return *d;
}

// Writes `content` to `path` readable by the owner only, atomically.
Result<void> write_private_file(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + ".tmp";
  {
    const mode_t old = ::umask(077);
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::umask(old);
    if (!out) return unavailable("cannot write " + tmp.string());
    out << content << "\n";
    out.flush();
    if (!out) return unavailable("cannot write " + tmp.string());
  }
  std::error_code ec;
  fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace, ec);
  fs::rename(tmp, path, ec);
  if (ec) return unavailable("cannot create " + path.string() + ": " + ec.message());
  return {};
}

// Lets the process hold as many sockets as --max-connections asks for.
void raise_open_file_limit(std::size_t connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t want = static_cast<rlim_t>(connections + 256);
  if (limit.rlim_cur >= want) return;
  limit.rlim_cur = std::min(want, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace

int main(int argc, char** argv) {
  auto settings = make_settings();
  if (auto parsed = settings.parse(argc, argv); !parsed) return fail(parsed.error().to_string());
  if (settings.flag("help")) {
    std::cout << "usage: discoveryd [options]\n\n"
                 "Service discovery for MCP servers: serves the REST API of API.md.\n"
                 "Each option can also come from the environment or a --config file;\n"
                 "a flag wins over the environment, which wins over the file.\n\n"
              << settings.help()
              << "\nOn first start without a key, a secret is generated in the data directory\n"
                 "(mode 0600) and a diamond token is printed once; mint more with\n"
                 "`discoveryctl token --sao LEVEL [--company C]`.\n";
    return 0;
  }
  if (settings.flag("version")) {
    std::cout << "discoveryd " << kVersion << "\n";
    return 0;
  }

  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  ServerOptions server_options;
  const auto listen = settings.get("listen");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return fail("--listen must be HOST:PORT, not '" + listen + "'");
  server_options.host = listen.substr(0, colon);
  if (server_options.host.size() > 2 && server_options.host.front() == '[')
    server_options.host = server_options.host.substr(1, server_options.host.size() - 2);
  try {
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) throw std::out_of_range("");
    server_options.port = static_cast<std::uint16_t>(port);
  } catch (...) {
    return fail("--listen: port must be 0 to 65535 in '" + listen + "'");
  }

  const auto take = [&](auto result, auto& target) -> bool {
    if (!result) {
      std::cerr << "discoveryd: " << result.error().to_string() << "\n";
      return false;
    }
    target = *result;
    return true;
  };
  double rate = 0;
  std::size_t max_connections = 0, max_body = 0, max_header = 0, max_watchers = 0, watch_queue = 0,
              answer_cache = 0;
  unsigned io_threads = 0;
  Duration max_wait{}, read_timeout{}, idle_timeout{}, min_interval{}, uptime_window{};
  if (!take(number<double>(settings, "rate-limit"), rate) ||
      !take(number<std::size_t>(settings, "max-connections"), max_connections) ||
      !take(number<std::size_t>(settings, "max-body-bytes"), max_body) ||
      !take(number<std::size_t>(settings, "max-header-bytes"), max_header) ||
      !take(number<std::size_t>(settings, "max-watchers"), max_watchers) ||
      !take(number<std::size_t>(settings, "watch-queue-bytes"), watch_queue) ||
      !take(number<unsigned>(settings, "io-threads"), io_threads) ||
      !take(number<std::size_t>(settings, "answer-cache-bytes"), answer_cache) ||
      !take(duration(settings, "max-wait"), max_wait) || !take(duration(settings, "read-timeout"), read_timeout) ||
      !take(duration(settings, "idle-timeout"), idle_timeout) ||
      !take(duration(settings, "min-check-interval"), min_interval) ||
      !take(duration(settings, "uptime-window"), uptime_window))
    return 2;
  server_options.rate_limit_rps = rate;
  server_options.max_connections = max_connections;
  server_options.max_body_bytes = max_body;
  server_options.max_header_bytes = max_header;
  server_options.max_watchers = max_watchers;
  server_options.watch_queue_bytes = watch_queue;
  server_options.io_threads = io_threads;
  server_options.answer_cache_bytes = answer_cache;
  server_options.max_wait = max_wait;
  server_options.read_timeout = read_timeout;
  server_options.idle_timeout = idle_timeout;
  server_options.tls_cert_file = settings.get("tls-cert");
  server_options.tls_key_file = settings.get("tls-key");
  server_options.metrics_require_auth = settings.flag("metrics-auth");
  for (const auto& company : settings.get_all("registry-public-company")) {
    if (company.empty() || company.size() > 63 || company.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos || company.front() == '-')
      return fail("--registry-public-company must be a company name ([a-z0-9][a-z0-9-]{0,62}), not '" + company + "'");
    server_options.registry_public_companies.push_back(company);
  }
  const auto level = parse_log_level(settings.get("log-level"));
  if (!level) return fail("--log-level must be debug, info, warn or error");
  server_options.log_level = *level;
  const auto storage_kind = settings.get("storage");
  if (storage_kind != "sqlite" && storage_kind != "memory")
    return fail("--storage must be sqlite or memory, not '" + storage_kind + "'");

  const fs::path data_dir = settings.get("data-dir");
  std::error_code ec;
  // A directory the daemon creates is private to its user; one that exists
  // keeps the permissions its owner gave it (the key file itself is 0600).
  if (fs::create_directories(data_dir, ec))
    fs::permissions(data_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) return fail("cannot create data directory " + data_dir.string() + ": " + ec.message());

  // Keys. Without any configured, a generated secret in the data directory.
  JwtOptions jwt;
  jwt.issuer = settings.get("jwt-issuer");
  jwt.audience = settings.get("jwt-audience");
  std::optional<std::string> bootstrap_secret;
  if (settings.has("jwt-public-key-file")) {
    auto pem = app::read_file(settings.get("jwt-public-key-file"));
    if (!pem) return fail("--jwt-public-key-file: " + pem.error().message);
    jwt.public_key_pem = *pem;
  }
  fs::path secret_file = settings.has("jwt-secret-file") ? fs::path(settings.get("jwt-secret-file")) : data_dir / kSecretFile;
  if (settings.has("jwt-secret-file") || !settings.has("jwt-public-key-file")) {
    if (!settings.has("jwt-secret-file") && !fs::exists(secret_file)) {
      const auto secret = generate_secret();
      if (auto w = write_private_file(secret_file, secret); !w) return fail(w.error().message);
      bootstrap_secret = secret;
    }
    auto bytes = app::read_file(secret_file.string());
    if (!bytes) return fail("jwt secret: " + bytes.error().message);
    jwt.hs256_secret = trim_secret(*bytes);
    if (jwt.hs256_secret.empty()) return fail("jwt secret file " + secret_file.string() + " is empty");
  }
  auto verifier = JwtVerifier::create(jwt, system_clock());
  if (!verifier) return fail(verifier.error().to_string());

  std::unique_ptr<Storage> storage;
  if (storage_kind == "memory") {
    storage = make_memory_storage();
  } else {
    auto opened = open_sqlite_storage(data_dir / "discovery.db");
    if (!opened) return fail(opened.error().to_string());
    storage = std::move(*opened);
  }
  // The health checker's address policy also refuses registrations whose
  // targets are address literals it could never call.
  const bool health_checks = settings.get("health-checks") != "off";
  if (health_checks && settings.get("health-checks") != "on")
    return fail("--health-checks must be on or off, not '" + settings.get("health-checks") + "'");
  AddressPolicy address_policy = AddressPolicy::default_deny();
  for (const auto& text : settings.get_all("probe-allow")) {
    auto range = parse_cidr(text);
    if (!range) return fail("--probe-allow: " + range.error().message);
    address_policy.allow(*range);
  }
  HealthCheckerOptions checker_options;
  std::size_t checker_fds = 0;
  if (health_checks) {
    checker_options.address_policy = address_policy;
    checker_options.ca_file = settings.get("probe-ca-file");
    std::size_t min_services = 0;
    double threshold = 0;
    std::uint32_t critical_failures = 0, recovery_attempts = 0;
    if (!take(duration(settings, "unhealthy-interval"), checker_options.unhealthy_interval) ||
        !take(number<std::size_t>(settings, "max-concurrent-checks"), checker_options.max_concurrent_checks) ||
        !take(number<std::size_t>(settings, "probe-keepalive-connections"), checker_options.max_idle_connections) ||
        !take(duration(settings, "introspect-interval"), checker_options.introspect_interval) ||
        !take(number<double>(settings, "mass-failure-threshold"), threshold) ||
        !take(number<std::size_t>(settings, "mass-failure-min-services"), min_services) ||
        !take(number<std::uint32_t>(settings, "critical-after-failures"), critical_failures) ||
        !take(duration(settings, "critical-after"), checker_options.critical_after) ||
        !take(duration(settings, "emergency-after"), checker_options.emergency_after) ||
        !take(number<std::uint32_t>(settings, "recovery-max-attempts"), recovery_attempts) ||
        !take(duration(settings, "recovery-backoff"), checker_options.recovery_backoff))
      return 2;
    if (threshold <= 0 || threshold > 1) return fail("--mass-failure-threshold must be above 0 and at most 1");
    checker_options.mass_failure_threshold = threshold;
    checker_options.mass_failure_min_services = min_services;
    checker_options.critical_after_failures = critical_failures;
    checker_options.recovery_max_attempts = recovery_attempts;
    checker_fds = checker_options.max_concurrent_checks + checker_options.max_idle_connections;
    checker_options.alert_sinks.push_back(make_log_alert_sink());
    WebhookOptions webhook;
    webhook.ca_file = checker_options.ca_file;
    if (settings.has("alert-webhook-auth-file")) {
      auto auth = app::read_file(settings.get("alert-webhook-auth-file"));
      if (!auth) return fail("--alert-webhook-auth-file: " + auth.error().message);
      webhook.authorization = trim_secret(*auth);
    }
    if (settings.has("alert-webhook")) {
      const auto format = settings.get("alert-webhook-format");
      if (format != "json" && format != "slack") return fail("--alert-webhook-format must be json or slack");
      WebhookOptions alert_webhook = webhook;
      alert_webhook.url = settings.get("alert-webhook");
      alert_webhook.slack_format = format == "slack";
      auto sink = WebhookAlertSink::create(alert_webhook);
      if (!sink) return fail("--alert-webhook: " + sink.error().message);
      checker_options.alert_sinks.push_back(std::move(*sink));
    }
    if (settings.has("recovery-webhook")) {
      WebhookOptions recovery = webhook;
      recovery.url = settings.get("recovery-webhook");
      auto action = make_webhook_recovery_action(recovery);
      if (!action) return fail("--recovery-webhook: " + action.error().message);
      checker_options.recovery_action = std::move(*action);
    }
  }

  RegistryOptions registry_options;
  registry_options.min_check_interval = min_interval;
  registry_options.uptime_window = uptime_window;
  if (health_checks)
    registry_options.admission = [&address_policy](const ServiceRecord& record) {
      return HealthChecker::check_targets(record, address_policy);
    };
  auto registry = Registry::open(*storage, registry_options);
  if (!registry) return fail(registry.error().to_string());

  std::unique_ptr<HealthChecker> checker;
  if (health_checks) {
    auto started = HealthChecker::start(**registry, std::move(checker_options));
    if (!started) return fail("health checker: " + started.error().to_string());
    checker = std::move(*started);
    server_options.health_checker = checker.get();
  }

  // The API's connections and the checker's sockets (in flight and idle).
  raise_open_file_limit(max_connections + checker_fds);
  auto server = Server::start(**registry, **verifier, server_options);
  if (!server) return fail(server.error().to_string());

  std::cout << "listening on " << (*server)->url() << "\n";
  std::cout << "store " << storage->describe() << ": " << (*registry)->size() << " services, index "
            << (*registry)->index() << "\n";
  if (bootstrap_secret) {
    Principal admin{"admin", SaoLevel::diamond, "", {}};
    std::cout << "generated " << secret_file.string() << " (mode 0600); a diamond token, valid 24h:\n"
              << mint_hs256_token(*bootstrap_secret, admin, system_clock().now(), std::chrono::hours{24},
                                  jwt.issuer, jwt.audience)
              << "\n";
  }
  std::cout << std::flush;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cerr << "discoveryd: stopping on " << (signal_number == SIGTERM ? "SIGTERM" : "SIGINT") << "\n";
  (*server)->stop();
  server->reset();
  if (checker) checker->stop();
  checker.reset();
  registry->reset();
  return 0;
}
