#include "health/mcp_wire.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>

namespace discovery::health::wire {
namespace json = boost::json;

// ---------------------------------------------------------------------------
// SSE

SseParser::SseParser(std::size_t max_event_bytes, std::size_t max_line_bytes)
    : max_event_bytes_(max_event_bytes), max_line_bytes_(max_line_bytes) {}

SseParser::Status SseParser::feed(std::string_view chunk,
                                  const std::function<bool(SseEvent&&)>& on_event) {
  if (failed_) return Status::too_large;
  std::string replay;  // a held-back stream start that turned out not to be a BOM
  if (at_start_) {
    // Gather the first three bytes to see whether the stream starts with a
    // UTF-8 BOM, which the standard drops; they may arrive one at a time.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    std::size_t take = std::min<std::size_t>(chunk.size(), 3 - bom_.size());
    bom_.append(chunk.substr(0, take));
    chunk.remove_prefix(take);
    if (bom_.size() < 3 && kBom.substr(0, bom_.size()) == bom_) return Status::more;
    at_start_ = false;
    if (bom_ != kBom) {
      replay = bom_;
      replay.append(chunk);
      chunk = replay;
    }
    bom_.clear();
  }
  std::size_t i = 0;
  while (i < chunk.size()) {
    char c = chunk[i];
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') {
        ++i;
        continue;
      }
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = (c == '\r');
      ++i;
      bool stop = false;
      if (!process_line(on_event, stop)) {
        failed_ = true;
        return Status::too_large;
      }
      if (stop) {
        // A CR at the very end of the consumed part may pair with an LF the
        // caller does not feed again; harmless: the LF would end an empty line.
        return Status::stopped;
      }
      continue;
    }
    // Take the run of ordinary bytes at once.
    std::size_t end = chunk.find_first_of("\r\n", i);
    if (end == std::string_view::npos) end = chunk.size();
    if (line_.size() + (end - i) > max_line_bytes_) {
      failed_ = true;
      return Status::too_large;
    }
    line_.append(chunk.substr(i, end - i));
    i = end;
  }
  return Status::more;
}

bool SseParser::process_line(const std::function<bool(SseEvent&&)>& on_event, bool& stop) {
  std::string_view line = line_;
  if (line.empty()) {
    // Blank line: dispatch.
    if (has_data_) {
      SseEvent event;
      event.type = type_.empty() ? "message" : type_;
      event.data = std::move(data_);
      if (!event.data.empty() && event.data.back() == '\n') event.data.pop_back();
      event.id = last_id_;
      data_.clear();
      type_.clear();
      has_data_ = false;
      if (!on_event(std::move(event))) stop = true;
    } else {
      type_.clear();
    }
    return true;
  }
  if (line.front() == ':') {  // comment, e.g. keep-alives
    line_.clear();
    return true;
  }
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  bool ok = true;
  if (field == "data") {
    if (data_.size() + value.size() + 1 > max_event_bytes_) {
      ok = false;
    } else {
      data_.append(value);
      data_.push_back('\n');
      has_data_ = true;
    }
  } else if (field == "event") {
    type_.assign(value.substr(0, std::min<std::size_t>(value.size(), 256)));
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_id_.assign(value.substr(0, std::min<std::size_t>(value.size(), 256)));
    }
  }
  // "retry" and unknown fields are ignored, as the standard says.
  line_.clear();
  return ok;
}

// ---------------------------------------------------------------------------
// JSON-RPC

namespace {

Error malformed(std::string message) { return invalid_argument("", std::move(message)); }

// At most `limit` bytes, "..." included, cut at a UTF-8 character boundary:
// what is kept goes into a record, whose rules (record_json.cpp) count the
// same bytes and whose JSON must stay UTF-8. (It used to append "..." past
// the limit and could split a character; fuzz_mcp_wire found both.)
std::string cut(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  const std::string_view ellipsis = limit >= 3 ? "..." : "";
  std::size_t end = limit - ellipsis.size();
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + std::string(ellipsis);
}

// cut(), with control characters (which a record's names and versions may
// not hold) replaced by spaces.
std::string one_line(std::string_view text, std::size_t limit) {
  std::string out = cut(text, limit);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == '\x7f') c = ' ';
  return out;
}

bool holds_non_finite(const json::value& value) {
  if (const double* d = value.if_double()) return !std::isfinite(*d);
  if (const json::object* o = value.if_object()) {
    for (const auto& member : *o)
      if (holds_non_finite(member.value())) return true;
  } else if (const json::array* a = value.if_array()) {
    for (const auto& item : *a)
      if (holds_non_finite(item)) return true;
  }
  return false;
}

