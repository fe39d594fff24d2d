#include "api.hpp"
#include "ui_assets.hpp"

#include <discovery/health_checker.hpp>

#include <discovery/query_engine.hpp>
#include <discovery/record_json.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace discovery::server {

namespace http = boost::beast::http;
namespace json = boost::json;

extern const char* const kOpenApiJson;  // openapi_json.cpp, generated from openapi.json

namespace {

constexpr std::string_view kServicesPrefix = "/api/v1/services/";

ApiResponse json_response(unsigned status, const json::value& body) {
  ApiResponse r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

ApiResponse no_content() {
  ApiResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

ApiResponse method_not_allowed(std::string_view allow) {
  auto r = Api::error_response(
      Error{ErrorCode::method_not_allowed, "method not allowed; use " + std::string(allow), {}});
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

// "application/json; charset=utf-8" -> "application/json"
std::string_view media_type(std::string_view content_type) {
  auto end = content_type.find(';');
  auto type = content_type.substr(0, end);
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return type;
}

// `text` with every byte that is not part of a well-formed UTF-8 sequence
// (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF)
// replaced by U+FFFD. Boost.JSON writes strings byte for byte.
std::string valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char c = byte(i);
    std::size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // the second byte's range
    if (c < 0x80) length = 1;
    else if (c >= 0xC2 && c <= 0xDF) length = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) low = 0xA0;
      if (c == 0xED) high = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) low = 0x90;
      if (c == 0xF4) high = 0x8F;
    }
    bool ok = length > 0 && i + length <= text.size();
    for (std::size_t k = 1; ok && k < length; ++k) {
      const unsigned char b = byte(i + k);
      ok = k == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xBF);
    }
    if (ok) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += "\xEF\xBF\xBD";
      ++i;
    }
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

Result<json::value> parse_json_body(const ApiRequest& request,
                                    std::initializer_list<std::string_view> accepted) {
  const auto type = media_type(request.content_type);
  if (std::none_of(accepted.begin(), accepted.end(), [&](std::string_view a) { return iequals(type, a); })) {
    std::string list;
    for (auto a : accepted) list += (list.empty() ? "" : " or ") + std::string(a);
    return Error{ErrorCode::unsupported_media_type,
                 "Content-Type must be " + list + (type.empty() ? "" : ", not " + std::string(type)), {}};
  }
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  auto value = json::parse(request.body, ec, {}, options);
  if (ec) return invalid_argument("", "request body is not valid JSON (" + ec.message() + ")");
  return value;
}

// The registry's names for the actions it audits, so that refused and
// accepted requests read alike in the audit log.
std::string_view audit_action(Route route) {
  switch (route) {
    case Route::register_service: return "register";
    case Route::update: return "update";
    case Route::set_status: return "status";
    case Route::deregister: return "deregister";
    case Route::report_health: return "health";
    case Route::heartbeat: return "heartbeat";
    default: return route_name(route);
  }
}

}  // namespace

// ---- RateLimiter -----------------------------------------------------------

unsigned RateLimiter::acquire(const std::string& subject) {
  const auto now = std::chrono::steady_clock::now();
  const double burst = 2 * rate_;
  std::lock_guard lock(mutex_);
  if (buckets_.size() > 100000) buckets_.clear();  // bounded: forget idle subjects
  auto [it, inserted] = buckets_.try_emplace(subject, Bucket{burst, now});
  Bucket& b = it->second;
  b.tokens = std::min(burst, b.tokens + rate_ * std::chrono::duration<double>(now - b.updated).count());
  b.updated = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return static_cast<unsigned>(std::ceil((1 - b.tokens) / rate_));
}

// ---- Api -------------------------------------------------------------------

Api::Api(Registry& registry, const JwtVerifier& verifier, const ServerOptions& options,
         Metrics& metrics, Logger& logger)
    : registry_(registry),
      verifier_(verifier),
      options_(options),
      metrics_(metrics),
      logger_(logger),
      mcp_registry_(registry, authorizer_, McpRegistry::Options{options.registry_public_companies, 10000}),
      engine_(registry),
      limiter_(options.rate_limit_rps),
      answers_(options.answer_cache_bytes) {}

bool Api::may_block(http::verb method, std::string_view target) {
  // Mutations wait for a durable commit, and so does the audit entry of a
  // refused one; the audit log is read from storage. Any other request (a
  // POST to a path that takes none, say) is answered from memory.
  const auto path = target.substr(0, target.find('?'));
  return mutating_route(method, path) != Route::unknown || path == "/api/v1/audit";
}

