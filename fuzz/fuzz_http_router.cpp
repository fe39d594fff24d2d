// The HTTP router: a whole request as bytes, parsed by Beast as the session
// parses it (same header and body limits), handed to server::Api::handle (the
// session's only link to the application), and the answer checked. Long-poll
// and watch outcomes are carried out as the session would, without waiting:
// the long-poll's answer and the watch's snapshot.
//
// Each input gets a fresh in-memory registry holding three known services
// (ids 00000000-0000-4000-8000-00000000000{1,2,3}), so inputs reproduce.
// `Authorization: Bearer <alias>` with an alias from kTokens is replaced by a
// real token of that level (the fuzzer cannot forge signatures).
//
// Invariants: no exception escapes handle() (the session would answer 500);
// every status is one API.md lists; an error answer is API.md's error JSON
// whose code matches the status; a JSON answer is valid JSON; no answer is
// a 500.
#include <discovery/record_json.hpp>
#include <discovery/registry.hpp>
#include <discovery/storage.hpp>

#include "fuzz_common.hpp"
#include "server/api.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <set>

using namespace discovery;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kSecret = "fuzz-router-secret";

struct Fixture {
  ManualClock clock;
  std::unique_ptr<JwtVerifier> verifier;
  ServerOptions options;
  server::Metrics metrics;
  server::Logger logger{LogLevel::off, [](std::string_view) {}};
  std::map<std::string, std::string, std::less<>> tokens;
  WriteBatch seed;

  Fixture() {
    JwtOptions jwt;
    jwt.hs256_secret = std::string(kSecret);
    auto created = JwtVerifier::create(jwt, clock);
    if (!created) fuzz::fail("verifier", created.error().to_string());
    verifier = std::move(*created);
    options.max_body_bytes = 64 << 10;
    const auto mint = [&](std::string alias, SaoLevel level, std::string company) {
      tokens[alias] = mint_hs256_token(kSecret, Principal{alias, level, std::move(company), {}}, clock.now(),
                                       std::chrono::hours{24 * 365});
    };
    mint("diamond", SaoLevel::diamond, "");
    mint("emerald", SaoLevel::emerald, "");
    mint("sapphire", SaoLevel::sapphire, "acme");
    mint("opal", SaoLevel::opal, "acme");
    mint("onyx", SaoLevel::onyx, "acme");
    mint("beta", SaoLevel::sapphire, "beta");

    const char* bodies[] = {
        R"({"companyName":"acme","instanceId":"acme-1","serviceInfo":{"version":"1.0.0","capabilities":["tools","search"],"region":"us-west1","environment":"production","endpoints":{"primary":"https://mcp.acme.example/mcp","mcp":"https://mcp.acme.example/mcp"}},"tags":["beta","gpu"],"personalConfig":{"k":"v"},"healthCheckConfig":{"ttl":"30s"}})",
        R"({"companyName":"acme","instanceId":"acme-2","serviceInfo":{"region":"eu-west1","environment":"staging","endpoints":{"primary":"http://10.0.0.2:8080"}},"saoLevel":"opal"})",
        R"({"companyName":"beta","instanceId":"beta-1","serviceInfo":{"endpoints":{"primary":"https://beta.example"}},"metadata":{"a":[1,2,3]}})",
    };
    int n = 0;
    for (const char* body : bodies) {
      auto record = parse_registration(json::parse(body), SaoLevel::diamond);
      if (!record) fuzz::fail("seed record", record.error().to_string());
      ++n;
      record->service_id = "00000000-0000-4000-8000-00000000000" + std::to_string(n);
      record->domain = "mcp.example.com";
      record->registered_at = record->last_updated = clock.now();
      record->create_index = record->modify_index = static_cast<std::uint64_t>(n);
      if (n == 2) {
        record->status = ServiceStatus::maintenance;
        record->status_cause = StatusCause::operator_set;
      }
      seed.upserts.push_back(std::move(*record));
    }
    seed.index = static_cast<std::uint64_t>(n);
  }
};

const std::set<unsigned> kStatuses{200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 431, 503};

