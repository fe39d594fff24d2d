#include "commands.hpp"

#include "output.hpp"
#include "sse.hpp"

#include <discovery/auth.hpp>
#include <discovery/clock.hpp>
#include <discovery/service_record.hpp>
#include <discovery/version.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <utility>

namespace discovery::ctl {

namespace json = boost::json;
using boost::beast::http::verb;

namespace {

constexpr std::string_view kServices = "/api/v1/services/";
constexpr std::size_t kMaxInputBytes = 1 << 20;  // the daemon's default --max-body-bytes
// The daemon sends a keep-alive comment every 15 s; three missed ones mean
// the stream is dead even if the socket does not say so.
constexpr Duration kWatchIdleTimeout = std::chrono::seconds{45};
constexpr Duration kMaxReconnectDelay = std::chrono::seconds{30};

std::string service_path(std::string_view id, std::string_view suffix = {}) {
  return std::string(kServices) + url_encode(id) + std::string(suffix);
}

void add_param(std::string& query, std::string_view name, std::string_view value) {
  query += (query.empty() ? "" : "&") + std::string(name) + "=" + url_encode(value);
}

template <class T, std::size_t N>
std::string choices(const T (&values)[N]) {
  std::string out;
  for (const auto v : values) out += (out.empty() ? "" : ", ") + std::string(to_string(v));
  return out;
}

std::optional<std::uint64_t> parse_whole(std::string_view text) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

Outcome<std::uint64_t> whole_number(const Args& args, std::string_view name) {
  const auto text = args.get(name);
  const auto n = parse_whole(text);
  if (!n)
    return usage_error("--" + std::string(name) + " must be a whole number, not '" + text + "'");
  return *n;
}

// A JSON document from a file, or from standard input for "-".
Outcome<json::value> read_json_input(const std::string& path) {
  std::string text;
  if (path == "-") {
    char buffer[65536];
    while (std::cin.read(buffer, sizeof buffer) || std::cin.gcount() > 0) {
      text.append(buffer, static_cast<std::size_t>(std::cin.gcount()));
      if (text.size() > kMaxInputBytes)
        return usage_error("standard input is larger than " + std::to_string(kMaxInputBytes) +
                           " bytes");
    }
  } else {
    auto read = app::read_file(path, kMaxInputBytes);
    if (!read) return usage_error(read.error().message);
    text = std::move(*read);
  }
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  if (ec)
    return usage_error((path == "-" ? std::string("standard input") : path) +
                       " is not valid JSON: " + ec.message());
  return value;
}

// Sets doc[a][b]...[z] = value, creating the objects on the way.
void set_at(json::object& doc, const std::vector<std::string_view>& path, json::value value) {
  json::object* at = &doc;
  const auto last = std::prev(path.end());
  for (auto key = path.begin(); key != last; ++key) {
    auto& next = (*at)[*key];
    if (!next.is_object()) next = json::object{};
    at = &next.as_object();
  }
  (*at)[*last] = std::move(value);
}

void print(const std::string& text) { std::cout << text << std::flush; }

// ---- the discover and watch filters ----------------------------------------

std::vector<Option> filter_options() {
  return {
      option("company", "NAME", "only this company's services"),
      option("region", "REGION", "only services in this region"),
      option("environment", "ENV", "only this environment"),
      option("status", "STATUS", "only this status: " + choices(kAllStatuses)),
      option("sao-level", "LEVEL", "only records owned at this level: " + choices(kAllSaoLevels)),
      list_option("capability", "NAME", "only services with this capability; all given must match"),
      list_option("tag", "TAG", "only services with this tag; all given must match"),
      list_option("tool", "NAME", "only MCP servers that reported this tool; all must match"),
  };
}

// The filters as a query string (API.md, "Discover").
Outcome<std::string> filter_query(const Args& args) {
  std::string query;
  for (const auto* name : {"company", "region", "environment"})
    if (args.has(name)) add_param(query, name, args.get(name));
  if (args.has("status")) {
    if (!parse_status(args.get("status")))
      return usage_error("--status must be one of " + choices(kAllStatuses));
    add_param(query, "status", args.get("status"));
  }
  if (args.has("sao-level")) {
    if (!parse_sao_level(args.get("sao-level")))
      return usage_error("--sao-level must be one of " + choices(kAllSaoLevels));
    add_param(query, "saoLevel", args.get("sao-level"));
  }
  static constexpr std::pair<const char*, const char*> kLists[] = {
      {"capability", "capabilities"}, {"tag", "tags"}, {"tool", "tools"}};
  for (const auto& [flag, param] : kLists)
    for (const auto& value : args.get_all(flag)) add_param(query, param, value);
  return query;
}

// ---- commands ----------------------------------------------------------------

Outcome<> run_register(Invocation& in) {
  const Args& args = in.args;
  json::object doc;
  if (args.has("file")) {
    auto file = read_json_input(args.get("file"));
    if (!file) return file.error();
    if (!file->is_object()) return usage_error(args.get("file") + " must hold a JSON object");
    doc = std::move(file->as_object());
  }
  // Flags override the file, field by field.
  struct Field {
    const char* flag;
    std::vector<std::string_view> path;
  };
  static const Field kFields[] = {
      {"company", {"companyName"}},
      {"instance", {"instanceId"}},
      {"primary", {"serviceInfo", "endpoints", "primary"}},
      {"mcp-endpoint", {"serviceInfo", "endpoints", "mcp"}},
      {"region", {"serviceInfo", "region"}},
      {"environment", {"serviceInfo", "environment"}},
      {"version", {"serviceInfo", "version"}},
      {"ttl", {"healthCheckConfig", "ttl"}},
      {"interval", {"healthCheckConfig", "interval"}},
  };
  for (const auto& f : kFields)
    if (args.has(f.flag)) set_at(doc, f.path, json::string(args.get(f.flag)));
  const auto list = [&](std::string_view flag) {
    json::array out;
    for (const auto& v : args.get_all(flag)) out.emplace_back(v);
    return out;
  };
  if (args.has("capability")) set_at(doc, {"serviceInfo", "capabilities"}, list("capability"));
  if (args.has("tag")) set_at(doc, {"tags"}, list("tag"));
  if (doc.empty())
    return usage_error("register needs --file F, or at least --company and --primary");

  auto answer = in.client->call(verb::post, std::string(kServices) + "register", doc);
  if (!answer) return answer.error();
  const auto& record = answer->body;
  if (args.flag("json")) {
    print(pretty_json(record));
  } else if (args.flag("quiet")) {
    print(text_at(record, {"serviceId"}) + "\n");
  } else {
    print(std::string(answer->status == 201 ? "registered " : "re-registered ") +
          text_at(record, {"serviceId"}) + " (" + text_at(record, {"companyName"}) + "/" +
          text_at(record, {"instanceId"}) + ", " + text_at(record, {"status"}) + ")\n");
  }
  return {};
}

Outcome<> run_discover(Invocation& in) {
  const Args& args = in.args;
  auto filters = filter_query(args);
  if (!filters) return filters.error();
  std::string query = *filters;
  if (args.has("limit")) {
    auto limit = whole_number(args, "limit");
    if (!limit) return limit.error();
    if (*limit < 1 || *limit > 1000) return usage_error("--limit must be 1 to 1000");
    add_param(query, "limit", args.get("limit"));
  }
  const bool all = args.flag("all");
  std::string cursor = args.get("cursor");
  std::vector<json::value> services;
  json::value first_page;
  std::string next_cursor;
  for (;;) {
    std::string page_query = query;
    if (!cursor.empty()) add_param(page_query, "cursor", cursor);
    auto page = in.client->call(verb::get, std::string(kServices) + "discover" +
                                               (page_query.empty() ? "" : "?" + page_query));
    if (!page) return page.error();
    const auto* list =
        page->body.is_object() ? page->body.as_object().if_contains("services") : nullptr;
    if (!list || !list->is_array())
      return Failure{Exit::api, "unexpected discover answer from " + in.client->server().text};
    services.insert(services.end(), list->as_array().begin(), list->as_array().end());
    const auto* next = page->body.as_object().if_contains("nextCursor");
    next_cursor = next && next->is_string() ? std::string(next->as_string()) : std::string{};
    if (first_page.is_null()) first_page = std::move(page->body);
    if (!all || next_cursor.empty()) break;
    if (next_cursor == cursor)
      return Failure{Exit::api, "the server answered the same cursor twice; stopping"};
    cursor = next_cursor;
  }

  if (args.flag("json")) {
    if (!all) {
      print(pretty_json(first_page));
      return {};
    }
    // Every page as one answer. Its index is the first page's: watching from
    // there misses nothing that changed while the pages were read.
    json::array merged(services.begin(), services.end());
    print(pretty_json(json::object{{"services", std::move(merged)},
                                   {"count", services.size()},
                                   {"nextCursor", nullptr},
                                   {"index", first_page.as_object()["index"]}}));
    return {};
  }
  if (services.empty())
    std::cerr << "no services match\n";
  else
    print(services_table(services));
  if (!all && !next_cursor.empty())
    std::cerr << "more services match: --all lists every page, --cursor " << next_cursor
              << " the next one\n";
  return {};
}

Outcome<> run_get(Invocation& in) {
  auto answer = in.client->call(verb::get, service_path(in.operands[0]));
  if (!answer) return answer.error();
  print(pretty_json(answer->body));
  return {};
}

Outcome<> run_patch(Invocation& in) {
  if (!in.args.has("file"))
    return usage_error("patch needs --file F (or --file - for standard input)");
  auto patch = read_json_input(in.args.get("file"));
  if (!patch) return patch.error();
  auto answer = in.client->call(verb::patch, service_path(in.operands[0]), *patch,
                                "application/merge-patch+json");
  if (!answer) return answer.error();
  print(in.args.flag("json") ? pretty_json(answer->body)
                             : "updated " + text_at(answer->body, {"serviceId"}) + "\n");
  return {};
}

Outcome<> run_status(Invocation& in) {
  const auto& status = in.operands[1];
  if (!parse_status(status)) return usage_error("STATUS must be one of " + choices(kAllStatuses));
  auto answer = in.client->call(verb::put, service_path(in.operands[0], "/status"),
                                json::object{{"status", status}});
  if (!answer) return answer.error();
  print(in.args.flag("json") ? pretty_json(answer->body)
                             : text_at(answer->body, {"serviceId"}) + " is now " +
                                   text_at(answer->body, {"status"}) + "\n");
  return {};
}

Outcome<> run_deregister(Invocation& in) {
  auto answer = in.client->call(verb::delete_, service_path(in.operands[0]));
  if (!answer) return answer.error();
  print("deregistered " + in.operands[0] + "\n");
  return {};
}

Outcome<> run_health(Invocation& in) {
  auto answer = in.client->call(verb::get, service_path(in.operands[0], "/health"));
  if (!answer) return answer.error();
  const auto& detail = answer->body;
  if (in.args.flag("json")) {
    print(pretty_json(detail));
    return {};
  }
  Fields fields{{"service", text_at(detail, {"serviceId"})},
                {"status", text_at(detail, {"status"})}};
  const auto* health =
      detail.is_object() ? detail.as_object().if_contains("healthStatus") : nullptr;
  const auto more = health_fields(health ? *health : json::value{});
  fields.insert(fields.end(), more.begin(), more.end());
  const auto* checks =
      detail.is_object() ? detail.as_object().if_contains("recentChecks") : nullptr;
  print(render_fields(fields) + "\nrecent checks (newest first):\n" +
        checks_table(checks ? *checks : json::value{}));
  return {};
}

Outcome<> run_report(Invocation& in) {
  const Args& args = in.args;
  if (args.flag("ok") == args.flag("fail"))
    return usage_error("report needs exactly one of --ok and --fail");
  json::object report{{"ok", args.flag("ok")}};
  if (args.has("response-time")) {
    const auto text = args.get("response-time");
    double ms = -1;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc{} || end != text.data() + text.size() || !(ms >= 0))
      return usage_error("--response-time must be a number of milliseconds, not '" + text + "'");
    report["responseTime"] = ms;
  }
  if (args.has("message")) report["message"] = args.get("message");
  auto answer = in.client->call(verb::put, service_path(in.operands[0], "/health"), report);
  if (!answer) return answer.error();
  print(args.flag("json") ? pretty_json(answer->body) : render_fields(health_fields(answer->body)));
  return {};
}

Outcome<> run_heartbeat(Invocation& in) {
  auto answer = in.client->call(verb::post, service_path(in.operands[0], "/heartbeat"));
  if (!answer) return answer.error();
  const auto& beat = answer->body;
  if (in.args.flag("json")) {
    print(pretty_json(beat));
    return {};
  }
  const auto expires = text_at(beat, {"expiresAt"});
  print(text_at(beat, {"serviceId"}) + " is " + text_at(beat, {"status"}) +
        (expires == "-" ? "; it has no heartbeat TTL\n"
                        : "; next heartbeat due by " + expires + "\n"));
  return {};
}

// The registry's change index now, from the smallest discover.
Outcome<std::uint64_t> current_index(HttpClient& client) {
  auto answer = client.call(verb::get, std::string(kServices) + "discover?limit=1");
  if (!answer) return answer.error();
  const auto* index =
      answer->body.is_object() ? answer->body.as_object().if_contains("index") : nullptr;
  boost::system::error_code ec;
  const auto value = index ? index->to_number<std::uint64_t>(ec) : 0;
  if (!index || ec)
    return Failure{Exit::api, "unexpected discover answer from " + client.server().text};
  return value;
}

Outcome<> run_watch(Invocation& in) {
  const Args& args = in.args;
  auto query = filter_query(args);
  if (!query) return query.error();
  std::optional<std::uint64_t> resume_after;
  if (args.has("index")) {
    auto index = whole_number(args, "index");
    if (!index) return index.error();
    resume_after = *index;
  }
  const std::string target =
      std::string(kServices) + "watch" + (query->empty() ? "" : "?" + *query);
  const bool raw = args.flag("json");
  auto& client = *in.client;
  client.stop_on_signals();

  const auto on_event = [&](const SseEvent& event) {
    if (raw) return print(event.data + "\n");
    boost::system::error_code ec;
    const auto data = json::parse(event.data, ec);
    if (ec || !data.is_object()) {
      std::cerr << "discoveryctl: watch: skipping an event whose data is not a JSON object\n";
      return;
    }
    print(event_line(format_time(system_clock().now()), data));
  };
  bool opened = false;
  Duration delay = std::chrono::seconds{1};
  for (;;) {
    // Every stream resumes after a known index: without --index the current
    // one, so that a reconnect, even before the first event, replays what
    // happened meanwhile. An index ahead of the server's (an in-memory daemon
    // restarted, or another daemon) would make it skip every change up to
    // that index, so then everything it retains is replayed instead.
    Outcome<> streamed;
    if (auto now = current_index(client); !now) {
      streamed = now.error();
    } else if (!resume_after) {
      resume_after = *now;
    } else if (*resume_after > *now) {
      std::cerr << "discoveryctl: watch: index " << *resume_after << " is ahead of the server's "
                << *now << "; replaying every change it retains\n";
      resume_after = 0;
    }
    if (streamed) {
      SseParser parser;
      streamed = client.stream(
          target, std::to_string(*resume_after), kWatchIdleTimeout,
          [&] {
            if (!opened)
              std::cerr << "watching " << client.server().text << " (Ctrl-C to stop)\n";
            else
              std::cerr << "discoveryctl: watch: reconnected, resuming after index "
                        << *resume_after << "\n";
            opened = true;
            delay = std::chrono::seconds{1};
          },
          [&](std::string_view bytes) { parser.feed(bytes, on_event); });
      if (const auto last = parse_whole(parser.last_event_id())) resume_after = *last;
    }
    std::string why = "the server ended the stream";
    if (!streamed) {
      const auto& failure = streamed.error();
      if (failure.exit == Exit::interrupted) return {};
      // An error answer will not go away by retrying, nor will a server that
      // was never reachable; a dropped stream is what reconnecting is for.
      if (failure.exit != Exit::connection || !opened) return failure;
      why = failure.message;
    }
    std::cerr << "discoveryctl: watch: " << why << "; reconnecting in " << format_duration(delay)
              << "\n";
    if (auto paused = client.pause(delay); !paused) return {};
    delay = std::min(delay * 2, kMaxReconnectDelay);
  }
}

Outcome<> run_token(Invocation& in) {
  const Args& args = in.args;
  if (!args.has("sao"))
    return usage_error("token needs --sao LEVEL (" + choices(kAllSaoLevels) + ")");
  const auto level = parse_sao_level(args.get("sao"));
  if (!level) return usage_error("--sao must be one of " + choices(kAllSaoLevels));
  const auto company = args.get("company");
  if (company.empty() && !at_least(*level, SaoLevel::emerald))
    return usage_error("--company is required for a " + args.get("sao") + " token");
  const auto ttl = parse_duration(args.get("ttl"));
  if (!ttl || ttl->count() == 0)
    return usage_error("--ttl must be a duration such as 30m, 1h or 24h");
  if (args.given_as_flag("secret-file") && args.given_as_flag("data-dir"))
    return usage_error("give --secret-file or --data-dir, not both");
  const std::string secret_file =
      args.has("secret-file")
          ? args.get("secret-file")
          : (std::filesystem::path(args.get("data-dir")) / "jwt-secret").string();
  auto bytes = app::read_file(secret_file, 64 * 1024);
  if (!bytes)
    return usage_error(bytes.error().message +
                       " (discoveryd creates DIR/jwt-secret on first start; use --data-dir DIR "
                       "or --secret-file FILE)");
  const auto secret = trim_secret(*bytes);
  if (secret.empty()) return usage_error("the secret file " + secret_file + " is empty");
  const Principal principal{args.get("subject"), *level, company, {}};
  print(mint_hs256_token(secret, principal, system_clock().now(), *ttl, args.get("issuer"),
                         args.get("audience")) +
        "\n");
  return {};
}

Outcome<> run_version(Invocation&) {
  print(std::string("discoveryctl ") + kVersion + "\n");
  return {};
}

Outcome<> run_help(Invocation& in) {
  if (in.operands.empty()) {
    print(tool_help());
    return {};
  }
  const Command* command = find_command(in.operands[0]);
  if (!command) return usage_error("no command '" + in.operands[0] + "' (see discoveryctl help)");
  print(command_help(*command));
  return {};
}

// The one command option the environment may set: the daemon reads its data
// directory from DISCOVERY_DATA_DIR too, and `token` wants the same directory.
Option data_dir_option() {
  auto o = option("data-dir", "DIR", "discoveryd's data directory", "./data");
  o.from_env = true;
  return o;
}

std::vector<Command> make_commands() {
  const Option json_output = switch_option("json", "print the server's JSON answer");
  const auto with = [](std::vector<Option> a, const std::vector<Option>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  return {
      {.name = "register",
       .summary = "register a service, or re-register the same company and instance",
       .details =
           "Reads the registration from --file (a service record's writable fields, as in\n"
           "API.md), or builds it from the flags, or both: flags override the file's fields.\n"
           "companyName and serviceInfo.endpoints.primary are required. Prints the service ID\n"
           "(a re-registration keeps it).\n",
       .options =
           {
               option("file", "FILE", "the registration as JSON; - reads standard input"),
               option("company", "NAME", "companyName ([a-z0-9][a-z0-9-]{0,62})"),
               option("instance", "ID", "instanceId; generated when omitted"),
               option("primary", "URL", "serviceInfo.endpoints.primary (http or https)"),
               option("region", "REGION", "serviceInfo.region"),
               option("environment", "ENV", "serviceInfo.environment"),
               option("version", "VERSION", "serviceInfo.version"),
               list_option("capability", "NAME", "serviceInfo.capabilities"),
               list_option("tag", "TAG", "tags"),
               option("mcp-endpoint", "URL", "serviceInfo.endpoints.mcp"),
               option("ttl", "DURATION",
                      "healthCheckConfig.ttl: heartbeat within it or go inactive"),
               option("interval", "DURATION", "healthCheckConfig.interval between health checks"),
               switch_option("quiet", "print only the service ID"),
               switch_option("json", "print the registered record as JSON"),
           },
       .run = run_register},
      {.name = "discover",
       .summary = "list the services that match filters",
       .details =
           "Prints SERVICE ID, COMPANY, INSTANCE, STATUS, REGION, ENV and PRIMARY, one service\n"
           "a line, ordered by service ID. Filters combine with AND. One page (--limit) is\n"
           "fetched unless --all is given.\n",
       .options =
           with(filter_options(),
                {
                    option("limit", "N", "services per page, 1 to 1000 (server default 100)"),
                    option("cursor", "CURSOR", "continue from an answer's nextCursor"),
                    switch_option("all", "follow nextCursor through every page"),
                    switch_option("json",
                                  "print the JSON answer; with --all, one answer holding\n"
                                  "every page, with the first page's index"),
                }),
       .run = run_discover},
      {.name = "get",
       .operands = "ID",
       .summary = "print one service record as JSON",
       .min_operands = 1,
       .max_operands = 1,
       .run = run_get},
      {.name = "patch",
       .operands = "ID",
       .summary = "change a service with a JSON merge patch (RFC 7396)",
       .details =
           "Writable are the fields register takes, except companyName and instanceId; null\n"
           "removes a member. Example: {\"tags\": [\"beta\"], \"serviceInfo\": {\"version\": "
           "\"1.5.0\"}}\n",
       .options = {option("file", "FILE", "the merge patch as JSON; - reads standard input"),
                   json_output},
       .min_operands = 1,
       .max_operands = 1,
       .run = run_patch},
      {.name = "status",
       .operands = "ID STATUS",
       .summary = "set a service's operator status",
       .details = "STATUS is " + choices(kAllStatuses) +
                  ". The health checker never overrides maintenance or inactive.\n",
       .options = {json_output},
       .min_operands = 2,
       .max_operands = 2,
       .run = run_status},
      {.name = "deregister",
       .operands = "ID",
       .summary = "remove a service",
       .min_operands = 1,
       .max_operands = 1,
       .run = run_deregister},
      {.name = "health",
       .operands = "ID",
       .summary = "show a service's health status and recent checks",
       .options = {json_output},
       .min_operands = 1,
       .max_operands = 1,
       .run = run_health},
      {.name = "report",
       .operands = "ID",
       .summary = "report the result of an external health check",
       .details = "Counted like one of the daemon's own checks. Prints the new health status.\n",
       .options = {switch_option("ok", "the check passed"),
                   switch_option("fail", "the check failed"),
                   option("response-time", "MS", "how long the check took, in milliseconds"),
                   option("message", "TEXT", "what the check saw (at most 1024 characters)"),
                   json_output},
       .min_operands = 1,
       .max_operands = 1,
       .run = run_report},
      {.name = "heartbeat",
       .operands = "ID",
       .summary = "refresh a service's heartbeat TTL",
       .details = "A service that missed its TTL (healthCheckConfig.ttl) becomes active again.\n",
       .options = {json_output},
       .min_operands = 1,
       .max_operands = 1,
       .run = run_heartbeat},
      {.name = "watch",
       .summary = "print changes to matching services as they happen",
       .details =
           "One line per change: the time it arrived, the change index, the type (upsert,\n"
           "status, delete), company/instance, status and service ID. A dropped connection is\n"
           "resumed where it stopped (Last-Event-ID). Stops on Ctrl-C (exit status 0).\n"
           "Without --index it starts at the current change index. For a consistent view,\n"
           "discover first and watch with --index set to the discover answer's index.\n",
       .options = with(filter_options(),
                       {
                           option("index", "N", "start after this change index, replaying since"),
                           switch_option("json", "print each event's data, one JSON object a line"),
                       }),
       .run = run_watch},
      {.name = "token",
       .summary = "mint an HS256 token from the daemon's secret (offline)",
       .details = "Reads the HS256 secret discoveryd uses (DIR/jwt-secret, trailing whitespace\n"
                  "ignored) and prints a signed token. Needs no server. Guard the output like a\n"
                  "password.\n",
       .options =
           {
               option("sao", "LEVEL", "access level: " + choices(kAllSaoLevels)),
               option("company", "NAME", "the company claim; required for sapphire, opal, onyx"),
               option("ttl", "DURATION", "lifetime", "1h"),
               option("subject", "NAME", "the sub claim", "discoveryctl"),
               option("secret-file", "FILE", "the secret (default DIR/jwt-secret of --data-dir)"),
               data_dir_option(),
               option("issuer", "ISS", "an iss claim, for a daemon run with --jwt-issuer"),
               option("audience", "AUD", "an aud claim, for a daemon run with --jwt-audience"),
           },
       .uses_server = false,
       .run = run_token},
      {.name = "version", .summary = "print the version", .uses_server = false, .run = run_version},
      {.name = "help",
       .operands = "[COMMAND]",
       .summary = "explain a command and its options",
       .max_operands = 1,
       .uses_server = false,
       .run = run_help},
  };
}

// A token from --token-file may end in a newline; tokens never hold spaces.
std::string trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

Outcome<std::string> resolve_token(const Args& args) {
  // A flag beats the environment; two settings of the same rank are a
  // mistake worth reporting rather than guessing.
  const bool token_flag = args.given_as_flag("token");
  const bool file_flag = args.given_as_flag("token-file");
  if (token_flag && file_flag) return usage_error("give --token or --token-file, not both");
  bool use_file = file_flag;
  if (!token_flag && !file_flag) {
    if (args.has("token") && args.has("token-file"))
      return usage_error("DISCOVERY_TOKEN and DISCOVERY_TOKEN_FILE are both set; unset one");
    use_file = args.has("token-file");
  }
  std::string token;
  if (use_file) {
    const auto path = args.get("token-file");
    auto bytes = app::read_file(path, 64 * 1024);
    if (!bytes) return usage_error("--token-file: " + bytes.error().message);
    token = trim(*bytes);
    if (token.empty()) return usage_error("--token-file: " + path + " is empty");
  } else {
    token = trim(args.get("token"));
    if (token_flag)
      std::cerr << "discoveryctl: warning: a token given with --token is visible to other users "
                   "(process list, shell history); prefer DISCOVERY_TOKEN or --token-file\n";
  }
  // It goes into a header as is; never echo it, not even in this message.
  if (std::any_of(token.begin(), token.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; }))
    return usage_error("the token contains spaces or control characters");
  return token;
}

}  // namespace