std::optional<ApiResult> Api::try_without_storage(ApiRequest& request) {
  constexpr std::string_view kHeartbeat = "/heartbeat";
  if (request.method != http::verb::post) return std::nullopt;
  const auto target = request.target;
  const auto path = target.substr(0, target.find('?'));
  if (mutating_route(request.method, path) != Route::heartbeat) return std::nullopt;
  // mutating_route() checked the shape: prefix, one id segment, "/heartbeat".
  const auto service_id = path.substr(kServicesPrefix.size(), path.size() - kServicesPrefix.size() - kHeartbeat.size());
  if (service_id.empty()) return std::nullopt;
  auto principal = authenticate(request);
  if (!principal) return std::nullopt;  // 401, audited by handle()
  if (limiter_.enabled()) {
    if (limiter_.acquire(principal->subject) != 0) return std::nullopt;  // 429, audited by handle()
    request.rate_limit_charged = true;
  }
  auto found = registry_.get(service_id);
  if (!found) return std::nullopt;  // 404, audited
  if (authorizer_.decide(*principal, Authorizer::Action::heartbeat, (*found)->company_name) !=
      Authorizer::Decision::allow)
    return std::nullopt;  // 403 or 404, audited
  auto beat = registry_.heartbeat_in_memory(*found);
  if (!beat) return std::nullopt;  // a revival (a durable change), or the service is busy
  return ApiResult{Route::heartbeat, heartbeat_response(*beat)};
}

ApiResponse Api::heartbeat_response(const HeartbeatResult& beat) {
  return json_response(200, json::object{{"serviceId", beat.service_id},
                                         {"status", to_string(beat.status)},
                                         {"expiresAt", beat.expires_at ? json::value(format_time(*beat.expires_at))
                                                                       : json::value(nullptr)}});
}

ApiResponse Api::error_response(const Error& error) {
  // API.md: the message names the field too ("serviceInfo.region: must match ...").
  // Both may quote what the client sent (a query parameter's name, a
  // value), which need not be UTF-8; the answer must be JSON all the same.
  json::object detail{{"code", to_string(error.code)}, {"message", valid_utf8(error.to_string())}};
  if (!error.field.empty()) detail["field"] = valid_utf8(error.field);
  ApiResponse r = json_response(static_cast<unsigned>(http_status(error.code)), json::object{{"error", std::move(detail)}});
  r.error_code = to_string(error.code);
  if (error.code == ErrorCode::unauthenticated) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

Result<Principal> Api::authenticate(const ApiRequest& request) const {
  const auto header = request.authorization;
  if (header.empty())
    return Error{ErrorCode::unauthenticated, "missing Authorization: Bearer token", {}};
  if (header.size() < 7 || !iequals(header.substr(0, 7), "Bearer "))
    return Error{ErrorCode::unauthenticated, "Authorization must be a Bearer token", {}};
  auto token = header.substr(7);
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  return verifier_.verify(token);
}

json::object Api::record_view(const Principal& principal, const ServiceRecord& record) const {
  return to_json(record, authorizer_.may_manage(principal, record.company_name) ? JsonView::full
                                                                               : JsonView::redacted);
}

// GET /api/v1/alerts: the health checker's recent alerts that the caller may
// read (the levels that may read health history, for their companies;
// fleet-wide alerts for diamond and emerald only).
ApiResult Api::alerts(const Principal& principal, std::string_view query) const {
  const Route route = Route::alerts;
  using Action = Authorizer::Action;
  std::string service_id;
  std::size_t limit = 100;
  auto params = parse_query_params(query);
  if (!params) return {route, error_response(params.error())};
  for (const auto& [name, value] : *params) {
    if (name == "serviceId") {
      // An empty one listed every alert, as if absent (schemathesis).
      if (value.empty()) return {route, error_response(invalid_argument("serviceId", "must be a serviceId"))};
      service_id = value;
    } else if (name == "limit") {
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc{} || end != value.data() + value.size() || limit < 1 || limit > 1000)
        return {route, error_response(invalid_argument("limit", "must be an integer from 1 to 1000"))};
    } else {
      return {route, error_response(invalid_argument(name, "is not an alerts parameter (serviceId, limit)"))};
    }
  }
  if (!service_id.empty()) {
    auto found = registry_.get(service_id);
    if (!found)
      return {route, error_response(decision_error(Authorizer::Decision::not_found, Action::read_health, service_id))};
    if (auto allowed = authorizer_.require(principal, Action::read_health, (*found)->company_name, service_id); !allowed)
      return {route, error_response(allowed.error())};
  } else if (auto allowed = authorizer_.require(principal, Action::read_health, principal.company, ""); !allowed) {
    return {route, error_response(allowed.error())};
  }
  const auto scope = authorizer_.discover_scope(principal);
  json::array out;
  if (options_.health_checker) {
    for (const auto& alert : options_.health_checker->recent_alerts(service_id, 1 << 20)) {
      if (out.size() >= limit) break;
      if (!scope.empty() && alert.company_name != scope) continue;  // also hides fleet-wide alerts
      out.push_back(to_json(alert));
    }
  }
  return {route, json_response(200, json::object{{"alerts", std::move(out)}})};
}

