// JWT verification (HS256, RS256, ES256), its cache, token minting, and the
// Authorizer's access table. RS256 and ES256 tokens are signed here with the
// test's own keys and signer, so the verifier is checked against OpenSSL,
// not against itself.
#define BOOST_TEST_MODULE test_auth
#include <boost/test/unit_test.hpp>

#include <discovery/auth.hpp>
#include <discovery/registry.hpp>
#include <discovery/storage.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "openssl_ptr.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace json = boost::json;
using discovery::Authorizer;
using discovery::Clock;
using discovery::decision_error;
using discovery::Duration;
using discovery::ErrorCode;
using discovery::JwtOptions;
using discovery::JwtVerifier;
using discovery::ManualClock;
using discovery::Principal;
using discovery::SaoLevel;
using discovery::TimePoint;
using Action = discovery::Authorizer::Action;
using Decision = discovery::Authorizer::Decision;
using namespace std::chrono_literals;

namespace discovery {
// Boost.Test prints the values of failed comparisons.
inline std::ostream& operator<<(std::ostream& os, Authorizer::Decision decision) {
  return os << to_string(decision);
}
inline std::ostream& operator<<(std::ostream& os, SaoLevel level) { return os << to_string(level); }
}  // namespace discovery

namespace {

// ---------------------------------------------------------------------------
// The test's own JOSE toolkit

using discovery::detail::OpensslDeleter;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>>;
using EncoderCtxPtr = std::unique_ptr<OSSL_ENCODER_CTX, OpensslDeleter<OSSL_ENCODER_CTX_free>>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}
std::string text(const unsigned char* data, std::size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string base64url(std::string_view data, bool padded = false) {
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : data) {
    accumulator = (accumulator << 8) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(accumulator >> bits) & 63U]);
    }
  }
  if (bits > 0) out.push_back(kBase64UrlAlphabet[(accumulator << (6 - bits)) & 63U]);
  while (padded && out.size() % 4 != 0) out.push_back('=');
  return out;
}

// For well-formed input only: the test takes apart tokens it made.
std::string base64url_decode(std::string_view data) {
  std::string out;
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : data) {
    const auto value = static_cast<std::uint32_t>(kBase64UrlAlphabet.find(c));
    accumulator = (accumulator << 6) | value;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFFU));
    }
  }
  return out;
}

using Signer = std::function<std::string(std::string_view signing_input)>;

Signer hmac_signer(std::string secret, const EVP_MD* md = EVP_sha256()) {
  return [secret = std::move(secret), md](std::string_view input) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int length = 0;
    HMAC(md, secret.data(), static_cast<int>(secret.size()), bytes(input), input.size(), mac.data(),
         &length);
    return text(mac.data(), length);
  };
}

std::string digest_sign(EVP_PKEY* key, std::string_view input) {
  const MdCtxPtr context(EVP_MD_CTX_new());
  std::size_t length = 0;
  BOOST_TEST_REQUIRE(EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, key) == 1);
  BOOST_TEST_REQUIRE(EVP_DigestSign(context.get(), nullptr, &length, bytes(input), input.size()) ==
                     1);
  std::vector<unsigned char> signature(length);
  BOOST_TEST_REQUIRE(
      EVP_DigestSign(context.get(), signature.data(), &length, bytes(input), input.size()) == 1);
  return text(signature.data(), length);
}

Signer rs256_signer(EVP_PKEY* key) {
  return [key](std::string_view input) { return digest_sign(key, input); };
}

// JOSE ES256: the DER signature OpenSSL makes, re-encoded as r || s.
Signer es256_signer(EVP_PKEY* key) {
  return [key](std::string_view input) {
    const std::string der = digest_sign(key, input);
    const unsigned char* cursor = bytes(der);
    const EcdsaSigPtr signature(d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
    BOOST_TEST_REQUIRE(signature != nullptr);
    std::array<unsigned char, 64> raw{};
    BN_bn2binpad(ECDSA_SIG_get0_r(signature.get()), raw.data(), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(signature.get()), raw.data() + 32, 32);
    return text(raw.data(), raw.size());
  };
}

// A mistake issuers make: the DER form instead of JOSE's r || s.
Signer es256_der_signer(EVP_PKEY* key) {
  return [key](std::string_view input) { return digest_sign(key, input); };
}

Signer empty_signer() {
  return [](std::string_view) { return std::string(); };
}

std::string make_token(std::string_view header_json, std::string_view claims_json,
                       const Signer& sign) {
  std::string input = base64url(header_json) + "." + base64url(claims_json);
  return input + "." + base64url(sign(input));
}
std::string make_token(const json::object& header, const json::object& claims, const Signer& sign) {
  return make_token(json::serialize(header), json::serialize(claims), sign);
}

std::string public_pem(EVP_PKEY* key, const char* structure = "SubjectPublicKeyInfo") {
  const EncoderCtxPtr encoder(
      OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM", structure, nullptr));
  BOOST_TEST_REQUIRE(encoder != nullptr);
  unsigned char* data = nullptr;
  std::size_t length = 0;
  BOOST_TEST_REQUIRE(OSSL_ENCODER_to_data(encoder.get(), &data, &length) == 1);
  std::string pem = text(data, length);
  OPENSSL_free(data);
  return pem;
}

std::string private_pem(EVP_PKEY* key) {
  const BioPtr bio(BIO_new(BIO_s_mem()));
  BOOST_TEST_REQUIRE(
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1);
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(length));
}

PkeyPtr generate_rsa(unsigned bits) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(bits)));
}
PkeyPtr generate_ec(const char* curve) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

// RSA generation is slow; every test shares one pair of each kind.
struct TestKeys {
  PkeyPtr rsa = generate_rsa(2048);
  PkeyPtr ec = generate_ec("P-256");
  std::string rsa_pem = public_pem(rsa.get());
  std::string ec_pem = public_pem(ec.get());
};
const TestKeys& keys() {
  static const TestKeys instance;
  return instance;
}

// ---------------------------------------------------------------------------
// Fixture

constexpr std::string_view kSecret = "9f2c1a0b7d4e4c1f8a3b5e6d7c8b9a0f-test-secret";

