// The parts of an absolute http(s)/tcp URL that the health checker and its
// webhooks need. Internal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace discovery::health {

struct TargetUrl {
  std::string scheme;  // "http", "https", "tcp"
  std::string host;    // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  bool tls() const { return scheme == "https"; }
  // host[:port] as the Host header wants it.
  std::string authority() const;
};

inline bool is_absolute_url(std::string_view text) {
  return text.starts_with("http://") || text.starts_with("https://") || text.starts_with("tcp://");
}

// Refuses user info, empty hosts, bad ports, and other schemes.
std::optional<TargetUrl> parse_target_url(std::string_view url);

}  // namespace discovery::health
