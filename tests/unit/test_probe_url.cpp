// The URLs probes call: endpoints, redirect Locations, HTTP+SSE endpoints.
// They come from registrants and servers, so the parser is strict.
#define BOOST_TEST_MODULE test_probe_url
#include <boost/test/unit_test.hpp>

#include "health/url.hpp"

using discovery::health::parse_url;
using discovery::health::resolve_reference;
using discovery::health::Url;

BOOST_AUTO_TEST_CASE(absolute_urls) {
  auto u = parse_url("HTTPS://Example.COM/mcp?x=1#frag");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->scheme == "https");
  BOOST_TEST(u->host == "example.com");
  BOOST_TEST(u->port == 443);
  BOOST_TEST(u->target == "/mcp?x=1");
  BOOST_TEST(u->origin() == "https://example.com:443");
  BOOST_TEST(u->host_header() == "example.com");

  u = parse_url("http://[::1]:8080");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->host == "::1");
  BOOST_TEST(u->target == "/");
  BOOST_TEST(u->host_header() == "[::1]:8080");

  u = parse_url("http://h?q");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->target == "/?q");

  u = parse_url("tcp://db.internal:5432");
  BOOST_TEST_REQUIRE(u.has_value());
  BOOST_TEST(u->port == 5432);
  BOOST_TEST(!u->http());
}

BOOST_AUTO_TEST_CASE(refused_urls) {
  for (const char* bad : {"", "example.com", "ftp://h/", "http://", "http:///x", "http://user@h/",
                          "http://h:0/", "http://h:65536/", "http://h:x/", "http://::1/", "http://[::1/",
                          "http://[nope]/", "http://h/a b", "http://h/\r\nX-Injected: 1", "tcp://h",
                          "http://[::1]x/"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!parse_url(bad).has_value());
  }
  BOOST_TEST(parse_url("ftp://h/").error().message == "'ftp://h/' is not a usable URL (scheme must be http, https or tcp)");
}

BOOST_AUTO_TEST_CASE(references_resolve_like_a_browser) {
  Url base = parse_url("http://a.example:8080/dir/page?old").value();
  BOOST_TEST(resolve_reference(base, "https://b.example/x")->to_string() == "https://b.example:443/x");
  BOOST_TEST(resolve_reference(base, "//c.example/y")->to_string() == "http://c.example:80/y");
  BOOST_TEST(resolve_reference(base, "/messages?sessionId=1")->to_string() == "http://a.example:8080/messages?sessionId=1");
  BOOST_TEST(resolve_reference(base, "other")->to_string() == "http://a.example:8080/dir/other");
  BOOST_TEST(resolve_reference(base, "?new")->to_string() == "http://a.example:8080/dir/page?new");
  BOOST_TEST(resolve_reference(base, "")->to_string() == "http://a.example:8080/dir/page?old");
  BOOST_TEST(!resolve_reference(base, "/x\ny").has_value());
  BOOST_TEST(!resolve_reference(base, "javascript:alert(1)").has_value());
}
