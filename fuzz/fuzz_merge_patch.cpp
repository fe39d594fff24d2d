// JSON Merge Patch (RFC 7396): the input is a target document and a patch,
// both JSON, separated by the first newline.
//
// Invariants: a patch that is not an object replaces the target; the result
// of an object patch is an object with no null member the patch set; applying
// the same patch again changes nothing (merge patches are idempotent).
#include <discovery/merge_patch.hpp>

#include "fuzz_common.hpp"

#include <boost/json/serialize.hpp>

using namespace discovery;
namespace json = boost::json;


extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  const auto newline = text.find('\n');
  if (newline == std::string_view::npos) return 0;
  auto target = fuzz::parse_json(text.substr(0, newline));
  if (!target) return 0;
  auto patch = fuzz::parse_json(text.substr(newline + 1));
  if (!patch) return 0;

  json::value once = *target;
  apply_merge_patch(once, *patch);
  if (!patch->is_object()) {
    // Compared as text: 0e400 parses as NaN, which equals nothing.
    FUZZ_CHECK(json::serialize(once) == json::serialize(*patch), json::serialize(*patch));
    return 0;
  }
  FUZZ_CHECK(once.is_object(), json::serialize(once));
  for (const auto& [key, value] : patch->as_object())
    if (value.is_null()) FUZZ_CHECK(!once.as_object().contains(key), std::string(key));
  json::value twice = once;
  apply_merge_patch(twice, *patch);
  FUZZ_CHECK(json::serialize(twice) == json::serialize(once), json::serialize(once) + " / " + json::serialize(*patch));
  return 0;
}