ApiResponse Api::discover_page(const Principal& principal, const DiscoverQuery& query) const {
  // A whole answer kept from an earlier request with the same key, made at
  // the version the query has now, is these bytes exactly: send them again.
  std::string key;
  if (answers_.enabled()) {
    key = AnswerCache::key(query, principal);
    if (auto kept = answers_.find(key, engine_.version(query))) return answer_response(std::move(kept));
  }
  auto page = engine_.discover(query);
  if (!page) return error_response(page.error());
  // Records are spliced in as cached text: an unchanged record is never
  // converted or serialized again.
  auto answer = std::make_shared<AnswerCache::Answer>();
  answer->version = page->version;
  answer->index = std::to_string(page->index);
  std::string& body = answer->body;
  body.reserve(64 + page->services.size() * 1024);
  body += "{\"count\":";
  body += std::to_string(page->services.size());
  body += ",\"services\":[";
  for (std::size_t i = 0; i < page->services.size(); ++i) {
    const auto& r = page->services[i];
    if (i) body.push_back(',');
    const auto view = authorizer_.may_manage(principal, r->company_name) ? JsonView::full : JsonView::redacted;
    body += *json_cache_.get(r, view);
  }
  body += "],\"nextCursor\":";
  body += page->next_cursor ? json::serialize(json::value(*page->next_cursor)) : std::string("null");
  body += ",\"index\":";
  body += answer->index;
  body += "}";
  AnswerCache::AnswerPtr shared = std::move(answer);
  if (answers_.enabled()) answers_.insert(std::move(key), shared);
  return answer_response(std::move(shared));
}

ApiResponse Api::answer_response(AnswerCache::AnswerPtr answer) {
  ApiResponse response;
  response.headers.emplace_back("X-Discovery-Index", answer->index);
  // Aliasing: the body's owner is the whole answer, nothing is copied.
  response.shared_body = std::shared_ptr<const std::string>(answer, &answer->body);
  return response;
}

ApiResponse Api::answer_discover(const DiscoverWait& wait) const {
  return discover_page(wait.principal, wait.query);
}

bool Api::watch_matches(const WatchStart& watch, const ChangeEvent& event) {
  return QueryEngine::matches(watch.filter, *event.record) ||
         (event.previous && QueryEngine::matches(watch.filter, *event.previous));
}

std::string Api::watch_frame(const Principal& principal, const ChangeEvent& event) const {
  return watch_frame(authorizer_.may_manage(principal, event.record->company_name), event);
}

std::string Api::watch_frame(bool full_view, const ChangeEvent& event) {
  json::object data{{"index", event.index},
                    {"type", to_string(event.type)},
                    {"service", to_json(*event.record, full_view ? JsonView::full : JsonView::redacted)}};
  return "event: change\nid: " + std::to_string(event.index) + "\ndata: " + json::serialize(data) + "\n\n";
}

std::vector<std::string> Api::watch_snapshot(const WatchStart& watch, std::uint64_t& index) const {
  std::vector<std::string> frames;
  DiscoverQuery query = watch.filter;
  query.limit = kMaxDiscoverLimit;
  query.cursor.clear();
  // The index before the first page: a change landing during the walk is
  // above it and reaches the watcher as an event, even if a later page
  // already showed it (a repeated upsert is harmless, a lost one is not).
  index = registry_.index();
  for (;;) {
    auto page = engine_.discover(query);
    if (!page) break;
    for (const auto& r : page->services)
      frames.push_back(watch_frame(watch.principal, ChangeEvent{index, ChangeType::upsert, r, nullptr}));
    if (!page->next_cursor) break;
    query.cursor = *page->next_cursor;
  }
  return frames;
}