const std::vector<Command>& commands() {
  static const std::vector<Command> table = make_commands();
  return table;
}

const Command* find_command(std::string_view name) {
  for (const auto& c : commands())
    if (c.name == name) return &c;
  return nullptr;
}

const std::vector<Option>& global_options() {
  static const std::vector<Option> options = [] {
    std::vector<Option> globals{
        option("server", "URL", "discoveryd's address, http:// or https://",
               "http://127.0.0.1:8080"),
        option("token", "JWT",
               "bearer token; visible to other users on the command line, so prefer\n"
               "the environment or --token-file"),
        option("token-file", "FILE", "file holding the bearer token"),
        option("timeout", "DURATION", "deadline of each request (500ms, 10s, 1m)", "10s"),
        switch_option("insecure", "skip TLS certificate and host name checks (test certificates)"),
    };
    for (auto& o : globals) o.from_env = true;
    globals.push_back(switch_option("help", "explain the command"));
    return globals;
  }();
  return options;
}

std::string tool_help() {
  std::string out =
      "usage: discoveryctl COMMAND [options] [operands]\n\n"
      "The command-line client of discoveryd, the service registry for MCP servers.\n\n"
      "commands:\n";
  for (const auto& c : commands()) {
    std::string left = "  " + c.name;
    left.resize(std::max<std::size_t>(left.size() + 2, 14), ' ');
    out += left + c.summary + "\n";
  }
  out += "\nglobal options, for every command:\n" + options_help(global_options()) +
         "\n`discoveryctl help COMMAND` or `discoveryctl COMMAND --help` explains a command.\n\n"
         "exit status: 0 success; 1 the server answered with an error (printed as\n"
         "\"code: field: message\"); 2 bad usage or an unreadable input file; 3 no answer from\n"
         "the server (cannot connect, TLS failure, timeout).\n";
  return out;
}

std::string command_help(const Command& command) {
  std::string out = "usage: discoveryctl " + command.name +
                    (command.options.empty() ? "" : " [options]") +
                    (command.operands.empty() ? "" : " " + command.operands) + "\n\n";
  out += std::string(
             1, static_cast<char>(std::toupper(static_cast<unsigned char>(command.summary[0])))) +
         command.summary.substr(1) + ".\n";
  if (!command.details.empty()) out += "\n" + command.details;
  if (!command.options.empty()) out += "\noptions:\n" + options_help(command.options);
  if (command.uses_server) out += "\nglobal options:\n" + options_help(global_options());
  return out;
}

Outcome<ClientOptions> client_options(const Args& args) {
  ClientOptions options;
  auto server = ServerUrl::parse(args.get("server"));
  if (!server) return server.error();
  options.server = std::move(*server);
  const auto timeout = parse_duration(args.get("timeout"));
  if (!timeout || timeout->count() == 0)
    return usage_error("--timeout must be a duration such as 500ms, 10s or 1m");
  options.timeout = *timeout;
  options.insecure = args.flag("insecure");
  auto token = resolve_token(args);
  if (!token) return token.error();
  options.token = std::move(*token);
  return options;
}

}  // namespace discovery::ctl