void check_response(const server::ApiResponse& r, std::string_view request) {
  FUZZ_CHECK(kStatuses.count(r.status) == 1, std::to_string(r.status) + " for " + std::string(request));
  if (r.status == 204) {
    FUZZ_CHECK(r.body.empty(), request);
    return;
  }
  if (r.content_type != "application/json") return;
  // A kept discover answer travels in shared_body, not body.
  const std::string& text = r.shared_body ? *r.shared_body : r.body;
  auto body = fuzz::parse_json(text);
  FUZZ_CHECK(body.has_value(), text);
  if (r.status >= 400) {
    const auto* error = body->is_object() ? body->as_object().if_contains("error") : nullptr;
    FUZZ_CHECK(error && error->is_object(), r.body);
    const auto* code = error->as_object().if_contains("code");
    FUZZ_CHECK(code && code->is_string() && !r.error_code.empty() && code->as_string() == r.error_code, r.body);
    const auto* message = error->as_object().if_contains("message");
    FUZZ_CHECK(message && message->is_string(), r.body);
  } else {
    FUZZ_CHECK(body->is_object(), r.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  const auto text = fuzz::as_text(data, size);

  http::request_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(fixture.options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(fixture.options.max_header_bytes));
  boost::beast::error_code ec;
  std::string_view rest = text;
  while (!rest.empty() && !parser.is_done()) {
    const std::size_t used = parser.put(boost::asio::const_buffer(rest.data(), rest.size()), ec);
    if (ec == http::error::need_more) break;
    if (ec) return 0;  // the session answers a malformed request itself
    rest.remove_prefix(used);
  }
  if (!parser.is_done()) {
    if (!parser.got_some()) return 0;
    parser.put_eof(ec);
    if (ec || !parser.is_done()) return 0;
  }
  const auto& req = parser.get();

  auto storage = make_memory_storage();
  if (!storage->write(fixture.seed)) fuzz::fail("seed write");
  RegistryOptions registry_options;
  registry_options.clock = &fixture.clock;
  registry_options.ttl_sweep_interval = Duration{0};
  auto registry = Registry::open(*storage, registry_options);
  if (!registry) fuzz::fail("registry open", registry.error().to_string());
  server::Api api(**registry, *fixture.verifier, fixture.options, fixture.metrics, fixture.logger);

  std::string authorization(req[http::field::authorization]);
  if (authorization.starts_with("Bearer "))
    if (auto it = fixture.tokens.find(std::string_view(authorization).substr(7)); it != fixture.tokens.end())
      authorization = "Bearer " + it->second;

  server::ApiRequest request;
  request.method = req.method() == http::verb::head ? http::verb::get : req.method();
  request.target = req.target();
  request.body = req.body();
  request.content_type = req[http::field::content_type];
  request.authorization = authorization;
  request.last_event_id = req["Last-Event-ID"];
  request.request_id = "fuzz";

  server::ApiResult result;
  try {
    result = api.handle(request);
  } catch (const std::exception& e) {
    fuzz::fail("exception from Api::handle", e.what());
  }
  const std::string_view shown = text.substr(0, 2000);
  if (auto* response = std::get_if<server::ApiResponse>(&result.outcome)) {
    check_response(*response, shown);
  } else if (auto* wait = std::get_if<server::DiscoverWait>(&result.outcome)) {
    check_response(api.answer_discover(*wait), shown);
  } else {
    const auto& watch = std::get<server::WatchStart>(result.outcome);
    std::uint64_t index = 0;
    for (const auto& frame : api.watch_snapshot(watch, index)) FUZZ_CHECK(frame.starts_with("event: change\n"), frame);
    // The replay a resumed watch gets (http_server.cpp: on_watch_started).
    if (watch.resume_after && *watch.resume_after <= (*registry)->index())
      if (auto replay = (*registry)->events_since(*watch.resume_after))
        for (const auto& event : *replay)
          if (server::Api::watch_matches(watch, event)) (void)api.watch_frame(watch.principal, event);
  }
  return 0;
}