// Ids are compared as JSON numbers; the probes only ever send small integers.
std::optional<std::int64_t> integer_id(const json::value& id) {
  if (id.is_int64()) return id.get_int64();
  if (id.is_uint64() && id.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(id.get_uint64());
  }
  if (id.is_double()) {
    double d = id.get_double();
    if (d >= -9007199254740991.0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<std::int64_t>(d))) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

std::string id_text(const json::value& id) { return cut(json::serialize(id), 64); }

Result<RpcError> parse_error_object(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) return malformed("error is not an object");
  RpcError error;
  const json::value* code = o->if_contains("code");
  std::optional<std::int64_t> code_value = code ? integer_id(*code) : std::nullopt;
  if (!code_value) return malformed("error.code is not an integer");
  error.code = *code_value;
  if (const json::value* m = o->if_contains("message"); m && m->is_string()) {
    error.message = cut(m->get_string(), 512);
  }
  if (const json::value* d = o->if_contains("data")) error.data = *d;
  return error;
}

// One message object: a response (to us or not), a request or a notification.
Result<void> scan_object(const json::object& o, std::int64_t expected_id, RpcScan& scan) {
  const json::value* version = o.if_contains("jsonrpc");
  if (!version || !version->is_string() || version->get_string() != "2.0") {
    return malformed("not a JSON-RPC 2.0 message");
  }
  if (const json::value* method = o.if_contains("method")) {
    if (!method->is_string()) return malformed("method is not a string");
    if (method->get_string() == "notifications/tools/list_changed") scan.tools_list_changed = true;
    return {};  // a server request or notification: not our answer
  }
  const json::value* id = o.if_contains("id");
  const json::value* result = o.if_contains("result");
  const json::value* error = o.if_contains("error");
  if (!id || (!result && !error) || (result && error)) {
    return malformed("not a JSON-RPC 2.0 message");
  }
  if (id->is_null() && error) {
    // An error the server could not tie to a request (e.g. a parse error).
    auto parsed = parse_error_object(*error);
    if (!parsed) return parsed.error();
    scan.response = RpcResponse{json::value{}, std::move(*parsed)};
    return {};
  }
  std::optional<std::int64_t> got = integer_id(*id);
  if (!got || *got != expected_id) {
    return malformed("response id " + id_text(*id) + " does not match request id " +
                     std::to_string(expected_id));
  }
  if (scan.response) return malformed("two responses to request id " + std::to_string(expected_id));
  RpcResponse response;
  if (error) {
    auto parsed = parse_error_object(*error);
    if (!parsed) return parsed.error();
    response.error = std::move(*parsed);
  } else {
    response.result = *result;
  }
  scan.response = std::move(response);
  return {};
}

std::string string_field(const json::object& o, std::string_view key, std::size_t limit) {
  if (const json::value* v = o.if_contains(key); v && v->is_string()) {
    return cut(v->get_string(), limit);
  }
  return {};
}

Result<json::object> capabilities_of(const json::object& o, const IntrospectionLimits& limits) {
  const json::value* caps = o.if_contains("capabilities");
  if (!caps) return json::object{};
  if (!caps->is_object()) return malformed("capabilities is not an object");
  // 1e400 parses as Infinity, which a record cannot be written back with
  // (see record_json.cpp, holds_non_finite).
  if (holds_non_finite(*caps)) return malformed("capabilities hold a number out of range");
  if (json::serialize(*caps).size() > limits.max_capabilities_bytes) {
    return malformed("capabilities larger than " + std::to_string(limits.max_capabilities_bytes) +
                     " bytes");
  }
  return caps->get_object();
}

Result<void> server_info_into(const json::value* info, McpInfo& out, const IntrospectionLimits& limits) {
  if (!info || !info->is_object()) return malformed("serverInfo missing");
  const json::object& o = info->get_object();
  const json::value* name = o.if_contains("name");
  if (!name || !name->is_string()) return malformed("serverInfo.name missing");
  out.server_name = one_line(name->get_string(), limits.max_string);
  if (const json::value* v = o.if_contains("version"); v && v->is_string())
    out.server_version = one_line(v->get_string(), limits.max_string);
  return {};
}

}  // namespace

std::string RpcError::to_string() const {
  return "JSON-RPC error " + std::to_string(code) + ": " + cut(message, 200);
}

Result<RpcScan> scan_message(std::string_view text, std::int64_t expected_id) {
  json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, options);
  if (ec) return malformed("malformed JSON: " + ec.message());
  RpcScan scan;
  if (v.is_object()) {
    auto r = scan_object(v.get_object(), expected_id, scan);
    if (!r) return r.error();
    return scan;
  }
  if (v.is_array()) {
    // JSON-RPC batches (allowed by 2025-03-26).
    if (v.get_array().empty()) return malformed("empty JSON-RPC batch");
    for (const json::value& item : v.get_array()) {
      if (!item.is_object()) return malformed("not a JSON-RPC 2.0 message");
      auto r = scan_object(item.get_object(), expected_id, scan);
      if (!r) return r.error();
    }
    return scan;
  }
  return malformed("not a JSON-RPC 2.0 message");
}

std::string make_request(std::int64_t id, std::string_view method, json::object params) {
  json::object message;
  message["jsonrpc"] = "2.0";
  message["id"] = id;
  message["method"] = method;
  message["params"] = std::move(params);
  return json::serialize(message);
}

std::string make_notification(std::string_view method) {
  json::object message;
  message["jsonrpc"] = "2.0";
  message["method"] = method;
  return json::serialize(message);
}

