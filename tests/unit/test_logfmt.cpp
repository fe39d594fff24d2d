// logfmt values: what reaches a log line from the network must stay one value
// on one line, whatever bytes it holds.
#define BOOST_TEST_MODULE test_logfmt
#include <boost/test/unit_test.hpp>

#include "logfmt.hpp"

#include <string>

using discovery::detail::append_logfmt_value;
using discovery::detail::logfmt_quote;

namespace {
std::string value(std::string_view v) {
  std::string out;
  append_logfmt_value(out, v);
  return out;
}
}  // namespace

BOOST_AUTO_TEST_CASE(plain_values_stay_bare) {
  BOOST_TEST(value("api-1") == "api-1");
  BOOST_TEST(value("https://a.example/x?y") == "https://a.example/x?y");
}

BOOST_AUTO_TEST_CASE(values_that_need_it_are_quoted) {
  BOOST_TEST(value("") == "\"\"");
  BOOST_TEST(value("two words") == "\"two words\"");
  BOOST_TEST(value("k=v") == "\"k=v\"");
  BOOST_TEST(value("say \"hi\"") == "\"say \\\"hi\\\"\"");
  BOOST_TEST(value("C:\\dir") == "\"C:\\\\dir\"");
}

BOOST_AUTO_TEST_CASE(control_characters_cannot_start_a_line) {
  // A probe error quoting a hostile server's reason phrase: CR and LF would
  // forge a second log line if written raw.
  const std::string hostile = "timeout\r\nts=2026-01-01 level=info msg=\"forged\"\x1b[2J\x7f";
  const std::string out = value(hostile);
  BOOST_TEST(out.find('\n') == std::string::npos);
  BOOST_TEST(out.find('\r') == std::string::npos);
  BOOST_TEST(out.find('\x1b') == std::string::npos);
  BOOST_TEST(out.find('\x7f') == std::string::npos);
  BOOST_TEST(out == "\"timeout\\r\\nts=2026-01-01 level=info msg=\\\"forged\\\"?[2J?\"");
  BOOST_TEST(value("a\tb") == "\"a\\tb\"");
}

BOOST_AUTO_TEST_CASE(quote_always_quotes) {
  BOOST_TEST(logfmt_quote("ok") == "\"ok\"");
  BOOST_TEST(logfmt_quote("") == "\"\"");
  BOOST_TEST(logfmt_quote("line\nbreak") == "\"line\\nbreak\"");
}
