#include "health/url.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace discovery::health {
namespace {

Error bad(std::string_view text, std::string why) {
  return invalid_argument("", "'" + std::string(text.substr(0, 200)) + "' is not a usable URL (" +
                                  std::move(why) + ")");
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool has_unsafe_bytes(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7F;
  });
}

std::uint16_t default_port(std::string_view scheme) { return scheme == "https" ? 443 : 80; }

}  // namespace

std::string Url::origin() const {
  bool v6 = host.find(':') != std::string::npos;
  return scheme + "://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string Url::host_header() const {
  bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  if (port != default_port(scheme)) h += ":" + std::to_string(port);
  return h;
}

Result<Url> parse_url(std::string_view text) {
  if (text.size() > 4096) return bad(text, "longer than 4096 bytes");
  if (has_unsafe_bytes(text)) return bad(text, "contains spaces or control characters");
  auto scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return bad(text, "no scheme");
  Url url;
  url.scheme = lower(text.substr(0, scheme_end));
  if (url.scheme != "http" && url.scheme != "https") return bad(text, "scheme must be http or https");
  std::string_view rest = text.substr(scheme_end + 3);
  if (auto hash = rest.find('#'); hash != std::string_view::npos) rest = rest.substr(0, hash);
  std::size_t authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) return bad(text, "user info is not supported");
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return bad(text, "unclosed IPv6 literal");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(text, "junk after IPv6 literal");
      port_text = after.substr(1);
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return bad(text, "bad IPv6 literal");
  } else {
    auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad(text, "IPv6 literal must be bracketed");
  }
  if (host.empty()) return bad(text, "no host");
  if (host.size() > 253) return bad(text, "host longer than 253 bytes");
  url.host = lower(host);
  url.port = default_port(url.scheme);
  if (!port_text.empty()) {
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return bad(text, "bad port");
    }
    url.port = static_cast<std::uint16_t>(port);
  }
  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

Result<Url> resolve_reference(const Url& base, std::string_view reference) {
  if (reference.size() > 4096) return bad(reference, "longer than 4096 bytes");
  if (has_unsafe_bytes(reference)) return bad(reference, "contains spaces or control characters");
  if (auto hash = reference.find('#'); hash != std::string_view::npos) reference = reference.substr(0, hash);
  // An absolute URL has a scheme: letters, digits, + - . before the first ':'
  // that comes before any '/', '?'.
  auto colon = reference.find(':');
  auto first_delim = reference.find_first_of("/?");
  if (colon != std::string_view::npos && colon > 0 && (first_delim == std::string_view::npos || colon < first_delim) &&
      std::isalpha(static_cast<unsigned char>(reference.front()))) {
    return parse_url(reference);
  }
  if (reference.substr(0, 2) == "//") return parse_url(base.scheme + ":" + std::string(reference));
  Url url = base;
  if (reference.empty()) return url;
  if (reference.front() == '/') {
    url.target = std::string(reference);
  } else if (reference.front() == '?') {
    url.target = base.target.substr(0, base.target.find('?')) + std::string(reference);
  } else {
    std::string path = base.target.substr(0, base.target.find('?'));
    url.target = path.substr(0, path.rfind('/') + 1) + std::string(reference);
  }
  return url;
}

}  // namespace discovery::health
