// logfmt values (`key=value key="quoted value"`), shared by every log line the
// library writes: the server's request log, the health checker and the alert
// sinks. Control characters are escaped, so a value taken from the network (a
// probe's error, a webhook's reason) can never start a forged log line.
#pragma once

#include <string>
#include <string_view>

namespace discovery::detail {

// Appends `value`, quoted when logfmt needs it (empty, space, '=', '"', '\',
// control characters) or when `always_quote` is set.
inline void append_logfmt_value(std::string& out, std::string_view value, bool always_quote = false) {
  bool quote = always_quote || value.empty();
  for (char c : value) {
    if (c == ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      quote = true;
      break;
    }
  }
  if (quote) out.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  if (quote) out.push_back('"');
}

// `value` as a quoted logfmt string, for free text such as messages and errors.
inline std::string logfmt_quote(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  append_logfmt_value(out, value, true);
  return out;
}

}  // namespace discovery::detail