long long seconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

struct AuthFixture {
  ManualClock clock;
  long long now = seconds(clock.now());

  json::object header(std::string_view alg) const {
    return json::object{{"alg", alg}, {"typ", "JWT"}};
  }

  json::object claims() const {
    return json::object{{"sub", "alice"},
                        {"sao", "sapphire"},
                        {"company", "acme"},
                        {"iat", now},
                        {"exp", now + 3600}};
  }

  std::unique_ptr<JwtVerifier> verifier(JwtOptions options) {
    auto created = JwtVerifier::create(std::move(options), clock);
    BOOST_TEST_REQUIRE(created.has_value());
    return std::move(*created);
  }
  std::unique_ptr<JwtVerifier> hs_verifier() {
    JwtOptions options;
    options.hs256_secret = std::string(kSecret);
    return verifier(std::move(options));
  }
  std::unique_ptr<JwtVerifier> rsa_verifier() {
    JwtOptions options;
    options.public_key_pem = keys().rsa_pem;
    return verifier(std::move(options));
  }
  std::unique_ptr<JwtVerifier> ec_verifier() {
    JwtOptions options;
    options.public_key_pem = keys().ec_pem;
    return verifier(std::move(options));
  }

  std::string hs_token(const json::object& claims_object) const {
    return make_token(header("HS256"), claims_object, hmac_signer(std::string(kSecret)));
  }
};

// A rejection is a 401 whose message is exactly `message` (when given) and
// quotes neither the token (nor any sizeable piece of it) nor the secret.
void expect_rejected(const JwtVerifier& verifier, const std::string& token,
                     std::optional<std::string_view> message) {
  BOOST_TEST_CONTEXT("token " << token) {
    const auto result = verifier.verify(token);
    BOOST_TEST_REQUIRE(!result.has_value());
    BOOST_TEST(result.error().code == ErrorCode::unauthenticated);
    if (message) BOOST_TEST(result.error().message == *message);
    BOOST_TEST(result.error().field.empty());
    const std::string& said = result.error().message;
    BOOST_TEST(said.find(kSecret) == std::string::npos);
    if (!token.empty()) BOOST_TEST(said.find(token) == std::string::npos);
    std::size_t start = 0;
    while (start <= token.size()) {
      const std::size_t end = std::min(token.find('.', start), token.size());
      const std::string_view part = std::string_view(token).substr(start, end - start);
      if (part.size() >= 8) BOOST_TEST(said.find(part) == std::string::npos);
      start = end + 1;
    }
  }
}

Principal expect_accepted(const JwtVerifier& verifier, const std::string& token) {
  const auto result = verifier.verify(token);
  BOOST_TEST_REQUIRE(result.has_value(), "rejected: " << result.error());
  return *result;
}

}  // namespace

// ---------------------------------------------------------------------------
// Accepted tokens

BOOST_FIXTURE_TEST_SUITE(verify, AuthFixture)

BOOST_AUTO_TEST_CASE(hs256_token_yields_its_principal) {
  const auto principal = expect_accepted(*hs_verifier(), hs_token(claims()));
  BOOST_TEST(principal.subject == "alice");
  BOOST_TEST(principal.level == SaoLevel::sapphire);
  BOOST_TEST(principal.company == "acme");
  BOOST_TEST(principal.expires_at.time_since_epoch().count() == (now + 3600) * 1000);
}

BOOST_AUTO_TEST_CASE(rs256_token_signed_with_the_matching_key_is_accepted) {
  const auto token = make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get()));
  const auto principal = expect_accepted(*rsa_verifier(), token);
  BOOST_TEST(principal.subject == "alice");
  BOOST_TEST(principal.company == "acme");
}

BOOST_AUTO_TEST_CASE(es256_token_signed_with_the_matching_key_is_accepted) {
  const auto token = make_token(header("ES256"), claims(), es256_signer(keys().ec.get()));
  const auto principal = expect_accepted(*ec_verifier(), token);
  BOOST_TEST(principal.subject == "alice");
  BOOST_TEST(principal.level == SaoLevel::sapphire);
}

BOOST_AUTO_TEST_CASE(pkcs1_rsa_public_key_pem_is_accepted) {
  JwtOptions options;
  options.public_key_pem = public_pem(keys().rsa.get(), "type-specific");
  BOOST_TEST(options.public_key_pem.find("BEGIN RSA PUBLIC KEY") != std::string::npos);
  const auto token = make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get()));
  expect_accepted(*verifier(std::move(options)), token);
}

BOOST_AUTO_TEST_CASE(secret_and_public_key_together_accept_both_kinds) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.public_key_pem = keys().rsa_pem;
  const auto both = verifier(std::move(options));
  expect_accepted(*both, hs_token(claims()));
  expect_accepted(*both, make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get())));
}

BOOST_AUTO_TEST_CASE(diamond_and_emerald_need_no_company) {
  const auto hs = hs_verifier();
  for (const char* level : {"diamond", "emerald"}) {
    auto c = claims();
    c["sao"] = level;
    c.erase("company");
    const auto principal = expect_accepted(*hs, hs_token(c));
    BOOST_TEST(principal.company.empty());
    c["company"] = "acme";  // allowed, and kept
    BOOST_TEST(expect_accepted(*hs, hs_token(c)).company == "acme");
  }
}

BOOST_AUTO_TEST_CASE(header_extras_are_tolerated) {
  const auto hs = hs_verifier();
  auto h = header("HS256");
  h["typ"] = "jwt";    // case-insensitive
  h["kid"] = "key-1";  // ignored: the configured key is the only key
  expect_accepted(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))));
  h.erase("typ");  // optional
  expect_accepted(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))));
}

BOOST_AUTO_TEST_CASE(fractional_numeric_dates_are_accepted) {
  auto c = claims();
  c["exp"] = static_cast<double>(now) + 0.5;
  c["iat"] = static_cast<double>(now) - 0.25;
  const auto principal = expect_accepted(*hs_verifier(), hs_token(c));
  BOOST_TEST(principal.expires_at.time_since_epoch().count() == now * 1000 + 500);
}

// ---------------------------------------------------------------------------
// Time

