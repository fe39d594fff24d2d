#include <discovery/service_record.hpp>

#include <array>
#include <cstdint>
#include <random>

namespace discovery {

namespace {

// One engine per thread: no locking on the registration path, and each is
// seeded from the OS so that processes started together do not collide.
std::mt19937_64& random_engine() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(),
                       device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  return engine;
}

// Appends the low `digits` nibbles of `value` as lowercase hex, most
// significant first.
void append_hex(std::string& out, std::uint64_t value, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4) {
    out.push_back(kHex[(value >> shift) & 0xF]);
  }
}

}  // namespace

std::string_view to_string(ServiceStatus status) noexcept {
  switch (status) {
    case ServiceStatus::active: return "active";
    case ServiceStatus::inactive: return "inactive";
    case ServiceStatus::maintenance: return "maintenance";
    case ServiceStatus::unhealthy: return "unhealthy";
  }
  return "unknown";
}

std::string_view to_string(SaoLevel level) noexcept {
  switch (level) {
    case SaoLevel::diamond: return "diamond";
    case SaoLevel::emerald: return "emerald";
    case SaoLevel::sapphire: return "sapphire";
    case SaoLevel::opal: return "opal";
    case SaoLevel::onyx: return "onyx";
  }
  return "unknown";
}

std::string_view to_string(StatusCause cause) noexcept {
  switch (cause) {
    case StatusCause::registration: return "registration";
    case StatusCause::operator_set: return "operator";
    case StatusCause::health_check: return "health";
    case StatusCause::heartbeat_ttl: return "ttl";
  }
  return "unknown";
}

std::optional<ServiceStatus> parse_status(std::string_view text) noexcept {
  for (const ServiceStatus status : kAllStatuses) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

std::optional<SaoLevel> parse_sao_level(std::string_view text) noexcept {
  for (const SaoLevel level : kAllSaoLevels) {
    if (to_string(level) == text) return level;
  }
  return std::nullopt;
}

std::optional<StatusCause> parse_status_cause(std::string_view text) noexcept {
  for (const StatusCause cause : {StatusCause::registration, StatusCause::operator_set,
                                  StatusCause::health_check, StatusCause::heartbeat_ttl}) {
    if (to_string(cause) == text) return cause;
  }
  return std::nullopt;
}

std::string generate_instance_id(std::string_view company, TimePoint at) {
  std::string id;
  id.reserve(company.size() + 28);
  id.append(company);
  id.push_back('-');
  id.append(std::to_string(at.time_since_epoch().count()));
  id.push_back('-');
  append_hex(id, random_engine()(), 6);
  return id;
}

std::string make_domain(std::string_view company, std::string_view base) {
  std::string domain;
  domain.reserve(company.size() + base.size() + 5);
  domain.append("mcp.").append(company).append(".").append(base);
  return domain;
}

std::string generate_uuid() {
  auto& engine = random_engine();
  std::uint64_t high = engine();
  std::uint64_t low = engine();
  // RFC 9562: version 4 in the high nibble of byte 6, variant 0b10 in the top
  // bits of byte 8; everything else random.
  high = (high & ~std::uint64_t{0xF000}) | std::uint64_t{0x4000};
  low = (low & ~(std::uint64_t{0xC0} << 56)) | (std::uint64_t{0x80} << 56);
  std::string uuid;
  uuid.reserve(36);
  append_hex(uuid, high >> 32, 8);
  uuid.push_back('-');
  append_hex(uuid, high >> 16, 4);
  uuid.push_back('-');
  append_hex(uuid, high, 4);
  uuid.push_back('-');
  append_hex(uuid, low >> 48, 4);
  uuid.push_back('-');
  append_hex(uuid, low, 12);
  return uuid;
}

}  // namespace discovery
