#include "settings.hpp"

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace discovery::app {

std::string Settings::env_name(std::string_view name) {
  std::string env = "DISCOVERY_";
  for (char c : name) env.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return env;
}

const SettingSpec* Settings::find(std::string_view name) const {
  for (const auto& s : specs_)
    if (s.name == name) return &s;
  return nullptr;
}

Result<std::string> read_file(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{ErrorCode::invalid_argument, "cannot read " + path, {}};
  std::string content;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    content.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (content.size() > max_bytes) return Error{ErrorCode::invalid_argument, path + " is larger than " + std::to_string(max_bytes) + " bytes", {}};
  }
  return content;
}

Result<void> Settings::parse(int argc, char** argv, std::vector<std::string>* positional) {
  std::map<std::string, std::vector<std::string>, std::less<>> from_flags;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      if (!positional) return invalid_argument(std::string(arg), "unexpected argument (see --help)");
      positional->emplace_back(arg);
      continue;
    }
    arg.remove_prefix(2);
    std::string name(arg.substr(0, arg.find('=')));
    const SettingSpec* spec = find(name);
    if (!spec) return invalid_argument("--" + name, "unknown option (see --help)");
    std::string value;
    if (arg.find('=') != std::string_view::npos) {
      value = std::string(arg.substr(arg.find('=') + 1));
    } else if (spec->value_name.empty()) {
      value = "true";
    } else {
      if (i + 1 >= argc) return invalid_argument("--" + name, "needs a value (" + spec->value_name + ")");
      value = argv[++i];
    }
    auto& list = from_flags[name];
    if (!spec->repeatable) list.clear();
    list.push_back(std::move(value));
  }

  std::map<std::string, std::vector<std::string>, std::less<>> from_env;
  for (const auto& spec : specs_) {
    if (spec.command_line_only) continue;
    if (const char* v = std::getenv(env_name(spec.name).c_str()); v && *v) {
      if (spec.repeatable) {
        std::stringstream ss(v);
        std::string item;
        while (std::getline(ss, item, ',')) if (!item.empty()) from_env[spec.name].push_back(item);
      } else {
        from_env[spec.name] = {v};
      }
    }
  }

  std::map<std::string, std::vector<std::string>, std::less<>> from_file;
  std::string config_path;
  if (auto it = from_flags.find("config"); it != from_flags.end()) config_path = it->second.back();
  else if (auto e = from_env.find("config"); e != from_env.end()) config_path = e->second.back();
  if (!config_path.empty()) {
    auto text = read_file(config_path);
    if (!text) return text.error();
    boost::system::error_code ec;
    auto doc = boost::json::parse(*text, ec);
    if (ec || !doc.is_object()) return invalid_argument("--config", config_path + " is not a JSON object");
    for (const auto& [key, value] : doc.as_object()) {
      const SettingSpec* spec = find(key);
      if (!spec || spec->name == "config" || spec->command_line_only) return invalid_argument(std::string(key), "unknown key in " + config_path);
      auto to_text = [&](const boost::json::value& v) -> std::optional<std::string> {
        if (v.is_string()) return std::string(v.as_string());
        if (v.is_bool()) return v.as_bool() ? "true" : "false";
        if (v.is_number()) return boost::json::serialize(v);
        return std::nullopt;
      };
      if (value.is_array() && spec->repeatable) {
        for (const auto& item : value.as_array()) {
          auto t = to_text(item);
          if (!t) return invalid_argument(std::string(key), "must be a list of strings in " + config_path);
          from_file[spec->name].push_back(*t);
        }
      } else {
        auto t = to_text(value);
        if (!t) return invalid_argument(std::string(key), "must be a string, number or boolean in " + config_path);
        from_file[spec->name] = {*t};
      }
    }
  }

  for (const auto& spec : specs_) {
    if (auto f = from_flags.find(spec.name); f != from_flags.end()) {
      values_[spec.name] = f->second;
      sources_[spec.name] = "flag";
    } else if (auto e = from_env.find(spec.name); e != from_env.end()) {
      values_[spec.name] = e->second;
      sources_[spec.name] = "environment";
    } else if (auto c = from_file.find(spec.name); c != from_file.end()) {
      values_[spec.name] = c->second;
      sources_[spec.name] = "config";
    }
  }
  return {};
}

bool Settings::has(std::string_view name) const { return values_.count(name) > 0; }

std::string Settings::get(std::string_view name) const {
  if (auto it = values_.find(name); it != values_.end() && !it->second.empty()) return it->second.back();
  if (const auto* spec = find(name)) return spec->default_value;
  return {};
}

std::vector<std::string> Settings::get_all(std::string_view name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  return {};
}

bool Settings::flag(std::string_view name) const {
  const auto v = get(name);
  return v == "true" || v == "1" || v == "yes" || v == "on";
}

std::string Settings::source(std::string_view name) const {
  if (auto it = sources_.find(name); it != sources_.end()) return it->second;
  return "default";
}

std::string Settings::help() const {
  std::string out;
  for (const auto& s : specs_) {
    std::string left = "  --" + s.name + (s.value_name.empty() ? "" : " " + s.value_name);
    if (left.size() < 34) left.resize(34, ' ');
    else left += "\n" + std::string(34, ' ');
    out += left + s.help;
    if (!s.default_value.empty()) out += " (default " + s.default_value + ")";
    if (s.repeatable) out += " [repeatable]";
    out += "\n";
    if (!s.command_line_only) out += std::string(34, ' ') + "env " + env_name(s.name) + "\n";
  }
  return out;
}

}  // namespace discovery::app