BOOST_AUTO_TEST_CASE(expired_token_is_rejected_after_the_leeway) {
  const auto hs = hs_verifier();  // leeway 30 s
  auto c = claims();
  c["iat"] = now - 7200;
  c["exp"] = now - 31;
  expect_rejected(*hs, hs_token(c), "token expired");
  c["exp"] = now - 30;  // exactly exp + leeway: the first rejected instant
  expect_rejected(*hs, hs_token(c), "token expired");
  c["exp"] = static_cast<double>(now) - 29.999;  // 1 ms of leeway left
  expect_accepted(*hs, hs_token(c));
}

BOOST_AUTO_TEST_CASE(zero_leeway_is_exact) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.leeway = Duration::zero();
  const auto strict = verifier(std::move(options));
  auto c = claims();
  c["exp"] = now;
  expect_rejected(*strict, hs_token(c), "token expired");
  c["exp"] = now + 1;
  expect_accepted(*strict, hs_token(c));
  c["nbf"] = now;
  expect_accepted(*strict, hs_token(c));
  c["nbf"] = now + 1;
  expect_rejected(*strict, hs_token(c), "token not yet valid");
}

BOOST_AUTO_TEST_CASE(not_yet_valid_token_is_rejected_beyond_the_leeway) {
  const auto hs = hs_verifier();
  auto c = claims();
  c["nbf"] = now + 31;
  expect_rejected(*hs, hs_token(c), "token not yet valid");
  c["nbf"] = now + 30;  // within the leeway
  expect_accepted(*hs, hs_token(c));
}

BOOST_AUTO_TEST_CASE(token_issued_in_the_future_is_rejected_beyond_the_leeway) {
  const auto hs = hs_verifier();
  auto c = claims();
  c["iat"] = now + 31;
  expect_rejected(*hs, hs_token(c), "token issued in the future");
  c["iat"] = now + 30;
  expect_accepted(*hs, hs_token(c));
}

BOOST_AUTO_TEST_CASE(time_claims_must_be_numeric_dates) {
  const auto hs = hs_verifier();
  for (const json::value& bad : {json::value("1767229200"), json::value(true), json::value(nullptr),
                                 json::value(-1), json::value(1e300), json::value(json::array{})}) {
    BOOST_TEST_CONTEXT("value " << json::serialize(bad)) {
      auto c = claims();
      c["exp"] = bad;
      expect_rejected(*hs, hs_token(c), "invalid claim exp");
      c = claims();
      c["nbf"] = bad;
      expect_rejected(*hs, hs_token(c), "invalid claim nbf");
      c = claims();
      c["iat"] = bad;
      expect_rejected(*hs, hs_token(c), "invalid claim iat");
    }
  }
}

// ---------------------------------------------------------------------------
// Algorithms and signatures

BOOST_AUTO_TEST_CASE(alg_none_is_rejected_with_or_without_a_signature) {
  for (const auto& verifier_under_test : {hs_verifier(), rsa_verifier(), ec_verifier()}) {
    for (const char* alg : {"none", "None", "NONE"}) {
      expect_rejected(*verifier_under_test, make_token(header(alg), claims(), empty_signer()),
                      "unsupported alg");
      expect_rejected(*verifier_under_test,
                      make_token(header(alg), claims(), hmac_signer(std::string(kSecret))),
                      "unsupported alg");
    }
  }
}

BOOST_AUTO_TEST_CASE(other_algorithms_are_rejected) {
  const auto hs = hs_verifier();
  expect_rejected(
      *hs, make_token(header("HS512"), claims(), hmac_signer(std::string(kSecret), EVP_sha512())),
      "unsupported alg");
  expect_rejected(
      *hs, make_token(header("HS384"), claims(), hmac_signer(std::string(kSecret), EVP_sha384())),
      "unsupported alg");
  expect_rejected(*hs, make_token(header("hs256"), claims(), hmac_signer(std::string(kSecret))),
                  "unsupported alg");
  // An algorithm whose key is not configured is as unknown as any other.
  expect_rejected(*hs, make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get())),
                  "unsupported alg");
  expect_rejected(*ec_verifier(),
                  make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get())),
                  "unsupported alg");
  expect_rejected(*rsa_verifier(),
                  make_token(header("ES256"), claims(), es256_signer(keys().ec.get())),
                  "unsupported alg");
  expect_rejected(*rsa_verifier(),
                  make_token(header("PS256"), claims(), rs256_signer(keys().rsa.get())),
                  "unsupported alg");
}

BOOST_AUTO_TEST_CASE(alg_header_must_be_a_string) {
  const auto hs = hs_verifier();
  json::object h{{"typ", "JWT"}};
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))), "missing alg");
  h["alg"] = 256;
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))),
                  "malformed header");
}

BOOST_AUTO_TEST_CASE(algorithm_confusion_with_the_public_key_as_hmac_secret_is_rejected) {
  // The classic attack: sign HS256 with the (public) PEM text as the secret.
  for (const std::string& pem : {keys().rsa_pem, keys().ec_pem}) {
    JwtOptions options;
    options.public_key_pem = pem;
    const auto public_only = verifier(std::move(options));
    expect_rejected(*public_only, make_token(header("HS256"), claims(), hmac_signer(pem)),
                    "unsupported alg");
  }
  // With a secret configured too, HS256 uses the secret, never the PEM.
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.public_key_pem = keys().rsa_pem;
  expect_rejected(*verifier(std::move(options)),
                  make_token(header("HS256"), claims(), hmac_signer(keys().rsa_pem)),
                  "bad signature");
}

