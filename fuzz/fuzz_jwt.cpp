// JWT verification with an HS256 key. Two modes, chosen by the first byte:
// - even: the rest is a token as a client sends it (any bytes);
// - odd: the rest is "HEADER\nCLAIMS" (any bytes, usually JSON), which is
//   base64url-encoded and correctly signed with the key here, so that the
//   fuzzer reaches header and claim checks behind the signature.
//
// Invariants: every failure is `unauthenticated` with a message that never
// quotes the token; a token that verifies has a subject, a level, a company
// for the scoped levels, and an expiry in the future (the clock is fixed);
// a second verify (cache hit) gives the same answer.
#include <discovery/auth.hpp>

#include "fuzz_common.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

using namespace discovery;

namespace {

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123456789abcdef";

std::string b64url(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], kAlphabet[v & 63]};
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63]};
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[v >> 18], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63]};
  }
  return out;
}

std::string sign(std::string_view header, std::string_view claims) {
  std::string input = b64url(header) + "." + b64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), kSecret.data(), static_cast<int>(kSecret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

struct Fixture {
  ManualClock clock;  // 2026-01-01T00:00:00Z
  std::unique_ptr<JwtVerifier> verifier;
  Fixture() {
    JwtOptions options;
    options.hs256_secret = std::string(kSecret);
    options.cache_entries = 64;  // small, so eviction is exercised too
    auto created = JwtVerifier::create(options, clock);
    if (!created) fuzz::fail("verifier", created.error().to_string());
    verifier = std::move(*created);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Fixture fixture;
  if (size < 1) return 0;
  const auto rest = fuzz::as_text(data + 1, size - 1);
  std::string token;
  if (data[0] & 1) {
    const auto newline = rest.find('\n');
    if (newline == std::string_view::npos) return 0;
    token = sign(rest.substr(0, newline), rest.substr(newline + 1));
  } else {
    token = std::string(rest);
  }

  auto first = fixture.verifier->verify(token);
  auto second = fixture.verifier->verify(token);
  FUZZ_CHECK(first.has_value() == second.has_value(), token);
  if (!first) {
    FUZZ_CHECK(first.error().code == ErrorCode::unauthenticated, first.error().to_string());
    FUZZ_CHECK(!first.error().message.empty(), token);
    if (token.size() >= 16) FUZZ_CHECK(first.error().message.find(token) == std::string::npos, token);
    return 0;
  }
  FUZZ_CHECK(*first == *second, token);
  const Principal& p = *first;
  FUZZ_CHECK(!p.subject.empty(), token);
  if (!at_least(p.level, SaoLevel::emerald)) FUZZ_CHECK(!p.company.empty(), token);
  // The leeway (30 s) is the only slack on exp.
  FUZZ_CHECK(p.expires_at + std::chrono::seconds{30} >= fixture.clock.now(), token);
  return 0;
}
