#include <discovery/merge_patch.hpp>

#include <boost/json/object.hpp>

namespace discovery {

// RFC 7396, section 2, literally: the recursion is bounded by the patch's
// depth, which the JSON parser already limits.
void apply_merge_patch(boost::json::value& target, const boost::json::value& patch) {
  const boost::json::object* patch_object = patch.if_object();
  if (patch_object == nullptr) {
    target = patch;
    return;
  }
  if (!target.is_object()) target.emplace_object();
  boost::json::object& target_object = target.as_object();
  for (const auto& member : *patch_object) {
    if (member.value().is_null()) {
      target_object.erase(member.key());
    } else {
      apply_merge_patch(target_object[member.key()], member.value());
    }
  }
}

}  // namespace discovery
