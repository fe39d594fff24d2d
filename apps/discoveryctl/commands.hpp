// The commands of discoveryctl as a table: each entry names its operands and
// options (for parsing and --help) and the function that runs it.
#pragma once

#include "args.hpp"
#include "http_client.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace discovery::ctl {

struct Invocation {
  const Args& args;
  const std::vector<std::string>& operands;
  HttpClient* client;  // null for commands that never talk to the server
};

struct Command {
  std::string name = {};
  std::string operands = {};  // for the usage line: "ID STATUS"
  std::string summary = {};   // one line, for the command list
  std::string details = {};   // the rest of its help
  std::vector<Option> options = {};
  std::size_t min_operands = 0;
  std::size_t max_operands = 0;
  bool uses_server = true;
  Outcome<> (*run)(Invocation&) = nullptr;
};

const std::vector<Command>& commands();
const Command* find_command(std::string_view name);

// --server, --token, --token-file, --timeout, --insecure, --help.
const std::vector<Option>& global_options();

std::string tool_help();
std::string command_help(const Command& command);

// How to reach the server, from the global options. Warns on stderr when the
// token came from the command line; never prints the token.
Outcome<ClientOptions> client_options(const Args& args);

}  // namespace discovery::ctl
