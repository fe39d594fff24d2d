#include <discovery/auth.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "openssl_ptr.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <utility>
#include <vector>

namespace discovery {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------
// OpenSSL ownership

using detail::OpensslDeleter;
using PkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using DecoderCtxPtr = std::unique_ptr<OSSL_DECODER_CTX, OpensslDeleter<OSSL_DECODER_CTX_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;

const unsigned char* bytes(std::string_view s) noexcept {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A failed OpenSSL call leaves entries in the thread's error queue; drop
// them so they are not blamed on an unrelated later call.
void clear_openssl_errors() noexcept { ERR_clear_error(); }

// ---------------------------------------------------------------------------
// Errors

Error unauthenticated(std::string_view message) {
  return Error{ErrorCode::unauthenticated, std::string(message), {}};
}

// ---------------------------------------------------------------------------
// base64url (RFC 4648 section 5) without padding, as JWS requires

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;  // includes '=', '+', '/', whitespace
}

// Strict: besides the alphabet, the unused low bits of the last character
// must be zero, so each byte string has exactly one accepted spelling.
std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to that
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  std::uint32_t accumulator = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = base64url_value(c);
    if (value < 0) return std::nullopt;
    accumulator = (accumulator << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((accumulator >> bits) & 0xFFU));
    }
  }
  if ((accumulator & ((1U << bits) - 1U)) != 0) return std::nullopt;
  return out;
}

std::string base64url_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const std::uint32_t n =
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16) |
        (static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8) |
        static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 2]));
    out.push_back(kBase64UrlAlphabet[(n >> 18) & 63U]);
    out.push_back(kBase64UrlAlphabet[(n >> 12) & 63U]);
    out.push_back(kBase64UrlAlphabet[(n >> 6) & 63U]);
    out.push_back(kBase64UrlAlphabet[n & 63U]);
  }
  const std::size_t rest = data.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(data[i])) << 16;
    if (rest == 2) n |= static_cast<std::uint32_t>(static_cast<unsigned char>(data[i + 1])) << 8;
    out.push_back(kBase64UrlAlphabet[(n >> 18) & 63U]);
    out.push_back(kBase64UrlAlphabet[(n >> 12) & 63U]);
    if (rest == 2) out.push_back(kBase64UrlAlphabet[(n >> 6) & 63U]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Digests and MACs

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest sha256(std::string_view data) {
  Sha256Digest digest{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1 ||
      length != digest.size()) {
    // Only a broken OpenSSL build gets here; never verify on a bad digest.
    clear_openssl_errors();
    throw std::runtime_error("SHA-256 is unavailable");
  }
  return digest;
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) {
  // HMAC() reads a null key as "reuse the previous key"; give it a real
  // pointer even for an empty key.
  static constexpr unsigned char kEmptyKey[1] = {0};
  Sha256Digest mac{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), key.empty() ? kEmptyKey : bytes(key), static_cast<int>(key.size()),
           bytes(data), data.size(), mac.data(), &length) == nullptr ||
      length != mac.size()) {
    clear_openssl_errors();
    throw std::runtime_error("HMAC-SHA256 is unavailable");
  }
  return mac;
}

// ---------------------------------------------------------------------------
// Keys and signatures

enum class Algorithm { hs256, rs256, es256 };
enum class KeyKind { none, rsa, ec_p256 };

constexpr int kMinRsaBits = 2048;
constexpr std::size_t kEs256SignatureBytes = 64;  // JOSE: r || s, 32 bytes each

