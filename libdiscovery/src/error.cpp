#include <discovery/error.hpp>

#include <ostream>

namespace discovery {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::invalid_argument: return "invalid_argument";
    case ErrorCode::unauthenticated: return "unauthenticated";
    case ErrorCode::permission_denied: return "permission_denied";
    case ErrorCode::not_found: return "not_found";
    case ErrorCode::conflict: return "conflict";
    case ErrorCode::payload_too_large: return "payload_too_large";
    case ErrorCode::method_not_allowed: return "method_not_allowed";
    case ErrorCode::unsupported_media_type: return "unsupported_media_type";
    case ErrorCode::request_header_too_large: return "request_header_too_large";
    case ErrorCode::rate_limited: return "rate_limited";
    case ErrorCode::internal: return "internal";
    case ErrorCode::unavailable: return "unavailable";
  }
  return "internal";
}

int http_status(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::ok: return 200;
    case ErrorCode::invalid_argument: return 400;
    case ErrorCode::unauthenticated: return 401;
    case ErrorCode::permission_denied: return 403;
    case ErrorCode::not_found: return 404;
    case ErrorCode::conflict: return 409;
    case ErrorCode::payload_too_large: return 413;
    case ErrorCode::method_not_allowed: return 405;
    case ErrorCode::unsupported_media_type: return 415;
    case ErrorCode::request_header_too_large: return 431;
    case ErrorCode::rate_limited: return 429;
    case ErrorCode::internal: return 500;
    case ErrorCode::unavailable: return 503;
  }
  return 500;
}

namespace {
class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "discovery"; }
  std::string message(int value) const override {
    return std::string(to_string(static_cast<ErrorCode>(value)));
  }
};
}  // namespace

const std::error_category& discovery_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(ErrorCode code) noexcept {
  return {static_cast<int>(code), discovery_category()};
}

std::string Error::to_string() const {
  if (field.empty()) return message;
  return field + ": " + message;
}

std::ostream& operator<<(std::ostream& os, const Error& error) {
  return os << discovery::to_string(error.code) << ": " << error.to_string();
}

Error invalid_argument(std::string field, std::string message) {
  return Error{ErrorCode::invalid_argument, std::move(message), std::move(field)};
}
Error not_found(std::string message) { return Error{ErrorCode::not_found, std::move(message), {}}; }
Error conflict(std::string message) { return Error{ErrorCode::conflict, std::move(message), {}}; }
Error unavailable(std::string message) {
  return Error{ErrorCode::unavailable, std::move(message), {}};
}
Error internal_error(std::string message) {
  return Error{ErrorCode::internal, std::move(message), {}};
}

ResultError::ResultError(Error error)
    : std::system_error(make_error_code(error.code), error.to_string()), error_(std::move(error)) {}

void throw_exception_from_error(const Error& error, const boost::source_location&) {
  throw ResultError(error);
}

}  // namespace discovery
