// The SSRF guard: which addresses the health checker may connect to.
#define BOOST_TEST_MODULE test_address_policy
#include <boost/test/unit_test.hpp>

#include <discovery/address_policy.hpp>

#include <string>

using discovery::AddressPolicy;
using discovery::ErrorCode;
using discovery::parse_cidr;
namespace ip = boost::asio::ip;

namespace {
ip::address addr(const char* text) { return ip::make_address(text); }
}  // namespace

BOOST_AUTO_TEST_CASE(default_deny_refuses_the_hosts_own_and_metadata_addresses) {
  AddressPolicy policy = AddressPolicy::default_deny();
  for (const char* denied : {"127.0.0.1", "127.255.0.9", "::1", "0.0.0.0", "::", "169.254.169.254",
                             "169.254.0.1", "fe80::1", "224.0.0.1", "239.1.2.3", "ff02::1",
                             "255.255.255.255", "fd00:ec2::254"}) {
    BOOST_TEST_INFO(denied);
    BOOST_TEST(!policy.permits(addr(denied)));
  }
  BOOST_TEST(policy.refusal(addr("127.0.0.1")) == "127.0.0.1 is loopback");
  BOOST_TEST(policy.refusal(addr("169.254.169.254")) == "169.254.169.254 is link-local");
  BOOST_TEST(policy.refusal(addr("::1")) == "::1 is loopback");
}

BOOST_AUTO_TEST_CASE(default_deny_permits_public_and_private_networks) {
  // Fleets run in private networks; only the daemon's own host and the
  // metadata services are off limits by default.
  AddressPolicy policy = AddressPolicy::default_deny();
  for (const char* permitted : {"8.8.8.8", "10.1.2.3", "192.168.0.10", "172.16.5.5",
                                "2001:db8::1", "128.0.0.1", "126.255.255.255", "169.253.255.255",
                                "223.255.255.255", "fec0::1"}) {
    BOOST_TEST_INFO(permitted);
    BOOST_TEST(policy.permits(addr(permitted)));
    BOOST_TEST(policy.refusal(addr(permitted)).empty());
  }
}

BOOST_AUTO_TEST_CASE(v4_mapped_v6_is_judged_as_the_v4_host) {
  AddressPolicy policy = AddressPolicy::default_deny();
  BOOST_TEST(!policy.permits(addr("::ffff:127.0.0.1")));
  BOOST_TEST(!policy.permits(addr("::ffff:169.254.169.254")));
  BOOST_TEST(policy.refusal(addr("::ffff:127.0.0.1")) == "::ffff:127.0.0.1 is loopback");
  BOOST_TEST(policy.permits(addr("::ffff:8.8.8.8")));

  // And an allow for the v4 range covers its mapped form.
  policy.allow(parse_cidr("127.0.0.0/8").value());
  BOOST_TEST(policy.permits(addr("::ffff:127.0.0.1")));
}

BOOST_AUTO_TEST_CASE(allow_makes_exceptions_to_the_deny_list_only) {
  AddressPolicy policy = AddressPolicy::default_deny();
  policy.allow(parse_cidr("127.0.0.1").value());
  BOOST_TEST(policy.permits(addr("127.0.0.1")));
  BOOST_TEST(!policy.permits(addr("127.0.0.2")));
  BOOST_TEST(!policy.permits(addr("169.254.169.254")));
  policy.allow(parse_cidr("169.254.0.0/16").value());
  BOOST_TEST(policy.permits(addr("169.254.169.254")));
  policy.allow(parse_cidr("::1/128").value());
  BOOST_TEST(policy.permits(addr("::1")));
}

BOOST_AUTO_TEST_CASE(allow_all_permits_everything) {
  AddressPolicy policy = AddressPolicy::allow_all();
  for (const char* a : {"127.0.0.1", "::1", "169.254.169.254", "0.0.0.0"}) {
    BOOST_TEST(policy.permits(addr(a)));
  }
}

BOOST_AUTO_TEST_CASE(cidr_parsing_and_containment) {
  auto loopback = parse_cidr("127.0.0.0/8");
  BOOST_TEST_REQUIRE(loopback.has_value());
  BOOST_TEST(loopback->to_string() == "127.0.0.0/8");
  BOOST_TEST(loopback->contains(addr("127.9.9.9")));
  BOOST_TEST(!loopback->contains(addr("128.0.0.0")));
  BOOST_TEST(!loopback->contains(addr("::1")));

  BOOST_TEST(parse_cidr("10.0.0.1")->to_string() == "10.0.0.1/32");
  BOOST_TEST(parse_cidr("::1")->to_string() == "::1/128");
  BOOST_TEST(parse_cidr("[fe80::]/10")->to_string() == "fe80::/10");
  // Host bits are cleared: what someone typing 127.0.0.1/8 means.
  BOOST_TEST(parse_cidr("127.0.0.1/8")->to_string() == "127.0.0.0/8");
  BOOST_TEST(parse_cidr("10.1.2.3/12")->to_string() == "10.0.0.0/12");
  BOOST_TEST(parse_cidr("0.0.0.0/0")->contains(addr("1.2.3.4")));
  BOOST_TEST(parse_cidr("2001:db8::/33")->contains(addr("2001:db8:7fff::1")));
  BOOST_TEST(!parse_cidr("2001:db8::/33")->contains(addr("2001:db8:8000::1")));
}

BOOST_AUTO_TEST_CASE(cidr_parse_errors_name_the_text) {
  for (const char* bad : {"", "/8", "10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/x",
                          "10.0.0.0/8/8", "nope", "10.0.0.256", "10.0.0.0/-1", "10.0.0.0/ 8"}) {
    BOOST_TEST_INFO(bad);
    auto parsed = parse_cidr(bad);
    BOOST_TEST_REQUIRE(!parsed.has_value());
    BOOST_TEST((parsed.error().code == ErrorCode::invalid_argument));
    BOOST_TEST(parsed.error().message.find(std::string("'") + bad + "'") == 0u);
  }
}
