#include "health/target_url.hpp"

#include <charconv>

namespace discovery::health {

std::string TargetUrl::authority() const {
  const bool v6 = host.find(':') != std::string::npos;
  std::string out = v6 ? "[" + host + "]" : host;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) out += ":" + std::to_string(port);
  return out;
}

std::optional<TargetUrl> parse_target_url(std::string_view url) {
  TargetUrl out;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  out.scheme = std::string(url.substr(0, scheme_end));
  for (char& c : out.scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (out.scheme != "http" && out.scheme != "https" && out.scheme != "tcp") return std::nullopt;
  std::string_view rest = url.substr(scheme_end + 3);
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view path = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  for (char& c : out.host) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535)
      return std::nullopt;
    out.port = static_cast<std::uint16_t>(port);
  } else if (out.scheme == "tcp") {
    return std::nullopt;  // a TCP check needs a port
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  const auto fragment = path.find('#');
  if (fragment != std::string_view::npos) path = path.substr(0, fragment);
  out.target = path.empty() || path.front() == '?' ? "/" + std::string(path) : std::string(path);
  return out;
}

}  // namespace discovery::health
