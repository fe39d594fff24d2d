// The MCP wire formats the probes parse: SSE framing, JSON-RPC matching and
// the initialize / server/discover / tools/list results. All input here is
// what an arbitrary server may send.
#define BOOST_TEST_MODULE test_mcp_wire
#include <boost/test/unit_test.hpp>

#include "health/mcp_wire.hpp"

#include <boost/json/parse.hpp>

#include <string>
#include <vector>

namespace wire = discovery::health::wire;
namespace json = boost::json;
using wire::SseEvent;
using wire::SseParser;

namespace {

struct Seen {
  std::string type, data, id;
  bool operator==(const Seen&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Seen& s) {
  return os << "{" << s.type << "|" << s.data << "|" << s.id << "}";
}

std::vector<Seen> parse_chunks(const std::vector<std::string>& chunks, SseParser::Status* last = nullptr) {
  SseParser parser;
  std::vector<Seen> seen;
  SseParser::Status status = SseParser::Status::more;
  for (const auto& chunk : chunks) {
    status = parser.feed(chunk, [&](SseEvent&& e) {
      seen.push_back({e.type, e.data, e.id});
      return true;
    });
  }
  if (last) *last = status;
  return seen;
}

// A stream that exercises every framing rule at once.
const std::string kStream =
    "\xEF\xBB\xBF"                                 // BOM, dropped
    ": keep-alive comment\r\n"                     // comment
    "event: endpoint\r\n"
    "data: /messages?sessionId=abc\r\n\r\n"        // CRLF
    "id: 7\n"
    "data: {\"a\":\n"                              // multi-line data, LF
    "data:1}\n\n"                                  // no space after colon
    "retry: 1000\r"                                // CR alone
    "data\r\r"                                     // field without colon: empty data line
    "event: ignored-without-data\n\n"              // no data: not dispatched, type reset
    "data:  two spaces\n\n";                       // only one space is stripped

const std::vector<Seen> kExpected = {
    {"endpoint", "/messages?sessionId=abc", ""},
    {"message", "{\"a\":\n1}", "7"},
    {"message", "", "7"},
    {"message", " two spaces", "7"},
};

}  // namespace

BOOST_AUTO_TEST_CASE(sse_whole_stream) {
  BOOST_TEST(parse_chunks({kStream}) == kExpected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sse_split_at_every_point) {
  for (std::size_t split = 0; split <= kStream.size(); ++split) {
    BOOST_TEST_INFO("split at " << split);
    auto seen = parse_chunks({kStream.substr(0, split), kStream.substr(split)});
    BOOST_TEST(seen == kExpected, boost::test_tools::per_element());
  }
  for (std::size_t a = 0; a <= kStream.size(); a += 3) {
    for (std::size_t b = a; b <= kStream.size(); b += 5) {
      auto seen = parse_chunks({kStream.substr(0, a), kStream.substr(a, b - a), kStream.substr(b)});
      BOOST_TEST_INFO("splits at " << a << ", " << b);
      BOOST_TEST(seen == kExpected, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(sse_byte_by_byte) {
  std::vector<std::string> bytes;
  for (char c : kStream) bytes.emplace_back(1, c);
  BOOST_TEST(parse_chunks(bytes) == kExpected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(sse_partial_bom_is_not_eaten) {
  // A stream that starts like a BOM but is not one keeps its bytes.
  auto seen = parse_chunks({"\xEF", "data: x\n\n"});
  BOOST_TEST_REQUIRE(seen.size() == 0u);  // "\xEF" + "data" is the field name, not data
  auto plain = parse_chunks({"d", "a", "ta: x\n\n"});
  BOOST_TEST_REQUIRE(plain.size() == 1u);
  BOOST_TEST(plain[0].data == "x");
}

BOOST_AUTO_TEST_CASE(sse_unterminated_event_is_not_dispatched) {
  BOOST_TEST(parse_chunks({"data: half\n"}).empty());
  BOOST_TEST(parse_chunks({"data: half"}).empty());
}

BOOST_AUTO_TEST_CASE(sse_stop_leaves_the_rest_unread) {
  SseParser parser;
  int calls = 0;
  auto status = parser.feed("data: 1\n\ndata: 2\n\n", [&](SseEvent&&) {
    ++calls;
    return false;
  });
  BOOST_TEST(calls == 1);
  BOOST_TEST((status == SseParser::Status::stopped));
}

BOOST_AUTO_TEST_CASE(sse_caps_line_and_event_size) {
  {
    SseParser parser(1024, 64);
    auto status = parser.feed(std::string(65, 'x'), [](SseEvent&&) { return true; });
    BOOST_TEST((status == SseParser::Status::too_large));
    BOOST_TEST(parser.failed());
    // Stays failed.
    status = parser.feed("data: x\n\n", [](SseEvent&&) { return true; });
    BOOST_TEST((status == SseParser::Status::too_large));
  }
  {
    // A line that never ends, fed in small pieces, still hits the cap.
    SseParser parser(1024, 64);
    SseParser::Status status = SseParser::Status::more;
    for (int i = 0; i < 100 && status == SseParser::Status::more; ++i) {
      status = parser.feed("data: ", [](SseEvent&&) { return true; });
    }
    BOOST_TEST((status == SseParser::Status::too_large));
  }
  {
    // Many data lines that never end the event.
    SseParser parser(100, 64);
    SseParser::Status status = SseParser::Status::more;
    for (int i = 0; i < 100 && status == SseParser::Status::more; ++i) {
      status = parser.feed("data: 0123456789\n", [](SseEvent&&) { return true; });
    }
    BOOST_TEST((status == SseParser::Status::too_large));
  }
  {
    // Within the caps, comments and blank lines cost nothing, however many.
    SseParser parser(100, 64);
    SseParser::Status status = SseParser::Status::more;
    for (int i = 0; i < 10000; ++i) status = parser.feed(":\n\n", [](SseEvent&&) { return true; });
    BOOST_TEST((status == SseParser::Status::more));
  }
}

BOOST_AUTO_TEST_CASE(jsonrpc_matching_response) {
  auto scan = wire::scan_message(R"({"jsonrpc":"2.0","id":1,"result":{"x":1}})", 1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST_REQUIRE(scan->response.has_value());
  BOOST_TEST(!scan->response->error.has_value());
  BOOST_TEST(scan->response->result.at("x").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(jsonrpc_wrong_id) {
  auto scan = wire::scan_message(R"({"jsonrpc":"2.0","id":7,"result":{}})", 1);
  BOOST_TEST_REQUIRE(!scan.has_value());
  BOOST_TEST(scan.error().message == "response id 7 does not match request id 1");
  // A string id is not the number we sent.
  scan = wire::scan_message(R"({"jsonrpc":"2.0","id":"1","result":{}})", 1);
  BOOST_TEST_REQUIRE(!scan.has_value());
  BOOST_TEST(scan.error().message == "response id \"1\" does not match request id 1");
}

BOOST_AUTO_TEST_CASE(jsonrpc_error_objects) {
  auto scan = wire::scan_message(
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}})", 1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST_REQUIRE(scan->response->error.has_value());
  BOOST_TEST(scan->response->error->to_string() == "JSON-RPC error -32601: Method not found");
  BOOST_TEST(!wire::is_modern_error(*scan->response->error));

  scan = wire::scan_message(
      R"({"jsonrpc":"2.0","id":1,"error":{"code":-32022,"message":"Unsupported protocol version",)"
      R"("data":{"supported":["2025-11-25"]}}})",
      1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST(wire::is_modern_error(*scan->response->error));
  BOOST_TEST(scan->response->error->data.at("supported").as_array().size() == 1u);

  // An error with a null id (the server could not read our request) is still our answer.
  scan = wire::scan_message(
      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"Bad Request: Server not initialized"}})", 1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST(scan->response->error->code == -32000);

  // Malformed error objects.
  for (const char* bad : {R"({"jsonrpc":"2.0","id":1,"error":"boom"})",
                          R"({"jsonrpc":"2.0","id":1,"error":{"message":"no code"}})",
                          R"({"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}})"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!wire::scan_message(bad, 1).has_value());
  }
}

BOOST_AUTO_TEST_CASE(jsonrpc_notifications_and_batches) {
  auto scan = wire::scan_message(R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})", 1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST(!scan->response.has_value());
  BOOST_TEST(scan->tools_list_changed);

  scan = wire::scan_message(
      R"([{"jsonrpc":"2.0","method":"notifications/message","params":{}},)"
      R"({"jsonrpc":"2.0","id":3,"result":{}}])",
      3);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST(scan->response.has_value());
  BOOST_TEST(!scan->tools_list_changed);

  // A server request (e.g. ping from the server) is not our answer.
  scan = wire::scan_message(R"({"jsonrpc":"2.0","id":1,"method":"ping"})", 1);
  BOOST_TEST_REQUIRE(scan.has_value());
  BOOST_TEST(!scan->response.has_value());
}

BOOST_AUTO_TEST_CASE(jsonrpc_malformed_input) {
  struct Case {
    const char* text;
    const char* message_prefix;
  };
  for (const Case& c : {Case{"", "malformed JSON"}, Case{"{", "malformed JSON"},
                        Case{"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}} trailing", "malformed JSON"},
                        Case{"42", "not a JSON-RPC 2.0 message"}, Case{"[]", "empty JSON-RPC batch"},
                        Case{"[1]", "not a JSON-RPC 2.0 message"},
                        Case{R"({"id":1,"result":{}})", "not a JSON-RPC 2.0 message"},
                        Case{R"({"jsonrpc":"1.0","id":1,"result":{}})", "not a JSON-RPC 2.0 message"},
                        Case{R"({"jsonrpc":"2.0","id":1})", "not a JSON-RPC 2.0 message"},
                        Case{R"({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1}})", "not a JSON-RPC 2.0 message"},
                        Case{R"({"jsonrpc":"2.0","method":7})", "method is not a string"},
                        Case{R"([{"jsonrpc":"2.0","id":1,"result":{}},{"jsonrpc":"2.0","id":1,"result":{}}])",
                             "two responses"}}) {
    BOOST_TEST_INFO(c.text);
    auto scan = wire::scan_message(c.text, 1);
    BOOST_TEST_REQUIRE(!scan.has_value());
    BOOST_TEST(scan.error().message.rfind(c.message_prefix, 0) == 0u, scan.error().message);
  }
  // Deep nesting is refused, not recursed into.
  std::string deep(100000, '[');
  BOOST_TEST(!wire::scan_message(deep, 1).has_value());
}

BOOST_AUTO_TEST_CASE(requests_are_json_rpc) {
  auto request = json::parse(wire::make_request(3, "tools/list", json::object{{"cursor", "c1"}}));
  BOOST_TEST(request.at("jsonrpc").as_string() == "2.0");
  BOOST_TEST(request.at("id").as_int64() == 3);
  BOOST_TEST(request.at("method").as_string() == "tools/list");
  BOOST_TEST(request.at("params").at("cursor").as_string() == "c1");
  auto notification = json::parse(wire::make_notification("notifications/initialized"));
  BOOST_TEST(!notification.as_object().contains("id"));
  auto params = wire::modern_params({}, "probe", "1.0");
  BOOST_TEST(params.at("_meta").at("io.modelcontextprotocol/protocolVersion").as_string() == "2026-07-28");
}

BOOST_AUTO_TEST_CASE(initialize_result) {
  auto info = wire::parse_initialize_result(json::parse(
      R"({"protocolVersion":"2025-06-18","capabilities":{"tools":{"listChanged":true}},)"
      R"("serverInfo":{"name":"acme-tools","version":"1.4.2"},"instructions":"hi"})"));
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->protocol_version == "2025-06-18");
  BOOST_TEST(info->server_name == "acme-tools");
  BOOST_TEST(info->server_version == "1.4.2");
  BOOST_TEST(info->capabilities.at("tools").at("listChanged").as_bool());

  for (const char* bad : {R"([])", R"({"capabilities":{},"serverInfo":{"name":"x"}})",
                          R"({"protocolVersion":"2025-06-18","serverInfo":{"version":"1"}})",
                          R"({"protocolVersion":"2025-06-18","capabilities":[],"serverInfo":{"name":"x"}})"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!wire::parse_initialize_result(json::parse(bad)).has_value());
  }
}

BOOST_AUTO_TEST_CASE(discover_result) {
  auto info = wire::parse_discover_result(json::parse(
      R"({"resultType":"complete","supportedVersions":["2026-07-28","2025-11-25"],)"
      R"("capabilities":{"tools":{}},"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"m","version":"2"}}})"));
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->protocol_version == "2026-07-28");
  BOOST_TEST(info->server_name == "m");
  auto old = wire::parse_discover_result(json::parse(
      R"({"supportedVersions":["2030-01-01"],"_meta":{"io.modelcontextprotocol/serverInfo":{"name":"m"}}})"));
  BOOST_TEST_REQUIRE(!old.has_value());
  BOOST_TEST(old.error().message == R"(server does not support 2026-07-28 (supports ["2030-01-01"]))");
  BOOST_TEST(!wire::parse_discover_result(json::parse(R"({"supportedVersions":["2026-07-28"]})")).has_value());
}

BOOST_AUTO_TEST_CASE(tools_list_pages_and_caps) {
  auto page = wire::parse_tools_list_result(
      json::parse(R"({"tools":[{"name":"a","title":"A","description":"first","inputSchema":{}},)"
                  R"({"name":"b","annotations":{"title":"Bee"}}],"nextCursor":"page2"})"),
      100);
  BOOST_TEST_REQUIRE(page.has_value());
  BOOST_TEST_REQUIRE(page->tools.size() == 2u);
  BOOST_TEST(page->tools[0].title == "A");
  BOOST_TEST(page->tools[0].description == "first");
  BOOST_TEST(page->tools[1].title == "Bee");
  BOOST_TEST(*page->next_cursor == "page2");

  // Room for one: the rest is validated but not kept.
  page = wire::parse_tools_list_result(json::parse(R"({"tools":[{"name":"a"},{"name":"b"}]})"), 1);
  BOOST_TEST_REQUIRE(page.has_value());
  BOOST_TEST(page->tools.size() == 1u);
  BOOST_TEST(!page->next_cursor.has_value());

  wire::IntrospectionLimits limits;
  limits.max_tool_text = 8;
  page = wire::parse_tools_list_result(
      json::parse(R"({"tools":[{"name":"a","description":"0123456789abcdef"}],"nextCursor":null})"), 10, limits);
  BOOST_TEST_REQUIRE(page.has_value());
  BOOST_TEST(page->tools[0].description == "01234...");  // the limit counts the "..."

  for (const char* bad : {R"({})", R"({"tools":{}})", R"({"tools":[1]})", R"({"tools":[{"title":"x"}]})",
                          R"({"tools":[{"name":""}]})", R"({"tools":[],"nextCursor":5})"}) {
    BOOST_TEST_INFO(bad);
    BOOST_TEST(!wire::parse_tools_list_result(json::parse(bad), 10).has_value());
  }
}

// fuzz_mcp_wire: what introspection keeps must fit a record (record_json's
// rules): a tool name of at most max_string bytes without control
// characters, every cut within its limit and at a character boundary.
BOOST_AUTO_TEST_CASE(kept_text_fits_a_record) {
  std::string long_name(300, 'n');
  std::string euros;
  for (int i = 0; i < 2000; ++i) euros += "\u20ac";  // 6000 bytes
  json::object tool{{"name", long_name}, {"title", euros}, {"description", "line one\nline two"}};
  auto page = wire::parse_tools_list_result(json::object{{"tools", json::array{tool, json::object{{"name", "a\tb\x01"}}}}}, 10);
  BOOST_TEST_REQUIRE(page.has_value());
  const wire::IntrospectionLimits limits;
  BOOST_TEST(page->tools[0].name.size() == limits.max_string);
  BOOST_TEST(page->tools[0].name.ends_with("..."));
  BOOST_TEST(page->tools[0].title.size() <= limits.max_tool_text);
  BOOST_TEST((page->tools[0].title.size() - 3) % 3 == 0u);  // whole characters, then "..."
  BOOST_TEST(page->tools[0].description == "line one\nline two");  // prose keeps its newlines
  BOOST_TEST(page->tools[1].name == "a b ");

  auto info = wire::parse_initialize_result(json::parse(
      R"({"protocolVersion":"2025-11-25\n","serverInfo":{"name":"x\u0000y","version":"1\r"}})"));
  BOOST_TEST_REQUIRE(info.has_value());
  BOOST_TEST(info->protocol_version == "2025-11-25 ");
  BOOST_TEST(info->server_name == "x y");
  BOOST_TEST(info->server_version == "1 ");
}

BOOST_AUTO_TEST_CASE(media_types) {
  BOOST_TEST(wire::media_type("Text/Event-Stream; charset=utf-8") == "text/event-stream");
  BOOST_TEST(wire::media_type(" application/json ") == "application/json");
  BOOST_TEST(wire::media_type("") == "");
}