std::optional<ApiResponse> Api::rate_limited(const std::string& subject) {
  if (!limiter_.enabled()) return std::nullopt;
  const unsigned retry = limiter_.acquire(subject);
  if (retry == 0) return std::nullopt;
  ++metrics_.rate_limited;
  auto r = error_response(Error{ErrorCode::rate_limited, "rate limit exceeded; retry after " + std::to_string(retry) + " s", {}});
  r.headers.emplace_back("Retry-After", std::to_string(retry));
  return r;
}

ApiResult Api::route_mcp_registry(const ApiRequest& request, std::string_view rest, std::string_view query,
                                  Principal* principal_out) {
  constexpr Route route = Route::mcp_registry;
  const auto error = [](const Error& e) { return ApiResult{route, error_response(e)}; };
  // Without a token, only when some companies are public (and then only
  // theirs); a token that is present must be valid, never ignored.
  std::optional<Principal> principal;
  if (!request.authorization.empty() || !mcp_registry_.anonymous_allowed()) {
    auto authenticated = authenticate(request);
    if (!authenticated) return error(authenticated.error());
    principal = *authenticated;
    *principal_out = *principal;
  }
  // Anonymous readers share one bucket: the limit protects the daemon.
  if (auto limited = rate_limited(principal ? principal->subject : std::string("\x01anonymous")))
    return {route, std::move(*limited)};
  const RegistryScope scope = mcp_registry_.scope(principal ? &*principal : nullptr);

  if (rest.empty() || rest == "/") {
    auto q = parse_registry_list_query(query);
    if (!q) return error(q.error());
    auto list = mcp_registry_.list(scope, *q);
    if (!list) return error(list.error());
    return {route, json_response(200, *list)};
  }
  // {serverName}[/versions[/{version}]], the name URL-encoded ("ns%2Fname")
  // or not: a server name holds exactly one '/'.
  auto decoded = percent_decode_path(rest.substr(1), "serverName");
  if (!decoded) return error(decoded.error());
  std::vector<std::string_view> segments;
  for (std::string_view left = *decoded;;) {
    const auto slash = left.find('/');
    segments.push_back(left.substr(0, slash));
    if (slash == std::string_view::npos) break;
    left.remove_prefix(slash + 1);
  }
  auto include_deleted = parse_include_deleted(query);
  if (!include_deleted) return error(include_deleted.error());
  if (segments.size() < 2 || segments[0].empty() || segments[1].empty() || (segments.size() > 2 && segments[2] != "versions"))
    return error(not_found("no such server: " + decoded->substr(0, 200)));
  const std::string name = std::string(segments[0]) + "/" + std::string(segments[1]);
  if (segments.size() == 2) {
    // The generic registry API's GET /v0/servers/{serverName}: the latest version.
    auto one = mcp_registry_.version(scope, name, "latest", *include_deleted);
    if (!one) return error(one.error());
    return {route, json_response(200, *one)};
  }
  if (segments.size() == 3) {
    auto all = mcp_registry_.versions(scope, name, *include_deleted);
    if (!all) return error(all.error());
    return {route, json_response(200, *all)};
  }
  const auto version_start = segments[0].size() + segments[1].size() + segments[2].size() + 3;
  const std::string_view version = std::string_view(*decoded).substr(version_start);
  if (version.empty()) return error(not_found("no such server version"));
  auto one = mcp_registry_.version(scope, name, version, *include_deleted);
  if (!one) return error(one.error());
  return {route, json_response(200, *one)};
}

ApiResult Api::handle(const ApiRequest& request) {
  auto target = request.target;
  const auto qmark = target.find('?');
  const auto path = target.substr(0, qmark);
  const auto query = qmark == std::string_view::npos ? std::string_view{} : target.substr(qmark + 1);
  Principal principal;
  ApiResult result = route(request, path, query, &principal);

  // Every mutating request is audited: successes by the registry, in the same
  // durable batch as the change; refusals here.
  if (auto* response = std::get_if<ApiResponse>(&result.outcome); response && response->status >= 400)
    audit_refusal(request, principal, response->error_code);
  return result;
}