Result<std::pair<PkeyPtr, KeyKind>> load_public_key(std::string_view pem) {
  EVP_PKEY* decoded = nullptr;
  // Only public-key structures are decoded: a private key in the public key
  // file is refused rather than silently held in memory.
  const DecoderCtxPtr decoder(OSSL_DECODER_CTX_new_for_pkey(&decoded, "PEM", nullptr, nullptr,
                                                            EVP_PKEY_PUBLIC_KEY, nullptr, nullptr));
  if (!decoder) {
    clear_openssl_errors();
    return internal_error("cannot create a PEM decoder");
  }
  const unsigned char* data = bytes(pem);
  std::size_t length = pem.size();
  const int decoded_ok = OSSL_DECODER_from_data(decoder.get(), &data, &length);
  PkeyPtr key(decoded);
  clear_openssl_errors();
  if (decoded_ok != 1 || !key) {
    return invalid_argument("public_key_pem", "not a PEM public key");
  }
  if (EVP_PKEY_is_a(key.get(), "RSA") == 1) {
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
      return invalid_argument("public_key_pem", "RSA key must have at least 2048 bits");
    }
    return std::pair{std::move(key), KeyKind::rsa};
  }
  if (EVP_PKEY_is_a(key.get(), "EC") == 1) {
    std::array<char, 64> group{};
    std::size_t group_length = 0;
    if (EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                       group.size(), &group_length) == 1) {
      int nid = OBJ_sn2nid(group.data());
      if (nid == NID_undef) nid = EC_curve_nist2nid(group.data());
      if (nid == NID_X9_62_prime256v1) return std::pair{std::move(key), KeyKind::ec_p256};
    }
    clear_openssl_errors();
    return invalid_argument("public_key_pem", "EC key must be on curve P-256 (ES256)");
  }
  return invalid_argument("public_key_pem", "key must be RSA (RS256) or EC P-256 (ES256)");
}

bool digest_verify(EVP_PKEY* key, std::string_view signing_input, const unsigned char* signature,
                   std::size_t signature_length) {
  const MdCtxPtr context(EVP_MD_CTX_new());
  const bool ok = context &&
                  EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(context.get(), signature, signature_length, bytes(signing_input),
                                   signing_input.size()) == 1;
  if (!ok) clear_openssl_errors();
  return ok;
}

// JOSE carries an ECDSA signature as fixed-width r || s; OpenSSL verifies
// the DER SEQUENCE { r, s }.
std::optional<std::vector<unsigned char>> jose_to_der(std::string_view signature) {
  if (signature.size() != kEs256SignatureBytes) return std::nullopt;
  constexpr int kHalf = kEs256SignatureBytes / 2;
  BignumPtr r(BN_bin2bn(bytes(signature), kHalf, nullptr));
  BignumPtr s(BN_bin2bn(bytes(signature) + kHalf, kHalf, nullptr));
  const EcdsaSigPtr ecdsa(ECDSA_SIG_new());
  if (!r || !s || !ecdsa || ECDSA_SIG_set0(ecdsa.get(), r.get(), s.get()) != 1) {
    clear_openssl_errors();
    return std::nullopt;
  }
  // ECDSA_SIG_set0 took ownership of both numbers.
  static_cast<void>(r.release());
  static_cast<void>(s.release());
  const int length = i2d_ECDSA_SIG(ecdsa.get(), nullptr);
  if (length <= 0) {
    clear_openssl_errors();
    return std::nullopt;
  }
  std::vector<unsigned char> der(static_cast<std::size_t>(length));
  unsigned char* cursor = der.data();
  if (i2d_ECDSA_SIG(ecdsa.get(), &cursor) != length) {
    clear_openssl_errors();
    return std::nullopt;
  }
  return der;
}

// ---------------------------------------------------------------------------
// Claims

// NumericDates far beyond any real token are refused rather than risking
// overflow in millisecond arithmetic: 9999-12-31T23:59:59Z.
constexpr double kMaxNumericDate = 253402300799.0;

// A NumericDate (seconds since the epoch, possibly fractional) as a
// TimePoint; nullopt when it is not a number in [0, kMaxNumericDate].
std::optional<TimePoint> numeric_date(const json::value& value) {
  double seconds = 0;
  if (value.is_int64()) {
    seconds = static_cast<double>(value.get_int64());
  } else if (value.is_uint64()) {
    seconds = static_cast<double>(value.get_uint64());
  } else if (value.is_double()) {
    seconds = value.get_double();
  } else {
    return std::nullopt;
  }
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxNumericDate) return std::nullopt;
  return TimePoint{Duration{static_cast<Duration::rep>(std::floor(seconds * 1000.0))}};
}

