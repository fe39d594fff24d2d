// The http(s) URLs the probes call: a registrant's endpoint, a redirect's
// Location, a legacy SSE server's `endpoint` event. Only what a probe needs,
// strictly: no user info, no control characters or spaces anywhere (they
// would end up in a request line or a Host header).
#pragma once

#include <discovery/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace discovery::health {

struct Url {
  std::string scheme;   // "http" | "https", lowercase
  std::string host;     // lowercase; an IPv6 literal without brackets
  std::uint16_t port = 0;
  std::string target;   // path and query, never empty ("/")

  bool tls() const { return scheme == "https"; }
  // "https://example.com:8443": what connections are pooled and origins compared by.
  std::string origin() const;
  // The Host header: host, bracketed when IPv6, with the port when not the default.
  std::string host_header() const;
  std::string to_string() const { return origin() + target; }
};

// An absolute http(s) URL. The error message says what is wrong.
Result<Url> parse_url(std::string_view text);

// A URI reference (absolute, scheme-relative, absolute-path or relative-path)
// resolved against base, as a browser resolves a Location header.
Result<Url> resolve_reference(const Url& base, std::string_view reference);

}  // namespace discovery::health