BOOST_AUTO_TEST_CASE(one_flipped_bit_breaks_every_signature) {
  struct Case {
    std::unique_ptr<JwtVerifier> verifier;
    std::string token;
  };
  std::vector<Case> cases;
  cases.push_back({hs_verifier(), hs_token(claims())});
  cases.push_back(
      {rsa_verifier(), make_token(header("RS256"), claims(), rs256_signer(keys().rsa.get()))});
  cases.push_back(
      {ec_verifier(), make_token(header("ES256"), claims(), es256_signer(keys().ec.get()))});
  for (const auto& [verifier_under_test, token] : cases) {
    expect_accepted(*verifier_under_test, token);
    const std::size_t dot = token.rfind('.');
    for (const std::size_t byte : {std::size_t{0}, std::size_t{17}}) {
      std::string signature = base64url_decode(token.substr(dot + 1));
      signature[byte] = static_cast<char>(signature[byte] ^ 0x01);
      expect_rejected(*verifier_under_test, token.substr(0, dot + 1) + base64url(signature),
                      "bad signature");
    }
    // A claim changed under an intact signature.
    auto c = claims();
    c["sao"] = "diamond";
    const std::string forged =
        token.substr(0, token.find('.')) + "." + base64url(json::serialize(c)) + token.substr(dot);
    expect_rejected(*verifier_under_test, forged, "bad signature");
  }
}

BOOST_AUTO_TEST_CASE(wrong_key_or_wrong_signature_shape_is_a_bad_signature) {
  expect_rejected(*hs_verifier(),
                  make_token(header("HS256"), claims(), hmac_signer("another secret")),
                  "bad signature");
  const PkeyPtr other_rsa = generate_rsa(2048);
  expect_rejected(*rsa_verifier(),
                  make_token(header("RS256"), claims(), rs256_signer(other_rsa.get())),
                  "bad signature");
  const PkeyPtr other_ec = generate_ec("P-256");
  expect_rejected(*ec_verifier(),
                  make_token(header("ES256"), claims(), es256_signer(other_ec.get())),
                  "bad signature");
  // DER instead of JOSE r || s.
  expect_rejected(*ec_verifier(),
                  make_token(header("ES256"), claims(), es256_der_signer(keys().ec.get())),
                  "bad signature");
  // Empty signatures.
  for (const auto& v : {hs_verifier(), rsa_verifier(), ec_verifier()}) {
    for (const char* alg : {"HS256", "RS256", "ES256"}) {
      const auto token = make_token(header(alg), claims(), empty_signer());
      const auto result = v->verify(token);
      BOOST_TEST_REQUIRE(!result.has_value());
      BOOST_TEST(result.error().code == ErrorCode::unauthenticated);
    }
  }
  expect_rejected(*hs_verifier(), make_token(header("HS256"), claims(), empty_signer()),
                  "bad signature");
}

BOOST_AUTO_TEST_CASE(es256_all_zero_signature_is_rejected) {
  const auto zeros = [](std::string_view) { return std::string(64, '\0'); };
  expect_rejected(*ec_verifier(), make_token(header("ES256"), claims(), zeros), "bad signature");
}

BOOST_AUTO_TEST_CASE(typ_and_crit_headers) {
  const auto hs = hs_verifier();
  auto h = header("HS256");
  h["typ"] = "JWS";
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))),
                  "unsupported typ");
  h["typ"] = 1;
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))),
                  "unsupported typ");
  h = header("HS256");
  h["crit"] = json::array{"exp"};
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))),
                  "unsupported crit header");
  h["crit"] = json::array{};
  expect_rejected(*hs, make_token(h, claims(), hmac_signer(std::string(kSecret))),
                  "unsupported crit header");
}

// ---------------------------------------------------------------------------
// Shape and encoding

BOOST_AUTO_TEST_CASE(malformed_shapes_are_rejected) {
  const auto hs = hs_verifier();
  const std::string good = hs_token(claims());
  const std::size_t first_dot = good.find('.');
  const std::size_t last_dot = good.rfind('.');
  expect_rejected(*hs, "", "malformed token");
  expect_rejected(*hs, "not-a-token", "malformed token");
  expect_rejected(*hs, good.substr(0, last_dot), "malformed token");  // two parts
  expect_rejected(*hs, good + ".extra", "malformed token");           // four parts
  expect_rejected(*hs, good + ".", "malformed token");                // trailing dot
  expect_rejected(*hs, "..", "malformed token");
  expect_rejected(*hs, good.substr(first_dot), "malformed token");             // no header
  expect_rejected(*hs, good.substr(0, first_dot + 1) + good.substr(last_dot),  // no payload
                  "malformed token");
  expect_rejected(*hs, good.substr(0, good.size() - 2), "malformed token");  // 41 characters
  // A signature one byte short, and any cut that leaves a decodable text.
  const std::string signature = base64url_decode(good.substr(last_dot + 1));
  expect_rejected(*hs, good.substr(0, last_dot + 1) + base64url(signature.substr(1)),
                  "bad signature");
  for (std::size_t cut = 1; cut < good.size() - last_dot; ++cut) {
    expect_rejected(*hs, good.substr(0, good.size() - cut), {});
  }
  expect_rejected(*hs, good.substr(0, first_dot + 5) + good.substr(last_dot),  // truncated payload
                  "bad signature");
}

BOOST_AUTO_TEST_CASE(non_base64url_characters_and_padding_are_rejected) {
  const auto hs = hs_verifier();
  const std::string good = hs_token(claims());
  const std::size_t last_dot = good.rfind('.');
  // A 32-byte signature encodes to 43 characters; padding makes it 44.
  expect_rejected(*hs, good + "=", "malformed token");
  const std::string padded_signature =
      base64url(hmac_signer(std::string(kSecret))(good.substr(0, last_dot)), true);
  BOOST_TEST(padded_signature.back() == '=');
  expect_rejected(*hs, good.substr(0, last_dot + 1) + padded_signature, "malformed token");
  for (const char bad : {'+', '/', ' ', '!', '\n', '\0'}) {
    std::string token = good;
    token[last_dot + 3] = bad;
    expect_rejected(*hs, token, "malformed token");
    token = good;
    token[2] = bad;  // in the header
    expect_rejected(*hs, token, "malformed token");
  }
  expect_rejected(*hs, " " + good, "malformed token");
  expect_rejected(*hs, "Bearer " + good, "malformed token");
  // Nonzero unused low bits: a second spelling of the same signature.
  const std::string sig_text = good.substr(last_dot + 1);
  // 43 characters carry 258 bits for 256: the last character's low 2 bits are unused.
  std::string respelled = sig_text;
  respelled.back() = kBase64UrlAlphabet[kBase64UrlAlphabet.find(sig_text.back()) | 1U];
  expect_rejected(*hs, good.substr(0, last_dot + 1) + respelled, "malformed token");
}

