// Expected failures as values: every fallible library call returns
// discovery::Result<T>, carrying an Error that names its cause and, for bad
// input, the offending field. Exceptions are kept for programming errors.
#pragma once

#include <boost/system/result.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>

namespace discovery {

// One code per failure class of the REST contract (API.md, "Errors"); the
// HTTP layer maps them to statuses 1:1 and nothing else needs a mapping.
enum class ErrorCode {
  ok = 0,
  invalid_argument,         // 400: bad input; `field` names what is wrong
  unauthenticated,          // 401
  permission_denied,        // 403
  not_found,                // 404
  conflict,                 // 409
  payload_too_large,        // 413
  method_not_allowed,       // 405
  unsupported_media_type,   // 415
  request_header_too_large, // 431
  rate_limited,             // 429
  internal,                 // 500: a bug, or a store that is corrupt
  unavailable,              // 503: the store is locked, full, or closed
};

// The API.md spelling: "invalid_argument", "not_found", ...
std::string_view to_string(ErrorCode code) noexcept;
// The HTTP status API.md gives for the code (200 for ok).
int http_status(ErrorCode code) noexcept;

const std::error_category& discovery_category() noexcept;
std::error_code make_error_code(ErrorCode code) noexcept;

// An expected failure: a code, a message a user can act on, and for bad
// input the dotted path of the offending field ("serviceInfo.region").
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
  std::string field;

  // "serviceInfo.region: must match [a-z0-9-]+" style when a field is named.
  std::string to_string() const;
  friend bool operator==(const Error&, const Error&) = default;
};

std::ostream& operator<<(std::ostream& os, const Error& error);

// Shorthands that keep call sites short and uniform.
Error invalid_argument(std::string field, std::string message);
Error not_found(std::string message);
Error conflict(std::string message);
Error unavailable(std::string message);
Error internal_error(std::string message);

// Thrown by Result<T>::value() on an error: a programming error at the call
// site (it should have checked). Carries the Error.
class ResultError : public std::system_error {
 public:
  explicit ResultError(Error error);
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

// boost::system::result finds this by ADL when value() is called on an error.
[[noreturn]] void throw_exception_from_error(const Error& error,
                                             const boost::source_location& where);

template <class T>
using Result = boost::system::result<T, Error>;

}  // namespace discovery

template <>
struct std::is_error_code_enum<discovery::ErrorCode> : std::true_type {};
