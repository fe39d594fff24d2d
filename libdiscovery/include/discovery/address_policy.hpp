// Which network addresses the health checker may connect to. Registrants
// choose the URLs the checker calls, so without a policy the checker would be
// a way into the daemon's own host and cloud metadata services (SSRF). The
// policy is applied to every resolved address, on every redirect.
#pragma once

#include <discovery/error.hpp>

#include <boost/asio/ip/address.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace discovery {

struct Cidr {
  boost::asio::ip::address network;
  unsigned prefix_length = 0;
  bool contains(const boost::asio::ip::address& a) const;
  std::string to_string() const;  // "127.0.0.0/8"
};

// "10.0.0.0/8", "::1/128", or a bare address (a /32 or /128). Error names the text.
Result<Cidr> parse_cidr(std::string_view text);

// Thread-safety: immutable after construction and allow(); concurrent reads are safe.
class AddressPolicy {
 public:
  // Denies loopback, link-local (169.254.0.0/16, so cloud metadata too;
  // fe80::/10), unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4, ff00::/8),
  // broadcast, and the IPv4-mapped IPv6 forms of each.
  static AddressPolicy default_deny();
  // Permits everything (embedders that probe their own host on purpose).
  static AddressPolicy allow_all();

  // An exception to the deny list (the daemon's --probe-allow).
  void allow(Cidr range);

  bool permits(const boost::asio::ip::address& address) const;
  // Why an address is refused, for lastError: "127.0.0.1 is loopback".
  // Empty when permitted.
  std::string refusal(const boost::asio::ip::address& address) const;

 private:
  struct Denied {
    Cidr range;
    std::string reason;  // "loopback", "link-local", ...
  };
  std::vector<Denied> denied_;
  std::vector<Cidr> allowed_;
};

}  // namespace discovery
