// Who is calling and what they may do: JWT verification (HS256, RS256, ES256)
// to a Principal, and the one Authorizer that decides every action against
// API.md's access table. The daemon and the Python binding share both, so a
// rule changes in exactly one place.
#pragma once

#include <discovery/clock.hpp>
#include <discovery/error.hpp>
#include <discovery/service_record.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace discovery {

// The verified identity behind a request. A default-constructed Principal is
// the lowest level with no company, so forgetting to fill one in grants
// nothing.
struct Principal {
  std::string subject;
  SaoLevel level = SaoLevel::onyx;
  // Required for sapphire, opal and onyx; empty for diamond and emerald when
  // the token has no `company` claim.
  std::string company;
  TimePoint expires_at{};
  friend bool operator==(const Principal&, const Principal&) = default;
};

struct JwtOptions {
  // Raw key bytes for HS256 (see trim_secret() for a secret file). Empty: no
  // HS256 token is accepted.
  std::string hs256_secret;
  // PEM public key ("BEGIN PUBLIC KEY" or "BEGIN RSA PUBLIC KEY"): RSA of at
  // least 2048 bits enables RS256, EC P-256 enables ES256. Empty: neither.
  std::string public_key_pem;
  // When non-empty, `iss` must equal it.
  std::string issuer;
  // When non-empty, `aud` (a string or an array of strings) must contain it.
  // When empty, `aud` is not looked at.
  std::string audience;
  // Tolerated clock skew for exp, nbf and iat.
  Duration leeway{std::chrono::seconds{30}};
  // Longer tokens are rejected before any decoding or crypto.
  std::size_t max_token_bytes = 8192;
  // Verified tokens remembered (by SHA-256) to skip crypto on repeat
  // requests; 0 disables the cache.
  std::size_t cache_entries = 10000;
};

// Verifies bearer tokens. Every failure is Error{unauthenticated, message}
// with a short message ("token expired", "bad signature", "unsupported alg",
// "missing claim sao", ...) that never quotes the token or the key.
//
// Header rules: `alg` is required and must be one the configured keys allow
// (HS256 only with a secret, RS256 only with an RSA key, ES256 only with an
// EC P-256 key; so `none` and algorithm confusion are rejected before any
// signature work); `typ`, when present, is "JWT" (any case); `crit` is never
// accepted; key-locating headers (`kid`, `jku`, `x5u`, `jwk`) are ignored: the
// configured key is the only key. Claims are read only after the signature
// has been verified.
//
// Thread-safe: verify() may be called concurrently. The cache is sharded,
// each shard behind its own mutex. The clock must outlive the verifier.
class JwtVerifier {
 public:
  // invalid_argument when no key is configured, the PEM cannot be parsed, or
  // the key is neither RSA (>= 2048 bits) nor EC P-256; also for a negative
  // leeway or a zero max_token_bytes.
  static Result<std::unique_ptr<JwtVerifier>> create(JwtOptions options, Clock& clock);

  ~JwtVerifier();
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  Result<Principal> verify(std::string_view token) const;

  // Observability and tests: entries held, and verifications answered from
  // the cache since construction.
  std::size_t cache_size() const;
  std::uint64_t cache_hits() const noexcept;

 private:
  struct Impl;
  // Only create() can name this, so only create() constructs (through
  // std::make_unique, which needs a public constructor).
  struct PrivateTag {
    explicit PrivateTag() = default;
  };

 public:
  JwtVerifier(PrivateTag, std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// An HS256 token for `principal` (its subject, level and company; its
// expires_at is ignored in favour of issued_at + ttl). iat and exp are whole
// seconds, rounded down, so the token never outlives the ttl. `iss` and `aud`
// are added when non-empty. For the daemon's first start and
// `discoveryctl token`.
std::string mint_hs256_token(std::string_view secret, const Principal& principal,
                             TimePoint issued_at, Duration ttl, std::string_view issuer = {},
                             std::string_view audience = {});

// A new HS256 secret: 32 random bytes (RAND_bytes) as 64 lowercase hex
// characters, so the secret file is text that survives editors and shells.
// Throws std::runtime_error when the random generator fails (a start-up
// failure, not an expected one).
std::string generate_secret();

// The key a secret file holds: its bytes with trailing whitespace (space,
// tab, CR, LF, VT, FF) removed (API.md, "Access"). Leading bytes are kept.
std::string trim_secret(std::string_view file_bytes);

// Decides every request against API.md's access table:
//
//   level     own company                                   another company
//   diamond   everything, incl. the audit log               everything
//   emerald   everything except the audit log               the same
//   sapphire  everything except the audit log               404 (register: 403)
//   opal      discover, read, read_health, watch; else 403  404 (register: 403)
//   onyx      discover, read, watch; else 403               404 (register: 403)
//
// Choices where API.md is silent: emerald, an operator level above sapphire,
// may also heartbeat and report health for every company; registering is
// always 403, never 404, since no existing record is involved; the audit log
// is 403 for every level but diamond. For discover and watch, not_found means
// "leave the record out of the answer".
//
// Stateless and thread-safe.
class Authorizer {
 public:
  enum class Action {
    discover,
    read,
    read_health,
    register_service,
    update,
    set_status,
    heartbeat,
    report_health,
    deregister,
    read_audit,
    watch,
  };
  enum class Decision {
    allow,
    forbidden,  // 403: the caller may see the record but not do this
    not_found,  // 404: the caller may not even know the record exists
  };

  // `record_company` is the company of the record acted on (for
  // register_service, the company named in the request; ignored for
  // read_audit). A scoped level whose principal has no company never owns a
  // record.
  Decision decide(const Principal& principal, Action action,
                  std::string_view record_company) const noexcept;

  // decide() as a Result: allow is success, anything else the matching
  // error (see decision_error()).
  Result<void> require(const Principal& principal, Action action, std::string_view record_company,
                       std::string_view service_id) const;

  // Who sees personalConfig and demoConfig: those who may update the
  // company's services (diamond, emerald, sapphire of that company).
  bool may_manage(const Principal& principal, std::string_view company) const noexcept;

  // The company a discover or watch must be restricted to: empty for
  // diamond and emerald (no restriction), else the principal's company. A
  // scoped principal without a company gets kNoCompany, which no record can
  // have, so it sees nothing rather than everything. The view refers to
  // `principal`'s company.
  std::string_view discover_scope(const Principal& principal) const noexcept;

  // Not a valid company name (API.md: [a-z0-9][a-z0-9-]{0,62}).
  static constexpr std::string_view kNoCompany = "-";
};

std::string_view to_string(Authorizer::Action action) noexcept;
std::string_view to_string(Authorizer::Decision decision) noexcept;

// The error for a decision other than allow: forbidden is permission_denied;
// not_found is not_found with the very message the registry gives for a
// service that does not exist, so a 404 reveals nothing. allow is a
// programming error and yields an internal error.
Error decision_error(Authorizer::Decision decision, Authorizer::Action action,
                     std::string_view service_id);

}  // namespace discovery
