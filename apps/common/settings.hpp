// Settings of a command from flags, DISCOVERY_* environment variables and a
// JSON config file, in that order of precedence (API.md, "Daemon command
// line"): --data-dir is DISCOVERY_DATA_DIR and the key "data-dir".
#pragma once

#include <discovery/error.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace discovery::app {

struct SettingSpec {
  std::string name;          // flag without "--", config key
  std::string value_name;    // "DIR", "HOST:PORT"; empty for a switch
  std::string default_value; // shown in --help; empty = none
  std::string help;
  bool repeatable = false;
  bool command_line_only = false;  // --help, --version: no environment or config key
};

class Settings {
 public:
  explicit Settings(std::vector<SettingSpec> specs) : specs_(std::move(specs)) {}

  // Parses argv (flags as "--name value" or "--name=value"), then the
  // environment, then the file named by --config / DISCOVERY_CONFIG.
  // Positional arguments are returned in `positional`.
  Result<void> parse(int argc, char** argv, std::vector<std::string>* positional = nullptr);

  bool has(std::string_view name) const;
  std::string get(std::string_view name) const;  // the value, else the default
  std::vector<std::string> get_all(std::string_view name) const;
  bool flag(std::string_view name) const;  // a switch: "true", "1", "yes" or given without value
  // "--data-dir" came from: "flag", "environment", "config", "default".
  std::string source(std::string_view name) const;

  // The option table for --help.
  std::string help() const;
  static std::string env_name(std::string_view name);  // data-dir -> DISCOVERY_DATA_DIR

 private:
  const SettingSpec* find(std::string_view name) const;
  std::vector<SettingSpec> specs_;
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::map<std::string, std::string, std::less<>> sources_;
};

// Reads a whole small file; a clear error when it cannot.
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 1 << 20);

}  // namespace discovery::app
