// The MCP wire formats the health checker reads from servers it does not
// control (health/mcp_wire.hpp). The first byte picks what the rest is:
//   0: an SSE stream, fed whole and again in chunks of (second byte % 17 + 1)
//      bytes; both must give the same events and the same failure;
//   1: a JSON-RPC message body for scan_message (expected id 1);
//   2-4: a JSON value as an initialize, server/discover or tools/list result.
//
// Invariants for results: what introspection keeps fits a record. The
// McpInfo (with the tools of a tools/list page) is put into a valid record,
// which must still validate, survive the storage round trip (what a restart
// reads back), and serialize to UTF-8 that Boost.JSON parses again.
#include <discovery/record_json.hpp>

#include "fuzz_common.hpp"
#include "health/mcp_wire.hpp"

#include <boost/json/serialize.hpp>

#include <vector>

using namespace discovery;
namespace wire = discovery::health::wire;

namespace {

std::vector<wire::SseEvent> feed(std::string_view text, std::size_t chunk, bool& failed) {
  wire::SseParser parser(4096, 1024);
  std::vector<wire::SseEvent> events;
  const auto on_event = [&](wire::SseEvent&& e) {
    events.push_back(std::move(e));
    return true;
  };
  for (std::size_t at = 0; at < text.size(); at += chunk)
    if (parser.feed(text.substr(at, chunk), on_event) == wire::SseParser::Status::too_large) break;
  failed = parser.failed();
  return events;
}

void check_fits_a_record(const McpInfo& info) {
  static const ServiceRecord base = [] {
    auto parsed = parse_registration(
        boost::json::parse(R"({"companyName":"acme","instanceId":"acme-1","serviceInfo":{"endpoints":{"primary":"https://a.example"}}})"),
        SaoLevel::diamond);
    if (!parsed) fuzz::fail("base record", parsed.error().to_string());
    ServiceRecord r = *parsed;
    r.service_id = "00000000-0000-4000-8000-000000000001";
    r.domain = "a.example";
    return r;
  }();
  ServiceRecord record = base;
  record.mcp = info;
  auto valid = validate(record);
  FUZZ_CHECK(valid.has_value(), valid ? "" : valid.error().to_string());
  const std::string text = boost::json::serialize(to_json(record, JsonView::storage));
  auto reparsed = fuzz::parse_json(text);  // the parser rejects invalid UTF-8
  FUZZ_CHECK(reparsed.has_value(), text.substr(0, 2000));
  auto back = parse_stored_record(*reparsed);
  FUZZ_CHECK(back.has_value(), back ? "" : back.error().to_string());
  FUZZ_CHECK(back->mcp == record.mcp, text.substr(0, 2000));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto text = fuzz::as_text(data + 2, size - 2);
  switch (data[0] % 5) {
    case 0: {
      bool whole_failed = false, chunked_failed = false;
      const auto whole = feed(text, text.size() + 1, whole_failed);
      const auto chunked = feed(text, data[1] % 17 + 1, chunked_failed);
      FUZZ_CHECK(whole_failed == chunked_failed, text.substr(0, 200));
      if (!whole_failed) {
        FUZZ_CHECK(whole.size() == chunked.size(), text.substr(0, 200));
        for (std::size_t i = 0; i < whole.size(); ++i)
          FUZZ_CHECK(whole[i].type == chunked[i].type && whole[i].data == chunked[i].data &&
                         whole[i].id == chunked[i].id,
                     text.substr(0, 200));
      }
      return 0;
    }
    case 1: {
      auto scan = wire::scan_message(text, 1);
      if (scan && scan->response && scan->response->error) (void)scan->response->error->to_string();
      return 0;
    }
    default: {
      auto json = fuzz::parse_json(text);
      if (!json) return 0;
      if (data[0] % 5 == 2) {
        if (auto info = wire::parse_initialize_result(*json)) check_fits_a_record(*info);
      } else if (data[0] % 5 == 3) {
        if (auto info = wire::parse_discover_result(*json)) check_fits_a_record(*info);
      } else {
        const std::size_t room = data[1] % 8;
        if (auto page = wire::parse_tools_list_result(*json, room)) {
          FUZZ_CHECK(page->tools.size() <= room, text.substr(0, 200));
          McpInfo info;
          info.protocol_version = "2025-11-25";
          info.transport = "streamable-http";
          info.tools = page->tools;
          check_fits_a_record(info);
        }
      }
      return 0;
    }
  }
}
