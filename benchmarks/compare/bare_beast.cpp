// A bare Boost.Beast HTTP/1.1 server that answers every request with the same
// bytes (read once from a file) and does no work per request: the ceiling of
// this stack on this machine, for benchmarks/compare/run.sh.
//
//   bare_beast FILE [PORT] [THREADS]     (PORT 0 picks a free one; THREADS 2)
//
// Prints "listening on http://127.0.0.1:PORT" once it accepts connections.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

static std::string body;  // the answer, shared read-only by every connection

static net::awaitable<void> session(tcp::socket socket) {
  boost::beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    http::request<http::empty_body> req;
    co_await http::async_read(socket, buffer, req, net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;
    http::response<http::span_body<const char>> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = {body.data(), body.size()};
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    co_await http::async_write(socket, res, net::redirect_error(net::use_awaitable, ec));
    if (ec || !req.keep_alive()) co_return;
  }
}

static net::awaitable<void> listen(tcp::acceptor& acceptor) {
  for (;;) {
    auto socket = co_await acceptor.async_accept(net::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    net::co_spawn(socket.get_executor(), session(std::move(socket)), net::detached);
  }
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: bare_beast FILE [PORT] [THREADS]\n";
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::cerr << "bare_beast: cannot read " << argv[1] << "\n";
    return 1;
  }
  body.assign(std::istreambuf_iterator<char>(in), {});
  const auto port = static_cast<unsigned short>(argc > 2 ? std::stoi(argv[2]) : 0);
  const int threads = argc > 3 ? std::stoi(argv[3]) : 2;

  net::io_context ioc{threads};
  tcp::acceptor acceptor{ioc, {net::ip::make_address("127.0.0.1"), port}};
  net::co_spawn(ioc, listen(acceptor), net::detached);
  net::signal_set signals{ioc, SIGINT, SIGTERM};
  signals.async_wait([&](auto, auto) { ioc.stop(); });
  std::cout << "listening on http://127.0.0.1:" << acceptor.local_endpoint().port() << std::endl;

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& t : pool) t.join();
}
