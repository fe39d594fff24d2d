// Command-line plumbing of discoveryctl: how a command fails (and with which
// exit code), and its options, parsed by the apps' shared Settings so that
// flags read exactly as discoveryd's do.
#pragma once

#include "settings.hpp"

#include <boost/system/result.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace discovery::ctl {

// The exit codes scripts rely on (see `discoveryctl help`).
enum class Exit : int {
  ok = 0,
  api = 1,         // the server answered with an error
  usage = 2,       // bad command line or unreadable input file
  connection = 3,  // no answer: cannot connect, TLS failure, timeout, dropped
  interrupted = 130,
};

// Why a command stopped; `message` is printed as "discoveryctl: <message>".
struct Failure {
  Exit exit = Exit::api;
  std::string message;
};

[[noreturn]] void throw_exception_from_error(const Failure& failure,
                                             const boost::source_location& where);

template <class T = void>
using Outcome = boost::system::result<T, Failure>;

inline Failure usage_error(std::string message) { return {Exit::usage, std::move(message)}; }

struct Option {
  std::string name = {};        // without "--"
  std::string value_name = {};  // empty for a switch
  std::string help = {};
  std::string default_value = {};
  bool repeatable = false;
  // Whether DISCOVERY_<NAME> may supply it. Only settings that describe the
  // user's environment (server, token, ...) do: a stray DISCOVERY_STATUS or
  // DISCOVERY_FILE must not silently filter or feed a command.
  bool from_env = false;
};

// Shorthands that keep option tables one line an option.
inline Option option(std::string name, std::string value_name, std::string help,
                     std::string default_value = {}) {
  return {std::move(name), std::move(value_name), std::move(help), std::move(default_value)};
}
inline Option list_option(std::string name, std::string value_name, std::string help) {
  return {std::move(name), std::move(value_name), std::move(help), {}, true};
}
inline Option switch_option(std::string name, std::string help) {
  return {std::move(name), {}, std::move(help)};
}

// A command's options plus the global ones, parsed from flags (and, for the
// options that allow it, the environment). There is deliberately no config
// file: DISCOVERY_CONFIG usually names discoveryd's own file.
class Args {
 public:
  explicit Args(std::vector<Option> options);

  // `args` excludes the program and command names. Non-flag words go to
  // `positional`; "-h" is read as --help.
  Outcome<> parse(const std::vector<std::string>& args, std::vector<std::string>& positional);

  bool has(std::string_view name) const;
  std::string get(std::string_view name) const;  // the value, else the default
  std::vector<std::string> get_all(std::string_view name) const;
  bool flag(std::string_view name) const;
  bool given_as_flag(std::string_view name) const;

  const std::vector<Option>& options() const { return options_; }

 private:
  const Option* find(std::string_view name) const;
  std::vector<Option> options_;
  app::Settings settings_;
};

// The option table of --help, one option per entry, env names where they apply.
std::string options_help(const std::vector<Option>& options);

}  // namespace discovery::ctl
