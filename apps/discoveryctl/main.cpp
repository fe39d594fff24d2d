// discoveryctl: the command-line client of discoveryd. Finds the command in
// the table (commands.cpp), parses its options together with the global ones
// (flags > DISCOVERY_* environment for the global settings), runs it, and
// turns a failure into a message on stderr and the documented exit status.
#include "commands.hpp"

#include <algorithm>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace discovery::ctl;

int report(const Failure& failure) {
  if (!failure.message.empty()) std::cerr << "discoveryctl: " << failure.message << "\n";
  return static_cast<int>(failure.exit);
}

// The command is the first word that is neither an option nor the value of a
// global option, so that `discoveryctl --server URL discover` works too.
std::optional<std::size_t> command_position(const std::vector<std::string>& words) {
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string_view word = words[i];
    if (word.size() < 2 || word.front() != '-') return i;
    if (word.substr(0, 2) != "--" || word.find('=') != std::string_view::npos) continue;
    for (const auto& o : global_options())
      if (word.substr(2) == o.name && !o.value_name.empty()) ++i;
  }
  return std::nullopt;
}

int run(std::vector<std::string> words) {
  auto position = command_position(words);
  // `discoveryctl --version` is the conventional spelling of `discoveryctl version`.
  if (!position && std::find(words.begin(), words.end(), "--version") != words.end()) {
    words = {"version"};
    position = 0;
  }
  if (!position) {
    const bool help = std::any_of(words.begin(), words.end(),
                                  [](const std::string& w) { return w == "--help" || w == "-h"; });
    (help ? std::cout : std::cerr) << tool_help();
    return help ? 0 : static_cast<int>(Exit::usage);
  }
  const std::string name = words[*position];
  words.erase(words.begin() + static_cast<std::ptrdiff_t>(*position));
  const Command* command = find_command(name);
  if (!command)
    return report(usage_error("unknown command '" + name + "' (see discoveryctl help)"));

  std::vector<Option> options = global_options();
  options.insert(options.end(), command->options.begin(), command->options.end());
  Args args(std::move(options));
  std::vector<std::string> operands;
  if (auto parsed = args.parse(words, operands); !parsed)
    return report(usage_error(name + ": " + parsed.error().message));
  if (args.flag("help")) {
    std::cout << command_help(*command);
    return 0;
  }
  if (operands.size() < command->min_operands || operands.size() > command->max_operands) {
    const std::string usage = "usage: discoveryctl " + name + " [options]" +
                              (command->operands.empty() ? "" : " " + command->operands);
    return report(usage_error(name + ": " +
                              (operands.size() < command->min_operands
                                   ? "missing operands"
                                   : "unexpected operand '" + operands.back() + "'") +
                              " (" + usage + ")"));
  }

  std::optional<HttpClient> client;
  if (command->uses_server) {
    auto client_settings = client_options(args);
    if (!client_settings) return report(client_settings.error());
    client.emplace(std::move(*client_settings));
  }
  Invocation invocation{args, operands, client ? &*client : nullptr};
  if (auto done = command->run(invocation); !done) return report(done.error());
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return run(std::vector<std::string>(argv + 1, argv + argc)); }
