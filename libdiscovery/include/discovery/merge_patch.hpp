// JSON Merge Patch (RFC 7396).
#pragma once

#include <boost/json/value.hpp>

namespace discovery {

// Applies `patch` to `target` in place: an object patch merges member-wise,
// a null member removes, anything else replaces. Never fails.
void apply_merge_patch(boost::json::value& target, const boost::json::value& patch);

}  // namespace discovery
