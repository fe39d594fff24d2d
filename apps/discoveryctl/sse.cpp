#include "sse.hpp"

namespace discovery::ctl {

void SseParser::feed(std::string_view bytes, const Handler& on_event) {
  for (const char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      line(line_, on_event);
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::line(std::string_view text, const Handler& on_event) {
  if (text.empty()) {
    // End of an event; one without data is not dispatched (the spec's rule)
    // but its id still counts.
    if (pending_id_) last_event_id_ = std::move(*pending_id_);
    if (has_data_) on_event(SseEvent{type_.empty() ? "message" : type_, last_event_id_, data_});
    data_.clear();
    type_.clear();
    has_data_ = false;
    pending_id_.reset();
    return;
  }
  if (text.front() == ':') return;  // a comment, e.g. the server's keep-alive
  const auto colon = text.find(':');
  const auto field = text.substr(0, colon);
  auto value = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_ = std::string(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) pending_id_ = std::string(value);
  }
  // "retry" and unknown fields are ignored: reconnection timing is ours.
}

}  // namespace discovery::ctl
