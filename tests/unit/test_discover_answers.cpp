// The server's whole-answer cache for discover, and the heartbeats it answers
// without storage: seen through Api (requests in, responses out, no sockets),
// beside a second Api on the same registry with no answer cache, whose
// answers are made afresh every time. A cached answer must equal the fresh
// one after every kind of change, and never cross from one caller's view to
// another's.
#define BOOST_TEST_MODULE test_discover_answers
#include <boost/test/unit_test.hpp>

#include "server/answer_cache.hpp"
#include "server/api.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>

#include <algorithm>
#include <functional>

using namespace discovery;
using namespace discovery::testing;
using namespace std::chrono_literals;
namespace http = boost::beast::http;

namespace {

constexpr std::string_view kSecret = "answer-cache-test-secret";

ServerOptions options_with(std::size_t cache_bytes, double rate_limit = 0) {
  ServerOptions o;
  o.answer_cache_bytes = cache_bytes;
  o.rate_limit_rps = rate_limit;
  return o;
}

struct Fixture {
  explicit Fixture(std::size_t cache_bytes = ServerOptions{}.answer_cache_bytes, double rate_limit = 0)
      : cached_options(options_with(cache_bytes, rate_limit)), fresh_options(options_with(0)) {}

  ManualClock clock;
  std::unique_ptr<Storage> memory = make_memory_storage();
  FailingStorage storage{*memory};
  std::unique_ptr<Registry> registry = *Registry::open(storage, test_options(clock));
  std::unique_ptr<JwtVerifier> verifier = [this] {
    JwtOptions o;
    o.hs256_secret = std::string(kSecret);
    return *JwtVerifier::create(std::move(o), clock);
  }();
  ServerOptions cached_options, fresh_options;
  server::Metrics metrics;
  server::Logger logger{LogLevel::off, [](std::string_view) {}};
  server::Api cached{*registry, *verifier, cached_options, metrics, logger};
  server::Api fresh{*registry, *verifier, fresh_options, metrics, logger};

  std::string token(SaoLevel level, const std::string& company = "", const std::string& subject = "t") {
    return "Bearer " + mint_hs256_token(kSecret, Principal{subject, level, company, {}}, clock.now(), 1h);
  }

  static server::ApiResponse response_of(server::ApiResult result) {
    auto* response = std::get_if<server::ApiResponse>(&result.outcome);
    BOOST_REQUIRE(response);
    return std::move(*response);
  }
  static std::string body_of(const server::ApiResponse& r) { return r.shared_body ? *r.shared_body : r.body; }

  server::ApiResponse call(server::Api& api, http::verb method, const std::string& target,
                           const std::string& authorization, const std::string& body = "") {
    server::ApiRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.content_type = body.empty() ? "" : "application/json";
    request.authorization = authorization;
    request.request_id = "test";
    return response_of(api.handle(request));
  }

  // The cached Api's answer, checked against a fresh one; returns its body.
  std::string discover(const std::string& query, const std::string& authorization) {
    const std::string target = "/api/v1/services/discover" + (query.empty() ? "" : "?" + query);
    auto kept = call(cached, http::verb::get, target, authorization);
    auto made = call(fresh, http::verb::get, target, authorization);
    BOOST_TEST_REQUIRE(kept.status == 200u);
    BOOST_TEST(body_of(kept) == body_of(made));
    BOOST_TEST((kept.headers == made.headers));
    return body_of(kept);
  }