// API.md: [a-z0-9][a-z0-9-]{0,62}
bool valid_company(std::string_view company) noexcept {
  if (company.empty() || company.size() > 63 || company.front() == '-') return false;
  return std::all_of(company.begin(), company.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// The subject reaches logs, the audit log and rate-limit keys: bound it and
// keep control characters (log injection) out.
constexpr std::size_t kMaxSubjectBytes = 256;
bool valid_subject(std::string_view subject) noexcept {
  if (subject.empty() || subject.size() > kMaxSubjectBytes) return false;
  return std::none_of(subject.begin(), subject.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7F;
  });
}

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           const auto lower = [](char c) {
             return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

std::optional<json::object> parse_object(std::string_view text) {
  json::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

const json::string* string_member(const json::object& object, std::string_view key) {
  const json::value* value = object.if_contains(key);
  return value != nullptr ? value->if_string() : nullptr;
}

// ---------------------------------------------------------------------------
// Verification cache

// A verified token's principal and the span of clock readings in which the
// token is acceptable: [valid_from, valid_until).
struct Verified {
  Principal principal;
  TimePoint valid_from = TimePoint::min();
  TimePoint valid_until{};
};

struct DigestHash {
  std::size_t operator()(const Sha256Digest& digest) const noexcept {
    // SHA-256 output is uniform; its first bytes are as good a hash as any.
    std::size_t hash = 0;
    std::memcpy(&hash, digest.data(), sizeof hash);
    return hash;
  }
};

// Keyed by the token's SHA-256, so the cache never holds a usable token.
// Sharded so that concurrent requests rarely share a mutex; a full shard
// first drops its expired entries and, if still full, is cleared: a miss
// only costs one signature verification.
class VerificationCache {
 public:
  explicit VerificationCache(std::size_t capacity)
      : shard_count_(std::clamp<std::size_t>(capacity, 1, kMaxShards)),
        per_shard_(capacity / shard_count_),
        shards_(std::make_unique<Shard[]>(shard_count_)) {}

  bool enabled() const noexcept { return per_shard_ > 0; }

  std::optional<Principal> find(const Sha256Digest& key, TimePoint now) {
    Shard& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    const auto it = shard.entries.find(key);
    if (it == shard.entries.end()) return std::nullopt;
    if (now >= it->second.valid_until) {
      shard.entries.erase(it);  // expired for good: the full check will say why
      return std::nullopt;
    }
    if (now < it->second.valid_from) return std::nullopt;  // the clock went back
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second.principal;
  }

  void insert(const Sha256Digest& key, const Verified& verified, TimePoint now) {
    Shard& shard = shard_for(key);
    const std::lock_guard lock(shard.mutex);
    if (shard.entries.size() >= per_shard_ && !shard.entries.contains(key)) {
      std::erase_if(shard.entries,
                    [now](const auto& entry) { return now >= entry.second.valid_until; });
      if (shard.entries.size() >= per_shard_) shard.entries.clear();
    }
    shard.entries.insert_or_assign(key, verified);
  }

  std::size_t size() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < shard_count_; ++i) {
      const std::lock_guard lock(shards_[i].mutex);
      total += shards_[i].entries.size();
    }
    return total;
  }

  std::uint64_t hits() const noexcept { return hits_.load(std::memory_order_relaxed); }

 private:
  static constexpr std::size_t kMaxShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<Sha256Digest, Verified, DigestHash> entries;
  };

  Shard& shard_for(const Sha256Digest& key) noexcept {
    // The last byte is independent of the bytes DigestHash uses.
    return shards_[key.back() % shard_count_];
  }

  const std::size_t shard_count_;
  const std::size_t per_shard_;  // 0 when the cache is disabled
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::uint64_t> hits_{0};
};

}  // namespace

// ---------------------------------------------------------------------------
// JwtVerifier

struct JwtVerifier::Impl {
  Impl(JwtOptions opts, Clock& clk, PkeyPtr key, KeyKind kind)
      : options(std::move(opts)),
        clock(clk),
        public_key(std::move(key)),
        key_kind(kind),
        cache(options.cache_entries) {}
  // The secret should not outlive its use in freed heap memory.
  ~Impl() { OPENSSL_cleanse(options.hs256_secret.data(), options.hs256_secret.size()); }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  // The algorithms the configured keys allow; anything else, including an
  // HS256 token when only a public key is configured, is refused before any
  // signature work.
  std::optional<Algorithm> accepted_algorithm(std::string_view alg) const {
    if (alg == "HS256" && !options.hs256_secret.empty()) return Algorithm::hs256;
    if (alg == "RS256" && key_kind == KeyKind::rsa) return Algorithm::rs256;
    if (alg == "ES256" && key_kind == KeyKind::ec_p256) return Algorithm::es256;
    return std::nullopt;
  }

