#include "ui_assets.hpp"

namespace discovery::server {

extern const char* const kUiIndexHtml;  // generated from ui/index.html
extern const char* const kUiAppCss;     // ui/app.css
extern const char* const kUiAppJs;      // ui/app.js

namespace {
constexpr std::string_view kFavicon =
    "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">"
    "<circle cx=\"8\" cy=\"8\" r=\"6\" fill=\"#0b5cad\"/><circle cx=\"8\" cy=\"8\" r=\"2.5\" fill=\"#fff\"/></svg>";
}  // namespace

std::optional<UiAsset> find_ui_asset(std::string_view path) {
  if (path == "/ui/favicon.svg") return UiAsset{kFavicon, "image/svg+xml"};
  if (path == "/ui" || path == "/ui/" || path == "/ui/index.html") return UiAsset{kUiIndexHtml, "text/html; charset=utf-8"};
  if (path == "/ui/app.css") return UiAsset{kUiAppCss, "text/css; charset=utf-8"};
  if (path == "/ui/app.js") return UiAsset{kUiAppJs, "text/javascript; charset=utf-8"};
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ui_headers() {
  return {{"Content-Security-Policy", std::string(kUiContentSecurityPolicy)},
          {"X-Content-Type-Options", "nosniff"},
          {"Referrer-Policy", "no-referrer"},
          {"X-Frame-Options", "DENY"},
          {"Cross-Origin-Opener-Policy", "same-origin"},
          // The assets change with the binary; revalidation is cheap.
          {"Cache-Control", "no-cache"}};
}

}  // namespace discovery::server
