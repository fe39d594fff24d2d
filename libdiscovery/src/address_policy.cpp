#include <discovery/address_policy.hpp>

#include <array>
#include <charconv>
#include <optional>
#include <utility>

namespace discovery {
namespace {

namespace ip = boost::asio::ip;

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) reaches the IPv4 host, so it is
// judged as that host: otherwise "::ffff:127.0.0.1" would slip past a 127/8 rule.
ip::address normalize(const ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  return a;
}

template <std::size_t N>
bool prefix_equal(const std::array<unsigned char, N>& x, const std::array<unsigned char, N>& y,
                  unsigned prefix_length) {
  unsigned full_bytes = prefix_length / 8;
  for (unsigned i = 0; i < full_bytes; ++i) {
    if (x[i] != y[i]) return false;
  }
  unsigned rest = prefix_length % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xFFu << (8 - rest));
  return (x[full_bytes] & mask) == (y[full_bytes] & mask);
}

template <std::size_t N>
void clear_host_bits(std::array<unsigned char, N>& bytes, unsigned prefix_length) {
  for (std::size_t i = 0; i < N; ++i) {
    unsigned bit = static_cast<unsigned>(i) * 8;
    if (bit >= prefix_length) {
      bytes[i] = 0;
    } else if (prefix_length - bit < 8) {
      bytes[i] &= static_cast<unsigned char>(0xFFu << (8 - (prefix_length - bit)));
    }
  }
}

Cidr must_parse(std::string_view text) {
  // Only called on the literals below; a typo there is a programming error.
  return parse_cidr(text).value();
}

}  // namespace

bool Cidr::contains(const ip::address& address) const {
  ip::address a = normalize(address);
  if (a.is_v4() != network.is_v4()) return false;
  if (a.is_v4()) return prefix_equal(a.to_v4().to_bytes(), network.to_v4().to_bytes(), prefix_length);
  return prefix_equal(a.to_v6().to_bytes(), network.to_v6().to_bytes(), prefix_length);
}

std::string Cidr::to_string() const {
  return network.to_string() + "/" + std::to_string(prefix_length);
}

Result<Cidr> parse_cidr(std::string_view text) {
  auto fail = [&](std::string why) -> Result<Cidr> {
    return invalid_argument("", "'" + std::string(text.substr(0, 64)) + "' is not a CIDR range (" +
                                    std::move(why) + ")");
  };
  std::string_view address_text = text;
  std::optional<unsigned> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address_text = text.substr(0, slash);
    std::string_view prefix_text = text.substr(slash + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(prefix_text.data(), prefix_text.data() + prefix_text.size(), value);
    if (prefix_text.empty() || ec != std::errc{} || end != prefix_text.data() + prefix_text.size()) {
      return fail("prefix length must be a number");
    }
    prefix = value;
  }
  // IPv6 literals may come bracketed, as in URLs.
  if (address_text.size() >= 2 && address_text.front() == '[' && address_text.back() == ']') {
    address_text = address_text.substr(1, address_text.size() - 2);
  }
  boost::system::error_code ec;
  ip::address address = ip::make_address(std::string(address_text), ec);
  if (ec) return fail("bad address");
  address = normalize(address);
  unsigned max_prefix = address.is_v4() ? 32 : 128;
  unsigned length = prefix.value_or(max_prefix);
  if (length > max_prefix) {
    return fail("prefix length over " + std::to_string(max_prefix));
  }
  // "127.0.0.1/8" means 127.0.0.0/8: what an operator typing it wants.
  if (address.is_v4()) {
    auto bytes = address.to_v4().to_bytes();
    clear_host_bits(bytes, length);
    address = ip::address_v4(bytes);
  } else {
    auto bytes = address.to_v6().to_bytes();
    clear_host_bits(bytes, length);
    address = ip::address_v6(bytes);
  }
  return Cidr{address, length};
}

AddressPolicy AddressPolicy::default_deny() {
  AddressPolicy policy;
  const std::pair<std::string_view, std::string_view> denied[] = {
      {"127.0.0.0/8", "loopback"},
      {"::1/128", "loopback"},
      {"0.0.0.0/8", "unspecified"},
      {"::/128", "unspecified"},
      {"169.254.0.0/16", "link-local"},  // includes 169.254.169.254, cloud metadata
      {"fe80::/10", "link-local"},
      // AWS's IPv6 metadata endpoint lives outside fe80::/10.
      {"fd00:ec2::254/128", "a cloud metadata address"},
      {"224.0.0.0/4", "multicast"},
      {"ff00::/8", "multicast"},
      {"255.255.255.255/32", "broadcast"},
  };
  for (const auto& [range, reason] : denied) {
    policy.denied_.push_back(Denied{must_parse(range), std::string(reason)});
  }
  return policy;
}

AddressPolicy AddressPolicy::allow_all() { return AddressPolicy{}; }

void AddressPolicy::allow(Cidr range) { allowed_.push_back(std::move(range)); }

bool AddressPolicy::permits(const ip::address& address) const { return refusal(address).empty(); }

std::string AddressPolicy::refusal(const ip::address& address) const {
  for (const Cidr& range : allowed_) {
    if (range.contains(address)) return {};
  }
  for (const Denied& denied : denied_) {
    if (denied.range.contains(address)) {
      return address.to_string() + " is " + denied.reason;
    }
  }
  return {};
}

}  // namespace discovery
