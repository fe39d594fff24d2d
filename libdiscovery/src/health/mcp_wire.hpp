// The MCP wire formats the probes read and write, with no I/O: Server-Sent
// Events framing, JSON-RPC messages, and the initialize / server/discover /
// tools/list results. Everything here takes untrusted bytes from a server we
// do not control, so nothing asserts on input and every buffer has a cap; a
// libFuzzer target drives these functions directly.
#pragma once

#include <discovery/error.hpp>
#include <discovery/service_record.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discovery::health::wire {

// Protocol revisions the probes speak, newest first.
inline constexpr std::string_view kModernVersion = "2026-07-28";
inline constexpr std::string_view kStreamableVersion = "2025-11-25";
inline constexpr std::string_view kLegacySseVersion = "2024-11-05";

// Transport names, as stored in McpInfo::transport and ProbeResult::transport.
inline constexpr std::string_view kTransportModern = "2026-07-28";
inline constexpr std::string_view kTransportStreamable = "streamable-http";
inline constexpr std::string_view kTransportSse = "sse";

// ---------------------------------------------------------------------------
// Server-Sent Events (WHATWG HTML, "Server-sent events", parsing rules).

struct SseEvent {
  std::string type = "message";  // the `event:` field, "message" when absent
  std::string data;              // `data:` lines joined with '\n'
  std::string id;                // the last `id:` seen so far on the stream
};

// Incremental: bytes may be split anywhere (inside a line, between CR and LF).
// Thread-safety: none; one parser per stream.
class SseParser {
 public:
  // A line longer than max_line_bytes, or an event whose data grows beyond
  // max_event_bytes, puts the parser in the failed state: a server cannot make
  // the prober buffer without bound by never ending a line or an event.
  explicit SseParser(std::size_t max_event_bytes = 1 << 20, std::size_t max_line_bytes = 1 << 20);

  enum class Status {
    more,     // all input consumed; feed more
    stopped,  // on_event returned false; the rest of the chunk was not read
    too_large,
  };
  // Calls on_event for each complete event, in order; returning false stops.
  Status feed(std::string_view chunk, const std::function<bool(SseEvent&&)>& on_event);

  bool failed() const { return failed_; }

 private:
  bool process_line(const std::function<bool(SseEvent&&)>& on_event, bool& stop);

  std::size_t max_event_bytes_;
  std::size_t max_line_bytes_;
  std::string line_;
  std::string data_;
  std::string type_;
  std::string last_id_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the previous byte was a CR: a following LF ends nothing
  bool at_start_ = true;   // a leading UTF-8 BOM is dropped
  std::string bom_;        // the stream's first bytes while deciding on a BOM
  bool failed_ = false;
};

// ---------------------------------------------------------------------------
// JSON-RPC 2.0.

struct RpcError {
  std::int64_t code = 0;
  std::string message;
  boost::json::value data;
  // "JSON-RPC error -32601: Method not found" (message cut to 200 bytes).
  std::string to_string() const;
};

struct RpcResponse {
  boost::json::value result;     // valid when !error
  std::optional<RpcError> error;
};

struct RpcScan {
  std::optional<RpcResponse> response;  // the response to the expected id, if present
  bool tools_list_changed = false;      // notifications/tools/list_changed seen
};

// Reads one message body (an object, or a batch array) looking for the
// response to expected_id. Requests and notifications from the server are
// skipped (noting list_changed). Errors: malformed JSON, a message that is not
// JSON-RPC 2.0, a response whose id is not expected_id.
Result<RpcScan> scan_message(std::string_view text, std::int64_t expected_id);

// A request / notification body. params may be empty (then omitted for
// notifications, `{}` for requests).
std::string make_request(std::int64_t id, std::string_view method, boost::json::object params = {});
std::string make_notification(std::string_view method);

// initialize params for the legacy handshake.
boost::json::object initialize_params(std::string_view protocol_version, std::string_view client_name,
                                      std::string_view client_version);
// The per-request _meta of the 2026-07-28 revision, merged into params.
boost::json::object modern_params(boost::json::object params, std::string_view client_name,
                                  std::string_view client_version);

// A modern server's error (UnsupportedProtocolVersionError, HeaderMismatch,
// MissingRequiredClientCapability): the server is modern, do not fall back.
bool is_modern_error(const RpcError& error);

// ---------------------------------------------------------------------------
// Results.

// Caps on what introspection keeps, so one server cannot make a record huge.
// The defaults are RecordLimits' (service_record.hpp).
struct IntrospectionLimits {
  std::size_t max_tools = 1024;
  std::size_t max_tool_text = 4096;  // name, title, description are cut to this
  std::size_t max_string = 256;      // protocolVersion, serverInfo name/version
  std::size_t max_capabilities_bytes = 65536;
};

// initialize result → protocolVersion, serverInfo, capabilities.
Result<McpInfo> parse_initialize_result(const boost::json::value& result,
                                        const IntrospectionLimits& limits = {});
// server/discover result (2026-07-28): supportedVersions must include
// kModernVersion; serverInfo lives in _meta["io.modelcontextprotocol/serverInfo"].
Result<McpInfo> parse_discover_result(const boost::json::value& result,
                                      const IntrospectionLimits& limits = {});

struct ToolsPage {
  std::vector<McpTool> tools;
  std::optional<std::string> next_cursor;
};
// tools/list result. At most `room` tools are kept (the rest of the page is
// dropped), so the caller's total stays within max_tools.
Result<ToolsPage> parse_tools_list_result(const boost::json::value& result, std::size_t room,
                                          const IntrospectionLimits& limits = {});

// Content-Type's media type, lowercased, parameters dropped: "text/event-stream".
std::string media_type(std::string_view content_type);

}  // namespace discovery::health::wire