BOOST_AUTO_TEST_CASE(header_and_claims_must_be_json_objects) {
  const auto hs = hs_verifier();
  const auto sign = hmac_signer(std::string(kSecret));
  const std::string claims_json = json::serialize(claims());
  expect_rejected(*hs, make_token("not json", claims_json, sign), "malformed header");
  expect_rejected(*hs, make_token(R"(["alg","HS256"])", claims_json, sign), "malformed header");
  expect_rejected(*hs, make_token(R"("HS256")", claims_json, sign), "malformed header");
  expect_rejected(*hs, make_token(R"({"alg":"HS256"} {})", claims_json, sign), "malformed header");
  expect_rejected(*hs, make_token(R"({"alg":"HS256","typ":"JWT"})", "not json", sign),
                  "malformed claims");
  expect_rejected(*hs, make_token(R"({"alg":"HS256"})", R"([{"sub":"alice"}])", sign),
                  "malformed claims");
  expect_rejected(*hs, make_token(R"({"alg":"HS256"})", "null", sign), "malformed claims");
  expect_rejected(*hs, make_token(R"({"alg":"HS256"})", "{\"sub\":\"\xff\"}", sign),
                  "malformed claims");
}

BOOST_AUTO_TEST_CASE(oversize_token_is_rejected_before_decoding) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.max_token_bytes = 1024;
  const auto small = verifier(std::move(options));
  auto c = claims();
  c["padding"] = std::string(500, 'x');
  const std::string fits = hs_token(c);
  BOOST_TEST_REQUIRE(fits.size() <= 1024);
  expect_accepted(*small, fits);
  c["padding"] = std::string(1000, 'x');
  expect_rejected(*small, hs_token(c), "token too large");
  // The default (8 KiB).
  c["padding"] = std::string(9000, 'x');
  expect_rejected(*hs_verifier(), hs_token(c), "token too large");
}

// ---------------------------------------------------------------------------
// Claims

BOOST_AUTO_TEST_CASE(required_claims_must_be_present) {
  const auto hs = hs_verifier();
  for (const char* name : {"exp", "sub", "sao"}) {
    auto c = claims();
    c.erase(name);
    expect_rejected(*hs, hs_token(c), std::string("missing claim ") + name);
  }
}

BOOST_AUTO_TEST_CASE(sub_must_be_a_sane_non_empty_string) {
  const auto hs = hs_verifier();
  for (const json::value& bad :
       {json::value(""), json::value(42), json::value(nullptr), json::value("alice\nlevel=error"),
        json::value(std::string(257, 'a'))}) {
    auto c = claims();
    c["sub"] = bad;
    expect_rejected(*hs, hs_token(c), "invalid claim sub");
  }
  auto c = claims();
  c["sub"] = std::string(256, 'a');
  expect_accepted(*hs, hs_token(c));
}

BOOST_AUTO_TEST_CASE(sao_must_be_one_of_the_five_levels) {
  const auto hs = hs_verifier();
  for (const json::value& bad : {json::value("ruby"), json::value("Diamond"), json::value(""),
                                 json::value(0), json::value(json::array{"diamond"})}) {
    auto c = claims();
    c["sao"] = bad;
    expect_rejected(*hs, hs_token(c), "invalid claim sao");
  }
  for (const SaoLevel level : discovery::kAllSaoLevels) {
    auto c = claims();
    c["sao"] = to_string(level);
    BOOST_TEST((expect_accepted(*hs, hs_token(c)).level == level));
  }
}

BOOST_AUTO_TEST_CASE(company_is_required_for_sapphire_opal_and_onyx) {
  const auto hs = hs_verifier();
  for (const char* level : {"sapphire", "opal", "onyx"}) {
    auto c = claims();
    c["sao"] = level;
    c.erase("company");
    expect_rejected(*hs, hs_token(c), "missing claim company");
  }
}

BOOST_AUTO_TEST_CASE(company_must_match_the_pattern) {
  const auto hs = hs_verifier();
  for (const char* level : {"diamond", "sapphire", "onyx"}) {
    for (const json::value& bad :
         {json::value("Acme"), json::value("-acme"), json::value("ac_me"), json::value(""),
          json::value("acme "), json::value(std::string(64, 'a')), json::value(7),
          json::value(nullptr)}) {
      auto c = claims();
      c["sao"] = level;
      c["company"] = bad;
      expect_rejected(*hs, hs_token(c), "invalid claim company");
    }
  }
  auto c = claims();
  c["company"] = "0acme-" + std::string(57, 'z');  // 63 characters
  expect_accepted(*hs, hs_token(c));
}

BOOST_AUTO_TEST_CASE(issuer_and_audience_are_checked_when_configured) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.issuer = "https://auth.2100.cool";
  options.audience = "mcp-discovery";
  const auto strict = verifier(std::move(options));

  auto c = claims();
  c["iss"] = "https://auth.2100.cool";
  c["aud"] = "mcp-discovery";
  expect_accepted(*strict, hs_token(c));
  c["aud"] = json::array{"other", "mcp-discovery"};
  expect_accepted(*strict, hs_token(c));

  c["aud"] = json::array{"other"};
  expect_rejected(*strict, hs_token(c), "audience mismatch");
  c["aud"] = json::array{};
  expect_rejected(*strict, hs_token(c), "audience mismatch");
  c["aud"] = "MCP-DISCOVERY";
  expect_rejected(*strict, hs_token(c), "audience mismatch");
  // Nested: built in two steps, because clang reads json::array{json::array{...}}
  // as a copy of the inner array (one element of the same type), GCC as nesting.
  json::array nested;
  nested.emplace_back(json::array{"mcp-discovery"});
  c["aud"] = nested;
  expect_rejected(*strict, hs_token(c), "audience mismatch");
  c.erase("aud");
  expect_rejected(*strict, hs_token(c), "missing claim aud");

  c["aud"] = "mcp-discovery";
  c["iss"] = "https://evil.example";
  expect_rejected(*strict, hs_token(c), "issuer mismatch");
  c["iss"] = json::array{"https://auth.2100.cool"};
  expect_rejected(*strict, hs_token(c), "issuer mismatch");
  c.erase("iss");
  expect_rejected(*strict, hs_token(c), "missing claim iss");

  // Not configured: neither claim is looked at.
  auto loose = claims();
  loose["iss"] = "anyone";
  loose["aud"] = 5;
  expect_accepted(*hs_verifier(), hs_token(loose));
}

