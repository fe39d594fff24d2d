// The dashboard's static files (src/server/ui/), compiled into the binary,
// and the headers every /ui answer carries: a strict Content-Security-Policy
// (only this origin's script and style, no inline code, no framing), no
// MIME sniffing, no referrer.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace discovery::server {

struct UiAsset {
  std::string_view body;
  std::string_view content_type;
};

// "/ui", "/ui/" -> index.html (its links are absolute), "/ui/app.js", "/ui/app.css"; nothing for other paths.
std::optional<UiAsset> find_ui_asset(std::string_view path);

// Headers for every /ui response, error answers included.
std::vector<std::pair<std::string, std::string>> ui_headers();

inline constexpr std::string_view kUiContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace discovery::server
