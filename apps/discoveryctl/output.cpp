#include "output.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>

namespace discovery::ctl {

namespace json = boost::json;

namespace {

// The shortest text that reads back as the same double.
std::string number_text(double d) {
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, d);
  return ec == std::errc{} ? std::string(buffer, end) : json::serialize(json::value(d));
}

std::string scalar_text(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return std::string(v.get_string());
    case json::kind::double_:
      return number_text(v.get_double());
    default:
      return json::serialize(v);
  }
}

void write_pretty(std::string& out, const json::value& v, std::string& indent) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& object = v.get_object();
      if (object.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      indent += "  ";
      bool first = true;
      for (const auto& [key, member] : object) {
        if (!first) out += ",\n";
        first = false;
        out += indent + json::serialize(json::string_view(key)) + ": ";
        write_pretty(out, member, indent);
      }
      indent.resize(indent.size() - 2);
      out += "\n" + indent + "}";
      return;
    }
    case json::kind::array: {
      const auto& array = v.get_array();
      if (array.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      indent += "  ";
      bool first = true;
      for (const auto& element : array) {
        if (!first) out += ",\n";
        first = false;
        out += indent;
        write_pretty(out, element, indent);
      }
      indent.resize(indent.size() - 2);
      out += "\n" + indent + "]";
      return;
    }
    case json::kind::double_:
      out += number_text(v.get_double());
      return;
    default:
      out += json::serialize(v);
  }
}

const json::value* member_at(const json::value& value,
                             std::initializer_list<std::string_view> path) {
  const json::value* at = &value;
  for (const auto key : path) {
    if (!at->is_object()) return nullptr;
    at = at->get_object().if_contains(key);
    if (!at) return nullptr;
  }
  return at;
}

}  // namespace

std::string pretty_json(const json::value& value) {
  std::string out;
  std::string indent;
  write_pretty(out, value, indent);
  out += "\n";
  return out;
}

std::string text_at(const json::value& value, std::initializer_list<std::string_view> path) {
  const json::value* at = member_at(value, path);
  if (!at || at->is_null()) return "-";
  if (at->is_array()) {
    std::string joined;
    for (const auto& element : at->get_array())
      joined += (joined.empty() ? "" : ",") + scalar_text(element);
    return joined.empty() ? "-" : joined;
  }
  auto text = scalar_text(*at);
  return text.empty() ? "-" : text;
}

std::string Table::render() const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);
  std::string out;
  const auto write = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += "\n";
  };
  write(headers_);
  for (const auto& row : rows_) write(row);
  return out;
}

std::string services_table(const std::vector<json::value>& records) {
  Table table({"SERVICE ID", "COMPANY", "INSTANCE", "STATUS", "REGION", "ENV", "PRIMARY"});
  for (const auto& r : records)
    table.add({text_at(r, {"serviceId"}), text_at(r, {"companyName"}), text_at(r, {"instanceId"}),
               text_at(r, {"status"}), text_at(r, {"serviceInfo", "region"}),
               text_at(r, {"serviceInfo", "environment"}),
               text_at(r, {"serviceInfo", "endpoints", "primary"})});
  return table.render();
}

std::string event_line(std::string_view received_at, const json::value& event) {
  return std::string(received_at) + "  " + text_at(event, {"index"}) + "  " +
         text_at(event, {"type"}) + "  " + text_at(event, {"service", "companyName"}) + "/" +
         text_at(event, {"service", "instanceId"}) + "  " + text_at(event, {"service", "status"}) +
         "  " + text_at(event, {"service", "serviceId"}) + "\n";
}

std::string render_fields(const Fields& fields) {
  std::size_t width = 0;
  for (const auto& [label, value] : fields) width = std::max(width, label.size());
  std::string out;
  for (const auto& [label, value] : fields)
    out += label + ":" + std::string(width - label.size() + 2, ' ') + value + "\n";
  return out;
}

Fields health_fields(const json::value& health_status) {
  const auto with_unit = [&](std::string_view key, std::string_view unit) {
    auto text = text_at(health_status, {key});
    return text == "-" ? text : text + std::string(unit);
  };
  return {
      {"last check", text_at(health_status, {"lastCheck"})},
      {"response time", with_unit("responseTime", " ms")},
      {"uptime", with_unit("uptime", "%")},
      {"consecutive failures", text_at(health_status, {"consecutiveFailures"})},
      {"consecutive successes", text_at(health_status, {"consecutiveSuccesses"})},
      {"last failure", text_at(health_status, {"lastFailure"})},
      {"last error", text_at(health_status, {"lastError"})},
  };
}

std::string checks_table(const json::value& checks) {
  if (!checks.is_array() || checks.get_array().empty()) return "no checks recorded yet\n";
  Table table({"AT", "RESULT", "RESPONSE MS", "ENDPOINT", "ERROR"});
  for (const auto& c : checks.get_array()) {
    const auto* ok = member_at(c, {"ok"});
    table.add({text_at(c, {"at"}), ok && ok->is_bool() && ok->get_bool() ? "ok" : "FAIL",
               text_at(c, {"responseTime"}), text_at(c, {"endpoint"}), text_at(c, {"error"})});
  }
  return table.render();
}

}  // namespace discovery::ctl