  bool signature_valid(Algorithm algorithm, std::string_view signing_input,
                       std::string_view signature) const {
    switch (algorithm) {
      case Algorithm::hs256: {
        const Sha256Digest expected = hmac_sha256(options.hs256_secret, signing_input);
        return signature.size() == expected.size() &&
               CRYPTO_memcmp(expected.data(), signature.data(), expected.size()) == 0;
      }
      case Algorithm::rs256:
        if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(public_key.get()))) {
          return false;
        }
        return digest_verify(public_key.get(), signing_input, bytes(signature), signature.size());
      case Algorithm::es256: {
        const auto der = jose_to_der(signature);
        return der && digest_verify(public_key.get(), signing_input, der->data(), der->size());
      }
    }
    return false;
  }

  Result<Verified> verify_uncached(std::string_view token, TimePoint now) const;
  Result<Verified> check_claims(const json::object& claims, TimePoint now) const;

  JwtOptions options;  // not const: the destructor wipes the secret
  Clock& clock;
  const PkeyPtr public_key;
  const KeyKind key_kind;
  mutable VerificationCache cache;
};

Result<Verified> JwtVerifier::Impl::verify_uncached(std::string_view token, TimePoint now) const {
  const std::size_t first_dot = token.find('.');
  const std::size_t second_dot =
      first_dot == std::string_view::npos ? first_dot : token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos ||
      token.find('.', second_dot + 1) != std::string_view::npos) {
    return unauthenticated("malformed token");
  }
  const std::string_view header_part = token.substr(0, first_dot);
  const std::string_view payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  const std::string_view signature_part = token.substr(second_dot + 1);
  if (header_part.empty() || payload_part.empty()) return unauthenticated("malformed token");

  const auto header_text = base64url_decode(header_part);
  const auto payload_text = base64url_decode(payload_part);
  const auto signature = base64url_decode(signature_part);
  if (!header_text || !payload_text || !signature) return unauthenticated("malformed token");

  const auto header = parse_object(*header_text);
  if (!header) return unauthenticated("malformed header");
  const json::value* alg_value = header->if_contains("alg");
  if (alg_value == nullptr) return unauthenticated("missing alg");
  if (!alg_value->is_string()) return unauthenticated("malformed header");
  const auto algorithm = accepted_algorithm(alg_value->get_string());
  if (!algorithm) return unauthenticated("unsupported alg");
  if (const json::value* typ = header->if_contains("typ")) {
    if (!typ->is_string() || !iequals(typ->get_string(), "JWT")) {
      return unauthenticated("unsupported typ");
    }
  }
  // No extension is understood, so RFC 7515 says any `crit` must be refused.
  if (header->contains("crit")) return unauthenticated("unsupported crit header");

  if (!signature_valid(*algorithm, token.substr(0, second_dot), *signature)) {
    return unauthenticated("bad signature");
  }

  // Only now is the payload trusted enough to be parsed.
  const auto claims = parse_object(*payload_text);
  if (!claims) return unauthenticated("malformed claims");
  return check_claims(*claims, now);
}

