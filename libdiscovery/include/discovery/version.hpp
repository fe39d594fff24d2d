#pragma once

namespace discovery {
inline constexpr const char* kVersion = "0.1.0";
}  // namespace discovery