// ---------------------------------------------------------------------------
// Cache

BOOST_AUTO_TEST_CASE(repeated_token_is_answered_from_the_cache) {
  const auto hs = hs_verifier();
  const std::string token = hs_token(claims());
  const auto first = expect_accepted(*hs, token);
  BOOST_TEST(hs->cache_size() == 1U);
  BOOST_TEST(hs->cache_hits() == 0U);
  const auto second = expect_accepted(*hs, token);
  BOOST_TEST(hs->cache_hits() == 1U);
  BOOST_TEST(hs->cache_size() == 1U);
  BOOST_TEST((first == second));
}

BOOST_AUTO_TEST_CASE(cached_token_expires_when_the_clock_passes_exp_and_leeway) {
  const auto hs = hs_verifier();
  auto c = claims();
  c["exp"] = now + 60;
  const std::string token = hs_token(c);
  expect_accepted(*hs, token);
  clock.advance(60s + 30s - 1ms);
  expect_accepted(*hs, token);
  BOOST_TEST(hs->cache_hits() == 1U);
  clock.advance(1ms);
  expect_rejected(*hs, token, "token expired");
  BOOST_TEST(hs->cache_hits() == 1U);
  BOOST_TEST(hs->cache_size() == 0U);
}

BOOST_AUTO_TEST_CASE(cached_token_is_rechecked_when_the_clock_goes_back) {
  const auto hs = hs_verifier();
  auto c = claims();
  c["nbf"] = now;
  c.erase("iat");
  const std::string token = hs_token(c);
  expect_accepted(*hs, token);
  clock.advance(-31s);
  expect_rejected(*hs, token, "token not yet valid");
  BOOST_TEST(hs->cache_hits() == 0U);
}

BOOST_AUTO_TEST_CASE(failures_are_not_cached) {
  const auto hs = hs_verifier();
  const std::string bad = make_token(header("HS256"), claims(), hmac_signer("wrong"));
  expect_rejected(*hs, bad, "bad signature");
  expect_rejected(*hs, bad, "bad signature");
  BOOST_TEST(hs->cache_size() == 0U);
  BOOST_TEST(hs->cache_hits() == 0U);
}

BOOST_AUTO_TEST_CASE(cache_stays_within_its_bound) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.cache_entries = 4;
  const auto small = verifier(std::move(options));
  for (int i = 0; i < 50; ++i) {
    auto c = claims();
    c["sub"] = "user-" + std::to_string(i);
    expect_accepted(*small, hs_token(c));
    BOOST_TEST(small->cache_size() <= 4U);
  }
}

BOOST_AUTO_TEST_CASE(cache_can_be_disabled) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.cache_entries = 0;
  const auto uncached = verifier(std::move(options));
  const std::string token = hs_token(claims());
  expect_accepted(*uncached, token);
  expect_accepted(*uncached, token);
  BOOST_TEST(uncached->cache_size() == 0U);
  BOOST_TEST(uncached->cache_hits() == 0U);
}