json::object initialize_params(std::string_view protocol_version, std::string_view client_name,
                               std::string_view client_version) {
  json::object params;
  params["protocolVersion"] = protocol_version;
  params["capabilities"] = json::object{};
  params["clientInfo"] = json::object{{"name", client_name}, {"version", client_version}};
  return params;
}

json::object modern_params(json::object params, std::string_view client_name,
                           std::string_view client_version) {
  json::object meta;
  meta["io.modelcontextprotocol/protocolVersion"] = kModernVersion;
  meta["io.modelcontextprotocol/clientInfo"] =
      json::object{{"name", client_name}, {"version", client_version}};
  meta["io.modelcontextprotocol/clientCapabilities"] = json::object{};
  params["_meta"] = std::move(meta);
  return params;
}

bool is_modern_error(const RpcError& error) {
  // -32022 UnsupportedProtocolVersionError, -32020 HeaderMismatch,
  // -32021 MissingRequiredClientCapabilityError (2026-07-28 schema).
  return error.code == -32022 || error.code == -32020 || error.code == -32021;
}

Result<McpInfo> parse_initialize_result(const json::value& result, const IntrospectionLimits& limits) {
  const json::object* o = result.if_object();
  if (!o) return malformed("result is not an object");
  McpInfo info;
  const json::value* version = o->if_contains("protocolVersion");
  if (!version || !version->is_string() || version->get_string().empty()) {
    return malformed("result.protocolVersion missing");
  }
  info.protocol_version = one_line(version->get_string(), limits.max_string);
  auto caps = capabilities_of(*o, limits);
  if (!caps) return caps.error();
  info.capabilities = std::move(*caps);
  if (auto r = server_info_into(o->if_contains("serverInfo"), info, limits); !r) return r.error();
  return info;
}

Result<McpInfo> parse_discover_result(const json::value& result, const IntrospectionLimits& limits) {
  const json::object* o = result.if_object();
  if (!o) return malformed("result is not an object");
  const json::value* versions = o->if_contains("supportedVersions");
  if (!versions || !versions->is_array() || versions->get_array().empty()) {
    return malformed("result.supportedVersions missing");
  }
  bool speaks_modern = false;
  for (const json::value& v : versions->get_array()) {
    if (!v.is_string()) return malformed("result.supportedVersions holds a non-string");
    if (v.get_string() == kModernVersion) speaks_modern = true;
  }
  if (!speaks_modern) {
    return malformed("server does not support " + std::string(kModernVersion) + " (supports " +
                     cut(json::serialize(*versions), 200) + ")");
  }
  McpInfo info;
  info.protocol_version = std::string(kModernVersion);
  auto caps = capabilities_of(*o, limits);
  if (!caps) return caps.error();
  info.capabilities = std::move(*caps);
  const json::value* meta = o->if_contains("_meta");
  const json::value* server_info =
      meta && meta->is_object() ? meta->get_object().if_contains("io.modelcontextprotocol/serverInfo") : nullptr;
  if (auto r = server_info_into(server_info, info, limits); !r) {
    return malformed("result._meta[\"io.modelcontextprotocol/serverInfo\"] missing");
  }
  return info;
}

Result<ToolsPage> parse_tools_list_result(const json::value& result, std::size_t room,
                                          const IntrospectionLimits& limits) {
  const json::object* o = result.if_object();
  if (!o) return malformed("result is not an object");
  const json::value* tools = o->if_contains("tools");
  if (!tools || !tools->is_array()) return malformed("result.tools missing");
  ToolsPage page;
  for (const json::value& t : tools->get_array()) {
    const json::object* tool = t.if_object();
    if (!tool) return malformed("result.tools holds a non-object");
    const json::value* name = tool->if_contains("name");
    if (!name || !name->is_string() || name->get_string().empty()) {
      return malformed("a tool has no name");
    }
    if (page.tools.size() >= room) continue;  // validate the rest, keep none
    McpTool entry;
    // A record's tool names are names (max_string, one line), not prose.
    entry.name = one_line(name->get_string(), limits.max_string);
    entry.title = string_field(*tool, "title", limits.max_tool_text);
    if (entry.title.empty()) {
      // 2025-03-26 put the display name in annotations.title.
      if (const json::value* a = tool->if_contains("annotations"); a && a->is_object()) {
        entry.title = string_field(a->get_object(), "title", limits.max_tool_text);
      }
    }
    entry.description = string_field(*tool, "description", limits.max_tool_text);
    page.tools.push_back(std::move(entry));
  }
  if (const json::value* next = o->if_contains("nextCursor")) {
    if (next->is_string()) {
      if (next->get_string().size() > 4096) return malformed("nextCursor longer than 4096 bytes");
      if (!next->get_string().empty()) page.next_cursor = std::string(next->get_string());
    } else if (!next->is_null()) {
      return malformed("nextCursor is not a string");
    }
  }
  return page;
}

std::string media_type(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  std::string out(type.substr(0, 128));
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace discovery::health::wire
