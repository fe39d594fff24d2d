#include "args.hpp"

#include <stdexcept>

namespace discovery::ctl {

void throw_exception_from_error(const Failure& failure, const boost::source_location&) {
  throw std::runtime_error(failure.message);
}

namespace {

std::vector<app::SettingSpec> to_specs(const std::vector<Option>& options) {
  std::vector<app::SettingSpec> specs;
  specs.reserve(options.size());
  for (const auto& o : options)
    specs.push_back({o.name, o.value_name, o.default_value, o.help, o.repeatable});
  return specs;
}

}  // namespace

Args::Args(std::vector<Option> options)
    : options_(std::move(options)), settings_(to_specs(options_)) {}

const Option* Args::find(std::string_view name) const {
  for (const auto& o : options_)
    if (o.name == name) return &o;
  return nullptr;
}

Outcome<> Args::parse(const std::vector<std::string>& args, std::vector<std::string>& positional) {
  // Settings parses a main()-style argv whose first entry it skips.
  std::vector<std::string> words{"discoveryctl"};
  for (const auto& a : args) words.push_back(a == "-h" ? "--help" : a);
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  if (auto parsed = settings_.parse(static_cast<int>(argv.size()), argv.data(), &positional);
      !parsed)
    return usage_error(parsed.error().to_string());
  return {};
}

bool Args::has(std::string_view name) const {
  const Option* o = find(name);
  return o && settings_.has(name) && (o->from_env || settings_.source(name) == "flag");
}

std::string Args::get(std::string_view name) const {
  if (has(name)) return settings_.get(name);
  const Option* o = find(name);
  return o ? o->default_value : std::string{};
}

std::vector<std::string> Args::get_all(std::string_view name) const {
  return has(name) ? settings_.get_all(name) : std::vector<std::string>{};
}

bool Args::flag(std::string_view name) const {
  const auto v = get(name);
  return v == "true" || v == "1" || v == "yes" || v == "on";
}

bool Args::given_as_flag(std::string_view name) const {
  return settings_.has(name) && settings_.source(name) == "flag";
}

std::string options_help(const std::vector<Option>& options) {
  constexpr std::size_t kColumn = 30;
  const std::string indent(kColumn, ' ');
  std::string out;
  for (const auto& o : options) {
    std::string left = "  --" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    if (left.size() + 2 <= kColumn)
      left.resize(kColumn, ' ');
    else
      left += "\n" + indent;
    // Continuation lines of a long help text line up under its first line.
    std::string help;
    for (const char c : o.help) help += c == '\n' ? "\n" + indent : std::string(1, c);
    if (o.repeatable) help += " [repeatable]";
    // Defaults and environment names on a line of their own, as discoveryd does.
    std::string notes;
    if (!o.default_value.empty()) notes = "default " + o.default_value;
    if (o.from_env)
      notes += (notes.empty() ? "" : "; ") + std::string("env ") + app::Settings::env_name(o.name);
    out += left + help + "\n" + (notes.empty() ? "" : indent + notes + "\n");
  }
  return out;
}

}  // namespace discovery::ctl
