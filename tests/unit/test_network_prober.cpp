// The Prober contract as the health checker relies on it: `done` is called
// exactly once, never inline from probe(), and shutdown cancels everything in
// flight. Real loopback sockets; the full network behaviour is covered by
// tests/health/test_probes.py against real servers.
#define BOOST_TEST_MODULE test_network_prober
#include <boost/test/unit_test.hpp>

#include "health/network_prober.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace health = discovery::health;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

// Accepts connections and never says a word: every probe against it waits.
struct SilentServer {
  explicit SilentServer(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      held.push_back(std::make_unique<tcp::socket>(std::move(socket)));
      accept();
    });
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) + "/"; }
  tcp::acceptor acceptor;
  std::vector<std::unique_ptr<tcp::socket>> held;
};

health::NetworkProberOptions loopback_allowed() {
  health::NetworkProberOptions options;
  options.address_policy.allow(discovery::parse_cidr("127.0.0.1").value());
  return options;
}

}  // namespace

BOOST_AUTO_TEST_CASE(done_is_called_once_and_never_inline) {
  asio::io_context io;
  auto prober = health::make_network_prober(io.get_executor());
  int calls = 0;
  health::ProbeResult got;
  health::ProbeRequest request;
  request.url = "ftp://example.com/";
  prober->probe(request, [&](health::ProbeResult r) {
    ++calls;
    got = std::move(r);
  });
  BOOST_TEST(calls == 0);  // not inline
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!got.ok);
  BOOST_TEST(got.error.rfind("url: ", 0) == 0u, got.error);
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_at_the_probes_timeout) {
  asio::io_context io;
  SilentServer server(io);
  auto prober = health::make_network_prober(io.get_executor(), loopback_allowed());
  health::ProbeRequest request;
  request.url = server.url();
  request.timeout = 300ms;
  std::vector<health::ProbeResult> results;
  for (auto kind : {health::ProbeKind::http, health::ProbeKind::mcp}) {
    request.kind = kind;
    prober->probe(request, [&](health::ProbeResult r) { results.push_back(std::move(r)); });
  }
  auto start = std::chrono::steady_clock::now();
  while (results.size() < 2 && std::chrono::steady_clock::now() - start < 10s) io.run_for(50ms);
  BOOST_TEST_REQUIRE(results.size() == 2u);
  for (const auto& r : results) BOOST_TEST(r.error == "timeout: no response within 300ms");
}

BOOST_AUTO_TEST_CASE(shutdown_cancels_every_probe_in_flight_once) {
  asio::io_context io;
  SilentServer server(io);
  auto options = loopback_allowed();
  options.max_concurrent_connections = 3;  // some probes wait for a slot, some hold one
  auto prober = health::make_network_prober(io.get_executor(), options);
  health::ProbeRequest request;
  request.url = server.url();
  request.timeout = 60s;
  std::map<int, std::vector<std::string>> answers;
  for (int i = 0; i < 8; ++i) {
    request.kind = i % 2 ? health::ProbeKind::mcp : health::ProbeKind::http;
    prober->probe(request, [&answers, i](health::ProbeResult r) { answers[i].push_back(r.error); });
  }
  io.run_for(200ms);  // connected (or queued), waiting for answers that never come
  BOOST_TEST(answers.empty());
  auto start = std::chrono::steady_clock::now();
  prober->shutdown();
  while (answers.size() < 8 && std::chrono::steady_clock::now() - start < 10s) io.run_for(20ms);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  BOOST_TEST_REQUIRE(answers.size() == 8u);
  for (const auto& [i, errors] : answers) {
    BOOST_TEST_INFO("probe " << i);
    BOOST_TEST(errors == std::vector<std::string>{"cancelled"}, boost::test_tools::per_element());
  }
  // After shutdown, probes fail the same way, still not inline.
  int late = 0;
  std::string late_error;
  prober->probe(request, [&](health::ProbeResult r) {
    ++late;
    late_error = r.error;
  });
  BOOST_TEST(late == 0);
  io.run_for(100ms);
  BOOST_TEST(late == 1);
  BOOST_TEST(late_error == "cancelled");
}

BOOST_AUTO_TEST_CASE(destroying_the_prober_cancels_too) {
  asio::io_context io;
  SilentServer server(io);
  auto prober = health::make_network_prober(io.get_executor(), loopback_allowed());
  health::ProbeRequest request;
  request.url = server.url();
  request.timeout = 60s;
  std::vector<std::string> errors;
  prober->probe(request, [&](health::ProbeResult r) { errors.push_back(r.error); });
  io.run_for(100ms);
  prober.reset();
  auto start = std::chrono::steady_clock::now();
  while (errors.empty() && std::chrono::steady_clock::now() - start < 5s) io.run_for(20ms);
  BOOST_TEST(errors == std::vector<std::string>{"cancelled"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_bad_ca_file_is_a_start_up_error) {
  asio::io_context io;
  health::NetworkProberOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  BOOST_CHECK_THROW(health::make_network_prober(io.get_executor(), options), std::invalid_argument);
}