  std::string add(const std::string& company, const std::string& instance, std::optional<Duration> ttl = {}) {
    auto r = make_record(company, instance);
    r.personal_config["owner"] = "ops@" + company;
    r.health_check_config.ttl = ttl;
    auto done = registry->register_service(r);
    BOOST_REQUIRE(done);
    return done->record->service_id;
  }
};

// Asks `query` until the cache answers it, then hands over: the next
// answer after a change must not be the kept one.
void warm(Fixture& f, const std::string& query, const std::string& authorization) {
  const auto first = f.discover(query, authorization);
  const auto hits = f.cached.answer_cache().hits();
  BOOST_TEST(f.discover(query, authorization) == first);
  BOOST_TEST(f.cached.answer_cache().hits() == hits + 1);
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_answer_after_any_change_is_fresh) {
  Fixture f;
  const auto diamond = f.token(SaoLevel::diamond);
  const auto sapphire = f.token(SaoLevel::sapphire, "acme");
  const std::string ttl_id = f.add("acme", "ttl", 30s);
  const std::string id = f.add("acme", "plain");
  f.add("globex", "other");
  const std::vector<std::pair<std::string, std::string>> asks = {
      {"company=acme", diamond}, {"", diamond}, {"", sapphire}, {"tags=beta&capabilities=tools", sapphire}};
  auto changes_every_answer = [&](const std::string& what, const std::function<void()>& change) {
    BOOST_TEST_CONTEXT(what) {
      std::vector<std::string> before;
      for (const auto& [q, t] : asks) {
        warm(f, q, t);
        before.push_back(f.discover(q, t));
      }
      change();
      for (std::size_t i = 0; i < asks.size(); ++i)
        BOOST_TEST(f.discover(asks[i].first, asks[i].second) != before[i]);
    }
  };

  changes_every_answer("register", [&] { f.add("acme", "new"); });
  changes_every_answer("patch", [&] {
    auto r = f.call(f.cached, http::verb::patch, "/api/v1/services/" + id, diamond,
                    R"({"serviceInfo": {"version": "2.0.0"}})");
    BOOST_TEST(r.status == 200u);
  });
  changes_every_answer("operator status", [&] {
    BOOST_TEST(f.call(f.cached, http::verb::put, "/api/v1/services/" + id + "/status", diamond,
                      R"({"status": "maintenance"})").status == 200u);
  });
  // A routine check changes healthStatus in place: no index bump, yet the
  // answer shows it.
  const auto index = f.registry->index();
  changes_every_answer("routine health report", [&] {
    BOOST_TEST(f.call(f.cached, http::verb::put, "/api/v1/services/" + ttl_id + "/health", diamond,
                      R"({"ok": true, "responseTime": 3})").status == 200u);
  });
  BOOST_TEST(f.registry->index() == index);
  // The first MCP handshake is indexed; what the server says after it
  // about anything but its tools is kept in place.
  McpInfo info;
  info.protocol_version = "2025-06-18";
  info.server_name = "acme-tools";
  changes_every_answer("mcp info", [&] { BOOST_REQUIRE(f.registry->set_mcp_info(ttl_id, info)); });
  const auto mcp_index = f.registry->index();
  changes_every_answer("mcp info in place", [&] {
    info.server_version = "2.0.0";
    BOOST_REQUIRE(f.registry->set_mcp_info(ttl_id, info));
  });
  BOOST_TEST(f.registry->index() == mcp_index);
  changes_every_answer("health flip", [&] {
    for (int i = 0; i < 3; ++i)
      BOOST_REQUIRE(f.registry->report_health(ttl_id, HealthReport{false, 1.0, "down", "external"}));
  });
  BOOST_TEST(to_string(f.registry->get(ttl_id).value()->status) == "unhealthy");
  changes_every_answer("ttl expiry", [&] {
    f.clock.advance(31s);
    BOOST_TEST(f.registry->expire_heartbeats() == 1u);
  });
  BOOST_TEST(f.discover("company=acme&status=inactive", diamond).find(ttl_id) != std::string::npos);
  changes_every_answer("reviving heartbeat", [&] {
    BOOST_TEST(f.call(f.cached, http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat", diamond).status == 200u);
  });
  BOOST_TEST(f.discover("company=acme&status=inactive", diamond).find(ttl_id) == std::string::npos);
  changes_every_answer("deregister", [&] {
    BOOST_TEST(f.call(f.cached, http::verb::delete_, "/api/v1/services/" + id, diamond).status == 204u);
  });
  // A routine heartbeat changes nothing a record shows: the answer stays
  // (and is still the fresh one, which discover() checks).
  warm(f, "company=acme", diamond);
  const auto kept = f.discover("company=acme", diamond);
  BOOST_TEST(f.call(f.cached, http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat", diamond).status == 200u);
  BOOST_TEST(f.discover("company=acme", diamond) == kept);
  // A change of another company moves the index, which every answer shows.
  warm(f, "company=acme", diamond);
  f.add("globex", "second");
  BOOST_TEST(f.discover("company=acme", diamond) != kept);
}

BOOST_AUTO_TEST_CASE(a_cursor_walk_and_a_long_poll_answer_are_fresh) {
  Fixture f;
  const auto diamond = f.token(SaoLevel::diamond);
  for (int i = 0; i < 5; ++i) f.add("acme", "i" + std::to_string(i));
  const auto first = boost::json::parse(f.discover("company=acme&limit=2", diamond));
  const std::string cursor(first.at("nextCursor").as_string());
  warm(f, "company=acme&limit=2&cursor=" + cursor, diamond);
  f.add("acme", "z");
  f.discover("company=acme&limit=2&cursor=" + cursor, diamond);
  // The long-poll's answer once its wait is over goes through the same cache.
  server::DiscoverWait wait;
  wait.query.company = "acme";
  wait.principal = Principal{"t", SaoLevel::diamond, "", {}};
  const auto waited = Fixture::body_of(f.cached.answer_discover(wait));
  BOOST_TEST(waited == Fixture::body_of(f.fresh.answer_discover(wait)));
  f.add("acme", "y");
  BOOST_TEST(Fixture::body_of(f.cached.answer_discover(wait)) == Fixture::body_of(f.fresh.answer_discover(wait)));
  BOOST_TEST(Fixture::body_of(f.cached.answer_discover(wait)) != waited);
}

BOOST_AUTO_TEST_CASE(callers_with_different_views_never_get_each_others_answer) {
  Fixture f;
  f.add("acme", "a1");
  f.add("acme", "a2");
  f.add("globex", "g1");
  const std::vector<std::string> callers = {
      f.token(SaoLevel::diamond), f.token(SaoLevel::emerald),
      f.token(SaoLevel::sapphire, "acme"), f.token(SaoLevel::opal, "acme"), f.token(SaoLevel::onyx, "acme"),
      f.token(SaoLevel::sapphire, "globex"), f.token(SaoLevel::opal, "globex"),
      f.token(SaoLevel::diamond, "acme"), f.token(SaoLevel::emerald, "globex")};
  // Twice round, each caller after every other: whatever one caller's
  // answer left in the cache, the next must still get its own.
  for (int round = 0; round < 2; ++round)
    for (const auto& query : {"", "company=acme", "company=globex", "tags=beta"})
      for (const auto& caller : callers) f.discover(query, caller);
  BOOST_TEST(f.cached.answer_cache().hits() > 0u);

  // And what the views are, spelled out.
  const auto count = [&](const std::string& body) { return boost::json::parse(body).at("count").as_int64(); };
  const auto shows_personal = [&](const std::string& body) { return body.find("ops@acme") != std::string::npos; };
  const auto sapphire_acme = f.token(SaoLevel::sapphire, "acme"), opal_acme = f.token(SaoLevel::opal, "acme");
  const auto sapphire_globex = f.token(SaoLevel::sapphire, "globex");
  BOOST_TEST(count(f.discover("company=acme", sapphire_globex)) == 0);  // no existence leak
  BOOST_TEST(count(f.discover("", sapphire_globex)) == 1);
  BOOST_TEST(count(f.discover("company=acme", sapphire_acme)) == 2);
  BOOST_TEST(shows_personal(f.discover("company=acme", sapphire_acme)));
  BOOST_TEST(!shows_personal(f.discover("company=acme", opal_acme)));
  BOOST_TEST(shows_personal(f.discover("company=acme", f.token(SaoLevel::diamond))));
}

BOOST_AUTO_TEST_CASE(keys_tell_queries_and_views_apart_and_normalise_lists) {
  using server::AnswerCache;
  DiscoverQuery q;
  q.company = "acme";
  q.tags = {"b", "a", "a"};
  DiscoverQuery same = q;
  same.tags = {"a", "b"};
  const Principal reader{"x", SaoLevel::opal, "acme", {}};
  BOOST_TEST(AnswerCache::key(q, reader) == AnswerCache::key(same, reader));
  // One caller's view against another's, the same query.
  for (const Principal& other : {Principal{"x", SaoLevel::sapphire, "acme", {}}, Principal{"x", SaoLevel::opal, "globex", {}},
                                 Principal{"x", SaoLevel::opal, "", {}}})
    BOOST_TEST(AnswerCache::key(q, reader) != AnswerCache::key(q, other));
  // Values cannot run into each other: lengths are part of the key.
  DiscoverQuery a, b;
  a.region = "x";
  a.environment = "yz";
  b.region = "xy";
  b.environment = "z";
  BOOST_TEST(AnswerCache::key(a, reader) != AnswerCache::key(b, reader));
  DiscoverQuery t1, t2;
  t1.tags = {"a,b"};
  t2.tags = {"a", "b"};
  BOOST_TEST(AnswerCache::key(t1, reader) != AnswerCache::key(t2, reader));
  DiscoverQuery c1 = q, c2 = q;
  c1.capabilities = {"x"};
  c2.tools = {"x"};
  BOOST_TEST(AnswerCache::key(c1, reader) != AnswerCache::key(c2, reader));
  DiscoverQuery l1 = q, l2 = q;
  l2.limit = 10;
  l2.cursor = "00000000-0000-4000-8000-000000000000";
  BOOST_TEST(AnswerCache::key(l1, reader) != AnswerCache::key(l2, reader));
}

BOOST_AUTO_TEST_CASE(the_cache_keeps_its_memory_bound) {
  constexpr std::size_t kBound = 512 << 10;
  Fixture f(kBound);
  for (int i = 0; i < 40; ++i) f.add("acme", "i" + std::to_string(i));
  const auto diamond = f.token(SaoLevel::diamond);
  // Answers of 1 to 40 records: together about twice the bound.
  for (int round = 0; round < 2; ++round)
    for (int limit = 1; limit <= 40; ++limit) {
      f.discover("company=acme&limit=" + std::to_string(limit), diamond);
      BOOST_TEST(f.cached.answer_cache().bytes() <= kBound);
    }
  BOOST_TEST(f.cached.answer_cache().entries() > 0u);
  BOOST_TEST(f.cached.answer_cache().evictions() > 0u);

  // An answer larger than a shard's share is served, not kept.
  server::AnswerCache small(server::AnswerCache::kShards * 1024);
  auto big = std::make_shared<server::AnswerCache::Answer>();
  big->body.assign(2048, 'x');
  small.insert("k", big);
  BOOST_TEST(small.entries() == 0u);
  BOOST_TEST(small.bytes() == 0u);
  // Disabled: nothing kept, every lookup a miss.
  server::AnswerCache off(0);
  off.insert("k", std::make_shared<server::AnswerCache::Answer>());
  BOOST_TEST(!off.find("k", {}));
  BOOST_TEST(off.entries() == 0u);
}

BOOST_AUTO_TEST_CASE(an_entry_hit_since_the_last_pass_survives_eviction) {
  // One shard's share: room for two answers of this size, not three.
  server::AnswerCache cache(server::AnswerCache::kShards * 3000);
  auto answer = [](std::uint64_t v) {
    auto a = std::make_shared<server::AnswerCache::Answer>();
    a->version = {v, v};
    a->body.assign(1000, 'x');
    return a;
  };
  // Keys that land in one shard.
  std::vector<std::string> keys;
  const auto shard_of = [](const std::string& k) { return std::hash<std::string_view>{}(k) % server::AnswerCache::kShards; };
  for (int i = 0; keys.size() < 3; ++i)
    if (shard_of("k" + std::to_string(i)) == shard_of("k0")) keys.push_back("k" + std::to_string(i));
  cache.insert(keys[0], answer(1));
  cache.insert(keys[1], answer(1));
  BOOST_TEST(cache.find(keys[0], {1, 1}) != nullptr);
  BOOST_TEST(!cache.find(keys[0], {2, 1}));  // another version: a miss
  cache.insert(keys[2], answer(1));
  BOOST_TEST(cache.find(keys[0], {1, 1}) != nullptr);  // hit before: kept
  BOOST_TEST(!cache.find(keys[1], {1, 1}));             // the oldest unhit: gone
}

BOOST_AUTO_TEST_CASE(a_routine_heartbeat_is_answered_without_storage) {
  Fixture f;
  const auto diamond = f.token(SaoLevel::diamond);
  const auto sapphire = f.token(SaoLevel::sapphire, "acme");
  const std::string ttl_id = f.add("acme", "ttl", 30s);
  const std::string plain_id = f.add("acme", "plain");
  const std::string globex_id = f.add("globex", "g");
  const auto fast = [&](const std::string& id, const std::string& authorization) {
    const std::string target = "/api/v1/services/" + id + "/heartbeat";
    server::ApiRequest request;
    request.method = http::verb::post;
    request.target = target;
    request.authorization = authorization;
    request.request_id = "test";
    return f.cached.try_without_storage(request);
  };
  BOOST_TEST(server::Api::may_block(http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat"));

  // Storage refuses every write: what is answered here wrote nothing.
  f.storage.failing = true;
  f.clock.advance(20s);
  auto beat = fast(ttl_id, sapphire);
  BOOST_TEST_REQUIRE(beat.has_value());
  auto r = Fixture::response_of(std::move(*beat));
  BOOST_TEST(r.status == 200u);
  const auto json = boost::json::parse(r.body);
  BOOST_TEST(json.at("status").as_string() == "active");
  BOOST_TEST(json.at("expiresAt").as_string() == format_time(f.clock.now() + 30s));
  // The TTL was refreshed: 20 s after the heartbeat (40 s after
  // registration) nothing expires; past 30 s it does.
  f.clock.advance(20s);
  BOOST_TEST(f.registry->expire_heartbeats() == 0u);
  auto no_ttl = fast(plain_id, diamond);
  BOOST_TEST_REQUIRE(no_ttl.has_value());
  BOOST_TEST(boost::json::parse(Fixture::response_of(std::move(*no_ttl)).body).at("expiresAt").is_null());
  f.storage.failing = false;

  f.clock.advance(11s);
  BOOST_TEST(f.registry->expire_heartbeats() == 1u);
  // A revival is a durable change: not here, but through handle().
  const auto before = f.registry->index();
  BOOST_TEST(!fast(ttl_id, sapphire).has_value());
  BOOST_TEST(to_string(f.registry->get(ttl_id).value()->status) == "inactive");
  BOOST_TEST(f.registry->index() == before);
  auto revived = f.call(f.cached, http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat", sapphire);
  BOOST_TEST(revived.status == 200u);
  BOOST_TEST(boost::json::parse(revived.body).at("status").as_string() == "active");
  BOOST_TEST(f.registry->index() == before + 1);

  // Refusals are audited, so they are never answered here; handle() gives
  // them as before: an unknown service and another company's alike.
  BOOST_TEST(!fast("00000000-0000-4000-8000-000000000000", sapphire).has_value());
  BOOST_TEST(!fast(globex_id, sapphire).has_value());
  BOOST_TEST(!fast(ttl_id, f.token(SaoLevel::opal, "acme")).has_value());
  BOOST_TEST(!fast(ttl_id, "Bearer not-a-token").has_value());
  BOOST_TEST(!fast(ttl_id, "").has_value());
  const auto unknown = f.call(f.cached, http::verb::post, "/api/v1/services/00000000-0000-4000-8000-000000000000/heartbeat", sapphire);
  const auto hidden = f.call(f.cached, http::verb::post, "/api/v1/services/" + globex_id + "/heartbeat", sapphire);
  BOOST_TEST(unknown.status == 404u);
  BOOST_TEST(hidden.status == 404u);
  const auto message = [](const server::ApiResponse& x) {
    return std::string(boost::json::parse(x.body).at("error").at("code").as_string());
  };
  BOOST_TEST(message(unknown) == message(hidden));
  BOOST_TEST(f.call(f.cached, http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat",
                    f.token(SaoLevel::opal, "acme")).status == 403u);
  BOOST_TEST(f.call(f.cached, http::verb::post, "/api/v1/services/" + ttl_id + "/heartbeat", "").status == 401u);
  auto audit = f.registry->audit_entries(TimePoint{}, 1000).value();
  BOOST_TEST(std::count_if(audit.begin(), audit.end(), [](const AuditEntry& e) {
               return e.action == "heartbeat" && e.result != "ok";
             }) == 4);

  // Requests that never touch storage are not sent to the writers.
  BOOST_TEST(!server::Api::may_block(http::verb::post, "/api/v1/services/discover"));
  BOOST_TEST(!server::Api::may_block(http::verb::post, "/health"));
  BOOST_TEST(!server::Api::may_block(http::verb::delete_, "/api/v1/services/" + ttl_id + "/heartbeat"));
  BOOST_TEST(server::Api::may_block(http::verb::put, "/api/v1/services/" + ttl_id + "/health"));
  BOOST_TEST(server::Api::may_block(http::verb::get, "/api/v1/audit?limit=1"));
}

BOOST_AUTO_TEST_CASE(a_heartbeat_takes_one_rate_limit_token_whichever_way_it_goes) {
  Fixture f(ServerOptions{}.answer_cache_bytes, /*rate_limit=*/1);  // burst 2
  const auto sapphire = f.token(SaoLevel::sapphire, "acme");
  const std::string id = f.add("acme", "ttl", 30s);
  f.clock.advance(31s);
  BOOST_TEST(f.registry->expire_heartbeats() == 1u);
  // A revival: the fast path takes the token, then hands over to handle(),
  // which must not take a second one.
  server::ApiRequest request;
  request.method = http::verb::post;
  const std::string target = "/api/v1/services/" + id + "/heartbeat";
  request.target = target;
  request.authorization = sapphire;
  request.request_id = "test";
  BOOST_TEST(!f.cached.try_without_storage(request).has_value());
  BOOST_TEST(request.rate_limit_charged);
  BOOST_TEST(Fixture::response_of(f.cached.handle(request)).status == 200u);
  // One token left of the burst of two.
  server::ApiRequest second = request;
  second.rate_limit_charged = false;
  auto routine = f.cached.try_without_storage(second);
  BOOST_TEST_REQUIRE(routine.has_value());
  BOOST_TEST(Fixture::response_of(std::move(*routine)).status == 200u);
  server::ApiRequest third = second;
  third.rate_limit_charged = false;
  BOOST_TEST(!f.cached.try_without_storage(third).has_value());
  BOOST_TEST(!third.rate_limit_charged);
  BOOST_TEST(Fixture::response_of(f.cached.handle(third)).status == 429u);
}
