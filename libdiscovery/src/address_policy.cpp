#include <discovery/address_policy.hpp>

#include <charconv>

namespace discovery {

namespace ip = boost::asio::ip;

namespace {
ip::address unmapped(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  return a;
}
}  // namespace

bool Cidr::contains(const ip::address& raw) const {
  const ip::address a = unmapped(raw);
  if (a.is_v4() != network.is_v4()) return false;
  if (a.is_v4()) {
    const auto mask = prefix_length == 0 ? 0u : ~0u << (32 - prefix_length);
    return (a.to_v4().to_uint() & mask) == (network.to_v4().to_uint() & mask);
  }
  const auto x = a.to_v6().to_bytes();
  const auto y = network.to_v6().to_bytes();
  unsigned bits = prefix_length;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits = bits >= 8 ? bits - 8 : 0) {
    const unsigned char mask = bits >= 8 ? 0xff : static_cast<unsigned char>(0xff << (8 - bits));
    if ((x[i] & mask) != (y[i] & mask)) return false;
  }
  return true;
}

std::string Cidr::to_string() const { return network.to_string() + "/" + std::to_string(prefix_length); }

Result<Cidr> parse_cidr(std::string_view text) {
  const auto slash = text.find('/');
  boost::system::error_code ec;
  Cidr out;
  out.network = unmapped(ip::make_address(std::string(text.substr(0, slash)), ec));
  if (ec) return Error{ErrorCode::invalid_argument, "not an address or CIDR range: " + std::string(text), "cidr"};
  const unsigned max = out.network.is_v4() ? 32 : 128;
  out.prefix_length = max;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    unsigned length = 0;
    auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), length);
    if (digits.empty() || err != std::errc{} || end != digits.data() + digits.size() || length > max)
      return Error{ErrorCode::invalid_argument, "bad prefix length in " + std::string(text), "cidr"};
    out.prefix_length = length;
  }
  return out;
}

AddressPolicy AddressPolicy::default_deny() {
  AddressPolicy p;
  auto deny = [&](const char* range, const char* reason) { p.denied_.push_back({*parse_cidr(range), reason}); };
  deny("127.0.0.0/8", "loopback");
  deny("::1/128", "loopback");
  deny("169.254.0.0/16", "link-local");
  deny("fe80::/10", "link-local");
  deny("0.0.0.0/8", "unspecified");
  deny("::/128", "unspecified");
  deny("224.0.0.0/4", "multicast");
  deny("ff00::/8", "multicast");
  deny("255.255.255.255/32", "broadcast");
  return p;
}

AddressPolicy AddressPolicy::allow_all() { return AddressPolicy{}; }

void AddressPolicy::allow(Cidr range) { allowed_.push_back(std::move(range)); }

bool AddressPolicy::permits(const ip::address& address) const { return refusal(address).empty(); }

std::string AddressPolicy::refusal(const ip::address& raw) const {
  const ip::address a = unmapped(raw);
  for (const auto& range : allowed_)
    if (range.contains(a)) return {};
  for (const auto& d : denied_)
    if (d.range.contains(a)) return a.to_string() + " is " + d.reason;
  return {};
}

}  // namespace discovery