bool Api::start_async(const ApiRequest& request, std::function<void(AsyncOutcome)> done) {
  constexpr Route route = Route::register_service;
  if (request.method != http::verb::post) return false;
  if (request.target.substr(0, request.target.find('?')) != "/api/v1/services/register") return false;
  if (!registry_.writes_asynchronously()) return false;

  // A refusal is audited as handle() audits it, on a thread that may wait.
  const auto refusal = [this, method = request.method, target = std::string(request.target),
                        request_id = request.request_id](ApiResponse response, const Principal& principal) {
    AsyncOutcome outcome;
    outcome.audit = [this, method, target, request_id, principal, code = std::string(response.error_code)] {
      ApiRequest refused;
      refused.method = method;
      refused.target = target;
      refused.request_id = request_id;
      audit_refusal(refused, principal, code);
    };
    outcome.answer = [result = ApiResult{route, std::move(response)}] { return result; };
    return outcome;
  };

  auto authenticated = authenticate(request);
  if (!authenticated) {
    done(refusal(error_response(authenticated.error()), Principal{}));
    return true;
  }
  const Principal principal = *authenticated;
  if (auto limited = rate_limited(principal.subject)) {
    done(refusal(std::move(*limited), principal));
    return true;
  }
  auto body = parse_json_body(request, {"application/json"});
  if (!body) {
    done(refusal(error_response(body.error()), principal));
    return true;
  }
  std::string company = principal.company;
  if (body->is_object())
    if (auto* c = body->as_object().if_contains("companyName"); c && c->is_string()) company = std::string(c->as_string());
  if (auto allowed = authorizer_.require(principal, Authorizer::Action::register_service, company, ""); !allowed) {
    done(refusal(error_response(allowed.error()), principal));
    return true;
  }
  const RequestContext context{request.request_id, principal.subject, principal.level, principal.company};
  registry_.register_json_async(
      *body, context,
      [this, principal, refusal, done = std::move(done)](Result<RegisterResult> registered) {
        if (!registered) return done(refusal(error_response(registered.error()), principal));
        AsyncOutcome outcome;
        // The record's JSON is built by whoever sends the answer, not here
        // (which may be the storage's writer thread, shared by every write).
        outcome.answer = [this, principal, record = std::move(registered->record), created = registered->created] {
          return ApiResult{route, json_response(created ? 201 : 200, record_view(principal, *record))};
        };
        done(std::move(outcome));
      });
  return true;
}

Route Api::mutating_route(http::verb method, std::string_view path) {
  using V = http::verb;
  if (path == "/api/v1/services/register") return method == V::post ? Route::register_service : Route::unknown;
  if (path.size() <= kServicesPrefix.size() || path.substr(0, kServicesPrefix.size()) != kServicesPrefix)
    return Route::unknown;
  const auto rest = path.substr(kServicesPrefix.size());
  const auto slash = rest.find('/');
  const auto sub = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (sub.empty()) return method == V::patch ? Route::update : method == V::delete_ ? Route::deregister : Route::unknown;
  if (sub == "/status" && method == V::put) return Route::set_status;
  if (sub == "/health" && method == V::put) return Route::report_health;
  if (sub == "/heartbeat" && method == V::post) return Route::heartbeat;
  return Route::unknown;
}

void Api::audit_refusal(const ApiRequest& request, const Principal& principal, std::string_view code) {
  const auto target = request.target;
  const auto path = target.substr(0, target.find('?'));
  const Route route = mutating_route(request.method, path);
  if (route == Route::unknown) return;  // not a request that could change anything
  std::string service_id;
  if (route != Route::register_service) {
    const auto rest = path.substr(kServicesPrefix.size());
    service_id = std::string(rest.substr(0, std::min<std::size_t>(rest.find('/'), 128)));
  }
  AuditEntry entry{registry_.clock().now(), request.request_id, principal.subject,
                   principal.subject.empty() ? "" : std::string(to_string(principal.level)),
                   principal.company, std::string(audit_action(route)), std::move(service_id),
                   std::string(code.empty() ? "error" : code)};
  if (auto r = registry_.append_audit(std::move(entry)); !r)
    logger_.log(LogLevel::warn, "audit write failed", {{"error", r.error().message}});
}

