#include "log.hpp"

#include "logfmt.hpp"

#include <iostream>

namespace discovery {

std::string_view to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    case LogLevel::off: return "off";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
  for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error, LogLevel::off})
    if (text == to_string(level)) return level;
  return std::nullopt;
}

namespace server {

namespace {

void append_value(std::string& out, std::string_view value) { detail::append_logfmt_value(out, value); }

}  // namespace

Logger::Logger(LogLevel level, std::function<void(std::string_view)> sink)
    : level_(level), sink_(std::move(sink)) {}

void Logger::log(LogLevel level, std::string_view message,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> fields) const {
  if (!enabled(level)) return;
  std::string line = "ts=" + format_time(system_clock().now()) + " level=";
  line += to_string(level);
  line += " msg=";
  append_value(line, message);
  for (const auto& [key, value] : fields) {
    line.push_back(' ');
    line += key;
    line.push_back('=');
    append_value(line, value);
  }
  line.push_back('\n');
  std::lock_guard lock(mutex_);
  if (sink_) sink_(line);
  else std::cerr << line << std::flush;
}

}  // namespace server
}  // namespace discovery