Result<Verified> JwtVerifier::Impl::check_claims(const json::object& claims, TimePoint now) const {
  const Duration leeway = options.leeway;
  Verified verified;

  const json::value* exp_value = claims.if_contains("exp");
  if (exp_value == nullptr) return unauthenticated("missing claim exp");
  const auto expires_at = numeric_date(*exp_value);
  if (!expires_at) return unauthenticated("invalid claim exp");
  verified.valid_until = *expires_at + leeway;
  if (now >= verified.valid_until) return unauthenticated("token expired");

  // nbf and iat both bound the token's start; a token issued in the future
  // (beyond the leeway) comes from a wrong clock or a forger.
  for (const auto& [name, failure] :
       {std::pair{"nbf", "token not yet valid"}, std::pair{"iat", "token issued in the future"}}) {
    const json::value* value = claims.if_contains(name);
    if (value == nullptr) continue;
    const auto start = numeric_date(*value);
    if (!start) return unauthenticated(std::string("invalid claim ") + name);
    const TimePoint valid_from = *start - leeway;
    if (now < valid_from) return unauthenticated(failure);
    verified.valid_from = std::max(verified.valid_from, valid_from);
  }

  const json::value* sub_value = claims.if_contains("sub");
  if (sub_value == nullptr) return unauthenticated("missing claim sub");
  if (!sub_value->is_string() || !valid_subject(sub_value->get_string())) {
    return unauthenticated("invalid claim sub");
  }

  const json::value* sao_value = claims.if_contains("sao");
  if (sao_value == nullptr) return unauthenticated("missing claim sao");
  const auto level =
      sao_value->is_string() ? parse_sao_level(sao_value->get_string()) : std::nullopt;
  if (!level) return unauthenticated("invalid claim sao");

  const json::value* company_value = claims.if_contains("company");
  const bool company_required = !at_least(*level, SaoLevel::emerald);
  if (company_value == nullptr) {
    if (company_required) return unauthenticated("missing claim company");
  } else if (!company_value->is_string() || !valid_company(company_value->get_string())) {
    return unauthenticated("invalid claim company");
  }

  if (!options.issuer.empty()) {
    if (!claims.contains("iss")) return unauthenticated("missing claim iss");
    const json::string* iss = string_member(claims, "iss");
    if (iss == nullptr || *iss != options.issuer) return unauthenticated("issuer mismatch");
  }
  if (!options.audience.empty()) {
    const json::value* aud = claims.if_contains("aud");
    if (aud == nullptr) return unauthenticated("missing claim aud");
    bool matches = aud->is_string() && aud->get_string() == options.audience;
    if (const json::array* list = aud->if_array()) {
      matches = std::any_of(list->begin(), list->end(), [this](const json::value& entry) {
        return entry.is_string() && entry.get_string() == options.audience;
      });
    }
    if (!matches) return unauthenticated("audience mismatch");
  }

  verified.principal.subject = std::string(sub_value->get_string());
  verified.principal.level = *level;
  if (company_value != nullptr)
    verified.principal.company = std::string(company_value->get_string());
  verified.principal.expires_at = *expires_at;
  return verified;
}