BOOST_AUTO_TEST_CASE(concurrent_verification_agrees) {
  const auto hs = hs_verifier();
  std::vector<std::string> tokens;
  for (int i = 0; i < 8; ++i) {
    auto c = claims();
    c["sub"] = "user-" + std::to_string(i);
    tokens.push_back(hs_token(c));
  }
  const std::string bad = make_token(header("HS256"), claims(), hmac_signer("wrong"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const std::size_t which = static_cast<std::size_t>(i + t) % tokens.size();
        const auto result = hs->verify(tokens[which]);
        if (!result || result->subject != "user-" + std::to_string(which)) ++wrong;
        if (hs->verify(bad)) ++wrong;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(wrong.load() == 0);
  BOOST_TEST(hs->cache_size() == tokens.size());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Construction

BOOST_AUTO_TEST_SUITE(create)

BOOST_AUTO_TEST_CASE(bad_key_configurations_are_invalid_arguments) {
  ManualClock clock;
  const auto expect_invalid = [&clock](JwtOptions options, std::string_view field) {
    const std::string secret = options.hs256_secret;
    const auto created = JwtVerifier::create(std::move(options), clock);
    BOOST_TEST_REQUIRE(!created.has_value());
    BOOST_TEST(created.error().code == ErrorCode::invalid_argument);
    BOOST_TEST(created.error().field == field);
    if (!secret.empty()) BOOST_TEST(created.error().message.find(secret) == std::string::npos);
  };
  expect_invalid(JwtOptions{}, "jwt");

  JwtOptions options;
  options.public_key_pem = "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n";
  expect_invalid(options, "public_key_pem");
  options.public_key_pem = "garbage";
  expect_invalid(options, "public_key_pem");
  // A private key is not a public key file.
  options.public_key_pem = private_pem(keys().ec.get());
  expect_invalid(options, "public_key_pem");
  // Too weak, or not a curve ES256 means.
  const PkeyPtr rsa1024 = generate_rsa(1024);
  options.public_key_pem = public_pem(rsa1024.get());
  expect_invalid(options, "public_key_pem");
  const PkeyPtr p384 = generate_ec("P-384");
  options.public_key_pem = public_pem(p384.get());
  expect_invalid(options, "public_key_pem");
  const PkeyPtr ed25519(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  options.public_key_pem = public_pem(ed25519.get());
  expect_invalid(options, "public_key_pem");
  // A good secret does not excuse a bad key.
  options.hs256_secret = std::string(kSecret);
  expect_invalid(options, "public_key_pem");

  JwtOptions negative;
  negative.hs256_secret = std::string(kSecret);
  negative.leeway = Duration{-1};
  expect_invalid(negative, "leeway");
  JwtOptions zero;
  zero.hs256_secret = std::string(kSecret);
  zero.max_token_bytes = 0;
  expect_invalid(zero, "max_token_bytes");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Minting and secrets

BOOST_FIXTURE_TEST_SUITE(minting, AuthFixture)

BOOST_AUTO_TEST_CASE(minted_token_verifies_to_the_same_principal) {
  const Principal principal{"ops-bot", SaoLevel::opal, "acme", {}};
  const std::string token = discovery::mint_hs256_token(kSecret, principal, clock.now(), 1h);
  const auto verified = expect_accepted(*hs_verifier(), token);
  BOOST_TEST(verified.subject == "ops-bot");
  BOOST_TEST(verified.level == SaoLevel::opal);
  BOOST_TEST(verified.company == "acme");
  BOOST_TEST(verified.expires_at.time_since_epoch().count() == (now + 3600) * 1000);
  // Compact and unpadded.
  BOOST_TEST(token.find('=') == std::string::npos);
  BOOST_TEST(std::count(token.begin(), token.end(), '.') == 2);
}

BOOST_AUTO_TEST_CASE(minted_token_carries_issuer_and_audience) {
  JwtOptions options;
  options.hs256_secret = std::string(kSecret);
  options.issuer = "discoveryd";
  options.audience = "mcp-discovery";
  const auto strict = verifier(std::move(options));
  const Principal root{"root", SaoLevel::diamond, "", {}};
  expect_accepted(*strict, discovery::mint_hs256_token(kSecret, root, clock.now(), 1h, "discoveryd",
                                                       "mcp-discovery"));
  expect_rejected(*strict, discovery::mint_hs256_token(kSecret, root, clock.now(), 1h),
                  "missing claim iss");
}

BOOST_AUTO_TEST_CASE(minted_token_expires_after_its_ttl) {
  const auto hs = hs_verifier();
  const Principal principal{"bot", SaoLevel::sapphire, "acme", {}};
  // iat and exp round down to whole seconds: never longer than the ttl.
  const std::string token =
      discovery::mint_hs256_token(kSecret, principal, clock.now() + 999ms, 10s);
  BOOST_TEST(expect_accepted(*hs, token).expires_at.time_since_epoch().count() ==
             (now + 10) * 1000);
  clock.advance(10s + 30s);
  expect_rejected(*hs, token, "token expired");
}

BOOST_AUTO_TEST_CASE(generated_secret_is_64_lowercase_hex_characters) {
  const std::string a = discovery::generate_secret();
  const std::string b = discovery::generate_secret();
  BOOST_TEST(a.size() == 64U);
  BOOST_TEST(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  BOOST_TEST(a != b);
  // Usable as is, also after a round trip through a file with a newline.
  JwtOptions options;
  options.hs256_secret = discovery::trim_secret(a + "\n");
  const Principal principal{"root", SaoLevel::diamond, "", {}};
  expect_accepted(*verifier(std::move(options)),
                  discovery::mint_hs256_token(a, principal, clock.now(), 1h));
}

BOOST_AUTO_TEST_CASE(trim_secret_removes_only_trailing_whitespace) {
  BOOST_TEST(discovery::trim_secret("s3cret\n") == "s3cret");
  BOOST_TEST(discovery::trim_secret("s3cret \t\r\n\v\f") == "s3cret");
  BOOST_TEST(discovery::trim_secret("  s3 cret") == "  s3 cret");
  BOOST_TEST(discovery::trim_secret("\n\n") == "");
  BOOST_TEST(discovery::trim_secret("") == "");
  BOOST_TEST(discovery::trim_secret(std::string_view("a\0b\n", 4)) == std::string("a\0b", 3));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Authorizer

namespace {

constexpr Decision A = Decision::allow;
constexpr Decision F = Decision::forbidden;
constexpr Decision N = Decision::not_found;

struct Expected {
  Decision own;
  Decision other;
};

// API.md, "Access", spelled out: (own company, another company) per level.
struct Row {
  Action action;
  std::array<Expected, 5> by_level;  // diamond, emerald, sapphire, opal, onyx
};
// clang-format off
const Row kExpectedMatrix[] = {
    //  action                 diamond  emerald  sapphire  opal     onyx
    {Action::discover,         {{{A, A}, {A, A}, {A, N},   {A, N},  {A, N}}}},
    {Action::read,             {{{A, A}, {A, A}, {A, N},   {A, N},  {A, N}}}},
    {Action::read_health,      {{{A, A}, {A, A}, {A, N},   {A, N},  {F, N}}}},
    {Action::register_service, {{{A, A}, {A, A}, {A, F},   {F, F},  {F, F}}}},
    {Action::update,           {{{A, A}, {A, A}, {A, N},   {F, N},  {F, N}}}},
    {Action::set_status,       {{{A, A}, {A, A}, {A, N},   {F, N},  {F, N}}}},
    {Action::heartbeat,        {{{A, A}, {A, A}, {A, N},   {F, N},  {F, N}}}},
    {Action::report_health,    {{{A, A}, {A, A}, {A, N},   {F, N},  {F, N}}}},
    {Action::deregister,       {{{A, A}, {A, A}, {A, N},   {F, N},  {F, N}}}},
    {Action::read_audit,       {{{A, A}, {F, F}, {F, F},   {F, F},  {F, F}}}},
    {Action::watch,            {{{A, A}, {A, A}, {A, N},   {A, N},  {A, N}}}},
};
// clang-format on

Principal principal_of(SaoLevel level, std::string company = "acme") {
  return Principal{"tester", level, std::move(company), {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(authorizer)

BOOST_AUTO_TEST_CASE(matrix_covers_every_action_once) {
  std::set<Action> seen;
  for (const Row& row : kExpectedMatrix) seen.insert(row.action);
  BOOST_TEST(seen.size() == std::size(kExpectedMatrix));
  BOOST_TEST(seen.size() == static_cast<std::size_t>(Action::watch) + 1);
}

BOOST_AUTO_TEST_CASE(every_level_action_and_company_decides_as_api_md_says) {
  const Authorizer authorizer;
  int checked = 0;
  for (const Row& row : kExpectedMatrix) {
    for (std::size_t i = 0; i < std::size(discovery::kAllSaoLevels); ++i) {
      const SaoLevel level = discovery::kAllSaoLevels[i];
      // Diamond and emerald tokens usually carry no company; the answer
      // must not depend on it.
      for (const std::string company : {"acme", ""}) {
        if (company.empty() && !at_least(level, SaoLevel::emerald)) continue;
        const Principal principal = principal_of(level, company);
        BOOST_TEST_CONTEXT(to_string(level)
                           << " (company '" << company << "') " << to_string(row.action)) {
          const std::string own = company.empty() ? "acme" : company;
          BOOST_TEST(authorizer.decide(principal, row.action, own) == row.by_level[i].own);
          BOOST_TEST(authorizer.decide(principal, row.action, "globex") == row.by_level[i].other);
          checked += 2;
        }
      }
    }
  }
  BOOST_TEST(checked == 11 * (5 + 2) * 2);
}

BOOST_AUTO_TEST_CASE(scoped_level_without_company_owns_nothing) {
  const Authorizer authorizer;
  for (const SaoLevel level : {SaoLevel::sapphire, SaoLevel::opal, SaoLevel::onyx}) {
    const Principal principal = principal_of(level, "");
    BOOST_TEST(authorizer.decide(principal, Action::read, "") == N);
    BOOST_TEST(authorizer.decide(principal, Action::read, "acme") == N);
    BOOST_TEST(authorizer.decide(principal, Action::update, "") == N);
    BOOST_TEST(authorizer.decide(principal, Action::register_service, "") == F);
  }
  // A default-constructed principal is an onyx with no company: nothing.
  BOOST_TEST(authorizer.decide(Principal{}, Action::discover, "acme") == N);
  BOOST_TEST(authorizer.discover_scope(Principal{}) == Authorizer::kNoCompany);
}

BOOST_AUTO_TEST_CASE(company_match_is_exact) {
  const Authorizer authorizer;
  const Principal acme = principal_of(SaoLevel::sapphire, "acme");
  BOOST_TEST(authorizer.decide(acme, Action::update, "acme2") == N);
  BOOST_TEST(authorizer.decide(acme, Action::update, "acm") == N);
  BOOST_TEST(authorizer.decide(acme, Action::update, "ACME") == N);
}

BOOST_AUTO_TEST_CASE(may_manage_is_diamond_emerald_or_sapphire_of_that_company) {
  const Authorizer authorizer;
  BOOST_TEST(authorizer.may_manage(principal_of(SaoLevel::diamond, ""), "globex"));
  BOOST_TEST(authorizer.may_manage(principal_of(SaoLevel::emerald, ""), "globex"));
  BOOST_TEST(authorizer.may_manage(principal_of(SaoLevel::sapphire), "acme"));
  BOOST_TEST(!authorizer.may_manage(principal_of(SaoLevel::sapphire), "globex"));
  BOOST_TEST(!authorizer.may_manage(principal_of(SaoLevel::opal), "acme"));
  BOOST_TEST(!authorizer.may_manage(principal_of(SaoLevel::onyx), "acme"));
  BOOST_TEST(!authorizer.may_manage(principal_of(SaoLevel::sapphire, ""), ""));
}

BOOST_AUTO_TEST_CASE(discover_scope_restricts_scoped_levels_to_their_company) {
  const Authorizer authorizer;
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::diamond, "")) == "");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::emerald, "")) == "");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::diamond, "acme")) == "");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::sapphire)) == "acme");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::opal)) == "acme");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::onyx)) == "acme");
  BOOST_TEST(authorizer.discover_scope(principal_of(SaoLevel::sapphire, "")) ==
             Authorizer::kNoCompany);
}

