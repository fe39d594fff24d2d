// One logfmt line per event: `ts=... level=info msg="..." key=value ...`.
// Never give it a token or a secret. Thread-safe.
#pragma once

#include <discovery/server.hpp>

#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace discovery::server {

class Logger {
 public:
  Logger(LogLevel level, std::function<void(std::string_view)> sink);
  bool enabled(LogLevel level) const { return level >= level_ && level_ != LogLevel::off; }
  void log(LogLevel level, std::string_view message,
           std::initializer_list<std::pair<std::string_view, std::string_view>> fields = {}) const;

 private:
  LogLevel level_;
  std::function<void(std::string_view)> sink_;
  mutable std::mutex mutex_;
};

}  // namespace discovery::server