JwtVerifier::JwtVerifier(PrivateTag, std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtVerifier::~JwtVerifier() = default;

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::create(JwtOptions options, Clock& clock) {
  if (options.hs256_secret.empty() && options.public_key_pem.empty()) {
    return invalid_argument("jwt", "no key configured: need an HS256 secret or a public key");
  }
  if (options.leeway < Duration::zero()) {
    return invalid_argument("leeway", "must not be negative");
  }
  if (options.max_token_bytes == 0) {
    return invalid_argument("max_token_bytes", "must be positive");
  }
  PkeyPtr key;
  KeyKind kind = KeyKind::none;
  if (!options.public_key_pem.empty()) {
    auto loaded = load_public_key(options.public_key_pem);
    if (!loaded) return loaded.error();
    key = std::move(loaded->first);
    kind = loaded->second;
  }
  return std::make_unique<JwtVerifier>(
      PrivateTag{}, std::make_unique<Impl>(std::move(options), clock, std::move(key), kind));
}

Result<Principal> JwtVerifier::verify(std::string_view token) const {
  if (token.size() > impl_->options.max_token_bytes) return unauthenticated("token too large");
  if (token.empty()) return unauthenticated("malformed token");
  const TimePoint now = impl_->clock.now();
  VerificationCache& cache = impl_->cache;
  if (!cache.enabled()) {
    auto verified = impl_->verify_uncached(token, now);
    if (!verified) return verified.error();
    return std::move(verified->principal);
  }
  const Sha256Digest key = sha256(token);
  if (auto cached = cache.find(key, now)) return std::move(*cached);
  // Failures are not cached: a flood of distinct bad tokens must not evict
  // the good ones.
  auto verified = impl_->verify_uncached(token, now);
  if (!verified) return verified.error();
  cache.insert(key, *verified, now);
  return std::move(verified->principal);
}

std::size_t JwtVerifier::cache_size() const { return impl_->cache.size(); }
std::uint64_t JwtVerifier::cache_hits() const noexcept { return impl_->cache.hits(); }

// ---------------------------------------------------------------------------
// Minting and secrets

std::string mint_hs256_token(std::string_view secret, const Principal& principal,
                             TimePoint issued_at, Duration ttl, std::string_view issuer,
                             std::string_view audience) {
  const auto seconds = [](TimePoint t) {
    return std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  };
  json::object header;
  header["alg"] = "HS256";
  header["typ"] = "JWT";
  json::object claims;
  if (!issuer.empty()) claims["iss"] = issuer;
  claims["sub"] = principal.subject;
  if (!audience.empty()) claims["aud"] = audience;
  claims["sao"] = to_string(principal.level);
  if (!principal.company.empty()) claims["company"] = principal.company;
  claims["iat"] = seconds(issued_at);
  claims["exp"] = seconds(issued_at + ttl);

  std::string token = base64url_encode(json::serialize(header));
  token += '.';
  token += base64url_encode(json::serialize(claims));
  const Sha256Digest mac = hmac_sha256(secret, token);
  token += '.';
  token +=
      base64url_encode(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

std::string generate_secret() {
  std::array<unsigned char, 32> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    clear_openssl_errors();
    throw std::runtime_error("cannot generate a JWT secret: the random generator failed");
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string secret;
  secret.reserve(random.size() * 2);
  for (const unsigned char byte : random) {
    secret.push_back(kHex[byte >> 4]);
    secret.push_back(kHex[byte & 0x0FU]);
  }
  OPENSSL_cleanse(random.data(), random.size());
  return secret;
}

std::string trim_secret(std::string_view file_bytes) {
  const std::size_t end = file_bytes.find_last_not_of(" \t\r\n\v\f");
  return std::string(end == std::string_view::npos ? std::string_view{}
                                                   : file_bytes.substr(0, end + 1));
}

// ---------------------------------------------------------------------------
// Authorizer

namespace {

using Action = Authorizer::Action;
using Decision = Authorizer::Decision;

// What a level gets for one action: on its own company's records, and on
// any other company's.
struct Scope {
  Decision own;
  Decision other;
};
// Any company.
constexpr Scope kEvery{Decision::allow, Decision::allow};
// Own company; other companies' records are invisible.
constexpr Scope kOwn{Decision::allow, Decision::not_found};
// Own company; registering for another company names a company but reveals
// no record, so it is a plain 403.
constexpr Scope kOwnRegister{Decision::allow, Decision::forbidden};
// Not this action, though the level may see its own company's records.
constexpr Scope kSeeOwn{Decision::forbidden, Decision::not_found};
// Not this action, and nothing to hide (no record involved).
constexpr Scope kNever{Decision::forbidden, Decision::forbidden};

constexpr std::size_t kLevelCount = std::size(kAllSaoLevels);

struct Rule {
  Action action;
  std::array<Scope, kLevelCount> by_level;  // indexed by SaoLevel
};

// API.md, "Access", as data: one row per action, in Action order.
// clang-format off
constexpr Rule kRules[] = {
    // action                   diamond emerald sapphire       opal     onyx
    {Action::discover,         {kEvery, kEvery, kOwn,          kOwn,    kOwn}},
    {Action::read,             {kEvery, kEvery, kOwn,          kOwn,    kOwn}},
    {Action::read_health,      {kEvery, kEvery, kOwn,          kOwn,    kSeeOwn}},
    {Action::register_service, {kEvery, kEvery, kOwnRegister,  kNever,  kNever}},
    {Action::update,           {kEvery, kEvery, kOwn,          kSeeOwn, kSeeOwn}},
    {Action::set_status,       {kEvery, kEvery, kOwn,          kSeeOwn, kSeeOwn}},
    {Action::heartbeat,        {kEvery, kEvery, kOwn,          kSeeOwn, kSeeOwn}},
    {Action::report_health,    {kEvery, kEvery, kOwn,          kSeeOwn, kSeeOwn}},
    {Action::deregister,       {kEvery, kEvery, kOwn,          kSeeOwn, kSeeOwn}},
    {Action::read_audit,       {kEvery, kNever, kNever,        kNever,  kNever}},
    {Action::watch,            {kEvery, kEvery, kOwn,          kOwn,    kOwn}},
};
// clang-format on

constexpr bool rules_in_action_order() {
  for (std::size_t i = 0; i < std::size(kRules); ++i) {
    if (static_cast<std::size_t>(kRules[i].action) != i) return false;
  }
  return std::size(kRules) == static_cast<std::size_t>(Action::watch) + 1;
}
static_assert(rules_in_action_order(), "kRules must list every Action once, in order");
static_assert(static_cast<std::size_t>(SaoLevel::onyx) + 1 == kLevelCount);

// nullptr for values outside the enums (a cast from bad data): denied.
const Scope* find_scope(SaoLevel level, Action action) noexcept {
  const auto action_index = static_cast<std::size_t>(action);
  const auto level_index = static_cast<std::size_t>(level);
  if (action_index >= std::size(kRules) || level_index >= kLevelCount) return nullptr;
  return &kRules[action_index].by_level[level_index];
}

std::string_view forbidden_message(Action action) noexcept {
  switch (action) {
    case Action::discover:
      return "this token may not discover this company's services";
    case Action::read:
      return "this token may not read this service";
    case Action::read_health:
      return "this token may not read this service's health history";
    case Action::register_service:
      return "this token may not register services for this company";
    case Action::update:
      return "this token may not update this service";
    case Action::set_status:
      return "this token may not set this service's status";
    case Action::heartbeat:
      return "this token may not heartbeat for this service";
    case Action::report_health:
      return "this token may not report health for this service";
    case Action::deregister:
      return "this token may not deregister this service";
    case Action::read_audit:
      return "only a diamond token may read the audit log";
    case Action::watch:
      return "this token may not watch this company's services";
  }
  return "this token may not do this";
}

}  // namespace

Authorizer::Decision Authorizer::decide(const Principal& principal, Action action,
                                        std::string_view record_company) const noexcept {
  const Scope* scope = find_scope(principal.level, action);
  if (scope == nullptr) return Decision::not_found;
  const bool own = !principal.company.empty() && principal.company == record_company;
  return own ? scope->own : scope->other;
}

Result<void> Authorizer::require(const Principal& principal, Action action,
                                 std::string_view record_company,
                                 std::string_view service_id) const {
  const Decision decision = decide(principal, action, record_company);
  if (decision == Decision::allow) return {};
  return decision_error(decision, action, service_id);
}

bool Authorizer::may_manage(const Principal& principal, std::string_view company) const noexcept {
  // Managing is what update needs: one rule, not a second list of levels.
  return decide(principal, Action::update, company) == Decision::allow;
}

std::string_view Authorizer::discover_scope(const Principal& principal) const noexcept {
  const Scope* scope = find_scope(principal.level, Action::discover);
  if (scope != nullptr && scope->other == Decision::allow) return {};
  return principal.company.empty() ? kNoCompany : std::string_view(principal.company);
}

std::string_view to_string(Authorizer::Action action) noexcept {
  switch (action) {
    case Action::discover:
      return "discover";
    case Action::read:
      return "read";
    case Action::read_health:
      return "read_health";
    case Action::register_service:
      return "register";
    case Action::update:
      return "update";
    case Action::set_status:
      return "set_status";
    case Action::heartbeat:
      return "heartbeat";
    case Action::report_health:
      return "report_health";
    case Action::deregister:
      return "deregister";
    case Action::read_audit:
      return "read_audit";
    case Action::watch:
      return "watch";
  }
  return "unknown";
}

std::string_view to_string(Authorizer::Decision decision) noexcept {
  switch (decision) {
    case Decision::allow:
      return "allow";
    case Decision::forbidden:
      return "forbidden";
    case Decision::not_found:
      return "not_found";
  }
  return "unknown";
}

Error decision_error(Authorizer::Decision decision, Authorizer::Action action,
                     std::string_view service_id) {
  switch (decision) {
    case Decision::not_found:
      // Word for word the registry's message for a missing service.
      return not_found("service " + std::string(service_id.substr(0, 64)) + " is not registered");
    case Decision::forbidden:
      return Error{ErrorCode::permission_denied, std::string(forbidden_message(action)), {}};
    case Decision::allow:
      break;
  }
  return internal_error("decision_error called for an allowed action");
}

}  // namespace discovery