BOOST_AUTO_TEST_CASE(not_found_is_indistinguishable_from_a_missing_service) {
  auto storage = discovery::make_memory_storage();
  auto registry = discovery::Registry::open(*storage);
  BOOST_TEST_REQUIRE(registry.has_value());
  const std::string id = "3f0c6a52-9b8e-4a53-8a55-0f7d1b6b2f10";
  const auto missing = (*registry)->get(id);
  BOOST_TEST_REQUIRE(!missing.has_value());
  BOOST_TEST(decision_error(N, Action::read, id) == missing.error());
  BOOST_TEST(decision_error(N, Action::update, id) == missing.error());
}

BOOST_AUTO_TEST_CASE(decisions_become_errors) {
  const Authorizer authorizer;
  const auto forbidden = decision_error(F, Action::update, "id-1");
  BOOST_TEST(forbidden.code == ErrorCode::permission_denied);
  BOOST_TEST(!forbidden.message.empty());
  BOOST_TEST(decision_error(F, Action::read_audit, "").code == ErrorCode::permission_denied);
  BOOST_TEST(decision_error(A, Action::read, "id-1").code == ErrorCode::internal);

  BOOST_TEST(authorizer.require(principal_of(SaoLevel::sapphire), Action::update, "acme", "id-1")
                 .has_value());
  const auto hidden =
      authorizer.require(principal_of(SaoLevel::sapphire), Action::update, "globex", "id-1");
  BOOST_TEST_REQUIRE(!hidden.has_value());
  BOOST_TEST(hidden.error().code == ErrorCode::not_found);
  const auto denied =
      authorizer.require(principal_of(SaoLevel::onyx), Action::read_health, "acme", "id-1");
  BOOST_TEST_REQUIRE(!denied.has_value());
  BOOST_TEST(denied.error().code == ErrorCode::permission_denied);
  const auto register_elsewhere =
      authorizer.require(principal_of(SaoLevel::sapphire), Action::register_service, "globex", "");
  BOOST_TEST_REQUIRE(!register_elsewhere.has_value());
  BOOST_TEST(register_elsewhere.error().code == ErrorCode::permission_denied);
}

BOOST_AUTO_TEST_CASE(action_and_decision_names) {
  BOOST_TEST(to_string(Action::register_service) == "register");
  BOOST_TEST(to_string(Action::read_health) == "read_health");
  BOOST_TEST(to_string(Decision::not_found) == "not_found");
}

BOOST_AUTO_TEST_SUITE_END()