ApiResult Api::route(const ApiRequest& request, std::string_view path, std::string_view query,
                     Principal* principal_out) {
  using V = http::verb;
  const V method = request.method;
  const auto error = [](Route route, const Error& e) { return ApiResult{route, error_response(e)}; };

  // ---- operations endpoints (no token) ----
  if (path == "/health") {
    if (method != V::get && method != V::head) return {Route::health, method_not_allowed("GET")};
    return {Route::health, json_response(200, json::object{{"status", "ok"}})};
  }
  if (path == "/ready") {
    if (method != V::get && method != V::head) return {Route::ready, method_not_allowed("GET")};
    if (draining_)
      return error(Route::ready, Error{ErrorCode::unavailable, "shutting down", {}});
    return {Route::ready, json_response(200, json::object{{"status", "ready"},
                                                         {"services", registry_.size()},
                                                         {"index", registry_.index()}})};
  }
  if (path == "/openapi.json") {
    if (method != V::get && method != V::head) return {Route::openapi, method_not_allowed("GET")};
    ApiResponse r;
    r.body = kOpenApiJson;
    return {Route::openapi, std::move(r)};
  }
  if (path == "/metrics") {
    if (method != V::get && method != V::head) return {Route::metrics, method_not_allowed("GET")};
    if (options_.metrics_require_auth) {
      auto p = authenticate(request);
      if (!p) return error(Route::metrics, p.error());
      if (!at_least(p->level, SaoLevel::emerald))
        return error(Route::metrics, Error{ErrorCode::permission_denied, "metrics need an emerald or diamond token", {}});
    }
    ApiResponse r;
    r.body = metrics_.render(registry_, options_.health_checker, &answers_);
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return {Route::metrics, std::move(r)};
  }

  // ---- the dashboard: static files, no auth (the token stays in the browser) ----
  if (path == "/ui" || path.substr(0, 4) == "/ui/") {
    if (method != V::get) return {Route::ui, method_not_allowed("GET")};
    ApiResponse r;
    if (auto asset = find_ui_asset(path)) {
      r.body = asset->body;
      r.content_type = std::string(asset->content_type);
    } else {
      r = error_response(not_found("no such file: " + std::string(path.substr(0, 200))));
    }
    for (auto& header : ui_headers()) r.headers.push_back(std::move(header));
    return {Route::ui, std::move(r)};
  }

  // ---- the MCP Registry API (docs/mcp-registry.md) ----
  for (std::string_view prefix : {std::string_view("/v0.1/servers"), std::string_view("/v0/servers")}) {
    if (path.substr(0, prefix.size()) != prefix) continue;
    const auto rest = path.substr(prefix.size());
    if (!rest.empty() && rest.front() != '/') break;
    if (method != V::get) return {Route::mcp_registry, method_not_allowed("GET")};
    return route_mcp_registry(request, rest, query, principal_out);
  }

  // ---- the API: resolve the route first, then authenticate ----
  Route route = Route::unknown;
  std::string_view service_id;
  std::string_view allow;
  if (path == "/api/v1/services/register") {
    route = Route::register_service;
    allow = "POST";
    if (method != V::post) return {route, method_not_allowed(allow)};
  } else if (path == "/api/v1/services/discover") {
    route = Route::discover;
    if (method != V::get) return {route, method_not_allowed("GET")};
  } else if (path == "/api/v1/services/watch") {
    route = Route::watch;
    if (method != V::get) return {route, method_not_allowed("GET")};
  } else if (path == "/api/v1/audit") {
    route = Route::audit;
    if (method != V::get) return {route, method_not_allowed("GET")};
  } else if (path == "/api/v1/alerts") {
    route = Route::alerts;
    if (method != V::get) return {route, method_not_allowed("GET")};
  } else if (path.size() > kServicesPrefix.size() && path.substr(0, kServicesPrefix.size()) == kServicesPrefix) {
    auto rest = path.substr(kServicesPrefix.size());
    const auto slash = rest.find('/');
    service_id = rest.substr(0, slash);
    const auto sub = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (service_id.empty()) return error(Route::unknown, not_found("no such endpoint"));
    if (sub.empty()) {
      if (method == V::get) route = Route::get;
      else if (method == V::patch) route = Route::update;
      else if (method == V::delete_) route = Route::deregister;
      else return {Route::get, method_not_allowed("GET, PATCH, DELETE")};
    } else if (sub == "/status") {
      if (method != V::put) return {Route::set_status, method_not_allowed("PUT")};
      route = Route::set_status;
    } else if (sub == "/health") {
      if (method == V::get) route = Route::get_health;
      else if (method == V::put) route = Route::report_health;
      else return {Route::get_health, method_not_allowed("GET, PUT")};
    } else if (sub == "/heartbeat") {
      if (method != V::post) return {Route::heartbeat, method_not_allowed("POST")};
      route = Route::heartbeat;
    } else {
      return error(Route::unknown, not_found("no such endpoint: " + std::string(path.substr(0, 200))));
    }
  } else {
    return error(Route::unknown, not_found("no such endpoint: " + std::string(path.substr(0, 200))));
  }

  auto authenticated = authenticate(request);
  if (!authenticated) return error(route, authenticated.error());
  const Principal& principal = *authenticated;
  *principal_out = principal;
  if (!request.rate_limit_charged)
    if (auto limited = rate_limited(principal.subject)) return {route, std::move(*limited)};
  const RequestContext context{request.request_id, principal.subject, principal.level, principal.company};
  using Action = Authorizer::Action;

  switch (route) {
    case Route::register_service: {
      auto body = parse_json_body(request, {"application/json"});
      if (!body) return error(route, body.error());
      std::string company = principal.company;
      if (body->is_object())
        if (auto* c = body->as_object().if_contains("companyName"); c && c->is_string()) company = std::string(c->as_string());
      if (auto allowed = authorizer_.require(principal, Action::register_service, company, ""); !allowed)
        return error(route, allowed.error());
      auto registered = registry_.register_json(*body, context);
      if (!registered) return error(route, registered.error());
      return {route, json_response(registered->created ? 201 : 200, record_view(principal, *registered->record))};
    }

    case Route::discover: {
      auto parsed = parse_discover_query(query);
      if (!parsed) return error(route, parsed.error());
      DiscoverQuery q = std::move(parsed->query);
      const auto scope = authorizer_.discover_scope(principal);
      if (!scope.empty()) {
        // A scoped reader asking for another company sees nothing, exactly as
        // if that company had no services: no existence leak.
        if (!q.company.empty() && q.company != scope) q.company = Authorizer::kNoCompany;
        else q.company = std::string(scope);
      }
      if (parsed->wait_index && registry_.index() <= *parsed->wait_index) {
        const Duration wait = std::min(parsed->wait.value_or(options_.default_wait), options_.max_wait);
        if (wait.count() > 0) return {route, DiscoverWait{std::move(q), principal, *parsed->wait_index, wait}};
      }
      return {route, discover_page(principal, q)};
    }

    case Route::watch: {
      auto parsed = parse_discover_query(query);
      if (!parsed) return error(route, parsed.error());
      WatchStart watch{std::move(parsed->query), principal, std::nullopt};
      const auto scope = authorizer_.discover_scope(principal);
      if (!scope.empty()) {
        if (!watch.filter.company.empty() && watch.filter.company != scope) watch.filter.company = Authorizer::kNoCompany;
        else watch.filter.company = std::string(scope);
      }
      std::string_view resume = request.last_event_id;
      // Without a resume point the stream starts at the index of this
      // request, so a change made while the stream is being set up is not lost.
      watch.resume_after = parsed->wait_index ? *parsed->wait_index : registry_.index();
      if (!resume.empty()) {
        std::uint64_t index = 0;
        const auto [end, ec] = std::from_chars(resume.data(), resume.data() + resume.size(), index);
        if (ec != std::errc{} || end != resume.data() + resume.size())
          return error(route, invalid_argument("Last-Event-ID", "must be an event id (an index) from this stream"));
        watch.resume_after = index;
      }
      return {route, std::move(watch)};
    }

    case Route::audit: {
      if (auto allowed = authorizer_.require(principal, Action::read_audit, "", ""); !allowed)
        return error(route, allowed.error());
      TimePoint since{};
      std::size_t limit = 100;
      auto params = parse_query_params(query);
      if (!params) return error(route, params.error());
      for (const auto& [name, value] : *params) {
        if (name == "since") {
          auto t = parse_time(value);
          if (!t) return error(route, invalid_argument("since", t.error().message));
          since = *t;
        } else if (name == "limit") {
          const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
          if (ec != std::errc{} || end != value.data() + value.size() || limit < 1 || limit > 1000)
            return error(route, invalid_argument("limit", "must be an integer from 1 to 1000"));
        } else {
          return error(route, invalid_argument(name, "is not an audit parameter (since, limit)"));
        }
      }
      auto entries = registry_.audit_entries(since, limit);
      if (!entries) return error(route, entries.error());
      json::array out;
      for (const auto& e : *entries)
        out.push_back(json::object{{"at", format_time(e.at)}, {"requestId", e.request_id},
                                   {"subject", e.subject}, {"sao", e.sao}, {"company", e.company},
                                   {"action", e.action}, {"serviceId", e.service_id}, {"result", e.result}});
      return {route, json_response(200, json::object{{"entries", std::move(out)}})};
    }

    case Route::alerts: return alerts(principal, query);

    default:
      break;
  }

  // ---- routes on one service: find it, then decide ----
  auto found = registry_.get(service_id);
  const auto action = [&] {
    switch (route) {
      case Route::get: return Action::read;
      case Route::update: return Action::update;
      case Route::deregister: return Action::deregister;
      case Route::set_status: return Action::set_status;
      case Route::get_health: return Action::read_health;
      case Route::report_health: return Action::report_health;
      default: return Action::heartbeat;
    }
  }();
  if (!found) {
    // Missing and hidden answer alike; a level that may not act at all on
    // its own company's records learns nothing more than 404 either.
    return error(route, decision_error(Authorizer::Decision::not_found, action, service_id));
  }
  const RecordPtr record = *found;
  if (auto allowed = authorizer_.require(principal, action, record->company_name, service_id); !allowed)
    return error(route, allowed.error());

  switch (route) {
    case Route::get:
      return {route, json_response(200, record_view(principal, *record))};

    case Route::update: {
      auto body = parse_json_body(request, {"application/merge-patch+json", "application/json"});
      if (!body) return error(route, body.error());
      auto updated = registry_.update(service_id, *body, context);
      if (!updated) return error(route, updated.error());
      return {route, json_response(200, record_view(principal, **updated))};
    }

    case Route::deregister: {
      if (auto removed = registry_.deregister(service_id, context); !removed) return error(route, removed.error());
      return {route, no_content()};
    }

    case Route::set_status: {
      auto body = parse_json_body(request, {"application/json"});
      if (!body) return error(route, body.error());
      if (!body->is_object()) return error(route, invalid_argument("", "body must be a JSON object {\"status\": ...}"));
      for (const auto& [key, value] : body->as_object())
        if (key != "status") return error(route, invalid_argument(std::string(key), "unknown field"));
      const auto* s = body->as_object().if_contains("status");
      if (!s) return error(route, invalid_argument("status", "is required"));
      std::optional<ServiceStatus> status = s->is_string() ? parse_status(s->as_string()) : std::nullopt;
      if (!status) return error(route, invalid_argument("status", "must be one of active, inactive, maintenance, unhealthy"));
      auto changed = registry_.set_status(service_id, *status, context);
      if (!changed) return error(route, changed.error());
      return {route, json_response(200, record_view(principal, **changed))};
    }

    case Route::get_health: {
      auto detail = registry_.health_detail(service_id);
      if (!detail) return error(route, detail.error());
      json::array checks;
      for (const auto& c : detail->recent_checks) {
        checks.push_back(json::object{
            {"at", format_time(c.at)}, {"ok", c.ok},
            {"responseTime", c.response_time_ms ? json::value(*c.response_time_ms) : json::value(nullptr)},
            {"endpoint", c.endpoint},
            {"error", c.error.empty() ? json::value(nullptr) : json::value(c.error)}});
      }
      return {route, json_response(200, json::object{{"serviceId", detail->service_id},
                                                     {"status", to_string(detail->status)},
                                                     {"healthStatus", to_json(detail->health_status)},
                                                     {"recentChecks", std::move(checks)}})};
    }

    case Route::report_health: {
      auto body = parse_json_body(request, {"application/json"});
      if (!body) return error(route, body.error());
      if (!body->is_object()) return error(route, invalid_argument("", "body must be a JSON object {\"ok\": true|false, ...}"));
      HealthReport report;
      bool has_ok = false;
      for (const auto& [key, value] : body->as_object()) {
        if (key == "ok") {
          if (!value.is_bool()) return error(route, invalid_argument("ok", "must be true or false"));
          report.ok = value.as_bool();
          has_ok = true;
        } else if (key == "responseTime") {
          if (value.is_null()) continue;
          if (!value.is_number()) return error(route, invalid_argument("responseTime", "must be a number of milliseconds"));
          report.response_time_ms = value.to_number<double>();
        } else if (key == "message") {
          if (value.is_null()) continue;
          if (!value.is_string()) return error(route, invalid_argument("message", "must be a string"));
          // Characters, as the OpenAPI document's maxLength counts them (the
          // parser has checked that the string is UTF-8).
          const auto& text = value.as_string();
          if (std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }) > 1024)
            return error(route, invalid_argument("message", "must be at most 1024 characters"));
          report.message = std::string(value.as_string());
        } else {
          return error(route, invalid_argument(std::string(key), "unknown field"));
        }
      }
      if (!has_ok) return error(route, invalid_argument("ok", "is required"));
      report.endpoint = "external";
      auto health = registry_.report_health(service_id, report, context);
      if (!health) return error(route, health.error());
      return {route, json_response(200, to_json(*health))};
    }

    case Route::heartbeat: {
      auto beat = registry_.heartbeat(service_id, context);
      if (!beat) return error(route, beat.error());
      return {route, heartbeat_response(*beat)};
    }

    default:
      return error(route, internal_error("unrouted request"));
  }
}

}  // namespace discovery::server
